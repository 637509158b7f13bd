"""The two-sample Kolmogorov-Smirnov test, exact on every row, from count tables (issue #18).

`scipy.stats.ks_2samp` sorts both samples and evaluates the two empirical CDFs at every
value of either. The statistic only needs, at each distinct value, how many rows of each
side are at or below it, so it can be computed from value-count tables: here with numpy
(the current rows are placed among the reference's distinct values, no sort of millions
of rows) and in SQL (`bot.evaluation.engines.profile_sql.ks_extremes_sql`, a sorted merge
by window sums). Both give the largest and smallest difference F_ref - F_cur over the same
evaluation points with the same integer numerators, so they agree with scipy bit for bit.

The p-value is scipy's: its exact distribution when both sides have at most
`MAX_EXACT` rows (then the rows themselves are passed to `ks_2samp`), else Smirnov's
asymptotic distribution (`kstwo.sf(d, round(m n / (m + n)))`), as `ks_2samp`'s default
`method="auto"` chooses.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

MAX_EXACT = 10_000  # scipy's ks_2samp uses its exact distribution up to this many rows per side


def p_value_from_extremes(n_ref: int, n_cur: int, dmax: float, dmin: float) -> float:
    """The asymptotic two-sided p-value from the extremes of F_ref - F_cur (as ks_2samp computes it)."""
    d = max(float(np.clip(-dmin, 0, 1)), float(dmax))
    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))


def slots(ref_distinct: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Counts of current rows per slot among the sorted distinct reference values u_0 < ... < u_{J-1}:
    slot 0 below u_0, slot 2j+1 equal to u_j, slot 2j+2 between u_j and u_{j+1} (or above u_{J-1})."""
    u = ref_distinct
    J = len(u)
    left = np.searchsorted(u, cur, side="left")
    eq = np.zeros(len(cur), dtype=np.int64)
    inside = left < J
    eq[inside] = u[left[inside]] == cur[inside]
    return np.bincount(2 * left + eq, minlength=2 * J + 1)


def sorted_slots(ref_distinct: np.ndarray, cur_sorted: np.ndarray) -> np.ndarray:
    """`slots` for sorted current values: two binary searches per reference value, not one per row."""
    lo = np.searchsorted(cur_sorted, ref_distinct, side="left")  # current rows < u_j
    hi = np.searchsorted(cur_sorted, ref_distinct, side="right")  # current rows <= u_j
    out = np.empty(2 * len(ref_distinct) + 1, dtype=np.int64)
    out[1::2] = hi - lo
    out[0:-1:2] = lo - np.r_[0, hi[:-1]]
    out[-1] = len(cur_sorted) - (hi[-1] if len(hi) else 0)
    return out


def extremes_from_counts(ref_counts: np.ndarray, slot_counts: np.ndarray) -> tuple[float, float]:
    """max and min of F_ref(x) - F_cur(x) over every value x of either sample, from the counts of
    the reference's distinct values (sorted) and the current rows' `slots`.

    Between two consecutive distinct reference values F_ref is constant and F_cur grows, so
    the extremes are at the reference values themselves and just below the next one; the
    fractions have scipy's own numerators, so the floats are scipy's.
    """
    cum = np.cumsum(slot_counts)
    n1, n2 = int(ref_counts.sum()), int(cum[-1])
    f1 = np.cumsum(ref_counts) / n1
    at = f1 - cum[1::2] / n2  # at u_j: current rows <= u_j
    below_next = f1 - cum[2::2] / n2  # just below u_{j+1} (above the last value: 1 - 1)
    first = -cum[0] / n2  # below the first reference value (0 when no current row is there)
    dmax = max(float(at.max()), float(below_next.max()), first)
    dmin = min(float(at.min()), float(below_next.min()), first)
    return dmax, dmin


def extremes(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """max and min of F_ref(x) - F_cur(x) over every value x of either sample (neither empty)."""
    u, rc = np.unique(ref, return_counts=True)
    if len(cur) > 4 * len(u):  # sorting the current rows beats one random binary search per row
        return extremes_from_counts(rc, sorted_slots(u, np.sort(cur)))
    return extremes_from_counts(rc, slots(u, cur))


def ks_p_value(ref: np.ndarray, cur: np.ndarray) -> float:
    """ks_2samp(ref, cur).pvalue on every row (no NaN in either; neither empty)."""
    if max(len(ref), len(cur)) <= MAX_EXACT:
        return float(stats.ks_2samp(ref, cur).pvalue)
    dmax, dmin = extremes(ref, cur)
    return p_value_from_extremes(len(ref), len(cur), dmax, dmin)
