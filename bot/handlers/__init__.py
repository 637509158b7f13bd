"""Event handlers, one module per event family; `bot.dispatch` composes their routers.

Shared helpers live here: the App's own view of a PR's changes, the "could not decide"
check, and setting checks and the sticky comment through the store, so a redelivered event
edits instead of duplicating. Which policy applies is bot.policy's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.config import Paths
from bot.context import Context
from bot.gate import Changes

EVALUATION = "mlgate/evaluation"
REVIEW = "mlgate/review"
LABEL_DATA = "mlgate:data-change"
LABEL_MODEL = "mlgate:model-change"
LABEL_REGRESSION = "mlgate:regression"

NO_CONFIG_TITLE = "No .github/mlgate.yml on the default branch"
NO_ML_TITLE = "No ML changes"
INVALID_CONFIG_TITLE = "Invalid .github/mlgate.yml"
PENDING_TITLE = "Waiting for the evaluation workflow"
FAILED_JOB_TITLE = "mlgate could not process this event"
UNDECIDED_TITLE = "mlgate could not decide"
DRAFT_TITLE = "Draft, not evaluated yet"
CONFIG_CHANGED_NOTE = (
    "this pull request changes .github/mlgate.yml; the policy on {branch} applies, and the change takes "
    "effect once it is merged there"
)


def undecided(ctx: Context, sha: str, names: Iterable[str], what: str, exc: BaseException) -> None:
    """GitHub did not answer cleanly while mlgate needed `what`: the checks say mlgate could not
    decide, with the cause and how to try again (never success or neutral). A transient error
    is raised again afterwards, so the queue retries the job."""
    from bot.chatops import render_reply
    from bot.github_client import RetryLater

    retrying = isinstance(exc, RetryLater)
    ctx.log.warning("could not %s for %s: %s", what, sha[:12], exc)
    summary = render_reply("undecided.md.j2", what=what, cause=str(exc).splitlines()[0] if str(exc) else
                           type(exc).__name__, retrying=retrying)
    for name in names:
        set_check(ctx, sha, name, status="completed", conclusion="failure", title=UNDECIDED_TITLE, summary=summary)
    if retrying:
        raise exc


def pr_changes(ctx: Context, number: int, total: int | None, paths: Paths) -> tuple[list[str], Changes]:
    """What the PR changes, from the App's own list of its files, classified by the policy's globs.

    GitHub lists at most 3,000 files; `total` is the PR's `changed_files` as GitHub reports it.
    When the list is shorter, or the total is unknown, the PR counts as both a data and a model
    change (`complete` False), so nothing hides behind file 3,001.
    """
    from bot.datachanges import classify

    files = ctx.github.changed_files(number)
    kinds = classify(files, paths)
    return files, Changes(data=bool(kinds["data"]), model=bool(kinds["model"]),
                          complete=total is not None and len(files) >= total)


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
    if run.get("event") == "workflow_run":
        return None, None  # the trusted evaluation runs on the default branch: its PR is in its report
    if run:
        prs = run.get("pull_requests") or []
        return (prs[0].get("number") if prs else None), run.get("head_sha")
    group = event_payload.get("merge_group") or {}
    if group.get("head_sha"):
        return None, str(group["head_sha"])
    check = event_payload.get("check_run") or event_payload.get("check_suite") or {}
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
    "pull_request.converted_to_draft", "pull_request.edited", "merge_group.checks_requested",
    "workflow_run.completed", "check_run.rerequested", "check_suite.rerequested",
}


def on_job_failed(ctx: Context, exc: BaseException) -> None:
    """After the last retry: say so on the PR's evaluation check, never fail silently.

    Only events that drive `mlgate/evaluation` touch it, and a check that already finished
    green or neutral is not turned red by an event that did not change it (for example an
    unrelated workflow's run that could not be processed).
    """
    reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    ctx.log.error("gave up on %s delivery %s: %s", ctx.event.key, ctx.delivery_id, reason)
    if ctx.event.key == "deployment_protection_rule.requested" and ctx.has_repository:
        from bot.handlers.deployment_protection import reject_undecided

        reject_undecided(ctx, reason)  # the job waiting on the environment gets an answer, never silence
        return
    pr, sha = pr_and_sha(ctx.event.payload)
    if not sha or not ctx.has_repository or ctx.event.key not in _REPORTS_ON_EVALUATION:
        return
    if ctx.event.name != "pull_request" and ctx.store.check_conclusion(
            ctx.event.repo or "", sha, EVALUATION) in ("success", "neutral"):
        return
    from bot.handlers.ordering import EVALUATED, phase

    if ctx.event.name == "pull_request" and pr is not None and phase(ctx, int(pr), sha) >= EVALUATED:
        return  # a late pull_request job never overwrites the result of this head's evaluation
    set_check(ctx, sha, EVALUATION, status="completed", conclusion="failure", title=FAILED_JOB_TITLE,
              summary=f"mlgate gave up on delivery `{ctx.delivery_id}` after retrying: {reason}\n\n"
                      "Comment `/evaluate` or re-run this check to try again.")
