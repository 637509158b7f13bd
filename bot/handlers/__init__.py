"""Event handlers, one module per event family; `bot.routing` merges their ROUTES.

Shared helpers live here: loading the base branch's policy and setting checks and the
sticky comment through the store, so a redelivered event edits instead of duplicating.
"""

from __future__ import annotations

from typing import Any

from bot.config import CONFIG_PATH, Config, ConfigError, parse_config
from bot.context import Context

EVALUATION = "mlgate/evaluation"
REVIEW = "mlgate/review"
LABEL_DATA = "mlgate:data-change"
LABEL_MODEL = "mlgate:model-change"
LABEL_REGRESSION = "mlgate:regression"

NO_CONFIG_TITLE = "No .github/mlgate.yml on the base branch"
NO_ML_TITLE = "No ML changes"
INVALID_CONFIG_TITLE = "Invalid .github/mlgate.yml"
PENDING_TITLE = "Waiting for the evaluation workflow"
FAILED_JOB_TITLE = "mlgate could not process this event"
CONFIG_CHANGED_NOTE = (
    "this pull request changes .github/mlgate.yml; the policy of the base branch applies until it is merged"
)


def load_policy(ctx: Context, base_sha: str) -> tuple[Config | None, str | None]:
    """The base branch's config, or (None, reason) when it is missing or invalid."""
    text = ctx.github.read_file(CONFIG_PATH, base_sha)
    if text is None:
        return None, None
    try:
        return parse_config(text, CONFIG_PATH), None
    except ConfigError as exc:
        return None, str(exc)


def set_check(ctx: Context, sha: str, name: str, *, status: str, conclusion: str | None = None,
              title: str = "", summary: str = "", details_url: str | None = None) -> int:
    """Create or update a check run, remembering its id so later updates cost one call."""
    repo = ctx.event.repo or ""
    known = ctx.store.check_id(repo, sha, name)
    check_id = ctx.github.set_check(sha, name, status=status, conclusion=conclusion, title=title,
                                    summary=summary or title, details_url=details_url, known_id=known,
                                    lookup=False)
    ctx.store.set_check(repo, sha, name, int(check_id), conclusion)
    return int(check_id)


def upsert_comment(ctx: Context, pr: int, body: str) -> int:
    from bot.render import MARKER

    repo = ctx.event.repo or ""
    comment_id = ctx.github.upsert_sticky_comment(pr, body, MARKER, known_id=ctx.store.comment_id(repo, pr))
    ctx.store.set_comment_id(repo, pr, int(comment_id))
    return int(comment_id)


def pr_and_sha(event_payload: dict[str, Any]) -> tuple[int | None, str | None]:
    """The PR number and head SHA an event is about, where it has them."""
    pr = event_payload.get("pull_request") or {}
    if pr:
        return pr.get("number"), (pr.get("head") or {}).get("sha")
    run = event_payload.get("workflow_run") or {}
    if run:
        prs = run.get("pull_requests") or []
        return (prs[0].get("number") if prs else None), run.get("head_sha")
    check = event_payload.get("check_run") or {}
    if check:
        prs = check.get("pull_requests") or []
        return (prs[0].get("number") if prs else None), check.get("head_sha")
    return None, None


def on_job_failed(ctx: Context, exc: BaseException) -> None:
    """After the last retry: say so on the PR's evaluation check, never fail silently."""
    pr, sha = pr_and_sha(ctx.event.payload)
    if not sha or ctx.github is None:
        return
    reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    set_check(ctx, sha, EVALUATION, status="completed", conclusion="failure", title=FAILED_JOB_TITLE,
              summary=f"mlgate gave up on delivery `{ctx.delivery_id}` after retrying: {reason}\n\n"
                      "Comment `/evaluate` or re-run this check to try again.")
