"""The per-segment delta chart: a text chart for Markdown and the geometry of report.html's SVG.

Bars start at zero and point the way the candidate moved: left when it is worse (a score
fell or a loss rose), right when it is better, whatever the metric's direction, so a
regression always points left and is marked. The value printed beside a bar is the real
delta. GitHub's Mermaid `xychart-beta` draws bars from the axis minimum (a regression
becomes the shortest stub), so the comment uses a fenced text chart, which every GitHub
client renders the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.numbers import MetricFormat, missing
from bot.render.text import chart_label, display_width

CHART_SEGMENTS = 12  # the worst segments shown
HALF = 16  # text cells each side of zero
LABEL_WIDTH = 28
REGRESSED_MARK = "❌ regressed"


@dataclass(frozen=True)
class Point:
    """One segment's delta of the chart's metric; `improvement` and the interval are signed so that > 0 is better."""

    label: str  # raw report text: escape for the output
    delta: float
    improvement: float
    low: float | None
    high: float | None
    regressed: bool


def chart_points(rm: dict[str, Any], metric: str, regressed: set[tuple[str, str]]) -> tuple[list[Point], int]:
    """The worst `CHART_SEGMENTS` segments of `metric` (by improvement), and how many there are."""
    points: list[Point] = []
    for seg in rm.get("segments", []):
        for m in seg.get("metrics", []):
            if m["name"] != metric or missing(m.get("delta")):
                continue
            sign = 1.0 if m.get("higher_is_better", True) else -1.0
            lo, hi = m.get("ci_low"), m.get("ci_high")
            bounds = None if missing(lo) or missing(hi) else sorted((sign * float(lo), sign * float(hi)))
            points.append(Point(
                label=f"{seg['column']}={seg['value']}",
                delta=float(m["delta"]),
                improvement=sign * float(m["delta"]),
                low=bounds[0] if bounds else None,
                high=bounds[1] if bounds else None,
                regressed=(seg["column"], seg["value"]) in regressed,
            ))
    points.sort(key=lambda p: (not p.regressed, p.improvement))  # stable: ties keep the report's order
    return points[:CHART_SEGMENTS], len(points)


def _cells(x: float, span: float) -> float:
    """Bar length in text cells, in half cells; any nonzero value gets at least half a cell."""
    if x == 0:
        return 0.0
    return max(round(abs(x) / span * HALF * 2) / 2, 0.5)


def text_chart(points: Sequence[Point], fmt: MetricFormat, higher_is_better: bool) -> list[str]:
    """Lines of a monospace bar chart (for a ``` fence): label, bar from the zero axis, delta, mark."""
    span = max((abs(p.improvement) for p in points), default=0.0) or 1.0
    width = min(max((display_width(p.label) for p in points), default=1), LABEL_WIDTH)
    values = [fmt.delta(p.delta) for p in points]
    value_width = max(len(v) for v in values) if values else 1
    pad = " " * width
    worse_end = fmt.delta(-span if higher_is_better else span)
    better_end = fmt.delta(span if higher_is_better else -span)
    lines = [f"{pad} {'< worse':<{HALF}}│{'better >':>{HALF}}"]
    for p, value in zip(points, values, strict=True):
        cells = _cells(p.improvement, span)
        full, half = int(cells), cells % 1 >= 0.5
        bar = "█" * full
        if p.improvement < 0:
            left, right = ("▐" if half else "") + bar, ""
        else:
            left, right = "", bar + ("▌" if half else "")
        mark = f" {REGRESSED_MARK}" if p.regressed else ""
        lines.append(f"{chart_label(p.label, width)} {left:>{HALF}}│{right:<{HALF}} {value:>{value_width}}{mark}".rstrip())
    lines.append(f"{pad} {worse_end:<{HALF}}0{better_end:>{HALF}}")
    return lines


def svg_geometry(points: Sequence[Point], labels: Sequence[str], fmt: MetricFormat,
                 higher_is_better: bool) -> dict[str, Any]:
    """Geometry for report.html's inline SVG: bars from zero, interval whiskers, ticks at the ends.

    `labels` are the points' labels escaped for HTML (Jinja autoescapes them again)."""
    width, bar_h, gap, label_w, value_w, top = 760, 18, 8, 250, 120, 22
    span = max((abs(x) for p in points for x in (p.improvement, p.low, p.high) if x is not None), default=0.0) or 1.0
    plot = width - label_w - value_w
    mid = label_w + plot / 2
    scale = plot / 2 / span

    def x(v: float) -> float:
        return round(mid + v * scale, 1)

    bars = []
    for i, (p, label) in enumerate(zip(points, labels, strict=True)):
        y = top + i * (bar_h + gap)
        w = max(abs(p.improvement) * scale, 1.0)
        bars.append({
            "label": label, "y": y, "h": bar_h, "text_y": y + 13,
            "x": x(p.improvement) if p.improvement < 0 else round(mid, 1), "w": round(w, 1),
            "worse": p.improvement < 0, "regressed": p.regressed,
            "value": fmt.delta(p.delta) + ("  regressed" if p.regressed else ""),
            "ci": None if p.low is None or p.high is None else
            {"x1": x(p.low), "x2": x(p.high), "y": y + bar_h / 2},
        })
    height = top + len(points) * (bar_h + gap) + 18
    return {
        "width": width, "height": height, "mid": round(mid, 1), "bars": bars, "top": top,
        "value_x": width - value_w + 8, "axis_y": height - 4,
        "left_x": label_w, "right_x": width - value_w,
        "left_tick": fmt.delta(-span if higher_is_better else span),
        "right_tick": fmt.delta(span if higher_is_better else -span),
    }
