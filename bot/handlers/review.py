"""pull_request_review submitted/dismissed: recompute `mlgate/review` on the current head.

The head's stored report is decided once under the base policy, and bot.plan computes the PR's
state from it and the reviews: the review check, the evaluation check (green while an approval
accepts a regression) and the living comment's state block; bot.apply writes what changed. The
evaluation handler plans the same way after each new evaluation, so approvals given before the
report arrived are counted there (no handler calls another).
"""

from __future__ import annotations

from bot.apply import undecided
from bot.context import Context
from bot.handlers.inputs import replan_head
from bot.handlers.ordering import one_job_per_pull_request
from bot.plan import REVIEW
from bot.routing import Router


@one_job_per_pull_request  # a review's recount never lands after (and undoes) a newer evaluation's
def on_review(ctx: Context) -> None:
    pr = ctx.event.payload.get("pull_request") or {}
    if not pr.get("number"):
        return
    from bot.github_client import GitHubError

    try:
        replan_head(ctx, int(pr["number"]))
    except GitHubError as exc:
        # the reviews changed (an approval may be gone) but mlgate could not recount them: the
        # review check of the head the event names says so, never the count it showed before
        head = str((pr.get("head") or {}).get("sha") or "")
        if not head:
            raise
        undecided(ctx, head, (REVIEW,), "recount the approvals", exc)


router = Router({
    "pull_request_review.submitted": on_review,
    "pull_request_review.dismissed": on_review,
})
