"""The view: a report and the gate's decision as plain data for the templates.

Every string from the report has passed through the escaper `esc` of the output format
(bot/render/text.py) and every number through bot/numbers.py, so the templates only lay the
view out and no template can forget to escape. All wording lives in the templates or in the
constants below, which tests assert against.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot import numbers
from bot.commands import comment_hints
from bot.numbers import MetricFormat, metric_format
from bot.render import chart
from bot.render.links import evaluation_run_url, model_links
from bot.render.text import escape_md, escape_md_line, html_pre, safe_url

if TYPE_CHECKING:
    from bot.gate import Decision, ModelDecision

MARKER = "<!-- mlgate:report -->"
MAX_NOTES = 10
TOP_WORST = 3  # other segments where the candidate is furthest behind, listed above the fold
TOP_SLICES = 5  # confirmed discovered slices in the comment when the report does not say top_k

VERDICT_ICON: dict[str, str] = {
    "improved": "✅ improved",
    "regressed": "❌ regressed",
    "unchanged": "➖ unchanged",
    "inconclusive": "⚠️ inconclusive",
    "informational": "ℹ️ info",
    "n/a": "– n/a",
}
NO_BASELINE = "– no baseline"
NOT_GATED = "– not gated"
SEGMENT_REGRESSED = "❌ regressed"
SEGMENT_NOT_GATED = "too small to gate"
SEGMENT_NOT_TESTED = "shown, not gated (segment_policy.metrics)"
HEADLINE: dict[str, str] = {
    "pass": "✅ mlgate: the gate passed",
    "fail": "❌ mlgate: the gate failed",
    "inconclusive": "⚠️ mlgate: inconclusive",
    "neutral": "➖ mlgate: nothing to gate",
}
CHECK_TITLE: dict[str, str] = {
    "pass": "Gate passed",
    "fail": "Gate failed",
    "inconclusive": "Inconclusive",
    "neutral": "Nothing to gate",
}
COMMANDS: list[tuple[str, str]] = comment_hints()  # one source: bot.commands.SPECS
RERUN_HINT = "mlgate render REPORT --format html"
DEFAULT_COMMAND = "mlgate evaluate --config .github/mlgate.yml --out mlgate-report.json"

Escaper = Callable[..., str]


def _sha(sha: object, n: int) -> str:
    s = "" if sha is None else str(sha)
    return s[:n] if re.fullmatch(r"[0-9a-fA-F]{4,64}", s) else ("–" if not s else "?")


def _improvement(delta: float | None, hib: bool) -> float | None:
    if delta is None or numbers.missing(delta):
        return None
    return float(delta if hib else -delta)


def metric_formats(rm: dict[str, Any]) -> dict[str, MetricFormat]:
    """One format per metric of a model, sized by its overall values, for every table of the model."""
    return {m["name"]: metric_format(m["name"], m.get("baseline"), m.get("candidate")) for m in rm.get("metrics", [])}


def _fmt(fmts: dict[str, MetricFormat], m: dict[str, Any]) -> MetricFormat:
    return fmts.get(m["name"]) or metric_format(m["name"], m.get("baseline"), m.get("candidate"))


def _segment_rows(rm: dict[str, Any], md: ModelDecision | None, esc: Escaper,
                  fmts: dict[str, MetricFormat]) -> list[dict[str, Any]]:
    """One row per (segment, gating metric): regressions first, then the largest drops."""
    findings = {(f.column, f.value, f.metric): f for f in md.segments} if md else {}
    gating = {f.metric for f in md.segments} if md else set()
    keyed: list[tuple[tuple[int, float], dict[str, Any]]] = []
    for seg in rm.get("segments", []):
        for m in seg.get("metrics", []):
            if md is not None and m["name"] not in gating:
                continue
            f = findings.get((seg["column"], seg["value"], m["name"]))
            regressed = bool(f and f.regressed)
            imp = _improvement(m.get("delta"), bool(m.get("higher_is_better", True)))
            if regressed:
                verdict = SEGMENT_REGRESSED
            elif f is not None and not f.gated:
                verdict = SEGMENT_NOT_GATED if f.too_small else SEGMENT_NOT_TESTED
            else:
                verdict = ""
            fmt = _fmt(fmts, m)
            row = {
                "key": (seg["column"], seg["value"]),
                "segment": f"{esc(seg['column'], 60)} = {esc(seg['value'], 60)}",
                "rows": f"{seg['rows']:,}",
                "metric": esc(m["name"]),
                "baseline": fmt.value(m.get("baseline")),
                "candidate": fmt.value(m.get("candidate")),
                "delta": fmt.delta(m.get("delta")),
                "ci": fmt.ci(m.get("ci_low"), m.get("ci_high")),
                "p": numbers.p_value(m.get("p_value")),
                "q": numbers.p_value(f.q_value) if f is not None else "–",
                "verdict": verdict,
                "regressed": regressed,
                "improvement": imp,
            }
            keyed.append(((0 if regressed else 1, imp if imp is not None else math.inf), row))
    keyed.sort(key=lambda r: r[0])  # stable: ties keep the report's order
    return [r for _, r in keyed]


def _chart(rm: dict[str, Any], md: ModelDecision | None, esc: Escaper,
           fmts: dict[str, MetricFormat]) -> dict[str, Any] | None:
    """The primary metric's deltas for the worst segments, drawn from zero (bot/render/chart.py)."""
    if md is not None:
        metric = next((m.name for m in md.metrics if m.gating), None)
    else:
        metric = next((m["name"] for m in rm.get("metrics", [])), None)
    if metric is None:
        return None
    regressed = {(f.column, f.value) for f in md.segments if f.metric == metric and f.regressed} if md else set()
    points, total = chart.chart_points(rm, metric, regressed)
    if not points:
        return None
    hib = next((bool(m.get("higher_is_better", True)) for m in rm.get("metrics", []) if m["name"] == metric), True)
    fmt = fmts.get(metric) or metric_format(metric, *(p.delta for p in points))
    labels = [esc(p.label, 60) for p in points]
    return {
        "metric": esc(metric),
        "lower_is_better": not hib,
        "shown": len(points),
        "total": total,
        "regressed": sum(p.regressed for p in points),
        "lines": chart.text_chart(points, fmt, hib),
        "svg": chart.svg_geometry(points, labels, fmt, hib),
    }


def _model_ref(ref: dict[str, Any] | None, esc: Escaper) -> dict[str, str] | None:
    if not ref:
        return None
    return {
        "uri": esc(ref.get("uri"), 200),
        "version": esc(ref["version"], 64) if ref.get("version") else "",
        "alias": esc(ref["alias"], 64) if ref.get("alias") else "",
    }


def _model_view(rm: dict[str, Any], md: ModelDecision | None, esc: Escaper) -> dict[str, Any]:
    verdicts = {m.name: m.verdict for m in md.metrics} if md else {}
    no_baseline = rm.get("baseline") is None
    fmts = metric_formats(rm)
    metrics = []
    for m in rm.get("metrics", []):
        if no_baseline:
            verdict = NO_BASELINE
        elif md is None:
            verdict = NOT_GATED
        else:
            verdict = VERDICT_ICON[verdicts.get(m["name"], "informational")]
        fmt = fmts[m["name"]]
        metrics.append({
            "metric": esc(m["name"]) + ("" if m.get("higher_is_better", True) else " ↓"),
            "baseline": fmt.value(m.get("baseline")),
            "candidate": fmt.value(m.get("candidate")),
            "delta": fmt.delta(m.get("delta")),
            "ci": fmt.ci(m.get("ci_low"), m.get("ci_high")),
            "p": numbers.p_value(m.get("p_value")),
            "method": esc(m.get("method") or "", 64),
            "verdict": verdict,
        })
    segments = _segment_rows(rm, md, esc, fmts)
    flagged = [r for r in segments if r["regressed"]]
    worst = [r for r in segments if not r["regressed"] and (r["improvement"] or 0) < 0][:TOP_WORST]
    holdout = rm.get("holdout", {})
    return {
        "name": esc(rm["name"], 100),
        "task": esc(rm["task"]),
        "gated": md is not None,
        "no_baseline": no_baseline,
        "candidate": _model_ref(rm.get("candidate"), esc),
        "baseline": _model_ref(rm.get("baseline"), esc),
        "holdout": esc(holdout.get("path"), 200),
        "holdout_rows": numbers.count(holdout.get("rows")),
        "holdout_sha": _sha(holdout.get("sha256"), 12),
        "metrics": metrics,
        "lower_is_better": any(not m.get("higher_is_better", True) for m in rm.get("metrics", [])),
        "segments": segments,
        "segment_count": len({r["key"] for r in segments}) or len(rm.get("segments", [])),
        "flagged": flagged,
        "worst": worst,
        "inconclusive": [esc(m.name) for m in md.metrics if m.gating and m.verdict == "inconclusive"] if md else [],
        "chart": _chart(rm, md, esc, fmts),
        **_slices_view(rm, esc, fmts),
    }


def _slices_view(rm: dict[str, Any], esc: Escaper, fmts: dict[str, MetricFormat]) -> dict[str, Any]:
    """Discovered slices (bot/evaluation/discovery.py): confirmed first, as the report lists them."""
    summary = rm.get("discovery")
    rows = []
    for s in rm.get("discovered_slices", []):
        loss = s["loss"]
        metrics = []
        for m in s.get("metrics", []):
            fmt = _fmt(fmts, m)
            metrics.append(f"{esc(m['name'])} {fmt.delta(m.get('delta'))} {fmt.ci(m.get('ci_low'), m.get('ci_high'))}")
        loss_fmt = metric_format(str(loss["name"]), loss.get("ci_low"), loss.get("ci_high"), loss.get("delta"))
        share = s.get("share")
        rows.append({
            "text": esc(s["text"], 200),
            "rows": f"{s['rows']:,}",
            "confirm_rows": f"{s['confirm_rows']:,}",
            "metrics": "; ".join(metrics) or "–",
            "loss": f"{loss_fmt.delta(loss.get('delta'))} {loss_fmt.ci(loss.get('ci_low'), loss.get('ci_high'))}",
            "loss_name": esc(str(loss["name"]).replace("_", " "), 20),
            "p": numbers.p_value(loss.get("p_value")),
            "q": numbers.p_value(s.get("q_value")),
            "share": "–" if numbers.missing(share) else f"{share:.0%}",
            "confirmed": bool(s["confirmed"]),
        })
    top_k = summary.get("top_k", TOP_SLICES) if isinstance(summary, dict) else TOP_SLICES
    return {
        "discovery": None if not isinstance(summary, dict) else {
            "scored": numbers.count(summary.get("scored")),
            "tested": numbers.count(summary.get("tested")),
            "columns": len(summary.get("columns", [])),
            "max_depth": summary.get("max_depth"),
            "search_rows": numbers.count(summary.get("search_rows")),
            "confirm_rows": numbers.count(summary.get("confirm_rows")),
            "level": numbers.plain_number(float(summary.get("level", 0.05))),
        },
        "slices": rows,
        "slices_top": [r for r in rows if r["confirmed"]][:max(1, min(int(top_k), 50))],
        "slices_confirmed": sum(1 for r in rows if r["confirmed"]),
    }


def _power_warnings(report: dict[str, Any]) -> list[str]:
    """The power advisor's warnings from the report's `power` entries (advisory: they gate nothing)."""
    from bot.power import Advice, warnings

    out: list[str] = []
    for rm in report.get("models", []):
        advice = [Advice(**{k: v for k, v in entry.items() if k != "resolvable"}) for entry in rm.get("power", [])]
        out.extend(f"{rm['name']}: {w}" for w in warnings(advice))
    return out


def build_view(
    report: dict[str, Any],
    decision: Decision,
    *,
    esc: Escaper = escape_md,
    report_url: str | None = None,
    notes: Sequence[str] = (),
    mlflow_ui: str | None = None,
) -> dict[str, Any]:
    """Everything a template may show, with every report string passed through `esc`.

    `mlflow_ui`: the operator's MLflow UI URL; each model then links its candidate's run and its
    baseline's version there, and the report its own evaluation run (bot.render.links; none
    without it)."""
    line_esc = escape_md_line if esc is escape_md else esc
    decisions = {m.name: m for m in decision.models}
    models = [_model_view(rm, decisions.get(rm["name"]), esc) | {"links": model_links(mlflow_ui, rm)}
              for rm in report.get("models", [])]
    data = report.get("data", {})
    checks = data.get("checks", [])
    failed = [c for c in checks if not c["passed"]]
    env = report.get("environment", {})
    run = report.get("run", {})
    outcome: str = "inconclusive" if decision.outcome == "pass" and decision.inconclusive else decision.outcome
    return {
        "marker": MARKER,
        "outcome": outcome,
        "headline": HEADLINE[outcome],
        "reasons": [line_esc(r, 300) for r in decision.reasons],
        "inconclusive": [f"{m['name']}: {', '.join(m['inconclusive'])}" for m in models if m["inconclusive"]],
        "promises": sorted({md.budget.statement() for md in decision.models if md.budget is not None}),
        "power_notes": [line_esc(w, 300) for w in _power_warnings(report)][:MAX_NOTES],
        "notes": [line_esc(n, 500) for n in list(notes)[:MAX_NOTES]],
        "models": models,
        "checks": [
            {
                "file": esc(c.get("file") or "–", 80),
                "column": esc(c.get("column") or "–", 60),
                "check": esc(c["check"], 80),
                "passed": c["passed"],
                "failures": f"{c['failures']:,}",
                "examples": ", ".join(
                    "(missing)" if e is None else esc(e, 40) for e in (c.get("examples") or [])[:5]
                ) or "–",
            }
            for c in checks
        ],
        "checks_total": len(checks),
        "checks_passed": len(checks) - len(failed),
        "drift": [
            {
                "file": esc(d.get("file") or "–", 80),
                "column": esc(d["column"], 60),
                "kind": esc(d["kind"]),
                "psi": numbers.statistic(d.get("psi")),
                "ks": numbers.statistic(d.get("ks_statistic")),
                "chi2": numbers.statistic(d.get("chi2_statistic")),
                "p": numbers.p_value(d.get("ks_p_value") if d["kind"] == "numeric" else d.get("chi2_p_value")),
                "drifted": d["drifted"],
            }
            for d in sorted(data.get("drift", []), key=lambda d: (not d["drifted"], -(d.get("psi") or 0)))
        ],
        "drifted": sum(1 for d in data.get("drift", []) if d["drifted"]),
        "changes": [
            {
                "path": esc(c["path"], 100),
                "status": esc(c["status"]),
                "rows": f"{numbers.count(c.get('rows_before'))} → {numbers.count(c.get('rows_after'))}",
                "sha": f"{_sha(c.get('sha256_before'), 8)} → {_sha(c.get('sha256_after'), 8)}",
            }
            for c in data.get("changes", [])
        ],
        "run": {
            "repository": esc(run.get("repository") or "", 200),
            "pr": run.get("pr") if isinstance(run.get("pr"), int) else None,
            "head_sha": _sha(run.get("head_sha"), 12) if run.get("head_sha") else "",
            "created_at": esc(report.get("created_at"), 40),
        },
        "env": {
            "mlgate": esc(report.get("mlgate_version"), 40),
            "code_sha": _sha(env.get("code_sha"), 12),
            "seed": esc(env.get("seed"), 30),
            "resamples": numbers.count(env.get("resamples")) if isinstance(env.get("resamples"), int) else "–",
            "confidence": f"{float(env.get('confidence', 0.95)):.0%}",
            "python": esc(env.get("python"), 40),
            "platform": esc(env.get("platform") or "", 80),
            # Markdown shows the command in <pre> (entities only, so copy-paste is exact)
            "command": (html_pre if esc is escape_md else esc)(env.get("command") or DEFAULT_COMMAND, 1000),
            "packages": [(esc(k, 40), esc(v, 40)) for k, v in sorted((env.get("packages") or {}).items())],
        },
        "report_url": safe_url(report_url),
        "evaluation_run_url": evaluation_run_url(mlflow_ui, report),
        "commands": COMMANDS,
        "rerun_hint": RERUN_HINT,
    }

