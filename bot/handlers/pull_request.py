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

from bot.chatops import render_reply
from bot.config import CONFIG_PATH
from bot.context import Context
from bot.handlers import (
    CONFIG_CHANGED_NOTE,
    DRAFT_TITLE,
    EVALUATION,
    INVALID_CONFIG_TITLE,
    LABEL_DATA,
    LABEL_MODEL,
    NO_CONFIG_TITLE,
    NO_ML_TITLE,
    PENDING_TITLE,
    REVIEW,
    payload_labels,
    pr_changes,
    set_check,
    sync_labels,
    undecided,
    upsert_comment,
)
from bot.handlers.ordering import (
    EVALUATED,
    PENDING,
    claim_head,
    one_job_per_pull_request,
    phase,
    reach,
)
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

    try:
        policy = resolve_policy(ctx, str(pr["base"]["ref"]))
    except GitHubError as exc:
        undecided(ctx, head, (EVALUATION, REVIEW) if not settled else (), "read the policy", exc)
        return
    config, problem = policy.config, policy.problem
    if problem and not settled:
        set_check(ctx, head, EVALUATION, status="completed", conclusion="failure", title=INVALID_CONFIG_TITLE,
                  summary=f"`{CONFIG_PATH}` on `{policy.branch}` is invalid, so mlgate cannot gate this pull "
                          f"request:\n\n```\n{problem}\n```\n\nFix it on `{policy.branch}`; this pull request's "
                          "own copy is never used for the gate.")
        return
    if config is None:
        # a clean "no such file" at the default branch's head: the one case that is neutral
        for name in (EVALUATION, REVIEW) if not settled else ():
            set_check(ctx, head, name, status="completed", conclusion="neutral", title=NO_CONFIG_TITLE,
                      summary=f"mlgate is installed but the default branch `{policy.default_branch}` has no "
                              f"`{CONFIG_PATH}`, so there is no policy to apply. Add one there to gate ML changes.")
        return
    if pr.get("draft") and config.skip_drafts:
        # neutral only because GitHub never merges a draft; ready_for_review evaluates it
        for name in (EVALUATION, REVIEW) if not settled else ():
            set_check(ctx, head, name, status="completed", conclusion="neutral", title=DRAFT_TITLE,
                      summary=render_reply("draft_check.md.j2", workflow=config.evaluation.workflow))
        return
    total = pr.get("changed_files")
    try:
        if not isinstance(total, int):
            total = ctx.github.pull(number).changed_files
        files, changes = pr_changes(ctx, number, total, config.paths)
    except GitHubError as exc:
        undecided(ctx, head, (EVALUATION, REVIEW) if not settled else (), "list the changed files", exc)
        return
    current_labels = payload_labels(pr)
    if not changes.data_changed and not changes.model_changed:
        for name in (EVALUATION, REVIEW) if not settled else ():
            set_check(ctx, head, name, status="completed", conclusion="neutral", title=NO_ML_TITLE,
                      summary="No file of this pull request matches `paths.data` or `paths.model` in "
                              f"`{CONFIG_PATH}` on `{policy.branch}`.")
        if current:
            sync_labels(ctx, number, set(), KIND_LABELS, current_labels)  # a later push may have dropped them
        return
    if base_changed and ctx.store.latest_evaluation(repo, number, head) is not None:
        rejudge(ctx, number, head, config, changes)  # this head's report, judged by the new base's policy
        settled = True
    if not settled and ctx.store.check_conclusion(repo, head, REVIEW) == "neutral":
        set_check(ctx, head, REVIEW, status="in_progress", title="Waiting for the evaluation",
                  summary="The review check is decided once this commit's evaluation is in.")
    if not settled:
        set_check(ctx, head, EVALUATION, status="queued", title=PENDING_TITLE,
                  summary=f"Waiting for the `{config.evaluation.workflow}` workflow to upload the "
                          f"`{config.evaluation.artifact}` artifact for {head[:12]}.")
    if not current:
        return
    want = ({LABEL_DATA} if changes.data_changed else set()) | ({LABEL_MODEL} if changes.model_changed else set())
    sync_labels(ctx, number, want, KIND_LABELS, current_labels)
    notes = [CONFIG_CHANGED_NOTE.format(branch=policy.branch)] if CONFIG_PATH in files else []
    if policy.releases_refused:
        notes.append(f"/promote and /rollback are not available for this pull request: {policy.releases_refused}")
    if not changes.complete:
        notes.append(f"GitHub lists only {len(files):,} of this pull request's {total or 0:,} changed files, so "
                     "mlgate treats it as a data and a model change, and a reviewer must approve it")
    from bot.render import render_pending_comment

    if ctx.store.latest_evaluation(repo, number, head) is not None:
        return  # this head's report is in the comment already: "pending" never replaces it
    upsert_comment(ctx, number, render_pending_comment([m.name for m in config.models], notes))


def rejudge(ctx: Context, number: int, head: str, config: Any, changes: Any) -> None:
    """The head's stored report under `config` (its new base's policy): both checks decided again."""
    from bot.gate import decide
    from bot.handlers.review import recompute
    from bot.render import render_check_summary

    evaluation = ctx.store.latest_evaluation(ctx.event.repo or "", number, head)
    if evaluation is None:
        return
    decision = decide(evaluation["report"], config, changes)
    title, summary = render_check_summary(evaluation["report"], decision)
    set_check(ctx, head, EVALUATION, status="completed", conclusion="success" if decision.outcome == "pass" else
              "failure", title=title, summary=summary)
    recompute(ctx, number, config=config, changes=changes)


def on_edited(ctx: Context) -> None:
    """Only a new base matters (a title or body edit changes nothing mlgate decides)."""
    if "base" in (ctx.event.payload.get("changes") or {}):
        on_change(ctx)


router = Router({
    **{f"pull_request.{action}": on_change
       for action in ("opened", "synchronize", "reopened", "ready_for_review", "converted_to_draft")},
    "pull_request.edited": on_edited,
})
