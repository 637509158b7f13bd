"""Terminal output: a report as plain text for the CLI and the demo, and bot replies as a terminal shows them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from bot.render.fit import cap
from bot.render.text import plain
from bot.render.view import build_view

if TYPE_CHECKING:
    from bot.gate import Decision

TERMINAL_HEADERS = {
    "metrics": ["metric", "baseline", "candidate", "delta", "95% CI", "verdict"],
    "segments": ["segment", "rows", "metric", "delta", "95% CI", "q", ""],
}


def render_terminal(report: dict[str, Any], decision: Decision) -> str:
    """Plain text for the CLI and the demo: the same facts as the comment, tables via tabulate."""
    view = cap(build_view(report, decision, esc=plain), None)
    out = [view["headline"].split(": ", 1)[-1].upper()]
    out += [f"  - {r}" for r in view["reasons"]]
    if view["reasons_hidden"]:
        out.append(f"  - … and {view['reasons_hidden']:,} more")
    if view["inconclusive"]:
        out.append("  too wide to decide: " + "; ".join(view["inconclusive"]))
    for m in view["models"]:
        base = m["baseline"]["uri"] if m["baseline"] else "no baseline yet"
        out += ["", f"Model {m['name']} ({m['task']}): candidate {m['candidate']['uri']} vs {base}",
                f"holdout {m['holdout']} ({m['holdout_rows']} rows)"]
        out.append(tabulate([[r["metric"], r["baseline"], r["candidate"], r["delta"], r["ci"], r["verdict"]]
                             for r in m["metrics"]], headers=TERMINAL_HEADERS["metrics"], disable_numparse=True,
                            colalign=("left", "right", "right", "right", "center", "left")))
        shown = m["flagged"] + m["worst"]
        if shown and not m["no_baseline"]:
            out += ["", "Segments: regressions first, then where the candidate is furthest behind"]
            out.append(tabulate([[r["segment"], r["rows"], r["metric"], r["delta"], r["ci"], r["q"], r["verdict"]]
                                 for r in shown], headers=TERMINAL_HEADERS["segments"], disable_numparse=True,
                                colalign=("left", "right", "left", "right", "center", "right", "left")))
        if m["chart"] and not m["no_baseline"]:
            c = m["chart"]
            out += ["", f"Δ {c['metric']} by segment, bars from zero"
                        f"{' (lower is better, so a rise points left)' if c['lower_is_better'] else ''}:"]
            out += ["  " + line for line in c["lines"]]
    if view["checks_total"]:
        out += ["", f"Data checks: {view['checks_passed']:,} of {view['checks_total']:,} passed"]
        out += [f"  failed: {c['file']} {c['column']} {c['check']} ({c['failures']} rows; e.g. {c['examples']})"
                for c in view["failed_checks"]]
    if view["drifted"]:
        out.append(f"Drift: {view['drifted']:,} of {view['drift_total']:,} columns drifted")
    if view["changes"]:
        out.append(f"Data files changed: {len(view['changes']):,}")
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
