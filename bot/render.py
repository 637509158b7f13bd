"""Rendering a report: the sticky PR comment, the check-run summary, HTML and terminal text.

Every string that comes from a report is untrusted (CI runs the PR's own code). This module
turns the report and the gate's decision into a *view*: plain data in which every string
from the report has already passed through one escaper for the output format
(`escape_md` for GitHub Markdown, Jinja autoescape for HTML, `plain` for terminals). The
Jinja templates in `templates/` only lay the view out, so no template can forget to escape.
All wording lives in the templates or in the constants below, which tests assert against.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from tabulate import tabulate

import bot
from bot.gate import Decision, ModelDecision

MARKER = "<!-- mlgate:report -->"
MAX_COMMENT_CHARS = 65536  # GitHub refuses a comment body of this many characters or more
MAX_SUMMARY_CHARS = 65535  # check-run output.summary limit
SAFETY_MARGIN = 1000  # room for the notes that truncation itself adds
MAX_CELL = 120  # characters of untrusted text in one table cell
MAX_REASONS = 20
MAX_NOTES = 10
TOP_FLAGGED = 25  # regressed segments listed above the fold
TOP_WORST = 3  # largest other drops listed above the fold
TOP_SLICES = 5  # confirmed discovered slices in the comment when the report does not say top_k
CHART_SEGMENTS = 12
TRUNCATION_STEPS: tuple[int | None, ...] = (None, 500, 200, 100, 50, 20, 10, 0)

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
COMMANDS: list[tuple[str, str]] = [
    ("/promote", "move the production alias to this PR's candidate"),
    ("/rollback", "move it back to the previous version"),
    ("/evaluate", "run the evaluation again"),
    ("/status", "production version, gate state, branch protection"),
    ("/help", "all commands and who may run them"),
]
RERUN_HINT = "mlgate render REPORT --format html"
DEFAULT_COMMAND = "mlgate evaluate --config .github/mlgate.yml --out mlgate-report.json"

Escaper = Callable[..., str]

# ---------------------------------------------------------------- escaping

_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#!|~])")
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
_ZWSP = "\u200b"


def _clip(text: object, limit: int) -> str:
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub(" ", s)
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


def escape_md(text: object, limit: int = MAX_CELL) -> str:
    """Make untrusted text inert in GitHub Markdown, on one line and in a table cell.

    Newlines and invisible/bidi characters become spaces, HTML becomes entities, Markdown
    punctuation is backslash-escaped (no links, images, emphasis, code or broken table
    cells), and a zero-width space defuses what GitHub links *after* Markdown (on the
    text): @mentions of users and teams, #123 issue references and bare-URL autolinks.
    """
    s = _clip(text, limit)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = _MENTION.sub("@" + _ZWSP, s)
    s = re.sub(r"#(?=\d)", "#" + _ZWSP, s)
    s = re.sub(r"(?i)\b(gh)-(?=\d)", r"\1-" + _ZWSP, s)
    s = re.sub(r"(?i)\b(https?|ftp):(?=//)", r"\1:" + _ZWSP, s)
    s = re.sub(r"(?i)\bwww\.", "www" + _ZWSP + ".", s)
    return s


def escape_md_line(text: object, limit: int = MAX_CELL) -> str:
    """`escape_md` for text that starts a Markdown line (a list item): no nested list or rule."""
    s = escape_md(text, limit)
    s = re.sub(r"^(\d+)([.)])", r"\1\\\2", s)
    return re.sub(r"^([-+=])", r"\\\1", s)


def escape_mermaid(text: object, limit: int = 40) -> str:
    """A label safe inside a double-quoted Mermaid string: letters, digits and a little punctuation."""
    s = re.sub(r"[^\w .,=()\[\]+/<>-]", "", _clip(text, 10 * limit), flags=re.UNICODE)
    s = s.replace("<", "‹").replace(">", "›")  # Mermaid renders labels as HTML
    s = re.sub(r"\s+", " ", s).strip()
    return (s if len(s) <= limit else s[: limit - 1] + "…") or "?"


def plain(text: object, limit: int = MAX_CELL) -> str:
    """Untrusted text for a terminal: no control characters (ANSI escapes), one line."""
    return _clip(text, limit)


def _html(text: object, limit: int = 1000) -> str:
    """Untrusted text for the HTML report: Jinja autoescapes it; only clean invisibles."""
    return _clip(text, limit)


def html_pre(text: object, limit: int = 1000) -> str:
    """Text for a `<pre>` block inside Markdown: HTML entities only, so copy-paste stays exact."""
    s = _clip(text, limit)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------- numbers


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_num(v: float | None) -> str:
    """4 significant digits; thousands separators instead of exponents for big values."""
    if _missing(v):
        return "–"
    assert v is not None
    return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"


def fmt_signed(v: float | None) -> str:
    """A delta: always signed, 4 significant digits."""
    if _missing(v):
        return "–"
    assert v is not None
    if v == 0:
        return "±0"
    return f"{v:+,.0f}" if abs(v) >= 1e4 else f"{v:+.4g}"


def fmt_ci(lo: float | None, hi: float | None) -> str:
    if _missing(lo) or _missing(hi):
        return "–"
    return f"[{fmt_signed(lo)}, {fmt_signed(hi)}]"


def fmt_q(q: float | None) -> str:
    if _missing(q):
        return "–"
    assert q is not None
    return "< 0.0001" if q < 1e-4 else f"{q:.2g}"


def _mermaid_number(v: float) -> str:
    """Mermaid's grammar has no exponents: 4 significant digits, positional."""
    return format(Decimal(f"{v:.4g}"), "f")


def _count(v: int | None) -> str:
    return "–" if v is None else f"{v:,}"


def _sha(sha: object, n: int) -> str:
    s = "" if sha is None else str(sha)
    return s[:n] if re.fullmatch(r"[0-9a-fA-F]{4,64}", s) else ("–" if not s else "?")


# ---------------------------------------------------------------- view model


def _improvement(delta: float | None, hib: bool) -> float | None:
    if _missing(delta):
        return None
    assert delta is not None
    return float(delta if hib else -delta)


def _segment_rows(rm: dict[str, Any], md: ModelDecision | None, esc: Escaper) -> list[dict[str, Any]]:
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
            row = {
                "key": (seg["column"], seg["value"]),
                "segment": f"{esc(seg['column'], 60)} = {esc(seg['value'], 60)}",
                "label": f"{seg['column']}={seg['value']}",
                "rows": f"{seg['rows']:,}",
                "metric": esc(m["name"]),
                "baseline": fmt_num(m.get("baseline")),
                "candidate": fmt_num(m.get("candidate")),
                "delta": fmt_signed(m.get("delta")),
                "ci": fmt_ci(m.get("ci_low"), m.get("ci_high")),
                "p": fmt_num(m.get("p_value")),
                "q": fmt_q(f.q_value) if f is not None else "–",
                "verdict": verdict,
                "regressed": regressed,
                "improvement": imp,
            }
            keyed.append(((0 if regressed else 1, imp if imp is not None else math.inf), row))
    keyed.sort(key=lambda r: r[0])  # stable: ties keep the report's order
    return [r for _, r in keyed]


def _chart(rm: dict[str, Any], md: ModelDecision | None, esc: Escaper) -> dict[str, Any] | None:
    """The primary metric's deltas for the worst segments (by improvement, so rmse works too)."""
    if md is not None:
        metric = next((m.name for m in md.metrics if m.gating), None)
    else:
        metric = next((m["name"] for m in rm.get("metrics", [])), None)
    if metric is None:
        return None
    points: list[tuple[float, str, float]] = []
    hib = True
    for seg in rm.get("segments", []):
        for m in seg.get("metrics", []):
            if m["name"] == metric and not _missing(m.get("delta")):
                hib = bool(m.get("higher_is_better", True))
                imp = _improvement(m["delta"], hib)
                assert imp is not None
                points.append((imp, f"{seg['column']}={seg['value']}", float(m["delta"])))
    if not points:
        return None
    points.sort(key=lambda p: p[0])
    total = len(points)
    points = points[:CHART_SEGMENTS]
    return {
        "metric": esc(metric),
        "mermaid_metric": escape_mermaid(metric),
        "lower_is_better": not hib,
        "shown": len(points),
        "total": total,
        "labels": ", ".join(f'"{escape_mermaid(label)}"' for _, label, _ in points),
        "deltas": ", ".join(_mermaid_number(d) for _, _, d in points),
        "points": [(esc(label, 60), d, fmt_signed(d), imp < 0) for imp, label, d in points],
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
    metrics = []
    for m in rm.get("metrics", []):
        if no_baseline:
            verdict = NO_BASELINE
        elif md is None:
            verdict = NOT_GATED
        else:
            verdict = VERDICT_ICON[verdicts.get(m["name"], "informational")]
        metrics.append({
            "metric": esc(m["name"]) + ("" if m.get("higher_is_better", True) else " ↓"),
            "baseline": fmt_num(m.get("baseline")),
            "candidate": fmt_num(m.get("candidate")),
            "delta": fmt_signed(m.get("delta")),
            "ci": fmt_ci(m.get("ci_low"), m.get("ci_high")),
            "p": fmt_num(m.get("p_value")),
            "method": esc(m.get("method") or "", 64),
            "verdict": verdict,
        })
    segments = _segment_rows(rm, md, esc)
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
        "holdout_rows": _count(holdout.get("rows")),
        "holdout_sha": _sha(holdout.get("sha256"), 12),
        "metrics": metrics,
        "lower_is_better": any(not m.get("higher_is_better", True) for m in rm.get("metrics", [])),
        "segments": segments,
        "segment_count": len({r["key"] for r in segments}) or len(rm.get("segments", [])),
        "flagged": flagged,
        "worst": worst,
        "inconclusive": [esc(m.name) for m in md.metrics if m.gating and m.verdict == "inconclusive"] if md else [],
        "chart": _chart(rm, md, esc),
        **_slices_view(rm, esc),
    }


def _slices_view(rm: dict[str, Any], esc: Escaper) -> dict[str, Any]:
    """Discovered slices (bot/evaluation/discovery.py): confirmed first, as the report lists them."""
    summary = rm.get("discovery")
    rows = []
    for s in rm.get("discovered_slices", []):
        loss = s["loss"]
        metrics = [
            f"{esc(m['name'])} {fmt_signed(m.get('delta'))} {fmt_ci(m.get('ci_low'), m.get('ci_high'))}"
            for m in s.get("metrics", [])
        ]
        share = s.get("share")
        rows.append({
            "text": esc(s["text"], 200),
            "rows": f"{s['rows']:,}",
            "confirm_rows": f"{s['confirm_rows']:,}",
            "metrics": "; ".join(metrics) or "–",
            "loss": f"{fmt_signed(loss.get('delta'))} {fmt_ci(loss.get('ci_low'), loss.get('ci_high'))}",
            "loss_name": esc(str(loss["name"]).replace("_", " "), 20),
            "p": fmt_q(loss.get("p_value")),
            "q": fmt_q(s.get("q_value")),
            "share": "–" if _missing(share) else f"{share:.0%}",
            "confirmed": bool(s["confirmed"]),
        })
    top_k = summary.get("top_k", TOP_SLICES) if isinstance(summary, dict) else TOP_SLICES
    return {
        "discovery": None if not isinstance(summary, dict) else {
            "scored": _count(summary.get("scored")),
            "tested": _count(summary.get("tested")),
            "columns": len(summary.get("columns", [])),
            "max_depth": summary.get("max_depth"),
            "search_rows": _count(summary.get("search_rows")),
            "confirm_rows": _count(summary.get("confirm_rows")),
            "level": f"{float(summary.get('level', 0.05)):g}",
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
) -> dict[str, Any]:
    """Everything a template may show, with every report string passed through `esc`."""
    line_esc = escape_md_line if esc is escape_md else esc
    decisions = {m.name: m for m in decision.models}
    models = [_model_view(rm, decisions.get(rm["name"]), esc) for rm in report.get("models", [])]
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
                "psi": fmt_num(d.get("psi")),
                "ks": fmt_num(d.get("ks_statistic")),
                "chi2": fmt_num(d.get("chi2_statistic")),
                "p": fmt_num(d.get("ks_p_value") if d["kind"] == "numeric" else d.get("chi2_p_value")),
                "drifted": d["drifted"],
            }
            for d in sorted(data.get("drift", []), key=lambda d: (not d["drifted"], -(d.get("psi") or 0)))
        ],
        "drifted": sum(1 for d in data.get("drift", []) if d["drifted"]),
        "changes": [
            {
                "path": esc(c["path"], 100),
                "status": esc(c["status"]),
                "rows": f"{_count(c.get('rows_before'))} → {_count(c.get('rows_after'))}",
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
            "resamples": _count(env.get("resamples")) if isinstance(env.get("resamples"), int) else "–",
            "confidence": f"{float(env.get('confidence', 0.95)):.0%}",
            "python": esc(env.get("python"), 40),
            "platform": esc(env.get("platform") or "", 80),
            # Markdown shows the command in <pre> (entities only, so copy-paste is exact)
            "command": (html_pre if esc is escape_md else esc)(env.get("command") or DEFAULT_COMMAND, 1000),
            "packages": [(esc(k, 40), esc(v, 40)) for k, v in sorted((env.get("packages") or {}).items())],
        },
        "report_url": _safe_url(report_url),
        "commands": COMMANDS,
        "rerun_hint": RERUN_HINT,
    }


def _safe_url(url: str | None) -> str | None:
    """Only a plain http(s) URL may become a link; anything else is dropped."""
    if url and re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~!$&'*+,;=:@%/?#-]*)?", url):
        return url.replace("(", "%28").replace(")", "%29")
    return None


# ---------------------------------------------------------------- templates


def templates_dir() -> Path:
    """The wheel ships the templates as bot/_templates; an editable install reads <repo>/templates."""
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
    env.filters["count"] = _count
    return env


def _render(name: str, **ctx: Any) -> str:
    """Render a template; `{{ n|count }}` formats an integer with thousands separators."""
    text = _env(name.endswith(".html.j2")).get_template(name).render(**ctx)
    return re.sub(r"\n{3,}", "\n\n", text)  # optional sections leave runs of blank lines


def _cap(view: dict[str, Any], cap: int | None) -> dict[str, Any]:
    """A copy of the view with every long table cut to `cap` entries and the cuts counted."""
    ctx = dict(view)
    models = []
    for m in view["models"]:
        m = dict(m)
        keys: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for r in m["segments"]:
            if r["key"] not in seen:
                seen.add(r["key"])
                keys.append(r["key"])
        keep = set(keys if cap is None else keys[:cap])
        m["segments_hidden"] = len(keys) - len(keep)
        m["segments"] = [r for r in m["segments"] if r["key"] in keep]
        top = TOP_FLAGGED if cap is None else min(TOP_FLAGGED, max(cap, 5))
        m["flagged_hidden"] = max(len(m["flagged"]) - top, 0)
        m["flagged"] = m["flagged"][:top]
        models.append(m)
    ctx["models"] = models
    ctx["reasons_hidden"] = max(len(view["reasons"]) - MAX_REASONS, 0)
    ctx["reasons"] = view["reasons"][:MAX_REASONS]
    failed = [c for c in view["checks"] if not c["passed"]]
    for name, rows in (("failed_checks", failed), ("drift", view["drift"]), ("changes", view["changes"])):
        limit = len(rows) if cap is None else max(cap, 5)
        ctx[name] = rows[:limit]
        ctx[f"{name}_hidden"] = len(rows) - len(ctx[name])
    ctx["drift_total"] = len(view["drift"])
    return ctx


def _fit(view: dict[str, Any], template: str, limit: int) -> str:
    """Render; while too long, cut the long tables harder. Each cut says how much is hidden."""
    for cap in TRUNCATION_STEPS:
        text = _render(template, **_cap(view, cap))
        if len(text) < limit - SAFETY_MARGIN:
            return text
    ctx = _cap(view, 0)
    ctx["models"] = []
    ctx["too_large"] = True
    text = _render(template, **ctx)
    return text if len(text) < limit else text[: limit - 2] + "\n"


def render_comment(
    report: dict[str, Any],
    decision: Decision,
    *,
    report_url: str | None = None,
    notes: Sequence[str] = (),
    commands: bool = True,
    computed_by_pr: bool = False,
    limit: int = MAX_COMMENT_CHARS,
) -> str:
    """The sticky PR comment (GitHub Markdown), always under GitHub's size limit.

    `computed_by_pr`: the report came from the PR's own workflow (`evaluation.trust:
    pull_request`), which the comment says right under the verdict. `limit`: fewer characters,
    when the comment shares GitHub's limit with more (bot.plan's state block)."""
    view = build_view(report, decision, report_url=report_url, notes=notes)
    view["show_commands"] = commands
    view["computed_by_pr"] = computed_by_pr
    view["too_large"] = False
    return _fit(view, "comment.md.j2", limit)


def check_title(decision: Decision) -> str:
    """A one-line title for the check run: the outcome and what drove it."""
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
    outcome = "inconclusive" if decision.outcome == "pass" and decision.inconclusive else decision.outcome
    head = CHECK_TITLE[outcome]
    return f"{head}: {', '.join(parts)}" if parts else head


def render_check_summary(report: dict[str, Any], decision: Decision) -> tuple[str, str]:
    """(title, summary) for the `mlgate/evaluation` check run, the summary under 65,535 chars."""
    view = build_view(report, decision)
    view["show_commands"] = False
    view["too_large"] = False
    return check_title(decision), _fit(view, "check_summary.md.j2", MAX_SUMMARY_CHARS)


def render_pending_comment(models: Sequence[str], notes: Sequence[str] = ()) -> str:
    """The sticky comment while the evaluation workflow runs (same marker, so it is replaced)."""
    return _render(
        "pending.md.j2",
        marker=MARKER,
        models=[escape_md(m, 100) for m in models],
        notes=[escape_md_line(n, 500) for n in notes],
    )


def render_html(report: dict[str, Any], decision: Decision) -> str:
    """A standalone HTML report: every table and an inline SVG chart, no external assets."""
    view = build_view(report, decision, esc=_html)
    ctx = _cap(view, None)
    ctx["reasons"], ctx["reasons_hidden"] = view["reasons"], 0
    for m in ctx["models"]:
        m["svg"] = _svg_chart(m["chart"]["points"]) if m["chart"] else None
    return _render("report.html.j2", **ctx)


def _svg_chart(points: list[tuple[str, float, str, bool]]) -> dict[str, Any]:
    """Geometry for an inline SVG bar chart of segment deltas (drawn by the template)."""
    width, bar_h, gap, label_w, value_w = 720, 18, 6, 260, 70
    span = max((abs(d) for _, d, _, _ in points), default=1.0) or 1.0
    plot = width - label_w - value_w
    mid = label_w + plot / 2
    scale = plot / 2 / span
    bars = []
    for i, (label, d, shown, worse) in enumerate(points):
        w = abs(d) * scale
        bars.append({"label": label, "x": round(mid if d >= 0 else mid - w, 1), "y": i * (bar_h + gap),
                     "w": round(max(w, 1.0), 1), "h": bar_h, "worse": worse, "value": shown})
    return {"width": width, "height": len(points) * (bar_h + gap), "mid": round(mid, 1), "bars": bars,
            "value_x": width - value_w + 6}


# ---------------------------------------------------------------- terminal


TERMINAL_HEADERS = {
    "metrics": ["metric", "baseline", "candidate", "delta", "95% CI", "verdict"],
    "segments": ["segment", "rows", "metric", "delta", "95% CI", "q", ""],
}


def render_terminal(report: dict[str, Any], decision: Decision) -> str:
    """Plain text for the CLI and the demo: the same facts as the comment, tables via tabulate."""
    view = _cap(build_view(report, decision, esc=plain), None)
    out = [view["headline"].split(": ", 1)[-1].upper()]
    out += [f"  - {r}" for r in view["reasons"]]
    if view["reasons_hidden"]:
        out.append(f"  - … and {view['reasons_hidden']} more")
    if view["inconclusive"]:
        out.append("  too wide to decide: " + "; ".join(view["inconclusive"]))
    for m in view["models"]:
        base = m["baseline"]["uri"] if m["baseline"] else "no baseline yet"
        out += ["", f"Model {m['name']} ({m['task']}): candidate {m['candidate']['uri']} vs {base}",
                f"holdout {m['holdout']} ({m['holdout_rows']} rows)"]
        out.append(tabulate([[r["metric"], r["baseline"], r["candidate"], r["delta"], r["ci"], r["verdict"]]
                             for r in m["metrics"]], headers=TERMINAL_HEADERS["metrics"], disable_numparse=True))
        shown = m["flagged"] + m["worst"]
        if shown and not m["no_baseline"]:
            out += ["", "Segments: regressions first, then the largest other drops"]
            out.append(tabulate([[r["segment"], r["rows"], r["metric"], r["delta"], r["ci"], r["q"], r["verdict"]]
                                 for r in shown], headers=TERMINAL_HEADERS["segments"], disable_numparse=True))
    if view["checks_total"]:
        out += ["", f"Data checks: {view['checks_passed']:,} of {view['checks_total']:,} passed"]
        out += [f"  failed: {c['file']} {c['column']} {c['check']} ({c['failures']} rows; e.g. {c['examples']})"
                for c in view["failed_checks"]]
    if view["drifted"]:
        out.append(f"Drift: {view['drifted']:,} of {view['drift_total']:,} columns drifted")
    if view["changes"]:
        out.append(f"Data files changed: {len(view['changes'])}")
        out += [f"  {c['status']:<8} {c['path']}  rows {c['rows']}" for c in view["changes"]]
    out += ["", f"Reproduce: {plain(view['env']['command'], 1000)}"]
    return "\n".join(out) + "\n"


_EMOJI = re.compile("^[\u2190-\u2bff\U0001f000-\U0001faff\ufe0f\u200d]+\\s*")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")


def markdown_to_terminal(md: str) -> str:
    """A bot reply (one of templates/replies) as a terminal shows it best: the same words.

    Tables become aligned columns (tabulate), and bold, code spans, leading emoji, Markdown
    escapes and the zero-width spaces that defuse @mentions are dropped. The wording stays
    in the templates; this only changes how it is set.
    """
    out: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        rows = [r for r in table if not all(re.fullmatch(r":?-+:?", c) for c in r if c)]
        if rows:
            out.extend(tabulate(rows[1:], headers=rows[0], tablefmt="simple", disable_numparse=True).splitlines())
        table.clear()

    for line in md.splitlines():
        if line.lstrip().startswith("|") and line.rstrip().endswith("|"):
            table.append([_plain_inline(c.strip()) for c in line.strip().strip("|").split("|")])
            continue
        flush()
        out.append(_plain_inline(_EMOJI.sub("", line)))
    flush()
    return "\n".join(out).strip("\n") + "\n"


def _plain_inline(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"(`+) ?(.+?) ?\1", r"\2", text)
    text = _MD_ESCAPE.sub(r"\1", text)
    return text.replace("\u200b", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
