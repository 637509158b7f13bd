"""check_run rerequested ("Re-run" on mlgate's check): run the evaluation again.

Re-running `mlgate/evaluation` re-runs the evaluation workflow run of that commit; its
completion comes back as a workflow_run event. Re-running `mlgate/review` recounts the
approvals. GitHub sends this event only to the App that created the check.
"""

from __future__ import annotations

from typing import Any

from bot.context import Context, Handler
from bot.handlers import EVALUATION, REVIEW, set_check

RERUN_TITLE = "Re-running the evaluation workflow"
NO_RUN_TITLE = "Waiting for the evaluation workflow"


def on_rerequested(ctx: Context) -> None:
    check: dict[str, Any] = ctx.event.payload["check_run"]
    name, head = check.get("name"), str(check["head_sha"])
    prs = [int(p["number"]) for p in check.get("pull_requests") or [] if p.get("number")]
    if name == REVIEW:
        if prs:
            from bot.handlers.review import recompute

            recompute(ctx, prs[0])
        return
    if name != EVALUATION:
        return
    repo = ctx.event.repo or ""
    # the run that evaluated this very commit: re-running another head's run would gate the wrong code
    latest = next((e for e in (ctx.store.latest_evaluation(repo, n, head) for n in prs) if e), None)
    if not latest or not latest.get("run_id"):
        why = ("mlgate knows no evaluation workflow run for this commit, so there is nothing to re-run. "
               "Re-run the evaluation workflow from the Actions tab, or push a commit.")
        before = ctx.store.check_conclusion(repo, head, EVALUATION)
        if before:  # e.g. neutral "no ML changes": a re-run click must not turn it into a wait for nothing
            set_check(ctx, head, EVALUATION, status="completed", conclusion=before, title=NO_RUN_TITLE,
                      summary=f"{why}\n\nThe earlier result (`{before}`) stands.")
        else:
            set_check(ctx, head, EVALUATION, status="queued", title=NO_RUN_TITLE, summary=why)
        return
    from bot.github_client import GitHubError, RetryLater

    run_id = int(latest["run_id"])
    try:
        ctx.github.rerun_workflow(run_id)
    except RetryLater:
        raise
    except GitHubError as exc:  # e.g. still running, or too old to re-run: say so, keep the verdict
        before = ctx.store.check_conclusion(repo, head, EVALUATION) or "failure"
        set_check(ctx, head, EVALUATION, status="completed", conclusion=before, title="Could not re-run",
                  summary=f"GitHub refused to re-run workflow run {run_id}: {exc}\n\nThe earlier result "
                          f"(`{before}`) stands. Re-run the workflow from the Actions tab, or push a commit.")
        return
    set_check(ctx, head, EVALUATION, status="queued", title=RERUN_TITLE,
              summary=f"Workflow run {run_id} was started again; this check completes when it uploads its report.")


ROUTES: dict[str, Handler] = {"check_run.rerequested": on_rerequested}
