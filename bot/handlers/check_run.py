"""check_run rerequested ("Re-run" on mlgate's check): run the evaluation again.

Re-running `mlgate/evaluation` re-runs the evaluation workflow run of that commit; its
completion comes back as a workflow_run event. Re-running `mlgate/review` recounts the
approvals. GitHub sends this event only to the App that created the check.

GitHub sends `pull_requests` empty when the head branch is in a fork, so the PR is found from
the head SHA: first in what mlgate stored about the PRs it saw, then among the open PRs.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from bot.apply import write_check
from bot.context import Context
from bot.handlers.inputs import replan_head
from bot.handlers.ordering import pr_lock
from bot.plan import EVALUATION, NO_RUN_TITLE, RERUN_TITLE, REVIEW, rerun_check
from bot.routing import Router

__all__ = ["NO_RUN_TITLE", "RERUN_TITLE", "on_rerequested", "prs_at", "rerun_evaluation", "router"]


def prs_at(ctx: Context, sha: str, listed: list[dict[str, Any]]) -> list[int]:
    """The PRs whose head is (or was) `sha`: as the event lists them; for a fork's head, which
    GitHub never lists, from the store, else from the open PRs (one call)."""
    repo_id = (ctx.event.payload.get("repository") or {}).get("id")
    found = sorted({int(p["number"]) for p in listed if isinstance(p, dict) and p.get("number")
                    and (repo_id is None or ((p.get("base") or {}).get("repo") or {}).get("id") in (None, repo_id))})
    if found:
        return found
    stored = ctx.store.prs_with_head(ctx.event.repo or "", sha)
    if stored:
        return stored
    return sorted(p.number for p in ctx.github.open_pulls_at(sha))


def on_rerequested(ctx: Context) -> None:
    check: dict[str, Any] = ctx.event.payload["check_run"]
    name, head = check.get("name"), str(check["head_sha"])
    if name not in (EVALUATION, REVIEW):
        return
    prs = prs_at(ctx, head, check.get("pull_requests") or [])
    if name == REVIEW:
        if prs:
            with pr_lock(ctx, prs[0]):
                replan_head(ctx, prs[0])
        return
    rerun_evaluation(ctx, head, prs)


def rerun_evaluation(ctx: Context, head: str, prs: list[int]) -> None:
    """Re-run the workflow run that evaluated `head` (never another head's run), holding the
    PRs' locks so a job about the same PRs cannot interleave; the check waits for its report."""
    with ExitStack() as held:
        for number in sorted(prs):
            held.enter_context(pr_lock(ctx, number))
        _rerun(ctx, head, prs)


def _rerun(ctx: Context, head: str, prs: list[int]) -> None:
    repo = ctx.event.repo or ""
    latest = next((e for e in (ctx.store.latest_evaluation(repo, n, head) for n in prs) if e), None)
    before = ctx.store.check_conclusion(repo, head, EVALUATION)
    run_id = latest["run_id"] if latest else None
    if not run_id:
        write_check(ctx.github, ctx.store, repo, rerun_check(head, run_id=None, before=before))
        return
    from bot.github_client import GitHubError, RetryLater

    try:
        ctx.github.rerun_workflow(run_id)
    except RetryLater:
        raise
    except GitHubError as exc:  # e.g. still running, or too old to re-run: say so, keep the verdict
        write_check(ctx.github, ctx.store, repo, rerun_check(head, run_id=run_id, before=before, refused=str(exc)))
        return
    write_check(ctx.github, ctx.store, repo, rerun_check(head, run_id=run_id, before=before))


router = Router({"check_run.rerequested": on_rerequested})
