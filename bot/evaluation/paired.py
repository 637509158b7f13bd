"""Paired comparison of two models on the same rows: delta, confidence interval, se, p-value.

Everything works on one *partition* of the rows at a time (the whole holdout, or one segment
column): the statistics of all its segments come out of one sort per model and a few
`bincount`s, so the cost grows with the rows, not with rows x segments x resamples.

Each metric family uses the cheapest method that is exact or standard for it:

- count metrics (accuracy, precision, recall, f1, macro/weighted F1): the delta method on
  the multinomial counts of the joint (label, candidate prediction, baseline prediction)
  table of each segment: each row's influence is the difference of the two models' metric
  gradients at its cell. (The percentile bootstrap it replaced under-covered ratio metrics.)
- roc_auc: DeLong's variance of the paired AUC difference (exact, no resampling).
- mean losses (log_loss, brier, mae): mean of the per-row paired differences and its
  standard error (central limit theorem).
- average_precision, rmse, r2: the influence-function (delta-method / infinitesimal
  jackknife) variance of the paired difference; for AUC this is what DeLong computes.

Analytic intervals are `delta ± z * se`; p-values are two-sided normal tail areas of
`delta / se`, so the gate's Benjamini-Hochberg step (which reads `se`) agrees with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from statistics import NormalDist

import numpy as np

from bot.evaluation import metrics as M

PARALLEL_ROWS = 200_000  # above this, the work is spread over two threads
GRAD_STEP = 1e-4
MAX_JOINT_CELLS = 4096  # up to 16 classes the variance comes from joint cell counts, not rows

# ---------------------------------------------------------------- one row of a metric table


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
    if isinstance(v, np.integer | np.bool_):
        return v.item()
    return v


def _num(v: object) -> float | None:
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return None if math.isnan(f) or math.isinf(f) else f


def p_two_sided(delta: float, se: float) -> float:
    """Two-sided normal p-value of delta != 0; a zero se means no sampling noise at all."""
    if se <= 0:
        return 1.0 if delta == 0 else 0.0
    return math.erfc(abs(delta) / se / math.sqrt(2))


def z_quantile(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def make_stat(
    name: str, hib: bool, base: object, cand: object, rows: int, method: str,
    se: object = None, ci: tuple[object, object] | None = None, z: float | None = None,
) -> Stat:
    """A comparison row; anything undefined (no baseline, NaN, no se) becomes None."""
    b, c = _num(base), _num(cand)
    if b is None or c is None:
        return Stat(name, hib, b, c, None, None, None, None, None, rows, method)
    delta = c - b
    s = _num(se)
    if s is None:
        return Stat(name, hib, b, c, delta, None, None, None, None, rows, method)
    s = max(s, 0.0)
    if s == 0 and delta != 0:
        # a degenerate distribution (one kind of row): no noise can be measured, so no interval
        return Stat(name, hib, b, c, delta, None, None, None, None, rows, method)
    if ci is None:
        assert z is not None
        lo, hi = delta - z * s, delta + z * s
    else:
        lo_, hi_ = _num(ci[0]), _num(ci[1])
        if lo_ is None or hi_ is None:
            return Stat(name, hib, b, c, delta, None, None, s, p_two_sided(delta, s), rows, method)
        lo, hi = lo_, hi_
    return Stat(name, hib, b, c, delta, lo, hi, s, p_two_sided(delta, s), rows, method)


# ---------------------------------------------------------------- prepared inputs


@dataclass
class Scored:
    """Validated labels and scores of all rows, with per-model caches shared by partitions."""

    task: str
    y: np.ndarray  # binary: 0/1 int64; multiclass: class index int64; regression: float64
    cand: np.ndarray  # binary: P(y=1); multiclass: (n, K) probabilities; regression: predictions
    base: np.ndarray | None
    n_classes: int = 0
    _cache: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def scores(self, who: str) -> np.ndarray:
        s = self.cand if who == "candidate" else self.base
        assert s is not None
        return s

    def _cached(self, key: tuple[str, str], make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def pred(self, who: str) -> np.ndarray:
        """Predicted labels: threshold 0.5 (binary) or the most probable class."""
        s = self.scores(who)
        if self.task == "binary":
            return self._cached(("pred", who), lambda: (s >= 0.5).astype(np.int64))
        return self._cached(("pred", who), lambda: np.argmax(s, axis=1).astype(np.int64))

    def order(self, who: str) -> np.ndarray:
        """Rows by ascending score, computed once and reused by every partition."""
        s = self.scores(who)
        return self._cached(("order", who), lambda: np.argsort(s))  # ties form blocks: any order

    def warm(self, pool: ThreadPoolExecutor) -> None:
        """Sort both models' scores concurrently before partitions share the cache."""
        if self.task == "binary":
            whos = ["candidate"] + (["baseline"] if self.base is not None else [])
            for f in [pool.submit(self.order, w) for w in whos]:
                f.result()
        self.y_float  # noqa: B018 - fill the cache before threads read it

    def joint_cell(self, k: int) -> np.ndarray:
        """Per row: the (label, candidate prediction, baseline prediction) cell, 0..k^3-1."""
        return self._cached(("cell", str(k)), lambda: (self.y * k + self.pred("candidate")) * k
                            + self.pred("baseline"))

    @property
    def y_float(self) -> np.ndarray:
        return self._cached(("y", "float"), lambda: self.y.astype(np.float64))

    def loss_difference(self, metric: str) -> np.ndarray:
        return self._cached((metric, "difference"),
                            lambda: self.loss(metric, "candidate") - self.loss(metric, "baseline"))

    def loss(self, metric: str, who: str) -> np.ndarray:
        """Per-row loss whose mean is the metric (log_loss, brier, mae)."""
        s = self.scores(who)

        def make() -> np.ndarray:
            if metric == "log_loss":
                if self.task == "binary":
                    return M.binary_log_loss_rows(self.y, s)
                return M.multiclass_log_loss_rows(self.y, s)
            if metric == "brier":
                return M.brier_rows(self.y, s)
            return np.asarray(np.abs(self.y - s), dtype=np.float64)  # mae

        return self._cached((metric, who), make)


@dataclass
class Groups:
    """A partition of the rows: group code per row, group count, a stable key per group."""

    codes: np.ndarray
    count: int
    keys: list[str]

    @cached_property
    def sizes(self) -> np.ndarray:
        if self.count == 1:
            return np.array([len(self.codes)])
        return np.bincount(self.codes, minlength=self.count)

    @cached_property
    def small_codes(self) -> np.ndarray:
        """Codes as int16 where they fit, so a stable sort by code is a fast radix sort."""
        return self.codes.astype(np.int16 if self.count < 2**15 else np.int32)

    def sum(self, w: np.ndarray) -> np.ndarray:
        if self.count == 1:
            return np.array([w.sum()])
        return np.bincount(self.codes, weights=w, minlength=self.count)

    def take(self, per_group: np.ndarray) -> np.ndarray | float:
        """A per-group value for every row (a scalar when there is one group)."""
        return float(per_group[0]) if self.count == 1 else per_group[self.codes]

    def centered_ss(self, x: np.ndarray, n: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-group mean and sum of squared deviations (two passes: no cancellation)."""
        n = self.sizes if n is None else n
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.sum(x) / n
        dev = x - self.take(mean)
        return mean, self.sum(dev * dev)


def _var_of_sum(groups: Groups, infl: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Variance of a statistic from per-row influence values: sum of squares, n/(n-1) corrected."""
    _, ss = groups.centered_ss(infl, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, ss * n / (n - 1), np.nan)


# ---------------------------------------------------------------- entry point


Tick = Callable[[int], None]


def compare_partition(
    scored: Scored, groups: Groups, metric_names: list[str], confidence: float,
    tick: Tick | None = None, parallel: bool = False,
) -> list[list[Stat]]:
    """Every requested metric for every group of one partition: `result[group][metric]`.

    `parallel`: compute the two models' rank statistics in two threads (numpy releases the
    GIL in sorts and cumulative sums); for one partition on a large holdout.
    """
    specs = M.SPECS[scored.task]
    z = z_quantile(confidence)
    by_metric: dict[str, list[Stat]] = {}
    count_names = [m for m in metric_names if specs[m].kind == "count"]
    ticked = [0]

    def counting(k: int) -> None:
        ticked[0] += k
        if tick is not None:
            tick(k)

    if count_names:
        by_metric.update(_count_family(scored, groups, count_names, z, counting))
    rank_names = [m for m in metric_names if m in ("roc_auc", "average_precision")]
    if rank_names:
        by_metric.update(_rank_family(scored, groups, rank_names, z, parallel))
    for m in metric_names:
        if m in ("log_loss", "brier", "mae"):
            by_metric[m] = _mean_family(scored, groups, m, z)
        elif m in ("rmse", "r2"):
            by_metric[m] = _regression_family(scored, groups, m, z)
    if scored.task == "binary":
        whos = ["candidate"] + (["baseline"] if scored.base is not None else [])
        predicted = np.min([groups.sum(scored.pred(w).astype(np.float64)) for w in whos], axis=0)
        mark_undefined(by_metric, groups.sum(scored.y_float), predicted)
    else:
        mark_undefined(by_metric, None, None)
    if tick is not None and ticked[0] < groups.count:
        tick(groups.count - ticked[0])
    missing = [m for m in metric_names if m not in by_metric]
    if missing:  # pragma: no cover - SPECS and this dispatch are kept in step by tests
        raise KeyError(missing)
    return [[by_metric[m][g] for m in metric_names] for g in range(groups.count)]


def mark_undefined(by_metric: dict[str, list[Stat]], positives: np.ndarray | None,
                   predicted: np.ndarray | None) -> None:
    """Blank the comparisons the rows cannot define, in place (every engine applies the same rules).

    `positives`: positive labels per group (binary); `predicted`: per group, the smaller of the
    two models' predicted-positive counts (binary).
    """
    if positives is not None:
        # recall and F1 need a positive label: without one, sklearn's zero_division=0 would report
        # 0 -> 0 "unchanged" for a candidate that is wrong on every row; undefined lets the gate say so
        for m in ("recall", "f1"):
            if m in by_metric:
                by_metric[m] = [st if positives[g] > 0 else _undefined(st) for g, st in enumerate(by_metric[m])]
    if predicted is not None and "precision" in by_metric:
        # precision needs a predicted positive from each model (sklearn: "ill-defined", 0)
        by_metric["precision"] = [st if predicted[g] > 0 else _undefined(st)
                                  for g, st in enumerate(by_metric["precision"])]
    if "r2" in by_metric:
        # sklearn: "R^2 score is not well-defined with less than two samples" (nan)
        by_metric["r2"] = [st if st.rows >= 2 else _undefined(st) for st in by_metric["r2"]]


def _undefined(st: Stat) -> Stat:
    """The same comparison with every value undefined (the rows cannot define the metric)."""
    return Stat(st.name, st.higher_is_better, None, None, None, None, None, None, None, st.rows, st.method)


# ---------------------------------------------------------------- count metrics


def _count_values(task: str, conf: np.ndarray) -> dict[str, np.ndarray]:
    """Metric values from confusion matrices [..., true, pred]."""
    if task == "binary":
        return M.binary_from_counts(conf[..., 1, 1], conf[..., 0, 1], conf[..., 1, 0], conf[..., 0, 0])
    return M.multiclass_from_confusion(conf)


def _gradients(task: str, conf: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """d metric / d count of each confusion cell, [G, k, k]."""
    if task == "multiclass":
        return _multiclass_gradients(conf, names)
    return _numeric_gradients(task, conf, names)


def _multiclass_gradients(conf: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Closed-form gradients of accuracy, macro F1 and weighted F1 (any number of classes).

    With support S_c, predicted count Q_c, D_c = S_c + Q_c and F1_c = 2 tp_c / D_c:
    dF1_c/dC_ij = [i=j=c] 2/D_c - ([i=c] + [j=c]) F1_c/D_c.
    """
    G, k, _ = conf.shape
    n = conf.sum(axis=(1, 2))[:, None, None]
    tp = np.diagonal(conf, axis1=1, axis2=2)
    S, Q = conf.sum(axis=2), conf.sum(axis=1)
    D = S + Q
    eye = np.eye(k, dtype=bool)[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(D > 0, 2 * tp / np.where(D > 0, D, 1), 0.0)
        inv = np.where(D > 0, 1 / np.where(D > 0, D, 1), 0.0)
        vals = M.multiclass_from_confusion(conf)
        out: dict[str, np.ndarray] = {}
        if "accuracy" in names:
            out["accuracy"] = (eye - vals["accuracy"][:, None, None]) / n
        if "macro_f1" in names:
            present = (D > 0).sum(axis=1)[:, None, None]
            a = f1 * inv  # F1_c / D_c
            g = np.where(eye, 2 * inv[:, :, None], 0.0) - a[:, :, None] - a[:, None, :]
            out["macro_f1"] = g / np.maximum(present, 1)
        if "weighted_f1" in names:
            b = S * f1 * inv  # S_c F1_c / D_c
            g = np.where(eye, 2 * (S * inv)[:, :, None], 0.0) - b[:, :, None] - b[:, None, :]
            g += f1[:, :, None]  # d(S_i)/dC_ij = 1 multiplies F1_i
            out["weighted_f1"] = (g - vals["weighted_f1"][:, None, None]) / n
    return out


def _numeric_gradients(task: str, conf: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """d metric / d count of each confusion cell, [G, k, k], by central differences.

    The metrics are smooth ratios of counts; only cells that hold rows are ever used, so a
    step that makes an empty cell negative is harmless.
    """
    G, k, _ = conf.shape
    out = {m: np.zeros((G, k, k)) for m in names}
    for i in range(k):
        for j in range(k):
            plus, minus = conf.copy(), conf.copy()
            plus[:, i, j] += GRAD_STEP
            minus[:, i, j] -= GRAD_STEP
            with np.errstate(invalid="ignore", divide="ignore"):
                vp, vm = _count_values(task, plus), _count_values(task, minus)
            for m in names:
                out[m][:, i, j] = (vp[m] - vm[m]) / (2 * GRAD_STEP)
    return out


def _count_family(
    s: Scored, groups: Groups, names: list[str], z: float, tick: Tick | None,
) -> dict[str, list[Stat]]:
    k = 2 if s.task == "binary" else s.n_classes
    G = groups.count
    y, pc = s.y, s.pred("candidate")
    n = groups.sizes

    def confusion(pred: np.ndarray) -> np.ndarray:
        cell = groups.codes * (k * k) + y * k + pred
        return np.bincount(cell, minlength=G * k * k).reshape(G, k, k).astype(np.float64)

    if s.base is None:
        return count_stats_unpaired(s.task, confusion(pc), names)
    pb = s.pred("baseline")
    # delta method on the multinomial counts of the joint (label, candidate, baseline) table:
    # per-row influence = each model's gradient at the row's confusion cell, paired by row.
    # (A percentile bootstrap of these ratios under-covered: F1 93.5% at nominal 95%.)
    K3 = k**3
    if K3 <= MAX_JOINT_CELLS:
        # every row of a cell has the same influence: one pass over the rows, then cell sums
        cell = s.joint_cell(k)
        flat = (np.bincount(cell, minlength=K3)[None, :] if G == 1
                else np.bincount(groups.codes * K3 + cell, minlength=G * K3).reshape(G, K3))
        return count_stats_from_joint(s.task, flat.reshape(G, k, k, k).astype(np.float64), names, z)
    conf_c, conf_b = confusion(pc), confusion(pb)
    gc, gb = _gradients(s.task, conf_c, names), _gradients(s.task, conf_b, names)
    var = {m: _var_of_sum(groups, gc[m][groups.codes, y, pc] - gb[m][groups.codes, y, pb], n)
           for m in names}
    return _count_stats(s.task, conf_c, conf_b, var, names, n, z)


def count_stats_from_joint(task: str, joint: np.ndarray, names: list[str], z: float) -> dict[str, list[Stat]]:
    """Paired count metrics of every group from its joint table `[G, y, candidate pred, baseline pred]`.

    Delta method on the multinomial counts: every row of a cell has the same influence (the
    difference of the two models' metric gradients at its cell), so the variance is a sum over cells.
    """
    n = joint.sum(axis=(1, 2, 3))
    conf_c, conf_b = joint.sum(axis=3), joint.sum(axis=2)
    gc, gb = _gradients(task, conf_c, names), _gradients(task, conf_b, names)
    var: dict[str, np.ndarray] = {}
    for m in names:
        infl_cell = gc[m][:, :, :, None] - gb[m][:, :, None, :]  # [G, y, pc, pb]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (joint * infl_cell).sum(axis=(1, 2, 3)) / n
            dev = np.where(joint > 0, infl_cell - mean[:, None, None, None], 0.0)
            ss = (joint * dev * dev).sum(axis=(1, 2, 3))
            var[m] = np.where(n > 1, ss * n / (n - 1), np.nan)
    return _count_stats(task, conf_c, conf_b, var, names, n, z)


def count_stats_unpaired(task: str, conf_c: np.ndarray, names: list[str]) -> dict[str, list[Stat]]:
    """The candidate's count metrics alone (no baseline), from its confusion matrices `[G, true, pred]`."""
    specs = M.SPECS[task]
    n = conf_c.sum(axis=(1, 2))
    vc = _count_values(task, conf_c)
    return {m: [make_stat(m, specs[m].higher_is_better, None, vc[m][g], int(n[g]), "delta")
                for g in range(len(n))] for m in names}


def _count_stats(task: str, conf_c: np.ndarray, conf_b: np.ndarray, var: dict[str, np.ndarray],
                 names: list[str], n: np.ndarray, z: float) -> dict[str, list[Stat]]:
    specs = M.SPECS[task]
    vc, vb = _count_values(task, conf_c), _count_values(task, conf_b)
    return {m: [make_stat(m, specs[m].higher_is_better, vb[m][g], vc[m][g], int(n[g]), "delta",
                          se=math.sqrt(var[m][g]) if var[m][g] >= 0 else None, z=z)
                for g in range(len(n))] for m in names}


# ---------------------------------------------------------------- AUC and average precision


@dataclass(frozen=True)
class _Ranked:
    auc: np.ndarray  # [G], NaN without both classes
    placement: np.ndarray  # per row: DeLong's V10 (positives) or V01 (negatives)
    ap: np.ndarray  # [G], NaN without positives
    ap_infl: np.ndarray  # per row: d AP / d (weight of the row)


def _ranked(s: Scored, who: str, groups: Groups, want_auc: bool, want_ap: bool) -> _Ranked:
    """AUC, AP and their per-row influence for every group, from one sort by (group, score).

    Rows are ordered by group, then ascending score (the global score order, regrouped by a
    stable radix sort of the group codes), so each group is a contiguous slice that stays in
    cache; runs of equal scores within a group are tie blocks. Everything is cumulative sums
    over the blocks of one group.
    """
    score = s.scores(who)
    G = groups.count
    order = s.order(who)
    sizes = groups.sizes
    if G > 1:
        order = order[np.argsort(groups.small_codes[order], kind="stable")]
    ss = score[order]
    ys = s.y_float[order]
    nrow = len(order)
    auc, ap = np.full(G, np.nan), np.full(G, np.nan)
    placement_sorted = np.full(nrow, np.nan) if want_auc else np.empty(0)
    infl_sorted = np.full(nrow, np.nan) if want_ap else np.empty(0)
    stop = 0
    for g in range(G):
        m = int(sizes[g])
        sl = slice(stop, stop + m)
        stop += m
        if m == 0:
            continue
        yg = ys[sl]
        P = float(yg.sum())
        if P == 0:
            continue  # AUC and AP are undefined without positives
        new = np.empty(m, dtype=bool)
        new[0] = True
        sg = ss[sl]
        np.not_equal(sg[1:], sg[:-1], out=new[1:])
        nb = int(np.count_nonzero(new))
        bid: np.ndarray | None = None
        if nb < m:  # ties: aggregate rows into blocks of equal score
            bid = np.cumsum(new) - 1
            bcnt = np.bincount(bid, minlength=nb).astype(np.float64)
            bpos = np.bincount(bid, weights=yg, minlength=nb)
            cnt_below = np.cumsum(bcnt) - bcnt
        else:
            bcnt = bpos = yg
            cnt_below = np.arange(m, dtype=np.float64)
        pos_below = np.cumsum(bpos) - bpos
        if want_auc and m > P:
            # DeLong placements: the share of the other class ranked below (ties count half)
            Nn = m - P
            v10: np.ndarray
            v01: np.ndarray
            if bid is not None:
                v10 = (cnt_below - pos_below + 0.5 * (bcnt - bpos)) / Nn
                v01 = (P - pos_below - 0.5 * bpos) / P
            else:  # a positive row has no tied negatives and vice versa
                v10 = (cnt_below - pos_below) / Nn
                v01 = (P - pos_below) / P
            auc[g] = float(np.dot(bpos, v10)) / P
            if bid is not None:
                v10, v01 = v10[bid], v01[bid]
            placement_sorted[sl] = np.where(yg > 0, v10, v01)
        if want_ap:
            # sklearn's step sum: precision at each threshold (block) times the recall step
            T = P - pos_below  # positives scored >= this block
            N = m - cnt_below  # rows scored >= this block
            prec = T / N
            a = float(np.dot(bpos, prec)) / P
            ap[g] = a
            # influence of a row in block b (derivative of AP w.r.t. the row's weight):
            # (1/P) [ y (prec_b - AP + sum_{b' <= b} pos/N) - sum_{b' <= b} pos*T/N^2 ]
            x = bpos / N
            C = np.cumsum(x * prec)
            A = np.cumsum(x)
            A += prec
            A -= a
            if bid is not None:
                A, C = A[bid], C[bid]
            A *= yg
            A -= C
            A /= P
            infl_sorted[sl] = A
    placement = np.empty(nrow) if want_auc else placement_sorted
    if want_auc:
        placement[order] = placement_sorted
    ap_infl = np.empty(nrow) if want_ap else infl_sorted
    if want_ap:
        ap_infl[order] = infl_sorted
    return _Ranked(auc, placement, ap, ap_infl)


def _rank_family(s: Scored, groups: Groups, names: list[str], z: float, parallel: bool) -> dict[str, list[Stat]]:
    G = groups.count
    n = groups.sizes
    want = ("roc_auc" in names, "average_precision" in names)
    rb: _Ranked | None
    if parallel and s.base is not None:
        # the two models' sorts and cumulative sums release the GIL: one thread each
        with ThreadPoolExecutor(max_workers=2) as pool:
            fc = pool.submit(_ranked, s, "candidate", groups, *want)
            fb = pool.submit(_ranked, s, "baseline", groups, *want)
            rc, rb = fc.result(), fb.result()
    else:
        rc = _ranked(s, "candidate", groups, *want)
        rb = _ranked(s, "baseline", groups, *want) if s.base is not None else None
    out: dict[str, list[Stat]] = {}
    if "roc_auc" in names:
        if rb is None:
            out["roc_auc"] = [make_stat("roc_auc", True, None, rc.auc[g], int(n[g]), "delong") for g in range(G)]
        else:
            # DeLong: var = S10/n_pos + S01/n_neg of the paired placement differences
            d = rc.placement - rb.placement
            pos = s.y.astype(bool)
            two = Groups(groups.codes * 2 + pos, 2 * G, [])
            cnt = two.sizes.reshape(G, 2)
            _, ss = two.centered_ss(d)
            ss = ss.reshape(G, 2)
            with np.errstate(invalid="ignore", divide="ignore"):
                var = (ss / (cnt - 1) / cnt).sum(axis=1)
            var[(cnt < 2).any(axis=1)] = np.nan
            out["roc_auc"] = [
                make_stat("roc_auc", True, rb.auc[g], rc.auc[g], int(n[g]), "delong",
                          se=math.sqrt(var[g]) if np.isfinite(var[g]) else None, z=z)
                for g in range(G)
            ]
    if "average_precision" in names:
        m = "average_precision"
        if rb is None:
            out[m] = [make_stat(m, True, None, rc.ap[g], int(n[g]), "influence") for g in range(G)]
        else:
            var = _var_of_sum(groups, rc.ap_infl - rb.ap_infl, n)
            out[m] = [
                make_stat(m, True, rb.ap[g], rc.ap[g], int(n[g]), "influence",
                          se=math.sqrt(var[g]) if np.isfinite(var[g]) else None, z=z)
                for g in range(G)
            ]
    return out


# ---------------------------------------------------------------- mean losses


def _mean_family(s: Scored, groups: Groups, metric: str, z: float) -> list[Stat]:
    n = groups.sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        cand = groups.sum(s.loss(metric, "candidate")) / n
        if s.base is None:
            return [make_stat(metric, False, None, cand[g], int(n[g]), "paired-normal")
                    for g in range(groups.count)]
        base = groups.sum(s.loss(metric, "baseline")) / n
        _, ss = groups.centered_ss(s.loss_difference(metric), n)
        se = np.sqrt(ss / (n - 1) / n)
    return [
        make_stat(metric, False, base[g], cand[g], int(n[g]), "paired-normal",
                  se=se[g] if n[g] > 1 else None, z=z)
        for g in range(groups.count)
    ]


# ---------------------------------------------------------------- rmse and r2


def _regression_family(s: Scored, groups: Groups, metric: str, z: float) -> list[Stat]:
    """rmse = sqrt(MSE) and r2 = 1 - MSE/Var(y), with delta-method influence per row."""
    n = groups.sizes.astype(np.float64)
    y = s.y
    hib = metric == "r2"
    _, sst = groups.centered_ss(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = groups.sum(y) / n
        dev2 = (y - groups.take(ybar)) ** 2
        var_y = sst / n

        def parts(who: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            e2 = (y - s.scores(who)) ** 2
            sse = groups.sum(e2)
            mse = sse / n
            if metric == "rmse":
                value = np.sqrt(mse)
                infl = (e2 - groups.take(mse)) / (2 * groups.take(value) * groups.take(n))
            else:
                value = np.array([M.r2_from_sums(float(a), float(b)) for a, b in zip(sse, sst, strict=True)],
                                 dtype=np.float64)
                v = groups.take(var_y)
                infl = -((e2 - groups.take(mse)) * v - groups.take(mse) * (dev2 - v)) / (v * v * groups.take(n))
            return value, infl, mse

        vc, ic, _ = parts("candidate")
        if s.base is None:
            return [make_stat(metric, hib, None, vc[g], int(n[g]), "delta") for g in range(groups.count)]
        vb, ib, _ = parts("baseline")
        var = _var_of_sum(groups, ic - ib, n)
        if metric == "r2":
            var[var_y <= 0] = np.nan  # constant labels: r2 is 1 or 0 by convention, no variance
    return [
        make_stat(metric, hib, vb[g], vc[g], int(n[g]), "delta",
                  se=math.sqrt(var[g]) if np.isfinite(var[g]) else None, z=z)
        for g in range(groups.count)
    ]
