"""check_run rerequested ("Re-run" on mlgate's check): run the evaluation again.

Re-running `mlgate/evaluation` re-runs the evaluation workflow run of that commit; its
completion comes back as a workflow_run event. Re-running `mlgate/review` recounts the
approvals. GitHub sends this event only to the App that created the check.

GitHub sends `pull_requests` empty when the head branch is in a fork, so the PR is found from
the head SHA: first in what mlgate stored about the PRs it saw, then among the open PRs.
"""

from __future__ import annotations

from typing import Any

from bot.context import Context
from bot.handlers.inputs import prs_at, replan_head, rerun_evaluation
from bot.handlers.ordering import pr_lock
from bot.plan import EVALUATION, NO_RUN_TITLE, RERUN_TITLE, REVIEW
from bot.routing import Router

__all__ = ["NO_RUN_TITLE", "RERUN_TITLE", "on_rerequested", "router"]


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


router = Router({"check_run.rerequested": on_rerequested})
