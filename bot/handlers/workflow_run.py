"""workflow_run completed: read the report artifact, apply the base policy, report and gate.

At most seven GitHub calls: the config, the artifact list, the artifact zip, the comment,
the evaluation check, the labels and the review check.
"""

from __future__ import annotations

from bot.artifacts import MAX_ZIP_BYTES, ArtifactError, extract_report
from bot.context import Context, Handler
from bot.gate import decide
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


def on_completed(ctx: Context) -> None:
    run = ctx.event.payload["workflow_run"]
    prs = run.get("pull_requests") or []
    if not prs:
        ctx.log.info("workflow run %s is not for a pull request; nothing to do", run.get("id"))
        return
    number, head = prs[0]["number"], run["head_sha"]
    base = (prs[0].get("base") or {}).get("sha")
    config, problem = load_policy(ctx, base) if base else (None, None)
    if config is None:
        ctx.log.info("no usable config on the base branch (%s); the pull_request handler reported it", problem)
        return
    if run.get("name") != config.evaluation.workflow:
        return
    current = ctx.store.pr_head(ctx.event.repo, number)
    if current is not None and current != head:
        ctx.log.info("report for %s is older than the PR head %s; ignored", head[:12], current[:12])
        return
    try:
        data = ctx.github.download_artifact(run["id"], config.evaluation.artifact, MAX_ZIP_BYTES)
        if data is None:
            raise ArtifactError(f"the run uploaded no `{config.evaluation.artifact}` artifact")
        report = extract_report(data)
    except ArtifactError as exc:
        title = MISSING_ARTIFACT_TITLE if "uploaded no" in str(exc) else INVALID_ARTIFACT_TITLE
        set_check(ctx, head, EVALUATION, status="completed", conclusion="failure", title=title,
                  summary=f"{exc}.\n\nThe evaluation workflow must run `mlgate evaluate` and upload the report "
                          "(see docs/action.md).")
        return
    decision = decide(report, config)
    eval_id = ctx.store.record_evaluation(ctx.event.repo, number, head, run.get("id"), decision.outcome, report)
    if eval_id is None:
        return  # a newer push arrived meanwhile
    from bot.render import render_check_summary, render_comment

    settings = ctx.settings
    url = f"{settings.public_url}/reports/{eval_id}" if settings is not None and settings.public_url else None
    notes = []
    if report.get("run", {}).get("head_sha") and report["run"]["head_sha"] != head:
        notes.append(f"the report says it was made for {report['run']['head_sha'][:12]}, not {head[:12]}")
    upsert_comment(ctx, number, render_comment(report, decision, report_url=url, notes=notes))
    title, summary = render_check_summary(report, decision)
    set_check(ctx, head, EVALUATION, status="completed",
              conclusion="success" if decision.outcome == "pass" else "failure",
              title=title, summary=summary, details_url=url)
    if decision.regressed:
        ctx.github.add_labels(number, [LABEL_REGRESSION])
    else:
        ctx.github.remove_label(number, LABEL_REGRESSION)
    update_review_check(ctx, number, head, decision.review_required(list(config.review.required_when)))


def update_review_check(ctx: Context, number: int, head: str, required: bool) -> None:
    """mlgate/review after an evaluation; chat-ops recomputes it from approvals."""
    if required:
        set_check(ctx, head, REVIEW, status="in_progress", title="Approval required",
                  summary="The policy asks for a reviewer's approval of this change on the current head SHA.")
    else:
        set_check(ctx, head, REVIEW, status="completed", conclusion="success", title="No review required",
                  summary="The evaluation found nothing that the policy asks a reviewer to approve.")


ROUTES: dict[str, Handler] = {"workflow_run.completed": on_completed}
