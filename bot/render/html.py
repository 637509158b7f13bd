"""report.html: every table, the segment chart with its intervals, and the curves of both models, as one static file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from bot.render import plots
from bot.render.fit import cap
from bot.render.text import html_text, render_template, safe_url
from bot.render.view import build_view

if TYPE_CHECKING:
    from bot.gate import Decision


def render_html(report: dict[str, Any], decision: Decision, *, draw_plots: bool = True,
                mlflow_ui: str | None = None, pr_url: str | None = None) -> str:
    """A standalone HTML report: no external assets, no script (its CSP forbids both).

    `draw_plots=False` leaves out the curves (matplotlib takes most of a second), for a page
    served on request; the report's tables and segment chart are always there. `mlflow_ui`:
    links to the candidates' runs, the baselines' versions and the evaluation run, as in the
    comment. `pr_url`: the pull request's page, which the caller builds from what it knows
    (the dashboard: its stored repository and number), never from the report."""
    view = build_view(report, decision, esc=html_text, mlflow_ui=mlflow_ui)
    view["pr_url"] = safe_url(pr_url)
    ctx = cap(view, None)
    ctx["reasons"], ctx["reasons_hidden"] = view["reasons"], 0
    available = plots.plots_available()
    ctx["plots_missing"] = None
    for i, (m, rm) in enumerate(zip(ctx["models"], report.get("models", []), strict=True)):
        curves = rm.get("curves")
        m["plots"] = []
        if not curves or not draw_plots:
            continue
        if not available:
            ctx["plots_missing"] = plots.PLOTS_MISSING
            continue
        # matplotlib's SVG, from schema-checked numbers and clipped labels: the one unescaped insert
        m["plots"] = [{"title": p["title"], "svg": Markup(p["svg"])} for p in plots.render_plots(curves, f"m{i}")]
    return render_template("report.html.j2", **ctx)
