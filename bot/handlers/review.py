"""pull_request_review submitted/dismissed: recompute `mlgate/review` on the current head.

The head's stored report is decided once under the base policy, and bot.plan computes the PR's
state from it and the reviews: the review check, the evaluation check (green while an approval
accepts a regression) and the living comment's state block; bot.apply writes what changed. The
evaluation handler plans the same way after each new evaluation, so approvals given before the
report arrived are counted there (no handler calls another).
"""

from __future__ import annotations

from bot.context import Context
from bot.handlers.inputs import replan_head
from bot.handlers.ordering import one_job_per_pull_request
from bot.routing import Router


@one_job_per_pull_request  # a review's recount never lands after (and undoes) a newer evaluation's
def on_review(ctx: Context) -> None:
    pr = ctx.event.payload.get("pull_request") or {}
    if not pr.get("number"):
        return
    # the event's head: when GitHub does not answer for the PR, its review check says mlgate could not
    # recount (an approval may be gone), never the count it showed before
    head = str((pr.get("head") or {}).get("sha") or "") or None
    replan_head(ctx, int(pr["number"]), head)


router = Router({
    "pull_request_review.submitted": on_review,
    "pull_request_review.dismissed": on_review,
})
