"""SQL engines: the paired comparison assembled exactly from aggregates that SQL computes.

`SqlPlan` turns a `Request` into SQL strings over three views (`mlgate_holdout`,
`mlgate_predictions` when scores are joined by key, and the normalised `mlgate_rows`), in a
subset that DuckDB and Spark SQL both accept; `SqlEngine` runs them and assembles the
statistics with the numpy engine's own formulas (`bot.evaluation.paired`), so the numbers
are the same to rounding:

- count metrics: the joint (label, candidate prediction, baseline prediction) table per
  segment, then the numpy delta method on it;
- log_loss, brier, mae: per-segment sums and the sample variance of the paired per-row
  differences;
- roc_auc: DeLong placements per row from window counts over the scores sorted within the
  segment (RANGE frames: ties get midranks), then the variance of the paired placement
  differences per class;
- average_precision: a second window stage (cumulative sums over the same order) gives each
  row's influence; the variance of the paired differences;
- rmse, r2: partition windows give the per-segment mse and label mean, then the variance of
  the paired per-row influences.

Nothing is binned or approximated. A subclass supplies `register`, `columns`, `query` and
`translate` (see bot/evaluation/engines/duckdb_engine.py).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bot.evaluation import ComparisonResult, EvaluationError
from bot.evaluation import metrics as M
from bot.evaluation.engines import Progress, Request, TableSource
from bot.evaluation.paired import (
    Stat,
    count_stats_from_joint,
    count_stats_unpaired,
    make_stat,
    mark_undefined,
    z_quantile,
)
from bot.evaluation.segments import (
    CROSS,
    MISSING,
    OUT_OF_RANGE,
    SegmentError,
    _Bins,
    _Cross,
    _fmt_edge,
    _spec,
)

if TYPE_CHECKING:
    from bot.config import SegmentSpec

__all__ = ["HOLDOUT", "PREDICTIONS", "ROWS", "Dialect", "Partition", "SqlEngine", "SqlPlan", "Steps"]

HOLDOUT, PREDICTIONS, ROWS = "mlgate_holdout", "mlgate_predictions", "mlgate_rows"
PROBABILITY_SUM_TOLERANCE = 1e-3
MAX_CLASSES = 200
Row = tuple[object, ...]
Kind = str  # "bool" | "int" | "float" | "string" | "other"


@dataclass(frozen=True)
class Dialect:
    """The only engine-specific parts of the SQL: identifier quoting and string literals."""

    quote_char: str = '"'
    backslash_escapes: bool = False  # Spark SQL reads \\ in string literals as an escape

    def q(self, name: str) -> str:
        c = self.quote_char
        return c + name.replace(c, c + c) + c

    def literal(self, value: object) -> str:
        if isinstance(value, bool | np.bool_):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | np.integer):
            return str(int(value))
        if isinstance(value, float | np.floating):
            return f"CAST('{float(value)!r}' AS DOUBLE)"
        if isinstance(value, str):
            text = value.replace("\\", "\\\\") if self.backslash_escapes else value
            return "'" + text.replace("'", "''") + "'"
        raise EvaluationError(f"class label {value!r} of type {type(value).__name__} cannot be used by a SQL "
                              "engine; use string or integer labels, or --engine numpy")


def _f(x: float) -> str:
    """A double literal that parses to exactly `x` on every engine."""
    return f"CAST('{x!r}' AS DOUBLE)"


def not_finite(expr: str) -> str:
    return f"({expr} IS NULL OR isnan({expr}) OR ABS({expr}) = CAST('Infinity' AS DOUBLE))"


# ---------------------------------------------------------------- segments as SQL keys


@dataclass(frozen=True)
class _Key:
    """One key column of a partition: its SQL expression and how its values become labels."""

    expr: str
    label: Callable[[object], tuple[tuple[object, ...], str]]  # value -> (sort key, label)


@dataclass(frozen=True)
class Partition:
    title: str
    keys: tuple[_Key, ...]  # () for the whole holdout

    def names(self) -> list[str]:
        return [f"k{i}" for i in range(len(self.keys))]


def _categorical_key(expr: str, kind: Kind, has_null: Callable[[], bool]) -> _Key:
    float_text = kind == "int" and has_null()  # pandas reads an int column with nulls as float

    def label(v: object) -> tuple[tuple[object, ...], str]:
        if v is None:
            return (1, ""), MISSING
        text = str(float(v)) if float_text and isinstance(v, int) else str(v)
        return (0, text), text

    return _Key(expr, label)


def _bins_key(q: str, edges: list[float]) -> _Key:
    nb = len(edges) - 1
    names = [f"[{_fmt_edge(lo)}, {_fmt_edge(hi)}{']' if i == nb - 1 else ')'}"
             for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))]
    whens = [f"WHEN {q} IS NULL OR isnan({q}) THEN {nb + 1}", f"WHEN {q} = {_f(edges[-1])} THEN {nb - 1}",
             f"WHEN {q} < {_f(edges[0])} OR {q} > {_f(edges[-1])} THEN {nb}"]
    whens += [f"WHEN {q} < {_f(hi)} THEN {i}" for i, hi in enumerate(edges[1:])]
    labels = [*names, OUT_OF_RANGE, MISSING]

    def label(v: object) -> tuple[tuple[object, ...], str]:
        code = int(v)  # type: ignore[call-overload]
        return (code,), labels[code]

    return _Key(f"CASE {' '.join(whens)} END", label)


# ---------------------------------------------------------------- the plan


@dataclass
class SqlPlan:
    """SQL strings for one request, over the views HOLDOUT, PREDICTIONS (keyed) and ROWS."""

    request: Request
    dialect: Dialect
    holdout_cols: dict[str, Kind]
    predictions_cols: dict[str, Kind] | None
    classes: list[object] | None = None
    partitions: list[Partition] = field(default_factory=list)

    # ------------------------------------------------------------ columns and rows view

    @property
    def k(self) -> int:
        return 2 if self.request.task == "binary" else len(self.classes or [])

    @property
    def paired(self) -> bool:
        return self.request.baseline is not None

    def _score_source(self) -> tuple[str, dict[str, Kind]]:
        if self.predictions_cols is not None:
            return "p", self.predictions_cols
        return "h", self.holdout_cols

    def check_columns(self) -> None:
        r = self.request
        need = [r.label] + [s for spec in r.segments for s in _columns_of(spec)]
        if r.key is not None:
            need.append(r.key)
        missing = [c for c in dict.fromkeys(need) if c not in self.holdout_cols]
        if missing:
            raise EvaluationError(
                f"column {missing[0]!r} is not in the holdout; columns: "
                f"{', '.join(list(self.holdout_cols)[:30])}. Fix the config (label, segments or id)")
        _, cols = self._score_source()
        scores = [*r.candidate, *(r.baseline or ())] + ([r.key] if self.predictions_cols is not None and r.key
                                                       else [])
        absent = [c for c in scores if c not in cols]
        if absent:
            what = "predictions" if self.predictions_cols is not None else "holdout"
            raise EvaluationError(
                f"score column {absent[0]!r} is not in the {what}; columns: {', '.join(list(cols)[:30])}")
        bad = [c for c in scores if c != r.key and cols[c] not in ("int", "float")]
        if bad:
            raise EvaluationError(f"score column {bad[0]!r} is not numeric ({cols[bad[0]]}); pass probabilities "
                                  "or predictions as numbers")

    def source_sql(self) -> str:
        """The holdout, with the score columns joined by key when they live elsewhere."""
        q, r = self.dialect.q, self.request
        if self.predictions_cols is None:
            return f"{HOLDOUT} h"
        assert r.key is not None
        return f"{HOLDOUT} h JOIN {PREDICTIONS} p ON h.{q(r.key)} = p.{q(r.key)}"

    def label_expr(self) -> str:
        q, r = self.dialect.q, self.request
        lab = f"h.{q(r.label)}"
        kind = self.holdout_cols[r.label]
        missing = f"{lab} IS NULL" + (f" OR isnan({lab})" if kind == "float" else "")
        if r.task == "regression":
            if kind not in ("int", "float"):
                raise EvaluationError(f"label column {r.label!r} must be numeric for a regression task ({kind}); "
                                      "convert it, or set `task` to binary or multiclass")
            return f"CASE WHEN {missing} THEN NULL ELSE CAST({lab} AS DOUBLE) END"
        if r.task == "binary":
            if kind == "bool":
                return f"CASE WHEN {lab} IS NULL THEN NULL WHEN {lab} THEN 1 ELSE 0 END"
            if kind not in ("int", "float"):
                raise EvaluationError(f"label column {r.label!r} is {kind}; a binary task needs labels 0/1 or "
                                      "true/false (map the positive class to 1)")
            return f"CASE WHEN {missing} THEN NULL WHEN {lab} = 1 THEN 1 WHEN {lab} = 0 THEN 0 ELSE -1 END"
        assert self.classes is not None
        whens = " ".join(f"WHEN {lab} = {self.dialect.literal(c)} THEN {i}" for i, c in enumerate(self.classes))
        return f"CASE WHEN {missing} THEN NULL {whens} ELSE -1 END"

    def rows_sql(self) -> str:
        """The normalised rows: y, c0.., b0.., k0.. (every partition's key columns)."""
        q, r = self.dialect.q, self.request
        src, _ = self._score_source()
        cols = [f"{self.label_expr()} AS y"]
        cols += [f"CAST({src}.{q(c)} AS DOUBLE) AS c{i}" for i, c in enumerate(r.candidate)]
        cols += [f"CAST({src}.{q(c)} AS DOUBLE) AS b{i}" for i, c in enumerate(r.baseline or ())]
        for pi, part in enumerate(self.partitions):
            cols += [f"{key.expr} AS p{pi}k{i}" for i, key in enumerate(part.keys)]
        return f"SELECT {', '.join(cols)} FROM {self.source_sql()}"

    def build_partitions(self, has_null: Callable[[str], bool]) -> None:
        """Key expressions per segment spec (over aliases h.), in config order."""
        q = self.dialect.q
        normal = [_spec(s) for s in self.request.segments]
        bins = {s.column: s for s in normal if isinstance(s, _Bins)}

        def key(spec: str | _Bins) -> tuple[str, _Key]:
            if isinstance(spec, _Bins):
                kind = self.holdout_cols[spec.column]
                if kind not in ("int", "float"):
                    raise EvaluationError(f"segment column {spec.column!r} has bins but is not numeric ({kind}); "
                                          "remove `bins` to use its values as segments")
                return spec.column, _bins_key(f"CAST(h.{q(spec.column)} AS DOUBLE)", spec.bins)
            kind = self.holdout_cols[spec]
            col = f"h.{q(spec)}"
            expr = f"CASE WHEN isnan({col}) THEN NULL ELSE {col} END" if kind == "float" else col
            return spec, _categorical_key(expr, kind, lambda: has_null(spec))

        self.partitions = [Partition("", ())]
        for spec in normal:
            if isinstance(spec, _Cross):
                (ta, ka), (tb, kb) = (key(bins.get(c, c)) for c in spec.cross)
                self.partitions.append(Partition(f"{ta}{CROSS}{tb}", (ka, kb)))
            else:
                title, k = key(spec)
                self.partitions.append(Partition(title, (k,)))

    # ------------------------------------------------------------ checks

    def check_sql(self) -> str:
        """One scan: rows, missing and unknown labels, bad scores (see `SqlEngine._check`)."""
        r = self.request
        parts = ["COUNT(*)", "SUM(CASE WHEN y IS NULL THEN 1 ELSE 0 END)"]
        if r.task == "regression":
            parts.append(f"SUM(CASE WHEN y IS NOT NULL AND {not_finite('y')} THEN 1 ELSE 0 END)")
        else:
            parts.append("SUM(CASE WHEN y = -1 THEN 1 ELSE 0 END)")
        for who in ("c", "b") if self.paired else ("c",):
            cols = [f"{who}{i}" for i in range(len(r.candidate))]
            any_bad = " OR ".join(not_finite(c) for c in cols)
            parts.append(f"SUM(CASE WHEN {any_bad} THEN 1 ELSE 0 END)")
            if r.task == "regression":
                parts += ["0", "0"]
            else:
                outside = " OR ".join(f"{c} < 0 OR {c} > 1" for c in cols)
                parts.append(f"SUM(CASE WHEN {outside} THEN 1 ELSE 0 END)")
                if r.task == "multiclass":
                    total = " + ".join(cols)
                    parts.append(f"SUM(CASE WHEN ABS({total} - 1) > {_f(PROBABILITY_SUM_TOLERANCE)} "
                                 "THEN 1 ELSE 0 END)")
                else:
                    parts.append("0")
        return f"SELECT {', '.join(parts)} FROM {ROWS}"

    def key_sql(self, view: str) -> str:
        k = self.dialect.q(self.request.key or "")
        return (f"SELECT COUNT(*), COUNT(DISTINCT {k}), SUM(CASE WHEN {k} IS NULL THEN 1 ELSE 0 END) "
                f"FROM {view}")

    def unmatched_sql(self, left: str, right: str) -> str:
        k = self.dialect.q(self.request.key or "")
        return (f"SELECT COUNT(*) FROM {left} a LEFT JOIN {right} b ON a.{k} = b.{k} "
                f"WHERE b.{k} IS NULL")

    def unmatched_examples_sql(self, left: str, right: str) -> str:
        k = self.dialect.q(self.request.key or "")
        return (f"SELECT a.{k} FROM {left} a LEFT JOIN {right} b ON a.{k} = b.{k} "
                f"WHERE b.{k} IS NULL LIMIT 3")

    # ------------------------------------------------------------ per partition

    def _keys(self, pi: int) -> list[str]:
        return [f"p{pi}k{i}" for i in range(len(self.partitions[pi].keys))]

    @staticmethod
    def _over(keys: list[str], order: str | None = None, frame: str = "") -> str:
        inner = []
        if keys:
            inner.append("PARTITION BY " + ", ".join(keys))
        if order:
            inner.append(f"ORDER BY {order}")
        if frame:
            inner.append(frame)
        return f"OVER ({' '.join(inner)})"

    @staticmethod
    def _group(keys: list[str], *more: str) -> str:
        cols = [*keys, *more]
        return f" GROUP BY {', '.join(cols)}" if cols else ""

    def groups_sql(self, pi: int) -> str:
        keys = self._keys(pi)
        return f"SELECT {', '.join([*keys, 'COUNT(*)'])} FROM {ROWS}{self._group(keys)}"

    def _pred(self, who: str) -> str:
        if self.request.task == "binary":
            return f"CASE WHEN {who}0 >= 0.5 THEN 1 ELSE 0 END"
        cols = [f"{who}{i}" for i in range(self.k)]
        top = f"GREATEST({', '.join(cols)})"
        whens = " ".join(f"WHEN {c} = {top} THEN {i}" for i, c in enumerate(cols))
        return f"CASE {whens} END"  # the first most probable class, as numpy's argmax

    def counts_sql(self, pi: int) -> str:
        keys = self._keys(pi)
        pb = self._pred("b") if self.paired else "0"
        pc = self._pred("c")
        inner = f"SELECT {', '.join([*keys, 'y', f'{pc} AS pc', f'{pb} AS pb'])} FROM {ROWS}"
        return (f"SELECT {', '.join([*keys, 'y', 'pc', 'pb', 'COUNT(*)'])} FROM ({inner}) t"
                f"{self._group(keys, 'y', 'pc', 'pb')}")

    def _loss(self, metric: str, who: str) -> str:
        task = self.request.task
        if metric == "brier":
            return f"({who}0 - y) * ({who}0 - y)"
        if metric == "mae":
            return f"ABS(y - {who}0)"
        if task == "binary":
            p = f"CASE WHEN y > 0 THEN {who}0 ELSE 1 - {who}0 END"
        else:
            p = "CASE y " + " ".join(f"WHEN {i} THEN {who}{i}" for i in range(self.k)) + " END"
        return f"-LN(LEAST(GREATEST({p}, {_f(M.EPS)}), {_f(1 - M.EPS)}))"

    def means_sql(self, pi: int, names: list[str]) -> str:
        keys = self._keys(pi)
        inner = [*keys]
        aggs = [*keys, "COUNT(*)"]
        for j, m in enumerate(names):
            inner.append(f"{self._loss(m, 'c')} AS lc{j}")
            aggs.append(f"SUM(lc{j})")
            if self.paired:
                inner.append(f"{self._loss(m, 'b')} AS lb{j}")
                aggs += [f"SUM(lb{j})", f"VAR_SAMP(lc{j} - lb{j})"]
        return (f"SELECT {', '.join(aggs)} FROM (SELECT {', '.join(inner)} FROM {ROWS}) t"
                f"{self._group(keys)}")

    def ranks_sql(self, pi: int, want_auc: bool, want_ap: bool) -> str:
        """Placements (AUC) and influences (AP) per row, aggregated by (keys, y)."""
        keys = self._keys(pi)
        whos = ("c", "b") if self.paired else ("c",)
        o = self._over
        s1 = [*keys, "y", f"COUNT(*) {o(keys)} AS m", f"SUM(y) {o(keys)} AS p"]
        for w in whos:
            s = f"{w}0"
            peers = "RANGE BETWEEN CURRENT ROW AND CURRENT ROW"
            s1 += [f"{s}", f"COUNT(*) {o(keys, s)} AS {w}_cle", f"SUM(y) {o(keys, s)} AS {w}_ple",
                   f"COUNT(*) {o(keys, s, peers)} AS {w}_ceq", f"SUM(y) {o(keys, s, peers)} AS {w}_peq"]
        s2 = [*keys, "y", "m", "p"]
        for w in whos:
            cb, pb = f"({w}_cle - {w}_ceq)", f"({w}_ple - {w}_peq)"
            s2.append(f"{w}0")
            if want_auc:
                s2.append(f"CASE WHEN y = 1 THEN ({cb} - {pb} + 0.5 * ({w}_ceq - {w}_peq)) / NULLIF(m - p, 0) "
                          f"ELSE (p - {pb} - 0.5 * {w}_peq) / NULLIF(p, 0) END AS {w}_v")
            if want_ap:
                s2 += [f"CAST(m - {cb} AS DOUBLE) AS {w}_n", f"(p - {pb}) / CAST(m - {cb} AS DOUBLE) AS {w}_prec"]
        s3 = [*keys, "y", "m", "p"]
        for w in whos:
            if want_auc:
                s3.append(f"{w}_v")
            if want_ap:
                s = f"{w}0"
                s3 += [f"{w}_prec", f"SUM(y / {w}_n) {o(keys, s)} AS {w}_cx",
                       f"SUM(y * {w}_prec / {w}_n) {o(keys, s)} AS {w}_cc",
                       f"SUM(y * {w}_prec) {o(keys)} / NULLIF(p, 0) AS {w}_ap"]
        s4 = [*keys, "y"]
        for w in whos:
            if want_auc:
                s4.append(f"{w}_v")
            if want_ap:
                s4 += [f"{w}_prec", f"(y * ({w}_cx + {w}_prec - {w}_ap) - {w}_cc) / NULLIF(p, 0) AS {w}_i"]
        aggs = [*keys, "y", "COUNT(*)"]
        if want_auc:
            aggs.append("AVG(c_v)")
            if self.paired:
                aggs += ["AVG(b_v)", "VAR_SAMP(c_v - b_v)"]
        if want_ap:
            aggs.append("SUM(c_prec)")
            if self.paired:
                aggs += ["SUM(b_prec)", "AVG(c_i - b_i)", "VAR_POP(c_i - b_i)"]
        return (f"WITH s1 AS (SELECT {', '.join(s1)} FROM {ROWS}), s2 AS (SELECT {', '.join(s2)} FROM s1), "
                f"s3 AS (SELECT {', '.join(s3)} FROM s2), s4 AS (SELECT {', '.join(s4)} FROM s3) "
                f"SELECT {', '.join(aggs)} FROM s4{self._group(keys, 'y')}")

    def regression_sql(self, pi: int) -> str:
        keys = self._keys(pi)
        o = self._over(keys)
        whos = ("c", "b") if self.paired else ("c",)
        s1 = [*keys, "y", f"COUNT(*) {o} AS n", f"AVG(y) {o} AS ybar"]
        for w in whos:
            s1 += [f"(y - {w}0) * (y - {w}0) AS {w}_e", f"AVG((y - {w}0) * (y - {w}0)) {o} AS {w}_mse"]
        s2 = [*keys, "n", "(y - ybar) * (y - ybar) AS dev2"] + [f"{w}_{x}" for w in whos for x in ("e", "mse")]
        s3 = ["*", f"AVG(dev2) {o} AS v"]
        s4 = [*keys, "dev2"]
        for w in whos:
            s4 += [f"{w}_e",
                   f"({w}_e - {w}_mse) / NULLIF(2 * SQRT({w}_mse) * n, 0) AS {w}_ir",
                   f"-(({w}_e - {w}_mse) * v - {w}_mse * (dev2 - v)) / NULLIF(v * v * n, 0) AS {w}_i2"]
        aggs = [*keys, "COUNT(*)", "SUM(dev2)"] + [f"SUM({w}_e)" for w in whos]
        if self.paired:
            aggs += ["VAR_SAMP(c_ir - b_ir)", "VAR_SAMP(c_i2 - b_i2)"]
        return (f"WITH s1 AS (SELECT {', '.join(s1)} FROM {ROWS}), s2 AS (SELECT {', '.join(s2)} FROM s1), "
                f"s3 AS (SELECT {', '.join(s3)} FROM s2), s4 AS (SELECT {', '.join(s4)} FROM s3) "
                f"SELECT {', '.join(aggs)} FROM s4{self._group(keys)}")


def _columns_of(spec: SegmentSpec) -> list[str]:
    try:
        s = _spec(spec)
    except SegmentError as exc:
        raise EvaluationError(str(exc)) from None
    if isinstance(s, _Cross):
        return list(s.cross)
    return [s.column] if isinstance(s, _Bins) else [s]


def _num(v: object) -> float:
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the engine


class SqlEngine(ABC):
    """An engine that runs `SqlPlan`'s SQL; subclasses connect it to a database."""

    name = "sql"
    dialect = Dialect()
    _step: Steps | None = None  # progress of the running comparison (for long scans within a step)
    prepared: SqlPlan | None = None  # the last comparison's plan (its views stay registered until close)

    @abstractmethod
    def register(self, view: str, source: TableSource) -> None:
        """Make `source` queryable as `view` (a temporary view)."""

    @abstractmethod
    def columns(self, view: str) -> dict[str, Kind]:
        """Column name -> "bool" | "int" | "float" | "string" | "other", in table order."""

    @abstractmethod
    def query(self, sql: str) -> list[Row]:
        """Run one query; rows as tuples of Python values (None for NULL)."""

    @abstractmethod
    def translate(self, exc: Exception) -> EvaluationError | None:
        """The engine's own exception as a one-line EvaluationError; None if it is not the engine's."""

    def compare(self, holdout: TableSource, request: Request,
                progress: Progress | None = None) -> ComparisonResult:
        try:
            return self._compare(holdout, request, progress)
        except EvaluationError:
            raise
        except Exception as exc:
            err = self.translate(exc)
            if err is None:
                raise
            raise err from None

    # ------------------------------------------------------------ the steps

    def _compare(self, holdout: TableSource, r: Request, progress: Progress | None) -> ComparisonResult:
        step = Steps(progress)
        plan = self.prepare(holdout, r, step)
        self.prepared = plan
        return self._statistics(plan, step)

    def prepare(self, holdout: TableSource, r: Request, step: Steps) -> SqlPlan:
        """Register the views, check columns, keys, labels and scores; the plan for the statistics.

        Raises `EvaluationError`; other engine exceptions are the caller's to `translate`."""
        _validate_request(r)
        step("reading the holdout")
        self.register(HOLDOUT, holdout)
        pred_cols: dict[str, Kind] | None = None
        if r.predictions is not None:
            if r.key is None:
                raise EvaluationError("scores in a separate table are joined by key: set `id` (the id column)")
            self.register(PREDICTIONS, r.predictions)
            pred_cols = self.columns(PREDICTIONS)
        plan = SqlPlan(r, self.dialect, self.columns(HOLDOUT), pred_cols)
        plan.check_columns()
        if r.task == "multiclass":
            plan.classes = list(r.classes) if r.classes is not None else self._classes(plan)
            if len(r.candidate) != len(plan.classes) or (r.baseline and len(r.baseline) != len(plan.classes)):
                raise EvaluationError(f"a multiclass task needs one score column per class ({len(plan.classes)}: "
                                      f"{', '.join(map(str, plan.classes[:10]))})")
        if r.key is not None and pred_cols is not None:
            step("joining predictions by key")
            self._check_keys(plan, r.key)
        plan.build_partitions(lambda col: self._has_null(col))
        self.register_sql(ROWS, plan.rows_sql())
        step("checking labels and scores")
        self._check(plan)
        return plan

    def register_sql(self, view: str, sql: str) -> None:
        """Define `view` as the result of `sql` (a temporary view, computed when queried)."""
        self.query(f"CREATE OR REPLACE TEMPORARY VIEW {view} AS {sql}")

    def _classes(self, plan: SqlPlan) -> list[object]:
        return self.distinct(HOLDOUT, plan.request.label)

    def distinct(self, view: str, column: str) -> list[object]:
        """The sorted distinct non-missing values of a column (multiclass labels), as numpy sorts them."""
        q = self.dialect.q(column)
        try:
            found = [row[0] for row in self.query(
                f"SELECT DISTINCT {q} FROM {view} WHERE {q} IS NOT NULL LIMIT {MAX_CLASSES + 1}")]
        except EvaluationError:
            raise
        except Exception as exc:
            err = self.translate(exc)
            if err is None:
                raise
            raise err from None
        if len(found) > MAX_CLASSES:
            raise EvaluationError(f"label column {column!r} has more than {MAX_CLASSES} classes")
        try:
            return sorted(found)  # type: ignore[type-var]
        except TypeError:
            return sorted(found, key=str)

    def close(self) -> None:  # noqa: B027 - optional: only engines that hold a connection override it
        """Release the connection (a no-op unless the engine holds one)."""

    def _has_null(self, col: str) -> bool:
        c = self.dialect.q(col)
        return bool(self.query(f"SELECT COUNT(*) FROM {HOLDOUT} WHERE {c} IS NULL")[0][0])

    def _check_keys(self, plan: SqlPlan, key: str) -> None:
        for view, what in ((HOLDOUT, "holdout"), (PREDICTIONS, "predictions")):
            rows, distinct, nulls = (int(_num(v)) for v in self.query(plan.key_sql(view))[0])
            if nulls:
                raise EvaluationError(f"the {what} has {nulls} row(s) without an id ({key!r} is empty); "
                                      "every row needs its key")
            if distinct != rows:
                raise EvaluationError(f"the {what} has {rows - distinct} duplicate id(s) in {key!r}; "
                                      "each key must appear once")
        for left, right, what in ((HOLDOUT, PREDICTIONS, "holdout rows have no prediction"),
                                  (PREDICTIONS, HOLDOUT, "predictions have no holdout row")):
            count = int(_num(self.query(plan.unmatched_sql(left, right))[0][0]))
            if count:
                shown = ", ".join(repr(row[0]) for row in self.query(plan.unmatched_examples_sql(left, right)))
                raise EvaluationError(f"{count} {what} with the same {key!r} (e.g. {shown}); "
                                      "score exactly the holdout's rows")

    def _check(self, plan: SqlPlan) -> None:
        r = plan.request
        row = [int(_num(v)) for v in self.query(plan.check_sql())[0]]
        n, missing, bad_label = row[:3]
        if n == 0:
            raise EvaluationError("the holdout has no rows; the evaluation needs labelled rows")
        if missing:
            raise EvaluationError(f"label column {r.label!r} has {missing} missing value(s); drop or fill those "
                                  "rows in the holdout")
        if bad_label:
            if r.task == "regression":
                raise EvaluationError(f"label column {r.label!r} has {bad_label} infinite value(s); drop or fix "
                                      "those rows in the holdout")
            lab = self.dialect.q(r.label)
            shown = sorted(str(v[0]) for v in self.query(f"SELECT DISTINCT {lab} FROM {HOLDOUT} LIMIT 10"))
            if r.task == "binary":
                raise EvaluationError(f"label column {r.label!r} has values {shown}; a binary task needs labels "
                                      "0/1 or true/false (map the positive class to 1)")
            raise EvaluationError(f"label column {r.label!r} has {bad_label} row(s) whose class the model does "
                                  f"not know (known: {sorted(map(str, plan.classes or []))[:20]}); score with a "
                                  "model trained on every class, or drop those rows from the holdout")
        for who, (bad, outside, off) in zip(("candidate", "baseline"), (row[3:6], row[6:9])[:1 + plan.paired],
                                            strict=False):
            if bad:
                raise EvaluationError(f"{who} scores are NaN, missing or infinite on {bad} row(s); fix the "
                                      f"{who} model or drop those rows from the holdout")
            if outside:
                raise EvaluationError(f"{who} scores must be probabilities in [0, 1] for a {r.task} task; "
                                      f"{outside} row(s) are outside; pass predict_proba output, not logits or "
                                      "labels")
            if off:
                raise EvaluationError(f"{who} probability rows must sum to 1; {off} row(s) do not; pass "
                                      "predict_proba output with one column per class")

    def _statistics(self, plan: SqlPlan, step: Steps) -> ComparisonResult:
        out = self.partition_stats(plan, step)
        segs = [(part.title, label, n, stats) for part, groups in zip(plan.partitions[1:], out[1:], strict=True)
                for label, n, stats in groups]
        return ComparisonResult(out[0][0][2], segs)

    def partition_stats(self, plan: SqlPlan, step: Steps) -> list[list[tuple[str, int, list[Stat]]]]:
        """Per partition of the plan (the first is the whole holdout), per non-empty group in
        display order: its label, rows and the requested metrics' statistics."""
        r = plan.request
        self._step = step
        specs = M.SPECS[r.task]
        names = list(r.metrics)
        z = z_quantile(r.confidence)
        out: list[list[tuple[str, int, list[Stat]]]] = []
        step.total = len(plan.partitions)
        for pi, part in enumerate(plan.partitions):
            step(f"segments {part.title}" if part.title else "whole holdout", pi)
            keys, labels, sizes = self._groups(plan, pi)
            G = len(keys)
            index = {k: g for g, k in enumerate(keys)}
            by_metric: dict[str, list[Stat]] = {}
            positives: np.ndarray | None = None
            predicted: np.ndarray | None = None
            count_names = [m for m in names if specs[m].kind == "count"]
            if count_names:
                stats, positives, predicted = self._counts(plan, pi, index, G, count_names, z)
                by_metric.update(stats)
            mean_names = [m for m in names if m in ("log_loss", "brier", "mae")]
            if mean_names:
                by_metric.update(self._means(plan, pi, index, sizes, mean_names, z))
            rank = (("roc_auc" in names), ("average_precision" in names))
            if any(rank):
                by_metric.update(self._ranks(plan, pi, index, sizes, *rank, z))
            if {"rmse", "r2"} & set(names):
                by_metric.update(self._regression(plan, pi, index, sizes, names, z))
            mark_undefined(by_metric, positives, predicted)
            out.append([(labels[g], sizes[g], [by_metric[m][g] for m in names]) for g in range(G)])
        step("done", len(plan.partitions))
        return out

    def _groups(self, plan: SqlPlan, pi: int) -> tuple[list[Row], list[str], list[int]]:
        """The non-empty groups of a partition in display order: key tuples, labels, sizes."""
        part = plan.partitions[pi]
        rows = self.query(plan.groups_sql(pi))
        nk = len(part.keys)
        labelled = []
        for row in rows:
            key = tuple(row[:nk])
            parts = [kk.label(v) for kk, v in zip(part.keys, key, strict=True)]
            sort = tuple(p[0] for p in parts)
            labelled.append((sort, CROSS.join(p[1] for p in parts), key, int(_num(row[nk]))))
        labelled.sort(key=lambda t: t[0])
        seen: dict[str, Row] = {}
        for _, label, key, _ in labelled:
            if label in seen:
                raise EvaluationError(f"segment column {part.title!r} has distinct values that print the same "
                                      f"({label!r}); convert the column to text, or use --engine numpy")
            seen[label] = key
        return [t[2] for t in labelled], [t[1] for t in labelled], [t[3] for t in labelled]

    def _counts(self, plan: SqlPlan, pi: int, index: dict[Row, int], G: int, names: list[str], z: float,
                ) -> tuple[dict[str, list[Stat]], np.ndarray | None, np.ndarray | None]:
        """Count metrics, and (binary) positives and the fewer predicted positives of the models per group."""
        k = plan.k
        nk = len(plan.partitions[pi].keys)
        joint = np.zeros((G, k, k, k))
        for row in self.query(plan.counts_sql(pi)):
            g = index[tuple(row[:nk])]
            y, pc, pb, n = (int(_num(v)) for v in row[nk:])
            joint[g, y, pc, pb] = n
        conf_c = joint.sum(axis=3)
        positives = predicted = None
        if plan.request.task == "binary":
            predicted = conf_c[:, :, 1].sum(axis=1)
            if plan.paired:
                predicted = np.minimum(predicted, joint.sum(axis=2)[:, :, 1].sum(axis=1))
            positives = joint[:, 1].sum(axis=(1, 2))
        if not plan.paired:
            return count_stats_unpaired(plan.request.task, conf_c, names), positives, predicted
        return count_stats_from_joint(plan.request.task, joint, names, z), positives, predicted

    def _means(self, plan: SqlPlan, pi: int, index: dict[Row, int], sizes: list[int], names: list[str],
               z: float) -> dict[str, list[Stat]]:
        nk = len(plan.partitions[pi].keys)
        width = 3 if plan.paired else 1
        out: dict[str, list[Stat]] = {m: [None] * len(sizes) for m in names}  # type: ignore[list-item]
        for row in self.query(plan.means_sql(pi, names)):
            g = index[tuple(row[:nk])]
            n = int(_num(row[nk]))
            for j, m in enumerate(names):
                vals = [_num(v) for v in row[nk + 1 + width * j: nk + 1 + width * (j + 1)]]
                if not plan.paired:
                    out[m][g] = make_stat(m, False, None, vals[0] / n, n, "paired-normal")
                    continue
                se = math.sqrt(vals[2] / n) if n > 1 and math.isfinite(vals[2]) else None
                out[m][g] = make_stat(m, False, vals[1] / n, vals[0] / n, n, "paired-normal", se=se, z=z)
        return out

    def _ranks(self, plan: SqlPlan, pi: int, index: dict[Row, int], sizes: list[int], want_auc: bool,
               want_ap: bool, z: float) -> dict[str, list[Stat]]:
        sums = self._rank_sums(plan, pi, index, len(sizes), want_auc, want_ap)
        return rank_stats(sums, sizes, plan.paired, want_auc, want_ap, z)

    def _rank_sums(self, plan: SqlPlan, pi: int, index: dict[Row, int], G: int, want_auc: bool,
                   want_ap: bool) -> RankSums:
        """The per-(group, class) sums of placements and influences, from `SqlPlan.ranks_sql`."""
        nk = len(plan.partitions[pi].keys)
        paired = plan.paired
        sums = RankSums.empty(G)
        for row in self.query(plan.ranks_sql(pi, want_auc, want_ap)):
            g = index[tuple(row[:nk])]
            y = int(_num(row[nk]))
            vals = [_num(v) for v in row[nk + 1:]]
            sums.cnt[g, y] = vals[0]
            i = 1
            if want_auc:
                sums.auc[g, y, 0] = vals[i]
                i += 1
                if paired:
                    sums.auc[g, y, 1], sums.dvar[g, y] = vals[i], vals[i + 1]
                    i += 2
            if want_ap:
                if y == 1:
                    sums.prec[g, 0] = vals[i]
                    if paired:
                        sums.prec[g, 1] = vals[i + 1]
                i += 1
                if paired:
                    sums.ap_mean[g, y], sums.ap_m2[g, y] = vals[i + 1], vals[i + 2] * sums.cnt[g, y]
        return sums

    def _regression(self, plan: SqlPlan, pi: int, index: dict[Row, int], sizes: list[int], names: list[str],
                    z: float) -> dict[str, list[Stat]]:
        nk = len(plan.partitions[pi].keys)
        G = len(sizes)
        out: dict[str, list[Stat]] = {m: [None] * G for m in ("rmse", "r2") if m in names}  # type: ignore[list-item]
        for row in self.query(plan.regression_sql(pi)):
            g = index[tuple(row[:nk])]
            vals = [_num(v) for v in row[nk:]]
            n, sst, sse_c = vals[0], vals[1], vals[2]
            sse_b = vals[3] if plan.paired else None
            var_r = vals[4] * n if plan.paired and n > 1 else float("nan")
            var_2 = vals[5] * n if plan.paired and n > 1 and sst / n > 0 else float("nan")
            for m, var in (("rmse", var_r), ("r2", var_2)):
                if m not in out:
                    continue
                base = _regression_value(m, sse_b, sst, n) if sse_b is not None else None
                out[m][g] = make_stat(m, m == "r2", base, _regression_value(m, sse_c, sst, n), int(n), "delta",
                                      se=math.sqrt(var) if math.isfinite(var) else None, z=z)
        return out


@dataclass
class RankSums:
    """Per group g and class y (0/1) of one partition: what AUC, AP and their paired variances need."""

    cnt: np.ndarray  # [G, 2] rows
    auc: np.ndarray  # [G, 2, 2] mean placement [g, y, model (0 candidate, 1 baseline)]
    dvar: np.ndarray  # [G, 2] sample variance of the paired placement differences
    prec: np.ndarray  # [G, 2] sum over positives of the precision at the row's threshold, per model
    ap_mean: np.ndarray  # [G, 2] mean of the paired AP influence differences
    ap_m2: np.ndarray  # [G, 2] their sum of squared deviations from ap_mean

    @classmethod
    def empty(cls, G: int) -> RankSums:
        return cls(np.zeros((G, 2)), np.full((G, 2, 2), np.nan), np.full((G, 2), np.nan), np.zeros((G, 2)),
                   np.zeros((G, 2)), np.zeros((G, 2)))


def rank_stats(sums: RankSums, sizes: list[int], paired: bool, want_auc: bool, want_ap: bool,
               z: float) -> dict[str, list[Stat]]:
    """roc_auc (DeLong) and average_precision (influence) comparisons from `RankSums`."""
    G = len(sizes)
    cnt = sums.cnt
    out: dict[str, list[Stat]] = {}
    P, N = cnt[:, 1], cnt[:, 0]
    if want_auc:
        defined = (P > 0) & (N > 0)
        a_c = np.where(defined, sums.auc[:, 1, 0], np.nan)
        a_b = np.where(defined, sums.auc[:, 1, 1], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (sums.dvar / cnt).sum(axis=1)
        var[(cnt < 2).any(axis=1) | ~np.isfinite(var)] = np.nan
        out["roc_auc"] = [
            make_stat("roc_auc", True, a_b[g] if paired else None, a_c[g], sizes[g], "delong",
                      se=math.sqrt(var[g]) if paired and np.isfinite(var[g]) else None, z=z)
            for g in range(G)]
    if want_ap:
        with np.errstate(invalid="ignore", divide="ignore"):
            ap = np.where(P[:, None] > 0, sums.prec / P[:, None], np.nan)
            n = cnt.sum(axis=1)
            mean = (sums.ap_mean * cnt).sum(axis=1) / n
            ss = sums.ap_m2.sum(axis=1) + (cnt * (sums.ap_mean - mean[:, None]) ** 2).sum(axis=1)
            var = np.where(n > 1, ss * n / (n - 1), np.nan)
        out["average_precision"] = [
            make_stat("average_precision", True, ap[g, 1] if paired else None, ap[g, 0], sizes[g], "influence",
                      se=math.sqrt(var[g]) if paired and np.isfinite(var[g]) and P[g] > 0 else None, z=z)
            for g in range(G)]
    return out


def _regression_value(metric: str, sse: float, sst: float, n: float) -> float | None:
    return math.sqrt(sse / n) if metric == "rmse" else M.r2_from_sums(sse, sst)


class Steps:
    """Progress over the queries: a description and the fraction done."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.total = 0
        self.what = ""
        self.done: float = 0

    def __call__(self, what: str, done: float = 0) -> None:
        self.what, self.done = what, done
        if self.progress is not None:
            self.progress(what, done / self.total if self.total else 0.0)

    def within(self, fraction: float) -> None:
        """Progress inside the current step (a long scan): `fraction` of it done."""
        if self.progress is not None and self.total:
            self.progress(self.what, (int(self.done) + min(max(fraction, 0.0), 1.0)) / self.total)


def _validate_request(r: Request) -> None:
    if r.task not in M.SPECS:
        raise EvaluationError(f"unknown task {r.task!r}; use binary, multiclass or regression")
    unknown = [m for m in r.metrics if m not in M.SPECS[r.task]]
    if unknown:
        raise EvaluationError(f"metrics {unknown} are not available for task {r.task}; "
                              f"choose from {', '.join(M.SPECS[r.task])}")
    if not 0 < r.confidence < 1:
        raise EvaluationError(f"confidence must be between 0 and 1 (got {r.confidence}); use e.g. 0.95")
    if r.task != "multiclass" and (len(r.candidate) != 1 or (r.baseline is not None and len(r.baseline) != 1)):
        raise EvaluationError(f"a {r.task} task needs one score column per model")

