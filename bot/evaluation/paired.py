"""Paired comparison of two models on the same rows: delta, confidence interval, se, p-value.

Each metric family uses the cheapest method that is exact or standard for it:

- count metrics (accuracy, precision, recall, f1, multiclass F1s): a true paired bootstrap,
  drawn as a multinomial over the joint (label, candidate prediction, baseline prediction)
  cells. Resampling rows and resampling these counts give the same distribution, so one
  resample serves both models at a cost independent of the row count.
- roc_auc: DeLong's paired variance of the AUC difference (exact, no resampling).
- mean losses (log_loss, brier, mae): mean of the per-row paired differences with its
  standard error (central limit theorem; t quantiles).
- average_precision, rmse, r2: delete-a-group jackknife over G random groups of rows, the
  same groups for both models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from bot.evaluation import metrics as M

JACKKNIFE_GROUPS = 30
MAX_JOINT_CELLS = 4096


@dataclass(frozen=True)
class Stat:
    """One row of a metric table: the schema's `comparison` object."""

    name: str
    higher_is_better: bool
    baseline: float | None
    candidate: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    se: float | None
    p_value: float | None
    rows: int
    method: str

    def to_dict(self) -> dict[str, object]:
        return {k: _clean(v) for k, v in self.__dict__.items()}


def _clean(v: object) -> object:
    if isinstance(v, float | np.floating):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    return v


def _p_two_sided(delta: float, se: float) -> float:
    if se <= 0 or math.isnan(se):
        return 1.0 if delta == 0 else 0.0
    return float(2 * stats.norm.sf(abs(delta) / se))


def _interval(delta: float, se: float, confidence: float, df: float | None = None) -> tuple[float, float]:
    q = stats.t.ppf(0.5 + confidence / 2, df) if df else stats.norm.ppf(0.5 + confidence / 2)
    return delta - q * se, delta + q * se


def _stat(
    name: str, hib: bool, base: float | None, cand: float | None, rows: int, method: str,
    se: float | None = None, ci: tuple[float, float] | None = None,
) -> Stat:
    if base is None or cand is None or (isinstance(base, float) and math.isnan(base)) or (
        isinstance(cand, float) and math.isnan(cand)
    ):
        return Stat(name, hib, _f(base), _f(cand), None, None, None, None, None, rows, method)
    delta = float(cand - base)
    if se is None or math.isnan(se):
        return Stat(name, hib, float(base), float(cand), delta, None, None, None, None, rows, method)
    lo, hi = ci if ci is not None else (float("nan"), float("nan"))
    return Stat(name, hib, float(base), float(cand), delta, float(lo), float(hi), float(se),
                _p_two_sided(delta, se), rows, method)


def _f(v: float | None) -> float | None:
    return None if v is None else float(v)


# ---------------------------------------------------------------- group-level engine


@dataclass
class Group:
    """The rows of one segment (or all rows), already validated."""

    y: np.ndarray  # binary: 0/1 ints; multiclass: class indices; regression: floats
    cand: np.ndarray  # binary: P(y=1); multiclass: (n, K) probabilities; regression: predictions
    base: np.ndarray | None
    rng: np.random.Generator
    jk_group: np.ndarray  # group id 0..G-1 per row, for the jackknife


def compare_group(
    task: str, group: Group, metric_names: list[str], confidence: float, resamples: int,
    n_classes: int = 0,
) -> list[Stat]:
    """Every requested metric for one group of rows."""
    specs = M.SPECS[task]
    n = len(group.y)
    out: dict[str, Stat] = {}
    count_names = [m for m in metric_names if specs[m].kind == "count"]
    if count_names:
        out.update(_count_metrics(task, group, count_names, confidence, resamples, n_classes))
    for m in metric_names:
        spec = specs[m]
        if spec.kind == "count":
            continue
        if m in ("log_loss", "brier", "mae"):
            out[m] = _mean_metric(task, m, group, confidence)
        elif m == "roc_auc":
            out[m] = _delong(group, confidence)
        elif m == "average_precision":
            out[m] = _average_precision(group, confidence)
        elif m in ("rmse", "r2"):
            out[m] = _regression_ratio(m, group, confidence)
        else:  # pragma: no cover - SPECS and this dispatch are kept in step by tests
            raise KeyError(m)
    assert all(s.rows == n for s in out.values())
    return [out[m] for m in metric_names]


# ---- count metrics: multinomial bootstrap over the joint cells


def _count_table(task: str, y: np.ndarray, pc: np.ndarray, pb: np.ndarray, k: int) -> np.ndarray:
    return np.bincount((y * k + pc) * k + pb, minlength=k**3)


def _count_values(task: str, counts: np.ndarray, k: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Metric values for candidate and baseline from joint counts [..., k^3]."""
    cube = counts.reshape(*counts.shape[:-1], k, k, k)  # [..., y, pc, pb]
    conf_c = cube.sum(axis=-1)  # [..., y, pc]
    conf_b = cube.sum(axis=-2)  # [..., y, pb]
    if task == "binary":
        def fb(conf: np.ndarray) -> dict[str, np.ndarray]:
            return M.binary_from_counts(conf[..., 1, 1], conf[..., 0, 1], conf[..., 1, 0], conf[..., 0, 0])
        return fb(conf_c), fb(conf_b)
    return M.multiclass_from_confusion(conf_c), M.multiclass_from_confusion(conf_b)


def _count_metrics(
    task: str, g: Group, names: list[str], confidence: float, resamples: int, n_classes: int
) -> dict[str, Stat]:
    specs = M.SPECS[task]
    n = len(g.y)
    k = 2 if task == "binary" else n_classes
    if task == "binary":
        pc = (g.cand >= 0.5).astype(np.int64)
        pb = (g.base >= 0.5).astype(np.int64) if g.base is not None else pc
    else:
        pc = np.argmax(g.cand, axis=1)
        pb = np.argmax(g.base, axis=1) if g.base is not None else pc
    y = g.y.astype(np.int64)
    if n == 0:
        return {m: _stat(m, specs[m].higher_is_better, None, None, 0, "bootstrap") for m in names}
    counts = _count_table(task, y, pc, pb, k)
    vc, vb = _count_values(task, counts, k)
    if g.base is None:
        return {m: _stat(m, True, None, float(vc[m]), n, "bootstrap") for m in names}
    result: dict[str, Stat] = {}
    if resamples > 0 and k**3 <= MAX_JOINT_CELLS:
        draws = g.rng.multinomial(n, counts / n, size=resamples)
        rc, rb = _count_values(task, draws, k)
        alpha = 1 - confidence
        for m in names:
            d = rc[m] - rb[m]
            lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
            result[m] = _stat(m, specs[m].higher_is_better, float(vb[m]), float(vc[m]), n,
                              "paired-bootstrap", se=float(np.std(d, ddof=1)), ci=(float(lo), float(hi)))
        return result
    # jackknife over groups of rows: leave-one-group-out joint counts
    gcounts = np.zeros((JACKKNIFE_GROUPS, k**3))
    np.add.at(gcounts, (g.jk_group, (y * k + pc) * k + pb), 1)
    loo = counts[None, :] - gcounts
    present = gcounts.sum(axis=1) > 0
    lc, lb = _count_values(task, loo[present], k)
    for m in names:
        d = lc[m] - lb[m]
        se = _jk_se(d)
        delta = float(vc[m] - vb[m])
        result[m] = _stat(m, specs[m].higher_is_better, float(vb[m]), float(vc[m]), n, "jackknife",
                          se=se, ci=_interval(delta, se, confidence, df=max(len(d) - 1, 1)))
    return result


# ---- mean losses: paired differences


def _rows_loss(task: str, metric: str, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    if metric == "log_loss":
        return M.binary_log_loss_rows(y, p) if task == "binary" else M.multiclass_log_loss_rows(y, p)
    if metric == "brier":
        return M.brier_rows(y, p)
    return np.abs(np.asarray(y, dtype=np.float64) - p)  # mae


def _mean_metric(task: str, metric: str, g: Group, confidence: float) -> Stat:
    n = len(g.y)
    lc = _rows_loss(task, metric, g.y, g.cand)
    cand = float(lc.mean()) if n else None
    if g.base is None or n == 0:
        return _stat(metric, False, None, cand, n, "paired-normal")
    lb = _rows_loss(task, metric, g.y, g.base)
    d = lc - lb
    delta = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    ci = _interval(delta, se, confidence, df=n - 1) if n > 1 else None
    return _stat(metric, False, float(lb.mean()), cand, n, "paired-normal", se=se, ci=ci)


# ---- AUC: DeLong


def _placements(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    r_all = M.midranks(s)
    r_pos = M.midranks(s[pos])
    r_neg = M.midranks(s[~pos])
    v10 = (r_all[pos] - r_pos) / n_neg  # per positive: share of negatives ranked below
    v01 = 1 - (r_all[~pos] - r_neg) / n_pos  # per negative: share of positives ranked above
    auc = float(v10.mean())
    return v10, v01, auc


def _delong(g: Group, confidence: float) -> Stat:
    y = g.y.astype(np.int64)
    n = len(y)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == n:
        return _stat("roc_auc", True, None, None, n, "delong")
    v10c, v01c, auc_c = _placements(y, g.cand)
    if g.base is None:
        return _stat("roc_auc", True, None, auc_c, n, "delong")
    v10b, v01b, auc_b = _placements(y, g.base)
    n_neg = n - n_pos
    if n_pos < 2 or n_neg < 2:
        return _stat("roc_auc", True, auc_b, auc_c, n, "delong")
    s10 = np.cov(np.vstack([v10c, v10b]))
    s01 = np.cov(np.vstack([v01c, v01b]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / n_pos + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n_neg
    se = math.sqrt(max(float(var), 0.0))
    delta = auc_c - auc_b
    return _stat("roc_auc", True, auc_b, auc_c, n, "delong", se=se, ci=_interval(delta, se, confidence))


# ---- jackknife metrics


def _jk_se(thetas: np.ndarray) -> float:
    g = len(thetas)
    if g < 2:
        return float("nan")
    return float(math.sqrt((g - 1) / g * np.sum((thetas - thetas.mean()) ** 2)))


def _ap_leave_one_group_out(s: np.ndarray, y: np.ndarray, grp: np.ndarray) -> np.ndarray:
    """AP without each jackknife group, from one descending sort.

    On the full data's thresholds, removing a group only lowers the cumulative counts; a
    block that empties contributes a zero recall step, so the sum stays exact.
    """
    last = np.concatenate((np.flatnonzero(np.diff(s)), [len(s) - 1]))
    tp_all = np.cumsum(y)[last]
    cnt_all = (last + 1).astype(np.float64)
    out = []
    for k in np.unique(grp):
        in_k = grp == k
        tp = tp_all - np.cumsum(y * in_k)[last]
        cnt = cnt_all - np.cumsum(in_k)[last]
        n_pos = tp[-1]
        if n_pos <= 0:
            return np.array([])
        steps = np.diff(tp, prepend=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(cnt > 0, tp / np.where(cnt > 0, cnt, 1), 0.0)
        out.append(float(np.sum(steps * prec) / n_pos))
    return np.asarray(out)


def _average_precision(g: Group, confidence: float) -> Stat:
    """AP with a delete-a-group jackknife; each model's scores are sorted once."""
    n = len(g.y)
    y = np.asarray(g.y, dtype=np.float64)

    def sorted_view(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        order = np.argsort(-s, kind="stable")
        return s[order], y[order], g.jk_group[order]

    sc, yc, gc = sorted_view(g.cand)
    cand = M.average_precision_sorted(sc, yc)
    if g.base is None or cand is None:
        return _stat("average_precision", True, None, cand, n, "jackknife")
    sb, yb, gb = sorted_view(g.base)
    base = M.average_precision_sorted(sb, yb)
    if base is None:
        return _stat("average_precision", True, base, cand, n, "jackknife")
    jc, jb = _ap_leave_one_group_out(sc, yc, gc), _ap_leave_one_group_out(sb, yb, gb)
    if len(jc) != len(jb) or len(jc) < 2:
        return _stat("average_precision", True, base, cand, n, "jackknife")
    return _jackknife_stat("average_precision", True, base, cand, n, jc - jb, confidence)


def _jackknife_stat(
    metric: str, hib: bool, base: float, cand: float, n: int, d: np.ndarray, confidence: float
) -> Stat:
    se = _jk_se(d)
    delta = cand - base
    return _stat(metric, hib, base, cand, n, "jackknife", se=se,
                 ci=_interval(delta, se, confidence, df=max(len(d) - 1, 1)))


def _regression_ratio(metric: str, g: Group, confidence: float) -> Stat:
    """rmse and r2 from per-group sums, so leave-one-group-out is O(groups)."""
    y = np.asarray(g.y, dtype=np.float64)
    n = len(y)
    hib = metric == "r2"

    def value(sse: np.ndarray, sy: np.ndarray, syy: np.ndarray, cnt: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            if metric == "rmse":
                return np.sqrt(sse / cnt)
            sst = syy - sy**2 / cnt
            r2 = 1 - sse / sst
            return np.where(np.abs(sst) <= 1e-12 * np.maximum(syy, 1), np.where(sse == 0, 1.0, 0.0), r2)

    if n == 0:
        return _stat(metric, hib, None, None, 0, "jackknife")
    G = JACKKNIFE_GROUPS
    cnt_g = np.bincount(g.jk_group, minlength=G).astype(np.float64)
    sy_g = np.bincount(g.jk_group, weights=y, minlength=G)
    syy_g = np.bincount(g.jk_group, weights=y * y, minlength=G)

    def sums(pred: np.ndarray) -> np.ndarray:
        return np.bincount(g.jk_group, weights=(y - pred) ** 2, minlength=G)

    sse_c_g = sums(g.cand)
    tot = (cnt_g.sum(), sy_g.sum(), syy_g.sum())
    point = M.regression_point(y, g.cand)[metric]
    if g.base is None:
        return _stat(metric, hib, None, point, n, "jackknife")
    base_point = M.regression_point(y, g.base)[metric]
    sse_b_g = sums(g.base)
    present = cnt_g > 0
    loo = (tot[0] - cnt_g, tot[1] - sy_g, tot[2] - syy_g)
    vc = value(sse_c_g.sum() - sse_c_g, loo[1], loo[2], loo[0])[present]
    vb = value(sse_b_g.sum() - sse_b_g, loo[1], loo[2], loo[0])[present]
    d = vc - vb
    if not np.all(np.isfinite(d)):
        return _stat(metric, hib, base_point, point, n, "jackknife")
    assert point is not None and base_point is not None
    return _jackknife_stat(metric, hib, base_point, point, n, d, confidence)
