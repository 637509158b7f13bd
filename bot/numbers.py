"""How mlgate writes numbers: in the comment, the check summary, report.html, the terminal and the gate's reasons.

- Each metric has a fixed number of decimals (`METRIC_DECIMALS`), the same in every table
  and reason, so 0.753 never sits next to 0.7137. A delta and its interval get one more.
- A metric in the target's own units (rmse, mae, or a metric this table does not know) has
  no natural precision: it gets enough decimals for four significant digits of the model's
  own value, the same for all of that model's rows.
- Every count and every value of 1,000 or more has thousands separators.
- Nothing is written in scientific notation: a p- or q-value under 0.0001 is "< 0.0001",
  and 1.593e+05 is 159,312.

Standard library only: the gate (pure policy) imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

MISSING = "–"
P_DECIMALS = 4
P_FLOOR = 10.0 ** -P_DECIMALS
STAT_DECIMALS = 3  # PSI, KS and chi-squared statistics of the drift table
MAX_DECIMALS = 6

# Decimals of a metric's value. None: in the target's units (see `metric_format`).
METRIC_DECIMALS: dict[str, int | None] = {
    "accuracy": 3,
    "precision": 3,
    "recall": 3,
    "f1": 3,
    "macro_f1": 3,
    "weighted_f1": 3,
    "roc_auc": 3,
    "average_precision": 3,
    "r2": 3,
    "log_loss": 4,
    "brier": 4,
    "rmse": None,
    "mae": None,
}


def missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fixed(v: float | None, decimals: int) -> str:
    """`v` with exactly `decimals` decimals and thousands separators; "–" when missing."""
    if v is None or missing(v):
        return MISSING
    return f"{v:,.{decimals}f}"


def signed(v: float | None, decimals: int) -> str:
    """A delta: always signed ("±" for an exact zero), fixed decimals, thousands separators."""
    if v is None or missing(v):
        return MISSING
    if v == 0:
        return "±" + f"{0:.{decimals}f}"
    return f"{v:+,.{decimals}f}"


def interval(lo: float | None, hi: float | None, decimals: int) -> str:
    if lo is None or hi is None or missing(lo) or missing(hi):
        return MISSING
    return f"[{signed(lo, decimals)}, {signed(hi, decimals)}]"


def count(n: int | None) -> str:
    return MISSING if n is None else f"{n:,}"


def p_value(p: float | None) -> str:
    """A p- or q-value: four decimals, or "< 0.0001"; never an exponent."""
    if p is None or missing(p):
        return MISSING
    return f"< {P_FLOOR:.{P_DECIMALS}f}" if p < P_FLOOR else f"{p:.{P_DECIMALS}f}"


def p_equals(p: float) -> str:
    """`q=0.0123` or `q < 0.0001` style prose: the operator that goes before `p_value`."""
    return " " + p_value(p) if p < P_FLOOR else "=" + p_value(p)


def statistic(v: float | None) -> str:
    return fixed(v, STAT_DECIMALS)


def plain_number(v: float) -> str:
    """A number in prose (a tolerance, a threshold): as written, but never an exponent."""
    if v == 0 or missing(v):
        return fixed(v, 0)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    text = f"{v:.{_decimals_for(v, 3)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(share: float) -> str:
    """A share as written in a config: 0.05 is "5%", 0.125 is "12.5%"."""
    return plain_number(share * 100) + "%"


def edge(x: float) -> str:
    """A bin edge or a slice's bound, as a person writes it: every digit it was given (up to 15
    significant, so float noise goes), thousands separators, no exponent, no trailing zeros:
    1234567 is "1,234,567", 1e6 "1,000,000", 0.0125 "0.0125", 12.50 "12.5"."""
    if missing(x):
        return MISSING
    if math.isinf(x) or x == 0:
        return f"{x:g}".replace("-0", "0")
    text = format(Decimal(f"{x:.15g}"), ",f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimals_for(scale: float, digits: int = 4) -> int:
    """Decimals that give `digits` significant digits for numbers of this size."""
    if scale == 0 or missing(scale):
        return digits - 1
    return max(0, min(MAX_DECIMALS, digits - 1 - math.floor(math.log10(abs(scale)))))


@dataclass(frozen=True)
class MetricFormat:
    """The decimals of one metric's values and of its deltas."""

    decimals: int
    delta_decimals: int

    def value(self, v: float | None) -> str:
        return fixed(v, self.decimals)

    def delta(self, v: float | None) -> str:
        return signed(v, self.delta_decimals)

    def ci(self, lo: float | None, hi: float | None) -> str:
        return interval(lo, hi, self.delta_decimals)


def metric_format(name: str, *values: float | None) -> MetricFormat:
    """The format of metric `name`; `values` (e.g. baseline and candidate) size a metric in units."""
    decimals = METRIC_DECIMALS.get(name)
    if decimals is not None:
        return MetricFormat(decimals, decimals + 1)
    scale = max((abs(v) for v in values if v is not None and not missing(v)), default=0.0)
    d = _decimals_for(scale)
    return MetricFormat(d, d)
