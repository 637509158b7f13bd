"""check_suite requested / rerequested: mlgate's checks on a new commit, and "Re-run all checks".

- `rerequested` ("Re-run all checks" on mlgate's suite): the same as "Re-run" on
  `mlgate/evaluation` (bot.handlers.check_run.rerun_evaluation) for the PRs of the head SHA,
  fork heads included. `mlgate/review` is recounted when the re-run's report comes back.
- `requested` (GitHub made a suite for new code): when the commit is the head of a pull
  request, make sure mlgate's two checks exist on it, `queued` until mlgate decides, so branch
  protection shows them waiting and nothing reads as green without a decision. A check that
  already exists is never touched: this event may arrive after the pull request's own events.
  Commits that are the head of no open PR (pushes to the default branch, branches without a
  PR) get nothing: mlgate gates pull requests, and `pull_request` opened sets the checks.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from bot.apply import write_check
from bot.context import Context
from bot.handlers.inputs import prs_at, rerun_evaluation
from bot.handlers.ordering import pr_lock
from bot.plan import EVALUATION, REVIEW, WAITING_TITLE, waiting_check
from bot.routing import Router

__all__ = ["WAITING_TITLE", "on_requested", "on_rerequested", "router"]


def _ours(ctx: Context, suite: dict[str, Any]) -> bool:
    """Whether the suite is this App's (GitHub sends these events only for the App's own suite;
    a suite of another App, e.g. GitHub Actions', is none of mlgate's business)."""
    app_id = getattr(ctx.settings, "app_id", None)
    return app_id is None or str((suite.get("app") or {}).get("id")) == str(app_id)


def on_rerequested(ctx: Context) -> None:
    suite: dict[str, Any] = ctx.event.payload["check_suite"]
    if not _ours(ctx, suite):
        return
    head = str(suite["head_sha"])
    rerun_evaluation(ctx, head, prs_at(ctx, head, suite.get("pull_requests") or []))


def on_requested(ctx: Context) -> None:
    suite: dict[str, Any] = ctx.event.payload["check_suite"]
    if not _ours(ctx, suite):
        return
    head, branch = str(suite["head_sha"]), suite.get("head_branch")
    default = (ctx.event.payload.get("repository") or {}).get("default_branch")
    if branch is not None and branch == default:
        return  # a push to the default branch: no pull request to gate
    prs = prs_at(ctx, head, suite.get("pull_requests") or [])
    if not prs:
        ctx.log.info("check suite at %s: no open pull request has this head; nothing to gate yet", head[:12])
        return
    repo = ctx.event.repo or ""
    with ExitStack() as held:
        for number in prs:
            held.enter_context(pr_lock(ctx, number))
        for name in (EVALUATION, REVIEW):
            if ctx.store.check_id(repo, head, name) is None:  # set by an earlier event: its state stands
                write_check(ctx.github, ctx.store, repo, waiting_check(head, name))


router = Router({
    "check_suite.requested": on_requested,
    "check_suite.rerequested": on_rerequested,
})
