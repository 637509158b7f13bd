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
    """The base branch's config, or (None, reason) when it is missing or invalid.

    Always the base: a pull request must not be able to loosen its own gate. A commit's file
    never changes, so the text is kept in the store: the next job about this base, in any
    worker process, costs no API call.
    """
    from bot.github_client import SHA, NotText

    repo = ctx.event.repo or ""
    known, text = ctx.store.file_at(repo, CONFIG_PATH, base_sha) if SHA.match(base_sha) else (False, None)
    if not known:
        try:
            text = ctx.github.read_file(CONFIG_PATH, base_sha)
        except NotText:
            return None, f"{CONFIG_PATH}: the file is not UTF-8 text"
        if SHA.match(base_sha):
            ctx.store.remember_file(repo, CONFIG_PATH, base_sha, text)
    if text is None:
        return None, None
    try:
        return parse_config(text, CONFIG_PATH), None
    except ConfigError as exc:
        return None, str(exc)


def set_check(ctx: Context, sha: str, name: str, *, status: str, conclusion: str | None = None,
              title: str = "", summary: str = "", details_url: str | None = None) -> int:
    """Create or update a check run, remembering its id so later updates cost one call.

    A completed run stays completed on GitHub: when the check has to wait again on the same
    commit (an approval dismissed, an evaluation re-run), a new run replaces it, since
    GitHub and branch protection read the newest run of each name.
    """
    repo = ctx.event.repo or ""
    known = ctx.store.check_id(repo, sha, name)
    replacing = None
    if known is not None and conclusion is None and ctx.store.check_conclusion(repo, sha, name) is not None:
        known, replacing = None, known
        # a retry of a job whose new run was created but not yet remembered: adopt that run
        newest = ctx.github.find_check(sha, name)
        if newest is not None and newest != replacing:
            known, replacing = newest, None
    check_id = ctx.github.set_check(sha, name, status=status, conclusion=conclusion, title=title,
                                    summary=summary or title, details_url=details_url, known_id=known,
                                    lookup=False, replacing=replacing)
    ctx.store.set_check(repo, sha, name, int(check_id), conclusion)
    return int(check_id)


def upsert_comment(ctx: Context, pr: int, body: str) -> int:
    """Edit the PR's sticky comment in place (one call when the store knows its id), or post it."""
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


def sync_labels(ctx: Context, number: int, want: set[str], managed: set[str], current: set[str] | None) -> None:
    """Make mlgate's own labels (`managed`) on the PR equal `want`; others' labels are untouched.

    With `current` (the labels the event's payload shows) only the differences cost calls.
    """
    add = sorted(want - current) if current is not None else sorted(want)
    remove = sorted((managed - want) & current) if current is not None else sorted(managed - want)
    if add:
        ctx.github.add_labels(number, add)
    for label in remove:
        ctx.github.remove_label(number, label)


def payload_labels(pr: dict[str, Any]) -> set[str] | None:
    labels = pr.get("labels")
    if not isinstance(labels, list):
        return None
    return {str(x.get("name")) for x in labels if isinstance(x, dict) and x.get("name")}


# events whose failure the evaluation check reports: the ones that drive it
_REPORTS_ON_EVALUATION = {
    "pull_request.opened", "pull_request.synchronize", "pull_request.reopened", "pull_request.ready_for_review",
    "workflow_run.completed", "check_run.rerequested",
}


def on_job_failed(ctx: Context, exc: BaseException) -> None:
    """After the last retry: say so on the PR's evaluation check, never fail silently.

    Only events that drive `mlgate/evaluation` touch it, and a check that already finished
    green or neutral is not turned red by an event that did not change it (for example an
    unrelated workflow's run that could not be processed).
    """
    reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    ctx.log.error("gave up on %s delivery %s: %s", ctx.event.key, ctx.delivery_id, reason)
    pr, sha = pr_and_sha(ctx.event.payload)
    if not sha or ctx.github is None or ctx.event.key not in _REPORTS_ON_EVALUATION:
        return
    if ctx.event.name != "pull_request" and ctx.store.check_conclusion(
            ctx.event.repo or "", sha, EVALUATION) in ("success", "neutral"):
        return
    set_check(ctx, sha, EVALUATION, status="completed", conclusion="failure", title=FAILED_JOB_TITLE,
              summary=f"mlgate gave up on delivery `{ctx.delivery_id}` after retrying: {reason}\n\n"
                      "Comment `/evaluate` or re-run this check to try again.")
