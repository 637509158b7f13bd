"""Slice discovery on the SQL engines (issue #18): the search and confirmation of
`bot.evaluation.discovery`, from aggregates that DuckDB and Spark compute.

Discovery needs the rows only through grouped sums, so nothing per row leaves the engine:

- the columns' predicates: distinct counts (id-like columns, numeric or categorical), the
  quantiles of the numeric columns (every present value: `percentile_cont`) and the most
  frequent values of the categorical ones;
- the search (`discovery.search`, in Python): per feature cell, per pair of cells (GROUPING
  SETS, a batch of column pairs per scan) and, at depth 3, per triple of cells, the rows,
  sum(d) and sum(max(d, 0)) of the loss difference d on the search half;
- the choice of slices to test: their rows, their overlaps on the search half and with the
  configured segments (one scan per batch of candidates);
- the test: per slice, the count, sum and sample variance of d on the confirmation half, of
  its rows and of its rows outside better-scored slices; the metrics on those rows come from
  the engine's paired machinery (`SqlEngine.partition_stats`), one partition per slice.

A SQL table has no row order, so the halves are split by a hash of the id (`key_half`), and
the numeric bins come from exact quantiles; `discover(..., key=ids)` does the same in numpy,
and the two give the same slices and statistics (tests/evaluation/test_slices_sql.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bot.evaluation import EvaluationError
from bot.evaluation.discovery import (
    MAX_COLUMNS,
    MAX_VALUES,
    OVERLAP,
    QUANTILES,
    Candidate,
    Discovery,
    DiscoveryError,
    Feature,
    Found,
    PairTables,
    categorical_feature,
    holm,
    numeric_edges,
    numeric_feature,
    search,
)
from bot.evaluation.engines import Progress, Request, TableSource
from bot.evaluation.engines.sql import (
    HOLDOUT,
    ROWS,
    Kind,
    Partition,
    SqlEngine,
    SqlPlan,
    Steps,
    _f,
    _Key,
)
from bot.evaluation.paired import Stat, z_quantile

__all__ = ["SLICES", "discover_sql", "half_sql"]

SLICES = "mlgate_slices"
PAIR_BATCH = 64  # column pairs per GROUPING SETS scan
TRIPLE_CACHE = 16  # column pairs whose depth-3 tables are kept (one scan each)
PICK_BATCH = 16  # candidates whose overlaps one scan computes
FETCH_VALUES = 1000  # most frequent values of a categorical column read back (kept ones are within the first 53)


def half_sql(engine: SqlEngine, key_expr: str, seed: int) -> str:
    """Whether a row is in the search half: `discovery.key_half` in SQL."""
    prefix = engine.dialect.literal(f"{seed}|")
    return f"(SUBSTR(MD5(CONCAT({prefix}, CAST({key_expr} AS STRING))), 1, 1) < '8')"


@dataclass
class _Column:
    """A feature as SQL: the cell code expression over the holdout (alias h)."""

    feature: Feature
    expr: str

    def holds(self, k: int, col: str) -> str:
        """SQL: predicate k holds on the row whose cell code is in `col`."""
        cells = np.flatnonzero(self.feature.member[k])
        return f"{col} IN ({', '.join(str(int(c)) for c in cells)})" if len(cells) else "FALSE"


def discover_sql(
    engine: SqlEngine,
    holdout: TableSource,
    request: Request,
    *,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    max_depth: int = 2,
    min_rows: int = 200,
    top_k: int = 5,
    level: float = 0.05,
    metrics: list[str] | None = None,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Progress | None = None,
) -> Discovery:
    """`discovery.discover` on the engine's tables; `request` names the label, scores, id and
    the configured segments (its metrics are not used: `metrics` are the slices'). The id
    column is never a feature."""
    try:
        return _discover(engine, holdout, request, columns, list(exclude or []), max_depth, min_rows, top_k, level,
                         list(metrics or []), confidence, seed, progress)
    except (EvaluationError, DiscoveryError):
        raise
    except Exception as exc:
        err = engine.translate(exc)
        if err is None:
            raise
        raise err from None


def _discover(engine: SqlEngine, holdout: TableSource, request: Request, columns: list[str] | None,
              exclude: list[str], max_depth: int, min_rows: int, top_k: int, level: float, metrics: list[str],
              confidence: float, seed: int, progress: Progress | None) -> Discovery:
    if request.baseline is None:
        raise DiscoveryError("discovery compares the candidate with a baseline; there is none")
    if max_depth not in (1, 2, 3):
        raise DiscoveryError(f"discovery.max_depth must be 1, 2 or 3 (got {max_depth})")
    if request.key is None:
        raise DiscoveryError("discovery on a SQL engine splits the holdout by id: set `id` (the id column)")
    step = Steps(progress)
    plan = engine.prepare(holdout, request, step)
    q = engine.dialect.q
    n = int(_num(engine.query(f"SELECT COUNT(*) FROM {HOLDOUT}")[0][0]))
    cols = _feature_columns(engine, plan, n, columns, [*exclude, request.key])
    step("discovery: the columns' values")
    feats = _build_features(engine, plan, cols, min_rows)
    half = half_sql(engine, f"h.{q(request.key)}", seed)
    _register_slices(engine, plan, feats, half)

    step("discovery: searching half of the holdout")
    agg = SqlAggregates(engine, [c.feature for c in feats])
    half_min = max(2, min_rows // 2)
    pool, count = search([c.feature for c in feats], agg, half_min, max_depth)
    search_rows = agg.rows

    step("discovery: choosing slices to test")
    picked = _pick(engine, plan, feats, pool, 2 * top_k, min_rows)
    step("discovery: testing on the other half")
    found = _confirm(engine, plan, feats, picked, metrics, confidence, half, step)
    qs = holm([f.p_value if f.p_value is not None else 1.0 for f in found])
    for f, qv in zip(found, qs, strict=True):
        f.q_value = qv
        f.confirmed = qv <= level
    found.sort(key=lambda f: (not f.confirmed, f.q_value if f.q_value is not None else 1.0, -f.score))
    return Discovery(cols, "squared_error" if request.task == "regression" else "log_loss", level, seed,
                     max_depth, min_rows, search_rows, n - search_rows, count, found, top_k)


def _num(v: object) -> float:
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]


# ---------------------------------------------------------------- columns and predicates


def _present(engine: SqlEngine, col: str, kind: Kind) -> str:
    """The column over alias h, NaN as NULL (pandas counts NaN as missing)."""
    c = f"h.{engine.dialect.q(col)}"
    return f"CASE WHEN isnan({c}) THEN NULL ELSE {c} END" if kind == "float" else c


def _feature_columns(engine: SqlEngine, plan: SqlPlan, n: int, columns: list[str] | None,
                     exclude: list[str]) -> list[str]:
    """`discovery.feature_columns` on the holdout's columns (id-like: all values distinct)."""
    label = plan.request.label
    names = list(plan.holdout_cols)
    if columns is not None:
        missing = [c for c in columns if c not in plan.holdout_cols]
        if missing:
            raise DiscoveryError(
                f"discovery.columns {missing[:10]} are not in the holdout; available: "
                f"{', '.join(names[:30])}. Fix discovery.columns in the model's config")
        chosen = [c for c in columns if c != label and c not in exclude]
    else:
        rest = [c for c in names if c != label and c not in exclude]
        named = {c for c in rest if c.lower() == "id" or c.lower().endswith(("_id", " id"))}
        test = [c for c in rest if c not in named and plan.holdout_cols[c] != "float" and n > 100]
        unique: set[str] = set()
        if test:
            q = engine.dialect.q
            row = engine.query(f"SELECT {', '.join(f'COUNT(DISTINCT h.{q(c)})' for c in test)} FROM {HOLDOUT} h")[0]
            unique = {c for c, v in zip(test, row, strict=True) if int(_num(v)) == n}
        chosen = [c for c in rest if c not in named and c not in unique]
    if len(chosen) > MAX_COLUMNS:
        raise DiscoveryError(f"discovery would slice {len(chosen)} columns; the limit is {MAX_COLUMNS}. "
                             "List the ones that matter in discovery.columns or drop some with discovery.exclude")
    return chosen


def _build_features(engine: SqlEngine, plan: SqlPlan, cols: list[str], min_rows: int) -> list[_Column]:
    """`discovery.build_features(exact=True)`: numeric bins or categorical values per column."""
    kinds = {c: plan.holdout_cols[c] for c in cols if plan.holdout_cols[c] != "other"}
    if not kinds:
        return []
    names = list(kinds)
    stats = engine.query("SELECT " + ", ".join(
        f"COUNT(DISTINCT {_present(engine, c, kinds[c])}), "
        f"SUM(CASE WHEN {_present(engine, c, kinds[c])} IS NULL THEN 1 ELSE 0 END)" for c in names)
        + f" FROM {HOLDOUT} h")[0]
    distinct = {c: int(_num(stats[2 * i])) for i, c in enumerate(names)}
    nulls = {c: int(_num(stats[2 * i + 1])) for i, c in enumerate(names)}
    numeric = [c for c in names if kinds[c] in ("int", "float") and distinct[c] > 12]
    edges: dict[str, np.ndarray] = {}
    if numeric:
        parts = []
        for c in numeric:
            x = f"CAST({_present(engine, c, kinds[c])} AS DOUBLE)"
            parts += [f"percentile_cont({qt!r}) WITHIN GROUP (ORDER BY {x})" for qt in QUANTILES.tolist()]
            parts += [f"MIN({x})", f"MAX({x})"]
        row = engine.query(f"SELECT {', '.join(parts)} FROM {HOLDOUT} h")[0]
        width = len(QUANTILES) + 2
        for i, c in enumerate(numeric):
            vals = [_num(v) for v in row[i * width:(i + 1) * width]]
            present = distinct[c] > 0
            edges[c] = numeric_edges(vals[:-2] if present else [], vals[-2] if present else None,
                                     vals[-1] if present else None)
    out: list[_Column] = []
    for c in names:
        x = _present(engine, c, kinds[c])
        if c in edges:
            e = edges[c]
            xd = f"CAST({x} AS DOUBLE)"
            whens = [f"WHEN {xd} IS NULL THEN {len(e) + 1}"] + [f"WHEN {xd} < {_f(float(v))} THEN {i}"
                                                                 for i, v in enumerate(e)]
            out.append(_Column(numeric_feature(c, e, np.empty(0, dtype=np.int32)),
                               f"CASE {' '.join(whens)} ELSE {len(e)} END"))
        else:
            out.append(_categorical(engine, c, x, kinds[c], nulls[c] > 0, distinct[c], min_rows))
    return out


def _categorical(engine: SqlEngine, name: str, x: str, kind: Kind, has_null: bool, distinct: int,
                 min_rows: int) -> _Column:
    """The most frequent values (by count, then text, as `discovery._categorical` ranks them)."""
    rows = engine.query(f"SELECT {x} AS v, COUNT(*) AS n FROM {HOLDOUT} h WHERE {x} IS NOT NULL GROUP BY {x} "
                        f"ORDER BY 2 DESC, CAST({x} AS STRING) LIMIT {FETCH_VALUES}")
    float_text = kind == "int" and has_null  # pandas reads an int column with nulls as float

    def text(v: object) -> str:
        return str(float(v)) if float_text and isinstance(v, int) else str(v)  # type: ignore[arg-type]

    ranked = sorted(((int(_num(r[1])), text(r[0]), r[0]) for r in rows), key=lambda t: (-t[0], t[1]))
    kept = [t for t in ranked if t[0] >= min_rows][:MAX_VALUES]
    rare = ranked[len(kept):]
    n_rare = distinct - len(kept)
    shown = ", ".join(t[1] for t in rare[:3]) + (", …" if n_rare > 3 else "")
    lit = engine.dialect.literal
    whens = [f"WHEN {x} IS NULL THEN {len(kept) + 1}"] + [f"WHEN {x} = {lit(t[2])} THEN {i}"
                                                           for i, t in enumerate(kept)]
    feature = categorical_feature(name, [t[1] for t in kept], n_rare, shown, np.empty(0, dtype=np.int32))
    return _Column(feature, f"CASE {' '.join(whens)} ELSE {len(kept)} END")


def _loss_diff(plan: SqlPlan) -> str:
    """Per-row loss difference (candidate minus baseline) over the normalised columns."""
    if plan.request.task == "regression":
        return "(y - c0) * (y - c0) - (y - b0) * (y - b0)"
    return f"{plan._loss('log_loss', 'c')} - {plan._loss('log_loss', 'b')}"


def _register_slices(engine: SqlEngine, plan: SqlPlan, feats: list[_Column], half: str) -> None:
    """The view the search and the choice scan: half, d, every feature's cell code and every
    configured segment's key columns."""
    q, r = engine.dialect.q, plan.request
    src, _ = plan._score_source()
    inner = [f"{plan.label_expr()} AS y", f"{half} AS half"]
    inner += [f"CAST({src}.{q(c)} AS DOUBLE) AS c{i}" for i, c in enumerate(r.candidate)]
    inner += [f"CAST({src}.{q(c)} AS DOUBLE) AS b{i}" for i, c in enumerate(r.baseline or ())]
    inner += [f"{c.expr} AS f{i}" for i, c in enumerate(feats)]
    keys = []
    for pi, part in enumerate(plan.partitions):
        for i, key in enumerate(part.keys):
            inner.append(f"{key.expr} AS p{pi}k{i}")
            keys.append(f"p{pi}k{i}")
    outer = ["half", f"{_loss_diff(plan)} AS d", *[f"CAST(f{i} AS SMALLINT) AS f{i}" for i in range(len(feats))],
             *keys]
    sql = f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {plan.source_sql()}) t"
    if engine.name == "duckdb":
        # scanned ten times or more: the join, the hash and the codes once (DuckDB spills it beyond its memory)
        engine.query(f"CREATE OR REPLACE TEMPORARY TABLE {SLICES} AS {sql}")
    else:
        engine.register_sql(SLICES, sql)


# ---------------------------------------------------------------- the search's sums


class SqlAggregates:
    """`discovery.Aggregates` from GROUP BY over the search half of SLICES."""

    def __init__(self, engine: SqlEngine, features: list[Feature]) -> None:
        self.engine = engine
        self.features = features
        F = len(features)
        fs = [f"f{i}" for i in range(F)]
        self._cells = [np.zeros((3, f.cells)) for f in features]
        sets = ", ".join([*(f"({c})" for c in fs), "()"])
        sel = ", ".join([*fs, "COUNT(*)", "SUM(d)", "SUM(GREATEST(d, 0))", "STDDEV_POP(d)"])
        self.rows, self.sigma = 0, float("nan")
        for row in engine.query(f"SELECT {sel} FROM {SLICES} WHERE half GROUP BY GROUPING SETS ({sets})"):
            which = [i for i in range(F) if row[i] is not None]
            vals = [_num(v) for v in row[F:]]
            if not which:
                self.rows, self.sigma = int(vals[0]), vals[3]
                continue
            self._cells[which[0]][:, int(row[which[0]])] = vals[:3]  # type: ignore[call-overload]
        self._triples: dict[tuple[int, int], dict[int, np.ndarray]] = {}

    def cells(self, fi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self._cells[fi]
        return t[0], t[1], t[2]

    def _grouped(self, sets: Sequence[tuple[int, ...]], positive: bool) -> dict[tuple[int, ...], np.ndarray]:
        """[sums, cells...] arrays per grouping set of feature indices (sums: rows, d, d+)."""
        used = sorted({i for s in sets for i in s})
        sel = [f"f{i}" for i in used] + ["COUNT(*)", "SUM(d)"] + (["SUM(GREATEST(d, 0))"] if positive else [])
        grouping = ", ".join("(" + ", ".join(f"f{i}" for i in s) + ")" for s in sets)
        out = {s: np.zeros((len(sel) - len(used), *(self.features[i].cells for i in s))) for s in sets}
        for row in self.engine.query(f"SELECT {', '.join(sel)} FROM {SLICES} WHERE half "
                                     f"GROUP BY GROUPING SETS ({grouping})"):
            which = tuple(i for j, i in enumerate(used) if row[j] is not None)
            cell = tuple(int(row[used.index(i)]) for i in which)  # type: ignore[call-overload]
            out[which][(slice(None), *cell)] = [_num(v) for v in row[len(used):]]
        return out

    def pairs(self, wanted: list[tuple[int, int]], positive: bool) -> Iterator[PairTables]:
        for start in range(0, len(wanted), PAIR_BATCH):
            batch = wanted[start:start + PAIR_BATCH]
            tables = self._grouped(list(batch), positive)
            for pair in batch:
                t = tables[pair]
                yield t[0], t[1], t[2] if positive else None

    def within(self, fi: int, a: int, gi: int, b: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if (fi, gi) not in self._triples:
            if len(self._triples) >= TRIPLE_CACHE:
                del self._triples[next(iter(self._triples))]
            sets = [(fi, gi, h) for h in range(gi + 1, len(self.features))]
            self._triples[(fi, gi)] = {s[2]: t for s, t in self._grouped(sets, False).items()}
        t = self._triples[(fi, gi)][hi]
        mf, mg = self.features[fi].member[a], self.features[gi].member[b]
        return np.einsum("i,j,ijk->k", mf, mg, t[0]), np.einsum("i,j,ijk->k", mf, mg, t[1])


# ---------------------------------------------------------------- choice and test


def _conj(feats: list[_Column], terms: tuple[tuple[int, int], ...], over_h: bool = False) -> str:
    """SQL: the conjunction holds (over SLICES' codes, or over the holdout's columns)."""
    parts = [feats[fi].holds(c, f"({feats[fi].expr})" if over_h else f"f{fi}") for fi, c in terms]
    return "(" + " AND ".join(parts) + ")"


@dataclass
class _Picked:
    cand: Candidate
    search: int  # rows on the search half
    rows: int  # rows of the whole holdout


def _pick(engine: SqlEngine, plan: SqlPlan, feats: list[_Column], pool: list[Candidate], want: int,
          min_rows: int) -> list[_Picked]:
    """`discover`'s choice: best first, no ancestor of a picked slice, no overlap above OVERLAP
    on the search half with one picked, at least min_rows rows, not mostly a configured segment."""
    picked: list[_Picked] = []
    masks: list[str] = []
    segs = [(pi, plan._keys(pi)) for pi in range(1, len(plan.partitions))]
    for start in range(0, len(pool), PICK_BATCH):
        if len(picked) >= want:
            break
        batch = pool[start:start + PICK_BATCH]
        bm = [_conj(feats, c.terms) for c in batch]
        # one grouped scan: the rows per combination of memberships (few: the slices nest and overlap)
        flags = [*bm, *masks]
        sel = ", ".join(f"CASE WHEN {m} THEN 1 ELSE 0 END AS m{i}" for i, m in enumerate(flags))
        names = ", ".join(f"m{i}" for i in range(len(flags)))
        combos = np.array([[int(_num(v)) for v in row] for row in engine.query(
            f"SELECT half_i, {names}, COUNT(*) FROM (SELECT CASE WHEN half THEN 1 ELSE 0 END AS half_i, {sel} "
            f"FROM {SLICES}) t GROUP BY half_i, {names}")], dtype=np.int64).reshape(-1, len(flags) + 2)
        half_rows, member, count = combos[:, 0] == 1, combos[:, 1:-1] == 1, combos[:, -1]
        B = len(bm)
        full = [int(count[member[:, i]].sum()) for i in range(B)]
        on_search = [int(count[half_rows & member[:, i]].sum()) for i in range(B)]
        hm = member[half_rows].astype(np.int64)
        both = (hm.T * count[half_rows]) @ hm  # rows of the search half in both slices
        inter_batch = {(i, j): int(both[i, j]) for i in range(B) for j in range(i)}
        inter_old = {(i, k): int(both[i, B + k]) for i in range(B) for k in range(len(masks))}
        configured = _configured(engine, segs, bm, full)
        old = len(picked)
        chosen: list[int] = []
        for i, cand in enumerate(batch):
            if len(picked) >= want:
                break
            if any(set(cand.terms) < set(other.cand.terms) for other in picked):
                continue
            overlaps = [(inter_old[(i, k)], picked[k].search) for k in range(old)]
            overlaps += [(inter_batch[(i, j)], on_search[j]) for j in chosen]
            if any(_over(inter, on_search[i], other) for inter, other in overlaps):
                continue
            if full[i] < min_rows or configured[i]:
                continue
            picked.append(_Picked(cand, on_search[i], full[i]))
            chosen.append(i)
        masks += [bm[i] for i in chosen]
    return picked


def _over(inter: int, a: int, b: int) -> bool:
    union = a + b - inter
    return (inter / union if union else 0.0) > OVERLAP


def _configured(engine: SqlEngine, segs: list[tuple[int, list[str]]], masks: list[str], full: list[int]) -> list[bool]:
    """Per slice: mostly one configured segment (Jaccard above OVERLAP), as `discovery._is_configured`."""
    out = [False] * len(masks)
    for _, keys in segs:
        sums = ", ".join(f"SUM(CASE WHEN {m} THEN 1 ELSE 0 END)" for m in masks)
        for row in engine.query(f"SELECT COUNT(*), {sums} FROM {SLICES} GROUP BY {', '.join(keys)}"):
            size_g = int(_num(row[0]))
            for i, v in enumerate(row[1:]):
                inter = int(_num(v))
                union = full[i] + size_g - inter
                if full[i] and union and inter / union > OVERLAP:
                    out[i] = True
    return out


def _confirm(engine: SqlEngine, plan: SqlPlan, feats: list[_Column], picked: list[_Picked], metrics: list[str],
             confidence: float, half: str, step: Steps) -> list[Found]:
    """Per picked slice, its statistics on the confirmation half (see `discovery.discover`)."""
    from scipy.stats import t as student_t

    masks = [_conj(feats, p.cand.terms) for p in picked]
    sums = ["SUM(d)"]
    for j, m in enumerate(masks):
        own = m if j == 0 else f"({m} AND NOT ({' OR '.join(masks[:j])}))"
        for cond in (m, own):
            sums += [f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)", f"SUM(CASE WHEN {cond} THEN d ELSE 0 END)",
                     f"VAR_SAMP(CASE WHEN {cond} THEN d END)"]
    row = [_num(v) for v in engine.query(f"SELECT {', '.join(sums)} FROM {SLICES} WHERE NOT half")[0]]
    total = row[0] if not math.isnan(row[0]) else 0.0
    zc = z_quantile(confidence)
    found = []
    sized = []
    for j, p in enumerate(picked):
        k, s, var, k_own, s_own, var_own = row[1 + 6 * j:7 + 6 * j]
        k, k_own = int(k), int(k_own)
        mean = s / k if k else float("nan")
        se = math.sqrt(var) / math.sqrt(k) if k > 1 else float("nan")
        ci: tuple[float | None, float | None] = (mean - zc * se, mean + zc * se) if k > 1 and se > 0 else (None, None)
        se_own = math.sqrt(var_own) / math.sqrt(k_own) if k_own > 1 else float("nan")
        pv = float(student_t.sf((s_own / k_own) / se_own, k_own - 1)) if k_own > 1 and se_own > 0 else 1.0
        found.append(Found(
            predicates=[feats[fi].feature.predicates[c] for fi, c in p.cand.terms],
            rows=p.rows, search_rows=p.cand.rows, confirm_rows=k, score=p.cand.score, loss_delta=mean,
            loss_ci=ci, p_value=pv, share=(s / total) if total > 0 else None))
        if k > 1:
            sized.append(j)
    if metrics and sized:
        stats = _slice_metrics(engine, plan, feats, [picked[j] for j in sized], metrics, confidence, half, step)
        for j, st in zip(sized, stats, strict=True):
            found[j].metrics = st
    return found


def _slice_metrics(engine: SqlEngine, plan: SqlPlan, feats: list[_Column], picked: list[_Picked],
                   metrics: list[str], confidence: float, half: str, step: Steps) -> list[list[Stat]]:
    """The metrics on each slice's confirmation rows: one two-group partition per slice."""

    def label(v: object) -> tuple[tuple[Any, ...], str]:
        code = int(v)  # type: ignore[call-overload]
        return (code,), str(code)

    parts = [Partition("", ())]
    for j, p in enumerate(picked):
        expr = f"CASE WHEN NOT {half} AND {_conj(feats, p.cand.terms, over_h=True)} THEN 1 ELSE 0 END"
        parts.append(Partition(f"slice {j}", (_Key(expr, label),)))
    sub = replace(plan, request=replace(plan.request, metrics=tuple(metrics), confidence=confidence, segments=()),
                  partitions=parts)
    engine.register_sql(ROWS, sub.rows_sql())
    out = engine.partition_stats(sub, step)
    stats = []
    for groups in out[1:]:
        inside = [st for lab, _, st in groups if lab == "1"]
        stats.append(inside[0] if inside else [])
    return stats
