"""pull_request opened/synchronize/reopened/ready_for_review: queue the evaluation, or pass.

The policy comes from the base branch (a PR cannot loosen its own gate). A PR that touches
no data and no model code gets neutral checks, so a required check never blocks it.

GitHub calls: the base config (none when this worker already read it at that SHA), the
changed files, the evaluation check, the labels that change (the payload says which are
there), and the sticky comment (its id and the check ids come from the store) — at most
five on a synchronize unless the labels change too.
"""

from __future__ import annotations

from typing import Any

from bot.config import CONFIG_PATH
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
    payload_labels,
    set_check,
    sync_labels,
    upsert_comment,
)

KIND_LABELS = {LABEL_DATA, LABEL_MODEL}


def on_change(ctx: Context) -> None:
    pr: dict[str, Any] = ctx.event.payload["pull_request"]
    repo = ctx.event.repo or ""
    number, head, base = int(pr["number"]), str(pr["head"]["sha"]), str(pr["base"]["sha"])
    # first, so a report for an older head that arrives from now on is recognised as stale
    ctx.store.set_pr_head(repo, number, head, base, (pr.get("user") or {}).get("login"))
    config, problem = load_policy(ctx, base)
    if problem:
        set_check(ctx, head, EVALUATION, status="completed", conclusion="failure", title=INVALID_CONFIG_TITLE,
                  summary=f"The base branch's `{CONFIG_PATH}` is invalid, so mlgate cannot gate this pull "
                          f"request:\n\n```\n{problem}\n```\n\nFix it on the base branch; this pull request's own "
                          "copy is never used for the gate.")
        return
    if config is None:
        for name in (EVALUATION, REVIEW):
            set_check(ctx, head, name, status="completed", conclusion="neutral", title=NO_CONFIG_TITLE,
                      summary=f"mlgate is installed but the base branch has no `{CONFIG_PATH}`, so there is "
                              "no policy to apply. Add one on the base branch to gate ML changes.")
        return
    files = ctx.github.changed_files(number)
    kinds = classify(files, config.paths)
    current_labels = payload_labels(pr)
    if not kinds["data"] and not kinds["model"]:
        for name in (EVALUATION, REVIEW):
            set_check(ctx, head, name, status="completed", conclusion="neutral", title=NO_ML_TITLE,
                      summary="No file of this pull request matches `paths.data` or `paths.model` in the base "
                              f"branch's `{CONFIG_PATH}`.")
        sync_labels(ctx, number, set(), KIND_LABELS, current_labels)  # a later push may have dropped them
        return
    set_check(ctx, head, EVALUATION, status="queued", title=PENDING_TITLE,
              summary=f"Waiting for the `{config.evaluation.workflow}` workflow to upload the "
                      f"`{config.evaluation.artifact}` artifact for {head[:12]}.")
    want = ({LABEL_DATA} if kinds["data"] else set()) | ({LABEL_MODEL} if kinds["model"] else set())
    sync_labels(ctx, number, want, KIND_LABELS, current_labels)
    notes = [CONFIG_CHANGED_NOTE] if CONFIG_PATH in files else []
    from bot.render import render_pending_comment

    upsert_comment(ctx, number, render_pending_comment([m.name for m in config.models], notes))


ROUTES: dict[str, Handler] = {
    f"pull_request.{action}": on_change for action in ("opened", "synchronize", "reopened", "ready_for_review")
}
