"""Rendering a report: the sticky PR comment, the check-run summary, HTML and terminal text.

Every string that comes from a report is untrusted. This module turns the report and the
gate's decision into a *view* of already-escaped strings; the Jinja templates in
`templates/` only lay the view out, so no template can forget to escape. All wording lives
in the templates or in the constants below, which tests assert against.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from tabulate import tabulate

import bot
from bot.gate import Decision, MetricVerdict, ModelDecision

MARKER = "<!-- mlgate:report -->"
MAX_COMMENT_CHARS = 65536
MAX_SUMMARY_CHARS = 65535
SAFETY_MARGIN = 2000
MAX_CELL = 120
CHART_SEGMENTS = 12
TOP_SEGMENTS = 5

VERDICT_ICON: dict[str, str] = {
    "improved": "✅ improved",
    "regressed": "❌ regressed",
    "unchanged": "➖ unchanged",
    "inconclusive": "⚠️ inconclusive",
    "informational": "ℹ️ info",
    "n/a": "– n/a",
}
HEADLINE = {
    "pass": "✅ mlgate: the gate passed",
    "fail": "❌ mlgate: the gate failed",
    "neutral": "➖ mlgate: nothing to gate",
}
COMMANDS = [
    ("/promote", "move the production alias to this PR's candidate"),
    ("/rollback", "move it back to the previous version"),
    ("/evaluate", "run the evaluation again"),
    ("/status", "production version, gate state, branch protection"),
    ("/help", "all commands and who may run them"),
]


# ---------------------------------------------------------------- escaping


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def escape_md(text: object, limit: int = MAX_CELL) -> str:
    """Make untrusted text inert in GitHub Markdown: no tables broken, no HTML, no mentions."""
    s = "" if text is None else str(text)
    s = re.sub(r"[\r\n\t\x00-\x1f\x7f]+", " ", s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    # a zero-width space after an @ that could start a mention stops pings of users and teams
    s = re.sub(r"(?<![\w.])@", "@\u200b", s)
    s = s.replace(":", "&#58;") if re.search(r"(?i)javascript|data|vbscript", s) else s
    return s


def escape_mermaid(text: object, limit: int = 40) -> str:
    """A label safe inside a double-quoted Mermaid string."""
    s = re.sub(r"[^\w .,=()\[\]+/%-]", "", str(text), flags=re.UNICODE)
    return s[:limit] or "?"


def _num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.4g}"


def _signed(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.4g}"


def _ci(lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return "–"
    return f"[{_signed(lo)}, {_signed(hi)}]"


def _short(sha: str | None, n: int = 12) -> str:
    return escape_md(sha[:n]) if sha else "–"


# ---------------------------------------------------------------- view model


def _metric_rows(report_model: dict[str, Any], md: ModelDecision | None) -> list[dict[str, str]]:
    verdicts: dict[str, MetricVerdict] = {m.name: m.verdict for m in md.metrics} if md else {}
    rows = []
    for m in report_model.get("metrics", []):
        rows.append({
            "metric": escape_md(m["name"]),
            "baseline": _num(m.get("baseline")),
            "candidate": _num(m.get("candidate")),
            "delta": _signed(m.get("delta")),
            "ci": _ci(m.get("ci_low"), m.get("ci_high")),
            "verdict": VERDICT_ICON[verdicts.get(m["name"], "informational")],
        })
    return rows


def _segment_rows(report_model: dict[str, Any], md: ModelDecision | None) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(flagged rows, all rows) for the gating metrics; regressions first, then worst deltas."""
    flagged_keys = set()
    q_by_key: dict[tuple[str, str, str], float | None] = {}
    order: list[tuple[str, str, str]] = []
    if md:
        for f in md.segments:
            key = (f.column, f.value, f.metric)
            q_by_key[key] = f.q_value
            order.append(key)
            if f.regressed:
                flagged_keys.add(key)
    gating = {f.metric for f in md.segments} if md else set()
    rows_all: list[tuple[tuple[int, float], dict[str, str]]] = []
    for seg in report_model.get("segments", []):
        for m in seg.get("metrics", []):
            if gating and m["name"] not in gating:
                continue
            key = (seg["column"], seg["value"], m["name"])
            regressed = key in flagged_keys
            delta = m.get("delta")
            hib = m.get("higher_is_better", True)
            improvement = float((delta if hib else -delta) if delta is not None else 0.0)
            q = q_by_key.get(key)
            row = {
                "segment": f"{escape_md(seg['column'], 60)} = {escape_md(seg['value'], 60)}",
                "rows": f"{seg['rows']:,}",
                "metric": escape_md(m["name"]),
                "baseline": _num(m.get("baseline")),
                "candidate": _num(m.get("candidate")),
                "delta": _signed(delta),
                "ci": _ci(m.get("ci_low"), m.get("ci_high")),
                "q": _num(q) if q is not None else ("below min_rows" if md and key in q_by_key else "–"),
                "verdict": "❌ regressed" if regressed else "",
            }
            rows_all.append(((0 if regressed else 1, improvement), row))
    rows_all.sort(key=lambda r: r[0])
    all_rows = [r for _, r in rows_all]
    flagged = [r for r in all_rows if r["verdict"]]
    return flagged, all_rows


def _chart(report_model: dict[str, Any], md: ModelDecision | None) -> dict[str, Any] | None:
    metric = next((m.name for m in md.metrics if m.gating), None) if md else None
    if metric is None:
        return None
    points = []
    for seg in report_model.get("segments", []):
        for m in seg.get("metrics", []):
            if m["name"] == metric and m.get("delta") is not None:
                points.append((seg["column"], seg["value"], float(m["delta"])))
    if not points:
        return None
    points.sort(key=lambda p: p[2])
    points = points[:CHART_SEGMENTS]
    return {
        "metric": escape_mermaid(metric),
        "labels": ", ".join(f'"{escape_mermaid(f"{c}={v}")}"' for c, v, _ in points),
        "deltas": ", ".join(f"{d:.4g}" for _, _, d in points),
        "raw": [(f"{c}={v}", d) for c, v, d in points],
    }


def _model_ref(ref: dict[str, Any] | None) -> str:
    if not ref:
        return "no baseline yet"
    uri = escape_md(ref.get("uri"), 100)
    version = f" (version {escape_md(ref['version'], 20)})" if ref.get("version") else ""
    return f"{uri}{version}"


def build_view(
    report: dict[str, Any], decision: Decision, *, report_url: str | None = None, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """Everything a template may show, escaped."""
    decisions = {m.name: m for m in decision.models}
    models = []
    for rm in report.get("models", []):
        md = decisions.get(rm["name"])
        flagged, all_rows = _segment_rows(rm, md)
        baseline = rm.get("baseline")
        models.append({
            "name": escape_md(rm["name"]),
            "task": escape_md(rm["task"]),
            "candidate": _model_ref(rm.get("candidate")),
            "baseline": _model_ref(baseline),
            "baseline_alias": escape_md((baseline or {}).get("alias") or "baseline"),
            "holdout": escape_md(rm["holdout"]["path"]),
            "holdout_rows": f"{rm['holdout']['rows']:,}",
            "holdout_sha": _short(rm["holdout"].get("sha256")),
            "metrics": _metric_rows(rm, md),
            "flagged": flagged,
            "top": flagged or all_rows[:TOP_SEGMENTS],
            "segments": all_rows,
            "segment_count": len({(s["column"], s["value"]) for s in rm.get("segments", [])}),
            "chart": _chart(rm, md),
        })
    data = report.get("data", {})
    checks = data.get("checks", [])
    failed_checks = [c for c in checks if not c["passed"]]
    env = report.get("environment", {})
    return {
        "marker": MARKER,
        "headline": HEADLINE[decision.outcome] + (" (inconclusive)" if decision.outcome == "pass" and decision.inconclusive else ""),
        "outcome": decision.outcome,
        "reasons": [escape_md(r, 300) for r in decision.reasons],
        "notes": [escape_md(n, 500) for n in notes],
        "models": models,
        "checks_total": len(checks),
        "checks_passed": len(checks) - len(failed_checks),
        "failed_checks": [
            {
                "file": escape_md(c.get("file") or "–", 80),
                "column": escape_md(c.get("column") or "–", 60),
                "check": escape_md(c["check"], 80),
                "failures": f"{c['failures']:,}",
                "examples": ", ".join(escape_md(e, 40) for e in (c.get("examples") or [])[:5]) or "–",
            }
            for c in failed_checks
        ],
        "drift": [
            {
                "file": escape_md(d.get("file") or "–", 80),
                "column": escape_md(d["column"], 60),
                "kind": escape_md(d["kind"]),
                "psi": _num(d.get("psi")),
                "p": _num(d.get("ks_p_value") if d["kind"] == "numeric" else d.get("chi2_p_value")),
                "drifted": "⚠️ drifted" if d["drifted"] else "",
            }
            for d in sorted(data.get("drift", []), key=lambda d: (not d["drifted"], -(d.get("psi") or 0)))
        ],
        "drifted": sum(1 for d in data.get("drift", []) if d["drifted"]),
        "changes": [
            {
                "path": escape_md(c["path"], 100),
                "status": escape_md(c["status"]),
                "rows": f"{_count(c.get('rows_before'))} → {_count(c.get('rows_after'))}",
                "sha": f"{_short(c.get('sha256_before'), 8)} → {_short(c.get('sha256_after'), 8)}",
            }
            for c in data.get("changes", [])
        ],
        "env": {
            "mlgate": escape_md(report.get("mlgate_version")),
            "code_sha": _short(env.get("code_sha")),
            "seed": escape_md(env.get("seed")),
            "resamples": escape_md(env.get("resamples")),
            "confidence": f"{float(env.get('confidence', 0.95)):.0%}",
            "python": escape_md(env.get("python")),
            "command": str(env.get("command") or "mlgate evaluate")[:300].replace("`", "'").replace("\n", " "),
            "packages": ", ".join(f"{escape_md(k)} {escape_md(v)}" for k, v in sorted((env.get("packages") or {}).items())),
        },
        "report_url": report_url if report_url and re.match(r"^https?://[^\s<>\"')]+$", report_url) else None,
        "commands": COMMANDS,
        "truncated": 0,
    }


def _count(v: int | None) -> str:
    return "–" if v is None else f"{v:,}"


# ---------------------------------------------------------------- templates


def templates_dir() -> Path:
    packaged = Path(bot.__file__).parent / "_templates"
    return packaged if packaged.is_dir() else Path(bot.__file__).parent.parent / "templates"


@cache
def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _render(name: str, **ctx: Any) -> str:
    return _env(name.endswith(".html.j2")).get_template(name).render(**ctx)


def _truncate_to(view: dict[str, Any], template: str, limit: int) -> str:
    """Render; when too long, cut the long tables step by step and say so."""
    full_rows = [list(m["segments"]) for m in view["models"]]
    full_drift = list(view["drift"])
    full_checks = list(view["failed_checks"])
    for cap in (None, 400, 200, 100, 50, 20, 5, 0):
        hidden = 0
        for m, rows in zip(view["models"], full_rows, strict=True):
            m["segments"] = rows if cap is None else rows[:cap]
            m["top"] = m["top"] if cap is None else m["top"][: max(cap, 5)]
            hidden += len(rows) - len(m["segments"])
        view["drift"] = full_drift if cap is None else full_drift[:cap]
        view["failed_checks"] = full_checks if cap is None else full_checks[: max(cap, 10)]
        hidden += len(full_drift) - len(view["drift"]) + len(full_checks) - len(view["failed_checks"])
        view["truncated"] = hidden
        text = _render(template, **view)
        if len(text) <= limit - SAFETY_MARGIN:
            return text
    # last resort: the headline, reasons and the link only
    view["models"] = []
    view["reasons"] = view["reasons"][:20]
    return _render(template, **view)[: limit - 1]


def render_comment(
    report: dict[str, Any],
    decision: Decision,
    *,
    report_url: str | None = None,
    notes: Sequence[str] = (),
    commands: bool = True,
) -> str:
    """The sticky PR comment (GitHub Markdown), always under GitHub's size limit."""
    view = build_view(report, decision, report_url=report_url, notes=notes)
    view["show_commands"] = commands
    return _truncate_to(view, "comment.md.j2", MAX_COMMENT_CHARS)


def render_check_summary(report: dict[str, Any], decision: Decision) -> tuple[str, str]:
    """(title, summary) for the `mlgate/evaluation` check run."""
    view = build_view(report, decision)
    view["show_commands"] = False
    title = check_title(decision)
    return title, _truncate_to(view, "check_summary.md.j2", MAX_SUMMARY_CHARS)


def check_title(decision: Decision) -> str:
    counts: dict[str, int] = {}
    for m in decision.models:
        for r in m.metrics:
            if r.gating:
                counts[r.verdict] = counts.get(r.verdict, 0) + 1
    flagged = sum(1 for m in decision.models for f in m.segments if f.regressed)
    parts = [f"{n} {v}" for v, n in sorted(counts.items())]
    if flagged:
        parts.append(f"{flagged} segment regression{'s' if flagged > 1 else ''}")
    if decision.data_failures:
        parts.append(f"{decision.data_failures} data check{'s' if decision.data_failures > 1 else ''} failed")
    head = {"pass": "Gate passed", "fail": "Gate failed", "neutral": "Nothing to gate"}[decision.outcome]
    return f"{head}: {', '.join(parts)}" if parts else head


def render_pending_comment(models: Sequence[str], notes: Sequence[str] = ()) -> str:
    """The sticky comment while the evaluation workflow runs."""
    return _render(
        "pending.md.j2",
        marker=MARKER,
        models=[escape_md(m) for m in models],
        notes=[escape_md(n, 500) for n in notes],
    )


def render_html(report: dict[str, Any], decision: Decision) -> str:
    """A standalone HTML report: every table, a segment chart, no external assets."""
    decisions = {m.name: m for m in decision.models}
    models = []
    for rm in report.get("models", []):
        md = decisions.get(rm["name"])
        chart = _chart(rm, md)
        models.append({"raw": rm, "decision": md, "chart": _svg_chart(chart["raw"]) if chart else None,
                       "chart_metric": chart["metric"] if chart else None, "verdicts": {m.name: VERDICT_ICON[m.verdict] for m in md.metrics} if md else {},
                       "flagged": {(f.column, f.value, f.metric) for f in md.segments if f.regressed} if md else set()})
    return _render(
        "report.html.j2", report=report, decision=decision, models=models, headline=HEADLINE[decision.outcome],
        num=_num, signed=_signed, ci=_ci,
    )


def _svg_chart(points: list[tuple[str, float]]) -> dict[str, Any]:
    """Geometry for an inline SVG bar chart of segment deltas (drawn by the template)."""
    width, bar_h, gap, label_w = 640, 18, 6, 220
    span = max((abs(d) for _, d in points), default=1.0) or 1.0
    mid = label_w + (width - label_w) / 2
    scale = (width - label_w) / 2 / span
    bars = []
    for i, (label, d) in enumerate(points):
        w = abs(d) * scale
        x = mid if d >= 0 else mid - w
        bars.append({"label": label[:40], "x": x, "y": i * (bar_h + gap), "w": max(w, 1), "h": bar_h,
                     "neg": d < 0, "value": f"{d:+.4g}"})
    return {"width": width, "height": len(points) * (bar_h + gap), "mid": mid, "bars": bars, "label_w": label_w}


def render_terminal(report: dict[str, Any], decision: Decision) -> str:
    """Plain text for the CLI and the demo."""
    lines = [HEADLINE[decision.outcome].split(": ", 1)[-1].upper()]
    for r in decision.reasons:
        lines.append(f"  - {r}")
    decisions = {m.name: m for m in decision.models}
    for rm in report.get("models", []):
        md = decisions.get(rm["name"])
        lines.append("")
        lines.append(f"Model {rm['name']} ({rm['task']}): candidate {rm['candidate']['uri']} vs "
                     f"{(rm.get('baseline') or {}).get('uri', 'no baseline')}")
        rows = _metric_rows(rm, md)
        lines.append(tabulate([[r["metric"].replace("\\", ""), r["baseline"], r["candidate"], r["delta"], r["ci"], r["verdict"]] for r in rows],
                              headers=["metric", "baseline", "candidate", "delta", "95% CI", "verdict"], disable_numparse=True))
        flagged, all_rows = _segment_rows(rm, md)
        show = flagged or all_rows[:TOP_SEGMENTS]
        if show:
            lines.append("")
            lines.append("Segments that regressed:" if flagged else "Segments (worst first):")
            lines.append(tabulate([[r["segment"].replace("\\", ""), r["rows"], r["metric"].replace("\\", ""), r["delta"], r["ci"], r["q"]] for r in show],
                                  headers=["segment", "rows", "metric", "delta", "95% CI", "q"], disable_numparse=True))
    data = report.get("data", {})
    checks = data.get("checks", [])
    if checks:
        passed = sum(c["passed"] for c in checks)
        lines.append("")
        lines.append(f"Data checks: {passed} of {len(checks)} passed")
    if data.get("changes"):
        lines.append(f"Data files changed: {len(data['changes'])}")
    return "\n".join(lines) + "\n"
