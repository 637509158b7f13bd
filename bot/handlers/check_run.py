"""check_run rerequested: run the evaluation workflow again."""

from __future__ import annotations

from bot.context import Context, Handler
from bot.handlers import EVALUATION, set_check


def on_rerequested(ctx: Context) -> None:
    check = ctx.event.payload["check_run"]
    if check.get("name") != EVALUATION:
        return
    prs = check.get("pull_requests") or []
    latest = ctx.store.latest_evaluation(ctx.event.repo, prs[0]["number"]) if prs else None
    if latest and latest.get("run_id"):
        ctx.github.rerun_workflow(int(latest["run_id"]))
        set_check(ctx, check["head_sha"], EVALUATION, status="queued", title="Re-running the evaluation workflow")
    else:
        set_check(ctx, check["head_sha"], EVALUATION, status="queued", title="Waiting for the evaluation workflow",
                  summary="No earlier evaluation run is known for this pull request; push or re-run the workflow.")


ROUTES: dict[str, Handler] = {"check_run.rerequested": on_rerequested}
