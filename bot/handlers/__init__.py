"""Event handlers, one module per event family; `bot.dispatch` composes their routers.

Handlers gather what bot.plan needs (bot.handlers.inputs) and hand its PRUpdate to bot.apply;
the check names, titles and the helpers they share live there. What remains here is the job
failure hook, which only bot.dispatch calls (`report_failure`, for the worker): nothing but the
dispatcher imports bot.handlers (tests/chatops/test_dispatch.py, tests/test_import_graph.py).
"""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.plan import EVALUATION, failed_job_check

__all__ = ["on_job_failed", "pr_and_sha"]


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
    from bot.apply import write_check

    write_check(ctx.github, ctx.store, ctx.event.repo or "", failed_job_check(sha, ctx.delivery_id, reason))
