"""workflow_run completed: read the report artifact, apply the base policy, report and gate.

The artifact is untrusted (a fork's workflow made it): bot.artifacts limits and validates it,
and the verdict is recomputed here with the base branch's policy, never taken from CI.

GitHub calls for one PR: the base config (none when this worker already read it at that
SHA), the artifact list, the artifact zip, the comment, the evaluation check, the regression
label (only when it changes), and the review check (plus the reviews when the policy asks for
approval) — seven with a warm config, eight at most.
"""

from __future__ import annotations

import json
from typing import Any

from bot.artifacts import MAX_ZIP_BYTES, ArtifactError, extract_report
from bot.config import CONFIG_PATH, Config
from bot.context import Context, Handler
from bot.gate import Decision, decide
from bot.handlers import (
    EVALUATION,
    LABEL_REGRESSION,
    REVIEW,
    load_policy,
    set_check,
    upsert_comment,
)

MISSING_ARTIFACT_TITLE = "No mlgate report"
INVALID_ARTIFACT_TITLE = "Invalid mlgate report"
POLICY_DIFFERS_NOTE = (
    f"the evaluation ran with a `{CONFIG_PATH}` that differs from the base branch's; "
    "the verdict applies the base branch's policy"
)


def on_completed(ctx: Context) -> None:
    run: dict[str, Any] = ctx.event.payload["workflow_run"]
    targets = _pull_requests(ctx, run)
    if not targets:
        ctx.log.info("workflow run %s is not for an open pull request of this repository; nothing to do",
                     run.get("id"))
        return
    for number, base_sha in targets:
        _evaluate(ctx, run, number, base_sha)


def _pull_requests(ctx: Context, run: dict[str, Any]) -> list[tuple[int, str]]:
    """(number, base SHA) of the PRs the run belongs to.

    GitHub lists them in `pull_requests`, except for runs from forks: those are found by the
    head branch of the fork (one call).
    """
    repo_id = (ctx.event.payload.get("repository") or {}).get("id")
    found = []
    for p in run.get("pull_requests") or []:
        base = p.get("base") or {}
        if repo_id is not None and (base.get("repo") or {}).get("id") not in (None, repo_id):
            continue  # a PR of another repository that happens to share the head
        if p.get("number") and base.get("sha"):
            found.append((int(p["number"]), str(base["sha"])))
    if found or not run.get("head_branch"):
        return found
    head_repo = run.get("head_repository") or {}
    if not head_repo.get("full_name") or head_repo.get("full_name") == ctx.event.repo:
        return []
    owner = (head_repo.get("owner") or {}).get("login") or str(head_repo["full_name"]).split("/")[0]
    return [(p.number, p.base_sha) for p in ctx.github.pulls_for_branch(owner, str(run["head_branch"]))
            if p.head_sha == run.get("head_sha")]


def _evaluate(ctx: Context, run: dict[str, Any], number: int, base_sha: str) -> None:
    repo, head, run_id = ctx.event.repo or "", str(run["head_sha"]), int(run["id"])
    config, problem = load_policy(ctx, base_sha)
    if config is None:
        ctx.log.info("no usable config on the base branch (%s); the pull_request handler reported it",
                     problem or "missing")
        return
    if run.get("name") != config.evaluation.workflow:
        return  # another workflow of the repository
    current = ctx.store.pr_head(repo, number)
    stale = current is not None and current != head
    from bot.github_client import ArtifactUnavailable

    try:
        data = ctx.github.download_artifact(run_id, config.evaluation.artifact, MAX_ZIP_BYTES)
        if data is None:
            raise ArtifactError(_missing_reason(run, config.evaluation.artifact))
        report = extract_report(data)
    except (ArtifactError, ArtifactUnavailable) as exc:
        if stale:
            ctx.log.info("run %s for the old head %s has no usable report: %s", run_id, head[:12], exc)
            return
        missing = isinstance(exc, ArtifactError) and "uploaded no" in str(exc)
        ctx.log.warning("run %s: %s", run_id, exc)
        set_check(ctx, head, EVALUATION, status="completed", conclusion="failure",
                  title=MISSING_ARTIFACT_TITLE if missing else INVALID_ARTIFACT_TITLE,
                  summary=f"{exc}.\n\nThe `{config.evaluation.workflow}` workflow must run `mlgate evaluate` and "
                          f"upload `mlgate-report.json` as the `{config.evaluation.artifact}` artifact "
                          f"(see docs/action.md). Run: {run.get('html_url') or run_id}",
                  details_url=run.get("html_url"))
        return
    decision = decide(report, config)
    from bot.metrics import metrics

    metrics().verdicts.labels(outcome=decision.outcome).inc()
    from bot.render import render_check_summary, render_comment

    title, summary = render_check_summary(report, decision)
    conclusion = "success" if decision.outcome == "pass" else "failure"
    if stale:
        # the old commit gets its own result; the PR's comment, labels and review are the new head's
        ctx.log.info("report for %s is older than the PR head %s: only its own check is completed",
                     head[:12], str(current)[:12])
        set_check(ctx, head, EVALUATION, status="completed", conclusion=conclusion, title=title,
                  summary=f"This commit is no longer the head of #{number}.\n\n{summary}")
        return
    previous = ctx.store.latest_evaluation(repo, number)
    if previous is not None and previous.get("run_id") == run_id and previous.get("head_sha") == head:
        eval_id: int | None = int(previous["id"])  # a redelivery: the same evaluation, no second row
    else:
        eval_id = ctx.store.record_evaluation(repo, number, head, run_id, decision.outcome, report)
    if eval_id is None:
        return  # a newer push arrived meanwhile
    settings = ctx.settings
    public = getattr(settings, "public_url", None) if settings is not None else None
    url = f"{str(public).rstrip('/')}/reports/{eval_id}" if public else None
    upsert_comment(ctx, number, render_comment(report, decision, report_url=url, notes=_notes(report, config, head)))
    set_check(ctx, head, EVALUATION, status="completed", conclusion=conclusion, title=title, summary=summary,
              details_url=url)
    _regression_label(ctx, number, decision, config, previous, run_id)
    update_review_check(ctx, number, head, decision, config)


def _missing_reason(run: dict[str, Any], artifact: str) -> str:
    concl = run.get("conclusion")
    if concl and concl != "success":
        return f"the workflow run ended `{concl}` and uploaded no `{artifact}` artifact"
    return f"the run uploaded no `{artifact}` artifact"


def _notes(report: dict[str, Any], config: Config, head: str) -> list[str]:
    notes = []
    made_for = (report.get("run") or {}).get("head_sha")
    if made_for and made_for != head:
        notes.append(f"the report says it was made for {made_for[:12]}, not {head[:12]}")
    policy = report.get("policy")
    if isinstance(policy, dict) and _canonical(policy) != _canonical(config.to_policy()):
        notes.append(POLICY_DIFFERS_NOTE)
    return notes


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _regression_label(ctx: Context, number: int, decision: Decision, config: Config,
                      previous: dict[str, Any] | None, run_id: int) -> None:
    """`mlgate:regression` follows the verdict. A call is made only when it changes from the
    previous evaluation (or on a redelivery, which cannot know whether the first try got here),
    so a human who removes the label is not overruled until the verdict changes again."""
    if previous is None:
        was: bool | None = False
    elif previous.get("run_id") == run_id:
        was = None  # unknown: make sure
    else:
        was = decide(previous["report"], config).regressed
    now = decision.regressed
    if was is not None and was == now:
        return
    if now:
        ctx.github.add_labels(number, [LABEL_REGRESSION])
    elif was is None or was:
        ctx.github.remove_label(number, LABEL_REGRESSION)


def update_review_check(ctx: Context, number: int, head: str, decision: Decision, config: Config) -> None:
    """`mlgate/review` after an evaluation (the one place the evaluation sets it).

    No review required: it passes at once. Required: "approval required" (in progress) until a
    reviewer approves this head; when reviews of this head already exist (a reviewer was quicker
    than CI), the review gate recounts them (bot.handlers.review.recompute), so nobody is asked
    to approve twice.
    """
    if not decision.review_required(list(config.review.required_when)):
        set_check(ctx, head, REVIEW, status="completed", conclusion="success", title="No review required",
                  summary="The evaluation found nothing that the policy asks a reviewer to approve.")
        return
    on_head = [r for r in ctx.github.reviews(number)
               if r.get("commit_id") == head and r.get("state") in ("APPROVED", "CHANGES_REQUESTED")]
    if on_head:
        from bot.handlers.review import recompute

        recompute(ctx, number, config=config)
        return
    from bot.commands import render_reply
    from bot.review_gate import ReviewState, required_reasons

    # nobody reviewed this head yet: the same state, title and text the review gate would give
    state = ReviewState(required=True, satisfied=False, needed=config.review.min_approvals, approvals=[],
                        reasons=required_reasons(config.review.required_when, decision))
    set_check(ctx, head, REVIEW, status=state.status, title=state.title,
              summary=render_reply("review_check.md.j2", state=state, head=head,
                                   approvers=list(config.review.approvers)))


ROUTES: dict[str, Handler] = {"workflow_run.completed": on_completed}
