"""Slice discovery: find where the candidate is worse than the baseline on rows nobody configured.

The configured segments only catch regressions someone thought of. This module searches
conjunctions of simple predicates (a categorical value, a numeric quantile bin, "missing") for
slices where the *paired* per-row loss difference (candidate minus baseline, on the same rows)
is high, and confirms them honestly:

1. the holdout is split in two random halves (seeded); the search sees only the first;
2. the search scores a slice by z = sum(d) / (sigma * sqrt(n)) (d: the loss difference, sigma:
   its standard deviation on the search half) and walks the lattice of conjunctions level by
   level, as SliceLine does: a slice smaller than min_rows is never extended, and neither is
   one whose upper bound on any sub-slice's score, sum(max(d, 0)) / (sigma * sqrt(min_rows)),
   cannot reach the current top scores. A conjunction is a candidate only when it concentrates
   the regression more than each of its parents (otherwise its parent says it better);
3. the best non-overlapping candidates are tested on the other half, which the search never
   saw: a one-sided paired t-test of mean(d) > 0 per slice, Holm across them (the chance that
   two equal models give any confirmed slice is at most the level, whatever the overlaps).
   Metric deltas and their intervals come from the engine's paired machinery on those rows.

Pure functions over numpy and pandas; no I/O. docs/statistics.md explains the guarantees.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bot import numbers
from bot.errors import InvalidInput
from bot.evaluation import metrics as M
from bot.evaluation.paired import Groups, Scored, Stat, compare_partition, z_quantile
from bot.evaluation.segments import build_partitions

NUMERIC_BINS = 5  # quantile bins per numeric column
QUANTILE_SAMPLE = 100_000  # rows the quantiles are taken from (every k-th present value)
QUANTILES = np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]
MAX_VALUES = 50  # most frequent categorical values kept as their own predicate; the rest are pooled
MAX_COLUMNS = 200
MAX_EXPAND = 3000  # depth-3 parents expanded at most (best bound first)
SEARCH_POOL = 200  # best candidates kept by the search (the redundancy filter picks from them)
OVERLAP = 0.5  # Jaccard overlap above which a slice repeats one already picked
MAX_TEXT = 200


class DiscoveryError(InvalidInput):
    """A discovery setting that does not fit the holdout: the message says what to change."""


@dataclass(frozen=True)
class Predicate:
    """One condition on one column, in words and in structure."""

    column: str
    op: str  # "=", "in", "<", ">=", "range", "missing"
    value: str  # the value, the pooled values, or the bin as text
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"column": self.column, "op": self.op, "value": self.value[:MAX_TEXT], "text": self.text[:MAX_TEXT]}


@dataclass(frozen=True)
class Feature:
    """A column as predicates over cells: every row's cell code, and which cells each predicate holds.

    Cells partition the rows (a value, a quantile bin, missing), so grouped sums per cell are one
    bincount; predicates may span cells ("tenure < 28" is the bins below 28), and their sums are
    the cells' sums through `member`.
    """

    column: str
    codes: np.ndarray  # cell of every row
    predicates: list[Predicate]
    member: np.ndarray  # float64 [predicates, cells]: 1 where the predicate holds on the cell

    @property
    def cells(self) -> int:
        return int(self.member.shape[1])

    def holds(self, k: int, codes: np.ndarray | None = None) -> np.ndarray:
        """Rows (all, or the given codes) where predicate k holds."""
        return np.asarray(self.member[k].astype(bool)[self.codes if codes is None else codes], dtype=bool)


@dataclass(frozen=True)
class Candidate:
    """A slice the search scored: a conjunction of (feature index, predicate code)."""

    score: float
    rows: int  # on the search half
    terms: tuple[tuple[int, int], ...]


@dataclass
class Found:
    """A slice taken to confirmation, with its statistics on the rows the search never saw."""

    predicates: list[Predicate]
    rows: int
    search_rows: int
    confirm_rows: int
    score: float
    loss_delta: float | None
    loss_ci: tuple[float | None, float | None]
    p_value: float | None
    q_value: float | None = None
    confirmed: bool = False
    share: float | None = None
    metrics: list[Stat] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " and ".join(p.text for p in self.predicates)

    def to_dict(self, loss: str) -> dict[str, Any]:
        return {
            "text": self.text[:1000],
            "predicates": [p.to_dict() for p in self.predicates],
            "rows": self.rows,
            "search_rows": self.search_rows,
            "confirm_rows": self.confirm_rows,
            "score": _finite(self.score),
            "loss": {"name": loss, "delta": _finite(self.loss_delta), "ci_low": _finite(self.loss_ci[0]),
                     "ci_high": _finite(self.loss_ci[1]), "p_value": _finite(self.p_value)},
            "q_value": _finite(self.q_value),
            "confirmed": self.confirmed,
            "share": _finite(self.share),
            "metrics": [s.to_dict() for s in self.metrics],
        }


@dataclass
class Discovery:
    """The report's `discovery` summary and `discovered_slices` list for one model."""

    columns: list[str]
    loss: str
    level: float
    seed: int
    max_depth: int
    min_rows: int
    search_rows: int
    confirm_rows: int
    scored: int  # slices whose score the search computed
    slices: list[Found]
    top_k: int = 5

    def to_report(self) -> dict[str, Any]:
        return {
            "discovery": {
                "columns": [c[:1000] for c in self.columns][:MAX_COLUMNS],
                "loss": self.loss, "level": self.level, "seed": self.seed, "max_depth": self.max_depth,
                "min_rows": self.min_rows, "search_rows": self.search_rows, "confirm_rows": self.confirm_rows,
                "scored": self.scored, "tested": len(self.slices), "top_k": self.top_k,
            },
            "discovered_slices": [s.to_dict(self.loss) for s in self.slices],
        }


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


# ---------------------------------------------------------------- predicates


def _nice(x: float) -> float:
    """x rounded to two significant digits, so bin edges read like a person wrote them."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.2g}")


def _fmt(x: float) -> str:
    return numbers.edge(x)  # 160,000 and 1,200,000, never 1.2e+06


def _id_like(name: str, col: pd.Series) -> bool:
    low = name.lower()
    if low == "id" or low.endswith("_id") or low.endswith(" id"):
        return True
    if pd.api.types.is_float_dtype(col) or len(col) <= 100:
        return False
    if col.iloc[:1000].nunique(dropna=True) < min(1000, len(col)):
        return False  # repeats among the first rows: not an id (and no pass over a million rows)
    return bool(col.nunique(dropna=True) == len(col))


def feature_columns(frame: pd.DataFrame, label: str, columns: list[str] | None, exclude: list[str]) -> list[str]:
    """The columns discovery slices by: the listed ones, or every non-label, non-id column."""
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DiscoveryError(
                f"discovery.columns {missing[:10]} are not in the holdout; available: "
                f"{', '.join(map(str, list(frame.columns)[:30]))}. Fix discovery.columns in the model's config")
        chosen = [c for c in columns if c != label and c not in exclude]
    else:
        chosen = [str(c) for c in frame.columns
                  if c != label and c not in exclude and not _id_like(str(c), frame[c])]
    if len(chosen) > MAX_COLUMNS:
        raise DiscoveryError(f"discovery would slice {len(chosen)} columns; the limit is {MAX_COLUMNS}. "
                             "List the ones that matter in discovery.columns or drop some with discovery.exclude")
    return chosen


def build_features(frame: pd.DataFrame, columns: list[str], min_rows: int, exact: bool = False) -> list[Feature]:
    """Each column as predicates. Labels and losses are not used, so this may see every row.

    `exact`: numeric bins from the quantiles of every present value rather than of every k-th
    (which depends on the row order; a key-split discovery must not)."""
    out: list[Feature] = []
    for name in columns:
        col = frame[name]
        numeric = (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))
        if numeric and _distinct_above(col, 12):
            out.append(_numeric(name, col, exact))
        elif numeric or pd.api.types.is_bool_dtype(col) or pd.api.types.is_object_dtype(col) \
                or isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(col):
            out.append(_categorical(name, col, min_rows))
        # other dtypes (dates, durations) have no predicates here; list a derived column instead
    return out


def _distinct_above(col: pd.Series, k: int) -> bool:
    """Whether the column has more than k distinct values (a sample usually answers)."""
    return bool(col.iloc[:10_000].nunique(dropna=True) > k or col.nunique(dropna=True) > k)


def _numeric(name: str, col: pd.Series, exact: bool = False) -> Feature:
    x = col.to_numpy(dtype=np.float64, na_value=np.nan)
    present = x[~np.isnan(x)]
    # edges are rounded to 2 digits anyway
    sample = present if exact else present[:: max(1, len(present) // QUANTILE_SAMPLE)]
    qs = np.quantile(sample, QUANTILES) if len(present) else np.array([])
    edges = numeric_edges([float(q) for q in qs], float(present.min()) if len(present) else None,
                          float(present.max()) if len(present) else None)
    codes = np.searchsorted(edges, x, side="right").astype(np.int32)
    codes[np.isnan(x)] = len(edges) + 1
    return numeric_feature(name, edges, codes)


def numeric_edges(quantiles: list[float], low: float | None, high: float | None) -> np.ndarray:
    """The bin edges from a column's quantiles (rounded to 2 digits) inside (min, max]
    (None: the column has no present value)."""
    edges = np.unique([_nice(q) for q in quantiles])
    return edges[(edges > low) & (edges <= high)] if low is not None and high is not None else edges


def numeric_feature(name: str, edges: np.ndarray, codes: np.ndarray) -> Feature:
    """A numeric column's predicates over its bins (codes: bin of every row by `edges`, side
    right; len(edges) + 1 for missing)."""
    nb = len(edges) + 1
    preds: list[Predicate] = []
    rows: list[np.ndarray] = []

    def add(pred: Predicate, cells: range) -> None:
        m = np.zeros(nb + 1)
        m[list(cells)] = 1.0
        preds.append(pred)
        rows.append(m)

    for i in range(nb):  # the bins
        if nb == 1:
            add(Predicate(name, "range", "all", f"{name} is present"), range(0, 1))
        elif i == 0:
            add(Predicate(name, "<", _fmt(edges[0]), f"{name} < {_fmt(edges[0])}"), range(0, 1))
        elif i == nb - 1:
            add(Predicate(name, ">=", _fmt(edges[-1]), f"{name} ≥ {_fmt(edges[-1])}"), range(i, i + 1))
        else:
            lo, hi = _fmt(edges[i - 1]), _fmt(edges[i])
            add(Predicate(name, "range", f"[{lo}, {hi})", f"{lo} ≤ {name} < {hi}"), range(i, i + 1))
    for i in range(1, len(edges)):  # thresholds that span bins
        add(Predicate(name, "<", _fmt(edges[i]), f"{name} < {_fmt(edges[i])}"), range(0, i + 1))
    for i in range(len(edges) - 1):
        add(Predicate(name, ">=", _fmt(edges[i]), f"{name} ≥ {_fmt(edges[i])}"), range(i + 1, nb))
    add(Predicate(name, "missing", "", f"{name} is missing"), range(nb, nb + 1))
    return Feature(name, codes, preds, np.array(rows))


def categorical_feature(name: str, kept: list[str], rare: int, shown: str, codes: np.ndarray) -> Feature:
    """A categorical column's predicates: one per kept value, the pooled rare values, missing
    (codes: the kept value's index, len(kept) for a rare value, len(kept) + 1 for missing)."""
    preds = [Predicate(name, "=", t, f"{name} = {t}") for t in kept]
    preds.append(Predicate(name, "in", shown, f"{name} is one of {rare} rare values ({shown})"))
    preds.append(Predicate(name, "missing", "", f"{name} is missing"))
    return Feature(name, codes, preds, np.eye(len(preds)))


def _categorical(name: str, col: pd.Series, min_rows: int) -> Feature:
    codes, uniques = pd.factorize(col, sort=False, use_na_sentinel=True)
    texts = [str(u) for u in uniques]
    counts = np.bincount(codes[codes >= 0], minlength=len(texts))
    by_text: dict[str, int] = {}
    for t, c in zip(texts, counts, strict=True):
        by_text[t] = by_text.get(t, 0) + int(c)
    ranked = sorted(by_text, key=lambda t: (-by_text[t], t))
    kept = [t for t in ranked if by_text[t] >= min_rows][:MAX_VALUES]
    rare = [t for t in ranked if t not in set(kept)]
    index = {t: i for i, t in enumerate(kept)}
    pooled = len(kept)
    remap = np.array([index.get(t, pooled) for t in texts] + [pooled + 1], dtype=np.int32)
    shown = ", ".join(rare[:3]) + (", …" if len(rare) > 3 else "")
    return categorical_feature(name, kept, len(rare), shown, remap[codes])


# ---------------------------------------------------------------- search


PairTables = tuple[np.ndarray, np.ndarray, np.ndarray | None]


class Aggregates(Protocol):
    """Grouped sums of the loss difference d over the search half, by the features' cells.

    `search` needs nothing else of the rows: the numpy engine computes them with bincounts
    (`NumpyAggregates`), the SQL engines with GROUP BY (bot.evaluation.engines.slices_sql)."""

    rows: int  # rows of the search half
    sigma: float  # population standard deviation of d on them

    def cells(self, fi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per cell of feature fi: rows, sum(d), sum(max(d, 0))."""
        ...

    def pairs(self, wanted: list[tuple[int, int]], positive: bool) -> Iterator[PairTables]:
        """Per wanted pair (fi, gi), in order: [cells of fi, cells of gi] tables of rows, sum(d)
        and (when `positive`) sum(max(d, 0))."""
        ...

    def within(self, fi: int, a: int, gi: int, b: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Per cell of feature hi, over the rows where predicate a of fi and b of gi hold: rows, sum(d)."""
        ...


class NumpyAggregates:
    """`Aggregates` from the per-row codes and d (bincounts)."""

    def __init__(self, features: list[Feature], d: np.ndarray) -> None:
        self.features = features
        self.d = d
        self.dpos = np.maximum(d, 0.0)
        self.rows = len(d)
        self.sigma = float(d.std()) if len(d) else float("nan")
        self._parent: tuple[int, int, int, int] | None = None
        self._rows = np.empty(0, dtype=np.int64)

    def cells(self, fi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = self.features[fi]
        return (np.bincount(f.codes, minlength=f.cells), np.bincount(f.codes, weights=self.d, minlength=f.cells),
                np.bincount(f.codes, weights=self.dpos, minlength=f.cells))

    def pairs(self, wanted: list[tuple[int, int]], positive: bool) -> Iterator[PairTables]:
        for fi, gi in wanted:
            f, g = self.features[fi], self.features[gi]
            cells = f.cells * g.cells
            code = f.codes.astype(np.int64) * g.cells + g.codes

            def table(w: np.ndarray | None, f: Feature = f, g: Feature = g, code: np.ndarray = code,
                      cells: int = cells) -> np.ndarray:
                return np.bincount(code, weights=w, minlength=cells).reshape(f.cells, g.cells)

            yield table(None), table(self.d), table(self.dpos) if positive else None

    def within(self, fi: int, a: int, gi: int, b: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if self._parent != (fi, a, gi, b):
            self._rows = np.flatnonzero(self.features[fi].holds(a) & self.features[gi].holds(b))
            self._parent = (fi, a, gi, b)
        h = self.features[hi]
        ch = h.codes[self._rows]
        return np.bincount(ch, minlength=h.cells), np.bincount(ch, weights=self.d[self._rows], minlength=h.cells)


def search(features: list[Feature], d: np.ndarray | Aggregates, min_rows: int, max_depth: int,
           pool: int = SEARCH_POOL) -> tuple[list[Candidate], int]:
    """The best candidate slices by score (highest first) and how many slices were scored.

    `d` is the per-row loss difference on the search half, row-aligned with the features'
    codes, or its grouped sums (`Aggregates`). A candidate has at least `min_rows` rows and
    beats each of its parents' scores.
    """
    agg: Aggregates = NumpyAggregates(features, d) if isinstance(d, np.ndarray) else d
    sigma = agg.sigma
    if agg.rows < 2 or not sigma > 0:
        return [], 0
    best: list[tuple[float, int, tuple[tuple[int, int], ...]]] = []  # min-heap of the pool
    scored = 0

    def offer(score: float, rows: int, terms: tuple[tuple[int, int], ...]) -> None:
        item = (score, rows, terms)
        if len(best) < pool:
            heapq.heappush(best, item)
        elif score > best[0][0]:
            heapq.heapreplace(best, item)

    def floor() -> float:
        return best[0][0] if len(best) >= pool else 0.0

    def bound(pos: np.ndarray) -> np.ndarray:
        # any sub-slice with >= min_rows rows: sum(d) <= sum(d+) of the parent, sqrt(n) >= sqrt(min_rows)
        return pos / (sigma * math.sqrt(min_rows))

    # level 1: one grouped sum per column
    z1: list[np.ndarray] = []
    valid1: list[tuple[np.ndarray, np.ndarray]] = []
    for fi, f in enumerate(features):
        M = f.member
        n_cells, d_cells, pos_cells = agg.cells(fi)
        cnt = M @ n_cells
        s = M @ d_cells
        pos = M @ pos_cells
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(cnt > 0, s / (sigma * np.sqrt(cnt)), -np.inf)
        ok = cnt >= min_rows
        scored += int(ok.sum())
        z1.append(np.where(ok, z, -np.inf))
        for c in np.flatnonzero(ok & (z > 0)):
            offer(float(z[c]), int(cnt[c]), ((fi, int(c)),))
        valid1.append((ok, bound(pos)))
    if max_depth < 2:
        return _ranked(best), scored
    cut = floor()
    open1 = [ok & (bnd > cut) for ok, bnd in valid1]  # the parents worth extending
    # level 2: every pair of columns with open parents, one grouped sum per pair
    wanted = [(fi, gi) for fi in range(len(features)) if open1[fi].any()
              for gi in range(fi + 1, len(features)) if open1[gi].any()]
    pairs: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for (fi, gi), (t_cnt, t_d, t_pos) in zip(wanted, agg.pairs(wanted, max_depth >= 3), strict=True):
        f, g = features[fi], features[gi]
        kg = len(g.predicates)

        def table(t: np.ndarray, f: Feature = f, g: Feature = g) -> np.ndarray:
            return np.asarray(f.member @ t @ g.member.T).ravel()  # [predicate of f, predicate of g]

        cnt = np.rint(table(t_cnt))
        s = table(t_d)
        allowed = (open1[fi][:, None] & open1[gi][None, :]).ravel() & (cnt >= min_rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(allowed, s / (sigma * np.sqrt(np.maximum(cnt, 1))), -np.inf)
        scored += int(allowed.sum())
        parent = np.maximum(np.repeat(z1[fi], kg), np.tile(z1[gi], len(f.predicates)))
        for c in np.flatnonzero(allowed & (z > parent) & (z > cut)):
            offer(float(z[c]), int(cnt[c]), ((fi, int(c // kg)), (gi, int(c % kg))))
        if max_depth >= 3:
            assert t_pos is not None
            pairs[(fi, gi)] = (z, cnt, bound(table(t_pos)))
    if max_depth < 3:
        return _ranked(best), scored
    # level 3: extend the open pairs whose bound can still reach the pool, best bound first
    cut = floor()
    opened = []
    for (fi, gi), (_z, cnt, bnd) in pairs.items():
        kg = len(features[gi].predicates)
        for c in np.flatnonzero((cnt >= min_rows) & (bnd > cut)):
            opened.append((float(bnd[c]), fi, int(c // kg), gi, int(c % kg)))
    opened.sort(reverse=True)
    for bnd_value, fi, a, gi, b in opened[:MAX_EXPAND]:
        if bnd_value <= floor():
            break
        z_parent = pairs[(fi, gi)][0][a * len(features[gi].predicates) + b]
        for hi in range(gi + 1, len(features)):
            h = features[hi]
            kh = len(h.predicates)
            n_cells, d_cells = agg.within(fi, a, gi, b, hi)
            cnt = np.rint(h.member @ n_cells)
            s = h.member @ d_cells
            allowed = open1[hi] & (cnt >= min_rows)
            scored += int(allowed.sum())
            with np.errstate(invalid="ignore", divide="ignore"):
                z = np.where(allowed, s / (sigma * np.sqrt(np.maximum(cnt, 1))), -np.inf)
            for c in np.flatnonzero(allowed & (z > floor())):
                zf = pairs.get((fi, hi), (None,))[0]
                zg = pairs.get((gi, hi), (None,))[0]
                ps = [float(z_parent), float(z1[hi][c])]
                if zf is not None:
                    ps.append(float(zf[a * kh + c]))
                if zg is not None:
                    ps.append(float(zg[b * kh + c]))
                if z[c] > max(ps):
                    offer(float(z[c]), int(cnt[c]), ((fi, a), (gi, b), (hi, int(c))))
    return _ranked(best), scored


def _ranked(best: list[tuple[float, int, tuple[tuple[int, int], ...]]]) -> list[Candidate]:
    return [Candidate(s, n, t) for s, n, t in sorted(best, key=lambda x: (-x[0], x[2]))]


def mask_of(features: list[Feature], terms: tuple[tuple[int, int], ...], rows: np.ndarray | None = None) -> np.ndarray:
    """Which rows (all, or the given row positions) the conjunction holds on."""
    m: np.ndarray | None = None
    for fi, c in terms:
        hit = features[fi].holds(c, None if rows is None else features[fi].codes[rows])
        m = hit if m is None else (m & hit)
    assert m is not None
    return m


# ---------------------------------------------------------------- confirmation


def holm(p: list[float]) -> list[float]:
    """Holm-adjusted p-values in input order (step-down; family-wise error at any dependence)."""
    m = len(p)
    q = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=p.__getitem__)):
        running = max(running, min(1.0, p[i] * (m - rank)))
        q[i] = running
    return q


def key_half(keys: np.ndarray, seed: int) -> np.ndarray:
    """Whether each row is in the search half, from its id alone: the first hex digit of
    md5("<seed>|<id as text>") is below 8 (`slices_sql.half_sql` is the same test in SQL)."""
    prefix = f"{seed}|"
    return np.fromiter((hashlib.md5((prefix + str(k)).encode(), usedforsecurity=False).digest()[0] < 128 for k in keys),
                       dtype=bool, count=len(keys))


def loss_rows(task: str, y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per-row loss the search and the test use: log loss (classification), squared error (regression)."""
    if task == "binary":
        return M.binary_log_loss_rows(y, scores)
    if task == "multiclass":
        return M.multiclass_log_loss_rows(y, scores)
    return np.asarray((y - scores) ** 2, dtype=np.float64)


def discover(
    frame: pd.DataFrame,
    scored: Scored,
    *,
    label: str,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    max_depth: int = 2,
    min_rows: int = 200,
    top_k: int = 5,
    level: float = 0.05,
    metrics: list[str] | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    segments: list[Any] | None = None,
    key: np.ndarray | None = None,
) -> Discovery:
    """Search one seeded half of the holdout, confirm on the other; see the module docstring.

    `scored` holds validated labels and both models' scores, row-aligned with `frame`.
    `min_rows` counts rows of the whole holdout (each half needs about half of them).
    `2 * top_k` slices go to confirmation; Holm at `level` decides which hold.
    `key`: the rows' ids; the halves are then split by a hash of the id (`key_half`) and the
    numeric bins taken from every value, so that a SQL engine, which has no row order, finds
    the same slices (bot.evaluation.engines.slices_sql).
    """
    if scored.base is None:
        raise DiscoveryError("discovery compares the candidate with a baseline; there is none")
    if max_depth not in (1, 2, 3):
        raise DiscoveryError(f"discovery.max_depth must be 1, 2 or 3 (got {max_depth})")
    n = len(frame)
    cols = feature_columns(frame, label, columns, list(exclude or []))
    features = build_features(frame, cols, min_rows, exact=key is not None)
    d = loss_rows(scored.task, scored.y, scored.cand) - loss_rows(scored.task, scored.y, scored.base)
    in_search = key_half(key, seed) if key is not None else np.random.default_rng(seed).random(n) < 0.5
    search_idx, confirm_idx = np.flatnonzero(in_search), np.flatnonzero(~in_search)
    half_min = max(2, min_rows // 2)
    search_features = [Feature(f.column, f.codes[search_idx], f.predicates, f.member) for f in features]
    pool, count = search(search_features, d[search_idx], half_min, max_depth)

    configured = build_partitions(frame, list(segments or [])) if segments else []
    picked: list[tuple[Candidate, np.ndarray]] = []
    want = 2 * top_k
    for cand in pool:
        if len(picked) >= want:
            break
        if any(set(cand.terms) < set(other.terms) for other, _ in picked):
            continue  # an ancestor of a slice that concentrates the regression better
        m_search = mask_of(search_features, cand.terms)
        if any(_jaccard(m_search, other) > OVERLAP for _, other in picked):
            continue
        full = mask_of(features, cand.terms)
        if int(full.sum()) < min_rows or _is_configured(full, configured):
            continue
        picked.append((cand, m_search))

    # scipy only when discovery runs (the CLI's import time counts)
    from scipy.stats import t as student_t

    d_conf = d[confirm_idx]
    conf_scored = Scored(scored.task, scored.y[confirm_idx], scored.cand[confirm_idx], scored.base[confirm_idx],
                         scored.n_classes)
    total = float(d_conf.sum())
    zc = z_quantile(confidence)
    found: list[Found] = []
    explained = np.zeros(len(confirm_idx), dtype=bool)
    for cand, _ in picked:
        m = mask_of(features, cand.terms, confirm_idx)
        rows_c = np.flatnonzero(m)
        dc = d_conf[rows_c]
        k = len(dc)
        mean = float(dc.mean()) if k else float("nan")
        se = float(dc.std(ddof=1) / math.sqrt(k)) if k > 1 else float("nan")
        ci: tuple[float | None, float | None] = (mean - zc * se, mean + zc * se) if k > 1 and se > 0 else (None, None)
        # the test leaves out the rows of better-scored slices: a slice that is worse only because it
        # overlaps one found before (a bin of another column cutting through it) is not a finding of its own
        own = d_conf[m & ~explained]
        explained |= m
        k_own = len(own)
        se_own = float(own.std(ddof=1) / math.sqrt(k_own)) if k_own > 1 else float("nan")
        p = float(student_t.sf(float(own.mean()) / se_own, k_own - 1)) if k_own > 1 and se_own > 0 else 1.0
        stats = _slice_metrics(conf_scored, m, metrics or [], confidence) if k > 1 else []
        found.append(Found(
            predicates=[features[fi].predicates[c] for fi, c in cand.terms],
            rows=int(mask_of(features, cand.terms).sum()), search_rows=cand.rows, confirm_rows=k,
            score=cand.score, loss_delta=mean, loss_ci=ci, p_value=p,
            share=(float(dc.sum()) / total) if total > 0 else None, metrics=stats,
        ))
    qs = holm([f.p_value if f.p_value is not None else 1.0 for f in found])
    for f, q in zip(found, qs, strict=True):
        f.q_value = q
        f.confirmed = q <= level
    found.sort(key=lambda f: (not f.confirmed, f.q_value if f.q_value is not None else 1.0, -f.score))
    return Discovery(cols, "squared_error" if scored.task == "regression" else "log_loss", level, seed,
                     max_depth, min_rows, len(search_idx), len(confirm_idx), count, found, top_k)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    inter = int(np.count_nonzero(a & b))
    union = int(np.count_nonzero(a | b))
    return inter / union if union else 0.0


def _is_configured(mask: np.ndarray, partitions: list[Any]) -> bool:
    """Whether the rows are mostly one configured segment (Jaccard overlap above OVERLAP): the
    segment table shows that segment already, and the gate tests it."""
    size = int(mask.sum())
    for part in partitions:
        inter = np.bincount(part.codes[mask], minlength=len(part.values))
        with np.errstate(invalid="ignore", divide="ignore"):
            jaccard = inter / (size + part.sizes - inter)
        if size and float(np.nanmax(jaccard)) > OVERLAP:
            return True
    return False


def _slice_metrics(scored: Scored, mask: np.ndarray, metrics: list[str], confidence: float) -> list[Stat]:
    """The model's metrics on the slice's confirmation rows, paired as everywhere else.

    The slice's rows in score order are the half's score order filtered by the mask (linear),
    so each slice costs no sort of its own."""
    if not metrics:
        return []
    assert scored.base is not None
    rows = np.flatnonzero(mask)
    sub = Scored(scored.task, scored.y[rows], scored.cand[rows], scored.base[rows], scored.n_classes)
    if scored.task == "binary":
        position = np.cumsum(mask) - 1  # a slice row's index in `rows`
        for who in ("candidate", "baseline"):
            order = scored.order(who)
            sub._cached(("order", who), partial(np.asarray, position[order[mask[order]]]))
    groups = Groups(np.zeros(len(rows), dtype=np.int64), 1, [""])
    return compare_partition(sub, groups, list(metrics), confidence)[0]


def discover_models(
    frame: pd.DataFrame, *, task: str, label: str, candidate: np.ndarray, baseline: np.ndarray,
    classes: list[Any] | None, **settings: Any,
) -> Discovery:
    """`discover` from raw scores, validated as `compare_models` validates them."""
    from bot.evaluation import _labels, _scores

    y, classes = _labels(frame[label], task, classes)
    cand = _scores(candidate, "candidate", task, len(frame), classes)
    base = _scores(baseline, "baseline", task, len(frame), classes)
    scored = Scored(task, y, cand, base, len(classes) if classes is not None else 0)
    return discover(frame, scored, label=label, **settings)
