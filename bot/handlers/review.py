"""pull_request_review submitted/dismissed: recompute `mlgate/review` on the current head.

`recompute` is also what the evaluation handler should call after each new evaluation, so
approvals given before the report arrived are counted.
"""

from __future__ import annotations

from typing import Any

from bot import chatops, promotion
from bot.chatops import render_reply
from bot.config import Config
from bot.context import Context
from bot.gate import Changes
from bot.handlers import EVALUATION, REVIEW, pr_changes, set_check, undecided
from bot.handlers.ordering import one_job_per_pull_request
from bot.review_gate import ReviewIn, ReviewState, review_state
from bot.routing import Router


@one_job_per_pull_request  # a review's recount never lands after (and undoes) a newer evaluation's
def on_review(ctx: Context) -> None:
    pr = ctx.event.payload.get("pull_request") or {}
    if not pr.get("number"):
        return
    recompute(ctx, int(pr["number"]))


def recompute(ctx: Context, number: int, *, config: Config | None = None, pull: Any = None,
              changes: Changes | None = None) -> ReviewState | None:
    """Set `mlgate/review` from the approvals on the PR's current head; record accepted regressions.

    Whatever GitHub does not answer cleanly (the policy, the files, the reviews, a permission)
    leaves the check saying mlgate could not decide, never passed.
    """
    from bot.github_client import GitHubError
    from bot.policy import resolve_policy

    repo = ctx.event.repo or ""
    pull = pull or ctx.github.pull(number)
    head = pull.head_sha
    if config is None:
        try:
            config = resolve_policy(ctx, pull.base_ref).config
        except GitHubError as exc:
            undecided(ctx, head, (REVIEW,), "read the policy", exc)
            return None
    if config is None:
        return None  # the pull_request handler already reported the missing or invalid config
    if ctx.store.check_conclusion(repo, head, EVALUATION) == "neutral":
        return None  # no ML changes: both checks are neutral and stay so
    evaluation = ctx.store.latest_evaluation(repo, number, head)
    decision = None
    if evaluation is not None:
        from bot.gate import decide

        if changes is None:
            try:
                changes = pr_changes(ctx, number, pull.changed_files, config.paths)[1]
            except GitHubError as exc:
                undecided(ctx, head, (REVIEW,), "list the changed files", exc)
                return None
        decision = decide(evaluation["report"], config, changes)
    from bot.handlers.workflow_run import origin_review_reasons

    try:
        extra = origin_review_reasons(ctx, config, evaluation, pull.author)
    except GitHubError as exc:
        undecided(ctx, head, (REVIEW,), "read the evaluation's workflow run and the author's permission", exc)
        return None
    approvers = list(config.review.approvers)
    cache: dict[str, bool] = {}

    def is_approver(user: str) -> bool:
        if user not in cache:
            if approvers:
                cache[user] = chatops.in_list(ctx.github, approvers, user)
            else:  # default: anyone with write access
                cache[user] = chatops.ROLES.index(_role(ctx, user)) >= chatops.ROLES.index("write")
        return cache[user]

    try:
        state = review_state(
            [ReviewIn.from_api(r) for r in ctx.github.reviews(number)], head_sha=head, pr_author=pull.author,
            required_when=config.review.required_when, min_approvals=config.review.min_approvals,
            is_approver=is_approver, decision=decision, evaluated=evaluation is not None, extra_reasons=extra)
    except GitHubError as exc:
        undecided(ctx, head, (REVIEW,), "read the reviews and the reviewers' permissions", exc)
        return None
    summary = render_reply("review_check.md.j2", state=state, head=head, approvers=approvers)
    set_check(ctx, head, REVIEW, status=state.status, conclusion=state.conclusion, title=state.title, summary=summary)
    if evaluation is not None and decision is not None and acceptable(decision, config):
        accepted = state.required and state.satisfied
        _set_evaluation(ctx, head, evaluation["report"], decision, state if accepted else None)
        if accepted:
            for model in decision.models:
                if model.regressed:
                    promotion.record_accepted_regression(
                        ctx.store, repo=repo, pr=number, sha=head, model=model.name, approvers=state.approvals,
                        reasons=model.regressions, delivery_id=ctx.delivery_id)
    return state


def acceptable(decision: Any, config: Config) -> bool:
    """A failed gate a reviewer may accept: a regression (or failed data checks) that the policy
    sends to review. A report missing a configured model is never acceptable."""
    if decision.outcome != "fail":
        return False
    if any("missing from the report" in r for r in decision.reasons):
        return False
    if (decision.regressed or decision.data_failures) and "regression" not in config.review.required_when:
        return False
    # an undefined gating metric always goes to review (bot.gate): an approval accepts it
    return bool(decision.regressed or decision.data_failures or decision.undefined)


def _set_evaluation(ctx: Context, head: str, report: dict[str, Any], decision: Any,
                    accepted_by: ReviewState | None) -> None:
    """`mlgate/evaluation` of a regressed head: green while the regression is accepted, red otherwise."""
    from bot.render import render_check_summary

    title, summary = render_check_summary(report, decision)
    conclusion = "failure"
    if accepted_by is not None:
        conclusion = "success"
        who = ", ".join(accepted_by.approvals)
        title = f"Regression accepted by {who}"
        summary = render_reply("accepted_check.md.j2", who=accepted_by.approvals, head=head) + "\n" + summary
    if ctx.store.check_conclusion(ctx.event.repo or "", head, EVALUATION) == conclusion:
        return
    set_check(ctx, head, EVALUATION, status="completed", conclusion=conclusion, title=title, summary=summary)


def _role(ctx: Context, user: str) -> str:
    role = str(ctx.github.permission(user))
    return role if role in chatops.ROLES else "none"


router = Router({
    "pull_request_review.submitted": on_review,
    "pull_request_review.dismissed": on_review,
})
