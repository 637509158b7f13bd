"""pull_request opened/synchronize/reopened/ready_for_review: queue the evaluation, or pass.

At most five GitHub calls: the base branch's config, the changed files, the evaluation
check, the labels and the sticky comment (check and comment ids come from the store).
"""

from __future__ import annotations

from bot.context import Context, Handler
from bot.datachanges import classify
from bot.handlers import (
    CONFIG_CHANGED_NOTE,
    EVALUATION,
    INVALID_CONFIG_TITLE,
    LABEL_DATA,
    LABEL_MODEL,
    NO_CONFIG_TITLE,
    NO_ML_TITLE,
    PENDING_TITLE,
    REVIEW,
    load_policy,
    set_check,
    upsert_comment,
)


def on_change(ctx: Context) -> None:
    pr = ctx.event.payload["pull_request"]
    number, head, base = pr["number"], pr["head"]["sha"], pr["base"]["sha"]
    ctx.store.set_pr_head(ctx.event.repo, number, head, base, (pr.get("user") or {}).get("login"))
    config, problem = load_policy(ctx, base)
    if problem:
        set_check(ctx, head, EVALUATION, status="completed", conclusion="failure", title=INVALID_CONFIG_TITLE,
                  summary=f"The base branch's `.github/mlgate.yml` is invalid:\n\n```\n{problem}\n```")
        return
    if config is None:
        set_check(ctx, head, EVALUATION, status="completed", conclusion="neutral", title=NO_CONFIG_TITLE,
                  summary="mlgate is installed but this repository's base branch has no `.github/mlgate.yml`.")
        return
    files = ctx.github.changed_files(number)
    kinds = classify(files, config.paths)
    if not kinds["data"] and not kinds["model"]:
        for name in (EVALUATION, REVIEW):
            set_check(ctx, head, name, status="completed", conclusion="neutral", title=NO_ML_TITLE,
                      summary="No file of this pull request matches `paths.data` or `paths.model`.")
        return
    set_check(ctx, head, EVALUATION, status="queued", title=PENDING_TITLE,
              summary=f"Waiting for the `{config.evaluation.workflow}` workflow to upload `{config.evaluation.artifact}`.")
    labels = ([LABEL_DATA] if kinds["data"] else []) + ([LABEL_MODEL] if kinds["model"] else [])
    ctx.github.add_labels(number, labels)
    notes = [CONFIG_CHANGED_NOTE] if ".github/mlgate.yml" in files else []
    from bot.render import render_pending_comment

    upsert_comment(ctx, number, render_pending_comment([m.name for m in config.models], notes))


ROUTES: dict[str, Handler] = {
    f"pull_request.{action}": on_change for action in ("opened", "synchronize", "reopened", "ready_for_review")
}
