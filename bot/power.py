"""The power advisor: which drops a holdout can tell from noise, and how many rows it would take.

The gate fails a metric when its one-sided test rejects "the drop is at most max_drop" at the
level the error budget gives that test (bot.gate.error_budget: Holm's first step overall,
BH's first step in the segments; the worst case, when one test carries the evidence). With a
standard error `se`, a true drop D is caught with probability Phi((D - max_drop)/se - z_crit),
so the smallest drop told from noise with power pi is (z_crit + z_pi) * se. Standard errors
shrink as 1/sqrt(rows), which answers "how many rows for a drop of X".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from bot.config import ModelConfig
from bot.gate import error_budget

POWERS = (0.80, 0.90)
_N = NormalDist()


def detectable(se: float, level: float, power: float) -> float:
    """The smallest true drop a one-sided test at `level` tells from no drop with `power`."""
    return (_N.inv_cdf(1 - level) + _N.inv_cdf(power)) * se


def rows_needed(se: float, rows: int, drop: float, level: float, power: float, max_drop: float = 0.0) -> int | None:
    """Holdout rows for the gate to catch a true `drop` with `power` (None: never, drop <= max_drop)."""
    margin = drop - max_drop
    if margin <= 0 or se <= 0 or rows <= 0:
        return None
    return math.ceil(rows * ((_N.inv_cdf(1 - level) + _N.inv_cdf(power)) * se / margin) ** 2)


@dataclass(frozen=True)
class Advice:
    """One gated comparison: its standard error and the drops it can resolve."""

    metric: str
    column: str | None  # None: the whole holdout
    value: str | None
    rows: int
    se: float | None
    level: float
    max_drop: float
    detectable_80: float | None
    detectable_90: float | None

    @property
    def resolvable(self) -> bool | None:
        """Whether max_drop is at least the drop the holdout tells from noise (80% power)."""
        return None if self.detectable_80 is None else self.max_drop >= self.detectable_80

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "column": self.column, "value": self.value, "rows": self.rows,
                "se": self.se, "level": self.level, "max_drop": self.max_drop,
                "detectable_80": self.detectable_80, "detectable_90": self.detectable_90,
                "resolvable": self.resolvable}

    def warning(self) -> str | None:
        """The sentence for `mlgate evaluate` and the comment when max_drop is below the noise."""
        if self.resolvable is not False:
            return None
        where = "" if self.column is None else f" on {self.column}={self.value}"
        return (f"with {self.rows:,} rows a {self.max_drop:g} drop in {self.metric}{where} cannot be told "
                f"from noise; the smallest detectable is {self.detectable_80:.3g} (80% power)")


def advise(report_model: dict[str, Any], policy: ModelConfig) -> list[Advice]:
    """Advice for every gated comparison of one model's part of a report (overall, then segments)."""
    sp = policy.segment_policy
    seg_metrics = set(policy.segment_metrics)
    gated_segments = [
        (seg, comp) for seg in report_model.get("segments", []) if seg["rows"] >= sp.min_rows
        for comp in seg.get("metrics", []) if comp["name"] in seg_metrics
    ]
    budget = error_budget(policy, bool(gated_segments))
    overall_names = [m for m in policy.gating_metrics]
    by_name = {m["name"]: m for m in report_model.get("metrics", [])}
    out: list[Advice] = []

    def one(comp: dict[str, Any], column: str | None, value: str | None, rows: int, level: float,
            max_drop: float) -> Advice:
        se = comp.get("se")
        ok = isinstance(se, int | float) and se > 0
        d = [detectable(float(se), level, p) if ok else None for p in POWERS]  # type: ignore[arg-type]
        return Advice(comp["name"], column, value, rows, float(se) if ok else None, level, max_drop, d[0], d[1])  # type: ignore[arg-type]

    for name in overall_names:
        comp = by_name.get(name)
        if comp is not None:
            out.append(one(comp, None, None, int(comp.get("rows", 0)), budget.overall / max(1, len(overall_names)),
                           policy.metrics[name].max_drop))
    level = budget.segments / max(1, len(gated_segments))
    for seg, comp in gated_segments:
        out.append(one(comp, seg["column"], seg["value"], int(seg["rows"]), level, sp.max_drop))
    return out
