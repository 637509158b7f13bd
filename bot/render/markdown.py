"""The Markdown texts the App writes from a report: the sticky PR comment, the check summary, the pending comment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.render.fit import MAX_COMMENT_CHARS, MAX_SUMMARY_CHARS, fit
from bot.render.text import escape_md, escape_md_line, render_template
from bot.render.view import CHECK_TITLE, MARKER, build_view

if TYPE_CHECKING:
    from bot.gate import Decision


def render_comment(
    report: dict[str, Any],
    decision: Decision,
    *,
    report_url: str | None = None,
    notes: Sequence[str] = (),
    commands: bool = True,
    computed_by_pr: bool = False,
    limit: int = MAX_COMMENT_CHARS,
    mlflow_ui: str | None = None,
) -> str:
    """The sticky PR comment (GitHub Markdown), always under GitHub's size limit.

    `computed_by_pr`: the report came from the PR's own workflow (`evaluation.trust:
    pull_request`), which the comment says right under the verdict. `limit`: fewer characters,
    when the comment shares GitHub's limit with more (bot.plan's state block). `mlflow_ui`: the
    operator's MLflow UI URL, for links to the candidate's run, the baseline's version and the
    evaluation run the report was logged into."""
    view = build_view(report, decision, report_url=report_url, notes=notes, mlflow_ui=mlflow_ui)
    view["show_commands"] = commands
    if commands:
        view["commands"], view["unblock"] = standalone_commands(report, decision)
    view["computed_by_pr"] = computed_by_pr
    view["too_large"] = False
    return fit(view, "comment.md.j2", limit)


def standalone_commands(report: dict[str, Any], decision: Decision) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """The commands, and what unblocks a red gate, of a comment written from a report alone
    (`mlgate evaluate --markdown`, `mlgate render --format comment`, the demo).

    The rules of the App's living comment (bot.plan.commands_for, bot.plan.acceptable), as they
    stand right after the evaluation, before any review of its head: /promote only when the gate
    passed and no review is needed; /rollback never (only a promotion from the pull request makes
    it apply, and a report cannot know of one). The policy's review block is the report's own."""
    from bot.config import Review
    from bot.render.view import COMMANDS

    policy = report.get("policy")
    try:
        review = Review.model_validate((policy or {}).get("review") or {} if isinstance(policy, dict) else {})
    except ValueError:  # a report from another mlgate version: the defaults
        review = Review()
    needs_review = decision.review_required(list(review.required_when))
    green = decision.outcome == "pass" and not needs_review
    names = ["/promote"] if green else []
    names += ["/evaluate", "/status", "/help"]
    hints = dict(COMMANDS)
    unblock: dict[str, Any] | None = None
    if decision.outcome == "fail" or needs_review:
        regression = bool(decision.regressed or decision.data_failures)
        acceptable = decision.outcome == "fail" and (regression or bool(decision.undefined)) and not (
            regression and "regression" not in review.required_when)
        unblock = {
            "kind": "review" if decision.outcome != "fail" else ("accept" if acceptable else "fix"),
            "approvers": ", ".join(escape_md(a, 100) for a in review.approvers[:20]),
            "needed": review.min_approvals,
        }
    return [(n, hints[n]) for n in names], unblock


def check_title(decision: Decision) -> str:
    """A one-line title for the check run: the outcome and what drove it."""
    counts: dict[str, int] = {}
    for m in decision.models:
        for r in m.metrics:
            if r.gating:
                counts[r.verdict] = counts.get(r.verdict, 0) + 1
    flagged = sum(1 for m in decision.models for f in m.segments if f.regressed)
    parts = [f"{n:,} {v}" for v, n in sorted(counts.items())]
    if flagged:
        parts.append(f"{flagged:,} segment regression{'s' if flagged > 1 else ''}")
    if decision.data_failures:
        parts.append(f"{decision.data_failures:,} data check{'s' if decision.data_failures > 1 else ''} failed")
    outcome = "inconclusive" if decision.outcome == "pass" and decision.inconclusive else decision.outcome
    head = CHECK_TITLE[outcome]
    return f"{head}: {', '.join(parts)}" if parts else head


def render_check_summary(report: dict[str, Any], decision: Decision, *,
                         mlflow_ui: str | None = None) -> tuple[str, str]:
    """(title, summary) for the `mlgate/evaluation` check run, the summary under 65,535 chars.
    `mlflow_ui`: as for the comment (links to the runs, the baseline's version)."""
    view = build_view(report, decision, mlflow_ui=mlflow_ui)
    view["show_commands"] = False
    view["too_large"] = False
    return check_title(decision), fit(view, "check_summary.md.j2", MAX_SUMMARY_CHARS)


def render_pending_comment(models: Sequence[str], notes: Sequence[str] = ()) -> str:
    """The sticky comment while the evaluation workflow runs (same marker, so it is replaced)."""
    return render_template(
        "pending.md.j2",
        marker=MARKER,
        models=[escape_md(m, 100) for m in models],
        notes=[escape_md_line(n, 500) for n in notes],
    )
