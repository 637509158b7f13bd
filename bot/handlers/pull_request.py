"""pull_request opened/synchronize/reopened/ready_for_review/converted_to_draft, and edited with a new
base: queue the evaluation, or pass. A draft gets neutral checks while `skip_drafts` holds (GitHub
never merges a draft); a new base re-applies that base's policy, to the head's report if it has one.

The policy comes from the default branch (bot.policy: a PR cannot loosen its own gate). A PR
that touches no data and no model code, by the App's own list of its files, gets neutral
checks, so a required check never blocks it. When GitHub does not answer cleanly, the
checks say mlgate could not decide.

GitHub calls: the default branch, its config (none when this worker already read it at that
SHA), the changed files, the evaluation check, the labels that change (the payload says which
are there), and the sticky comment (its id and the check ids come from the store) — at most
six on a synchronize unless the labels change too.
"""

from __future__ import annotations

from typing import Any

from bot.apply import (
    apply,
    payload_labels,
    pr_changes,
    remembered,
    sync_labels,
    undecided,
    unevaluated,
    write_check,
)
from bot.config import CONFIG_PATH
from bot.context import Context
from bot.gate import Changes
from bot.handlers.ordering import (
    EVALUATED,
    PENDING,
    claim_head,
    one_job_per_pull_request,
    phase,
    reach,
)
from bot.plan import (
    CONFIG_CHANGED_NOTE,
    EVALUATION,
    LABEL_DATA,
    LABEL_MODEL,
    REVIEW,
    PullView,
    draft_check,
    invalid_config_check,
    no_config_check,
    no_ml_check,
    pending_check,
    plan_pending,
    review_waits_check,
)
from bot.policy import Policy
from bot.routing import Router

KIND_LABELS = {LABEL_DATA, LABEL_MODEL}


@one_job_per_pull_request
def on_change(ctx: Context) -> None:
    pr: dict[str, Any] = ctx.event.payload["pull_request"]
    repo = ctx.event.repo or ""
    number, head, base = int(pr["number"]), str(pr["head"]["sha"]), str(pr["base"]["sha"])
    # first, so a report for an older head that arrives from now on is recognised as stale; events
    # come in any order: an older head's event (not current) sets only that commit's own checks,
    # and once a workflow_run completed this head's checks (settled) they are not reset to waiting
    current = claim_head(ctx, number, head, before=ctx.event.payload.get("before"), base_sha=base,
                         author=(pr.get("user") or {}).get("login"))
    # a new base brings another policy: this head's checks are decided again under it
    base_changed = ctx.event.action == "edited"
    settled = phase(ctx, number, head) >= EVALUATED and not base_changed
    if not settled:
        reach(ctx, number, head, PENDING)
    from bot.github_client import GitHubError
    from bot.policy import resolve_policy

    # the comment's state block follows every head this event decides without an evaluation (the
    # PR's current head, not already evaluated): a verdict on an earlier head never stays on top
    restates = current and not settled
    try:
        policy = resolve_policy(ctx, str(pr["base"]["ref"]))
    except GitHubError as exc:
        undecided(ctx, head, (EVALUATION, REVIEW) if not settled else (), "read the policy", exc,
                  pr=number if restates else None)
        return
    config, problem = policy.config, policy.problem
    if problem and not settled:
        write_check(ctx.github, ctx.store, repo, invalid_config_check(head, policy.branch, problem))
        if restates:
            unevaluated(ctx, number, head, "undecided", f"{CONFIG_PATH} on {policy.branch} is invalid: {problem}")
        return
    if config is None:
        # a clean "no such file" at the default branch's head: the one case that is neutral
        for name in (EVALUATION, REVIEW) if not settled else ():
            write_check(ctx.github, ctx.store, repo, no_config_check(head, name, policy.default_branch))
        if restates:
            unevaluated(ctx, number, head, "not_evaluated", f"there is no {CONFIG_PATH} on {policy.default_branch}")
        return
    if pr.get("draft") and config.skip_drafts:
        # neutral only because GitHub never merges a draft; ready_for_review evaluates it
        for name in (EVALUATION, REVIEW) if not settled else ():
            write_check(ctx.github, ctx.store, repo, draft_check(head, name, config.evaluation.workflow))
        if restates:
            unevaluated(ctx, number, head, "not_evaluated", "a draft (the policy skips drafts until they are ready "
                        "for review)", releases_refused=policy.refusal)
        return
    total = pr.get("changed_files")
    try:
        if not isinstance(total, int):
            total = ctx.github.pull(number).changed_files
        files, changes = pr_changes(ctx, number, total, config.paths)
    except GitHubError as exc:
        undecided(ctx, head, (EVALUATION, REVIEW) if not settled else (), "list the changed files", exc,
                  pr=number if restates else None)
        return
    current_labels = payload_labels(pr)
    if not changes.data_changed and not changes.model_changed:
        for name in (EVALUATION, REVIEW) if not settled else ():
            write_check(ctx.github, ctx.store, repo, no_ml_check(head, name, policy.branch))
        if current:
            sync_labels(ctx, number, set(), KIND_LABELS, current_labels)  # a later push may have dropped them
        if restates:
            unevaluated(ctx, number, head, "no_ml", releases_refused=policy.refusal)
        return
    if base_changed and ctx.store.latest_evaluation(repo, number, head) is not None:
        author = str((pr.get("user") or {}).get("login") or "")
        rejudge(ctx, number, head, author, policy, changes)  # this head's report, judged by the new base's policy
        settled = True
    if not settled and ctx.store.check_conclusion(repo, head, REVIEW) == "neutral":
        write_check(ctx.github, ctx.store, repo, review_waits_check(head))
    if not settled:
        write_check(ctx.github, ctx.store, repo, pending_check(head, config.evaluation.workflow,
                                                               config.evaluation.artifact))
    if not current:
        return
    want = ({LABEL_DATA} if changes.data_changed else set()) | ({LABEL_MODEL} if changes.model_changed else set())
    sync_labels(ctx, number, want, KIND_LABELS, current_labels)
    notes = [CONFIG_CHANGED_NOTE.format(branch=policy.branch)] if CONFIG_PATH in files else []
    if not changes.complete:
        notes.append(f"GitHub lists only {len(files):,} of this pull request's {total or 0:,} changed files, so "
                     "mlgate treats it as a data and a model change, and a reviewer must approve it")
    if ctx.store.latest_evaluation(repo, number, head) is not None:
        return  # this head's report is in the comment already: "pending" never replaces it
    # the comment says the evaluation is pending; the report it showed is kept, collapsed, below
    apply(plan_pending(config, remembered(ctx.store, repo, number),
                       PullView(number, head, str((pr.get("user") or {}).get("login") or ""),
                                policy.refusal), notes),
          ctx.github, ctx.store, repo)


def rejudge(ctx: Context, number: int, head: str, author: str, policy: Policy, changes: Changes) -> None:
    """The head's stored report under its new base's policy: decided once, both checks and the
    comment planned again."""
    from bot.gate import decide
    from bot.handlers.inputs import plan_head, stored_origin_reasons

    config = policy.config
    evaluation = ctx.store.latest_evaluation(ctx.event.repo or "", number, head)
    if evaluation is None or config is None:
        return
    decision = decide(evaluation["report"], config, changes)
    plan_head(ctx, number=number, head=head, author=author, config=config, releases_refused=policy.refusal,
              report=evaluation["report"], decision=decision, run_id=evaluation["run_id"], eval_id=evaluation["id"],
              computed_by_pr=config.evaluation.trust == "pull_request",
              extra=stored_origin_reasons(ctx, config, evaluation["run_id"], author))


def on_edited(ctx: Context) -> None:
    """Only a new base matters (a title or body edit changes nothing mlgate decides)."""
    if "base" in (ctx.event.payload.get("changes") or {}):
        on_change(ctx)


router = Router({
    **{f"pull_request.{action}": on_change
       for action in ("opened", "synchronize", "reopened", "ready_for_review", "converted_to_draft")},
    "pull_request.edited": on_edited,
})
