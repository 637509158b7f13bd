"""The power advisor: which drops a holdout can tell from noise, and how many rows it would take.

The gate fails a metric when (improvement + max_drop) / se < -z, with one critical value z
for all the model's tests (bot.gate.error_budget). With a standard error `se`, a true drop D
is caught with probability Phi((D - max_drop)/se - z), so the drop beyond max_drop caught with
power pi is (z + z_pi) * se, and (z + z_pi) * se is also the smallest drop the holdout tells
from no drop at all. Standard errors shrink as 1/sqrt(rows): "how many rows for a drop of X".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from bot.config import ModelConfig
from bot.gate import model_budget
from bot.numbers import percent, plain_number

POWERS = (0.80, 0.90)
_N = NormalDist()


def detectable(se: float, critical: float, power: float) -> float:
    """The smallest true drop a one-sided test with critical value `critical` tells from no drop."""
    return (critical + _N.inv_cdf(power)) * se


def rows_needed(se: float, rows: int, drop: float, critical: float, power: float, max_drop: float = 0.0) -> int | None:
    """Holdout rows for the gate to catch a true `drop` with `power` (None: never, drop <= max_drop).

    The critical value is the one measured at today's size; more rows only lower it (toward
    z_(1-alpha)), so the answer errs on the side of more rows."""
    margin = drop - max_drop
    if margin <= 0 or se <= 0 or rows <= 0:
        return None
    return math.ceil(rows * ((critical + _N.inv_cdf(power)) * se / margin) ** 2)


@dataclass(frozen=True)
class Advice:
    """One gated comparison: its standard error and the drops it can resolve."""

    metric: str
    column: str | None  # None: the whole holdout
    value: str | None
    rows: int
    se: float | None
    critical: float
    max_drop: float
    detectable_80: float | None
    detectable_90: float | None
    higher_is_better: bool = True  # a loss (rmse, log_loss) regresses by rising
    max_drop_relative: float | None = None  # `max_drop: 5%` as configured (0.05); max_drop is its value here

    @property
    def resolvable(self) -> bool | None:
        """Whether max_drop is at least the drop the holdout tells from noise (80% power)."""
        return None if self.detectable_80 is None else self.max_drop >= self.detectable_80

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "column": self.column, "value": self.value, "rows": self.rows,
                "se": self.se, "critical": self.critical, "max_drop": self.max_drop,
                "detectable_80": self.detectable_80, "detectable_90": self.detectable_90,
                "resolvable": self.resolvable, "higher_is_better": self.higher_is_better,
                "max_drop_relative": self.max_drop_relative}

    @property
    def change(self) -> str:
        """What a regression of this metric is: a score's 'drop', a loss's 'rise'."""
        return change_word(self.higher_is_better)

    def warning(self) -> str | None:
        """The sentence for `mlgate evaluate` and the comment when max_drop is below the noise."""
        if self.resolvable is not False:
            return None
        where = "" if self.column is None else f" on {self.column}={self.value}"
        return (f"with {self.rows:,} rows a {tolerance_words(self.max_drop, self.max_drop_relative)} {self.change} "
                f"in {self.metric}{where} cannot be told from noise; the smallest detectable is "
                f"{plain_number(self.detectable_80 or 0.0)} (80% power)")


def change_word(higher_is_better: bool) -> str:
    return "drop" if higher_is_better else "rise"


def tolerance_words(max_drop: float, relative: float | None, *, with_value: bool = True) -> str:
    """'0.005', or '5% (1,234)' for `max_drop: 5%` ('5%' alone when `with_value` is False:
    the value differs from segment to segment)."""
    if relative is None:
        return plain_number(max_drop)
    return f"{percent(relative)} ({plain_number(max_drop)})" if with_value else percent(relative)


def advise(report_model: dict[str, Any], policy: ModelConfig) -> list[Advice]:
    """Advice for every gated comparison of one model's part of a report (overall, then segments)."""
    sp = policy.segment_policy
    seg_metrics = set(policy.segment_metrics)
    z = model_budget(report_model, policy).critical
    by_name = {m["name"]: m for m in report_model.get("metrics", [])}
    out: list[Advice] = []

    def one(comp: dict[str, Any], column: str | None, value: str | None, rows: int, max_drop: float,
            relative: float | None) -> Advice:
        se = comp.get("se")
        hib = bool(comp.get("higher_is_better", True))
        if not isinstance(se, int | float) or se <= 0:
            return Advice(comp["name"], column, value, rows, None, z, max_drop, None, None, hib, relative)
        d80, d90 = (detectable(float(se), z, p) for p in POWERS)
        return Advice(comp["name"], column, value, rows, float(se), z, max_drop, d80, d90, hib, relative)

    for name in policy.gating_metrics:
        comp = by_name.get(name)
        if comp is not None:
            pol = policy.metrics[name]
            out.append(one(comp, None, None, int(comp.get("rows", 0)), pol.tolerance(comp.get("baseline")),
                           pol.max_drop_relative))
    for seg in report_model.get("segments", []):
        if seg["rows"] >= sp.min_rows:
            for comp in seg.get("metrics", []):
                if comp["name"] in seg_metrics:
                    out.append(one(comp, seg["column"], seg["value"], int(seg["rows"]),
                                   sp.tolerance(comp.get("baseline")), sp.max_drop_relative))
    return out


def warnings(advice: list[Advice]) -> list[str]:
    """The advisor's sentences: one per overall metric, one per segment metric (its range)."""
    out = [w for a in advice if a.column is None and (w := a.warning()) is not None]
    by_metric: dict[str, list[Advice]] = {}
    for a in advice:
        if a.column is not None:
            by_metric.setdefault(a.metric, []).append(a)
    for metric, items in by_metric.items():
        short = [a for a in items if a.resolvable is False]
        if len(short) == 1:
            out.append(short[0].warning() or "")
        elif short:
            lo = min(a.detectable_80 or 0.0 for a in short)
            hi = max(a.detectable_80 or 0.0 for a in short)
            first = short[0]
            out.append(f"in {len(short):,} of {len(items):,} gated segments ({min(a.rows for a in short):,} to "
                       f"{max(a.rows for a in short):,} rows) a "
                       f"{tolerance_words(first.max_drop, first.max_drop_relative, with_value=False)} {first.change} "
                       f"in {metric} cannot be told from noise; the smallest detectable there is {plain_number(lo)} "
                       f"to {plain_number(hi)} (80% power)")
    return out
