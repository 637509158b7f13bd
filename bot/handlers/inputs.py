"""The reads bot.plan needs about a PR's head, shared by the handlers that plan it (no routes here).

workflow_run (a new report), pull_request_review and check_run (a recount), and pull_request
edited (a new base's policy) all end the same way: the head's report and its one gate
decision, the reviews (read only when the policy asks for review), what the store remembers,
then `plan` and `apply`. None of them calls another handler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.apply import apply_update, pr_changes, remembered, undecided, unevaluated, write_check
from bot.config import CONFIG_PATH, Config
from bot.context import Context
from bot.gate import Decision
from bot.handlers.ordering import pr_lock
from bot.plan import (
    EVALUATION,
    REVIEW,
    Evaluated,
    PRUpdate,
    PullView,
    Reviews,
    invalid_config_check,
    plan,
    policy_notes,
    rerun_check,
    review_check,
    review_reasons,
)
from bot.review_gate import review_state

if TYPE_CHECKING:
    from bot.policy import Refusal

POLICY_DIFFERS_NOTE = (
    f"the evaluation ran with a `{CONFIG_PATH}` that differs from the base branch's; "
    "the verdict applies the base branch's policy"
)
PR_WORKFLOW_REVIEW_REASON = (
    "the numbers were computed by the pull request's own workflow and its author lacks write permission"
)


def report_url(ctx: Context, eval_id: int | None) -> str | None:
    public = getattr(ctx.settings, "public_url", None) if ctx.settings is not None else None
    return f"{str(public).rstrip('/')}/reports/{eval_id}" if public and eval_id is not None else None


def notes_for(report: Mapping[str, Any], config: Config, head: str) -> list[str]:
    """What the comment notes about the report: made for another commit, or under another policy,
    and the policy's deprecated keys (Config.unused_settings), so whoever tunes them hears that
    nothing changes."""
    notes = []
    made_for = (report.get("run") or {}).get("head_sha")
    if made_for and made_for != head:
        notes.append(f"the report says it was made for {made_for[:12]}, not {head[:12]}")
    policy = report.get("policy")
    if isinstance(policy, dict) and _canonical(policy) != _canonical(config.to_policy()):
        notes.append(POLICY_DIFFERS_NOTE)
    notes.extend(policy_notes(config))
    return notes


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def read_reviews(ctx: Context, number: int, author: str, config: Config) -> Reviews:
    """The PR's reviews and who counts as an approver (bot.apply.read_reviews, shared with the Action)."""
    from bot.apply import read_reviews as read

    return read(ctx.github, number, author, config)


def origin_reasons(ctx: Context, by_pull_request: bool, author: str) -> list[str]:
    """Review the single-workflow mode asks for: the numbers came from the PR's own workflow,
    which ran the PR's code, so a PR whose author may not write to the repository needs a
    reviewer whatever they say."""
    if not by_pull_request:
        return []
    if ctx.github.permission(author) in ("write", "maintain", "admin"):  # a custom role counts as less
        return []
    return [PR_WORKFLOW_REVIEW_REASON]


def stored_origin_reasons(ctx: Context, config: Config, run_id: int | None, author: str) -> list[str]:
    """`origin_reasons` for a stored evaluation: its run is read back through the Actions API,
    so the answer never rests on the store or the report."""
    if config.evaluation.trust != "pull_request" or not run_id:
        return []
    info = ctx.github.run_info(int(run_id))
    return origin_reasons(ctx, info is None or info.event != "workflow_run", author)  # unknown: untrusted


def plan_head(ctx: Context, *, number: int, head: str, author: str, config: Config, releases_refused: Refusal | None,
              report: Mapping[str, Any], decision: Decision, run_id: int | None, eval_id: int | None,
              computed_by_pr: bool, extra: Sequence[str]) -> PRUpdate:
    """Plan the head's whole state from its report and one decision, and apply it. Reviews are
    read only when the policy asks for review; when GitHub does not answer, the review check
    says mlgate could not decide and the evaluation stays as the numbers say."""
    from bot.github_client import GitHubError

    reviews, failed = None, None
    if review_reasons(decision, config, extra):
        try:
            reviews = read_reviews(ctx, number, author, config)
        except GitHubError as exc:
            failed = exc
    evaluated = Evaluated(report, decision, run_id, report_url(ctx, eval_id), tuple(notes_for(report, config, head)),
                          computed_by_pr, tuple(extra),
                          getattr(ctx.settings, "mlflow_ui_url", None) if ctx.settings is not None else None)
    update = plan(evaluated, config, reviews, remembered(ctx.store, ctx.event.repo or "", number),
                  PullView(number, head, author, releases_refused))
    if failed is not None:
        update = replace(update, checks=tuple(c for c in update.checks if c.name != REVIEW), accepted=())
    apply_update(ctx, update)
    if failed is not None:
        undecided(ctx, head, (REVIEW,), "read the reviews and the reviewers' permissions", failed)
    return update


def replan_head(ctx: Context, number: int, event_head: str | None = None) -> None:
    """Recount `mlgate/review` from the approvals on the PR's current head; with an evaluation of
    that head, plan and apply its whole state (an approval may accept its regression).

    Whatever GitHub does not answer cleanly (the policy, the files, the reviews, a permission)
    leaves the check saying mlgate could not decide, never passed; when the PR itself cannot be
    read, on `event_head` (the head the event names), else the error goes back to the queue.
    """
    from bot.github_client import GitHubError
    from bot.policy import resolve_policy

    repo = ctx.event.repo or ""
    try:
        pull = ctx.github.pull(number)
    except GitHubError as exc:
        if event_head is None:
            raise
        undecided(ctx, event_head, (REVIEW,), "read the pull request", exc)
        return
    head = pull.head_sha
    try:
        policy = resolve_policy(ctx, pull.base_ref)
    except GitHubError as exc:
        undecided(ctx, head, (REVIEW,), "read the policy", exc)
        return
    config = policy.config
    if config is None:
        if policy.problem:  # nothing can be counted or decided under a policy that does not parse: never the old
            # count, nor an earlier pass, on the checks or on the comment's state block
            invalid = invalid_config_check(head, policy.branch, policy.problem)
            unevaluated(ctx, number, head, "undecided", f"{CONFIG_PATH} on {policy.branch} is invalid: "
                        f"{policy.problem}", releases_refused=policy.refusal,
                        checks=(invalid, replace(invalid, name=REVIEW)))
        return  # no config: the pull_request handler already reported it
    if ctx.store.check_conclusion(repo, head, EVALUATION) == "neutral":
        return  # no ML changes: both checks are neutral and stay so
    evaluation = ctx.store.latest_evaluation(repo, number, head)
    if evaluation is None:  # no evaluation of this head yet: only the review check, waiting or counting
        try:
            reviews = read_reviews(ctx, number, pull.author, config)
        except GitHubError as exc:
            undecided(ctx, head, (REVIEW,), "read the reviews and the reviewers' permissions", exc)
            return
        state = review_state(reviews.items, head_sha=head, pr_author=pull.author,
                             required_when=config.review.required_when, min_approvals=config.review.min_approvals,
                             is_approver=lambda u: bool(reviews.approver.get(u.lower(), False)), decision=None,
                             evaluated=False)
        write_check(ctx.github, ctx.store, repo, review_check(head, state, config))
        return
    from bot.gate import decide

    try:
        changes = pr_changes(ctx, number, pull.changed_files, config.paths)[1]
        extra = stored_origin_reasons(ctx, config, evaluation["run_id"], pull.author)
    except GitHubError as exc:
        undecided(ctx, head, (REVIEW,), "read the changed files, the evaluation's workflow run and the author's "
                  "permission", exc)
        return
    decision = decide(evaluation["report"], config, changes)
    plan_head(ctx, number=number, head=head, author=pull.author, config=config,
              releases_refused=policy.refusal, report=evaluation["report"], decision=decision,
              run_id=evaluation["run_id"], eval_id=evaluation["id"],
              computed_by_pr=config.evaluation.trust == "pull_request", extra=extra)


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
