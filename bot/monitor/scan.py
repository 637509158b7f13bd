"""The monitor on the DuckDB engine: logged traffic read out of core, aggregates only (issue #18).

`LogScan` checks the logged-traffic contract file by file (as `bot.monitor.logs` does) and
loads the window's rows of one model into a DuckDB temporary table, which spills to disk
above `--engine-memory`. `SqlRows` is the monitor's `Current` over that table: drift asks
it for count tables (rows per segment and bin, per category) and for the extremes of the
two empirical CDFs (`bot.evaluation.engines.profile_sql`), so the statistics are computed by
the same numpy code as for a frame and agree with it. Live quality reads the labelled rows'
label, score and segment columns (about 20 bytes a row) and uses the gate's estimators.

The reference stays a pandas frame (it is the size of a holdout); the previous window's
scores of the production version come back as one array (8 bytes a row) for their deciles.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from bot.config import ModelConfig
from bot.evaluation import EvaluationError
from bot.evaluation.engines import Request, TableSource
from bot.evaluation.engines.profile_sql import (
    bin_index,
    count_table_sql,
    is_value,
    lookup,
    real,
)
from bot.evaluation.engines.sql import SqlPlan
from bot.evaluation.segments import CROSS, Partition
from bot.monitor.ks import (
    MAX_EXACT,
    extremes_from_counts,
    p_value_from_extremes,
    slots,
    sorted_slots,
)
from bot.monitor.logs import (
    REQUIRED,
    LogError,
    Window,
    _check_columns,
    _read_one,
    _schema_names,
    checked_columns,
    log_files,
)

if TYPE_CHECKING:
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine

MAX_SEGMENT_KEYS = 10_000  # distinct segment values a log may hold per segment spec
CHUNK_ROWS = 1 << 20  # rows per streamed batch (KS): 12 MB


def _lit_path(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


class LogScan:
    """One DuckDB connection for a monitor run; raises LogError (one line) for a bad log."""

    def __init__(self, memory: str | None = None) -> None:
        from bot.evaluation.engines.duckdb_engine import DuckDBEngine

        self.engine: DuckDBEngine = DuckDBEngine(memory=memory)
        self._sql("SET TimeZone = 'UTC'")
        self._n = 0

    def close(self) -> None:
        self.engine.close()

    def _sql(self, sql: str) -> list[tuple[object, ...]]:
        try:
            return self.engine.query(sql)
        except EvaluationError as exc:
            raise LogError(str(exc)) from None

    def _view(self, files: list[Path], columns: list[str]) -> str:
        """A view over the files (Parquet and CSV), with the wanted columns that exist and the file name."""
        self._n += 1
        name = f"mlgate_log{self._n}"
        parquet = [f for f in files if f.suffix.lower() == ".parquet"]
        csv = [f for f in files if f.suffix.lower() == ".csv"]
        parts = []
        if parquet:
            parts.append(f"SELECT * FROM read_parquet([{', '.join(map(_lit_path, parquet))}], union_by_name = true, "
                         "hive_partitioning = false, filename = true)")
        if csv:
            types = "{'request_id': 'VARCHAR', 'version': 'VARCHAR', 'model': 'VARCHAR'}"
            parts.append(f"SELECT * FROM read_csv([{', '.join(map(_lit_path, csv))}], union_by_name = true, "
                         f"header = true, filename = true, types = {types})")
        own = [f"SELECT * FROM read_parquet([{', '.join(map(_lit_path, parquet))}], union_by_name = true, "
               "hive_partitioning = false)"] if parquet else []
        if csv:
            own.append(f"SELECT * FROM read_csv([{', '.join(map(_lit_path, csv))}], union_by_name = true, "
                       f"header = true, types = {types})")
        reserved = sorted({str(r[0]) for r in self._sql(f"DESCRIBE {' UNION ALL BY NAME '.join(own)}")} & {"filename"})
        if reserved:  # DuckDB's reader adds it to say which file each row came from
            raise LogError(f"column {reserved[0]!r} is reserved by the duckdb engine (it names each row's file); "
                           "rename the column in the logs, or run mlgate monitor with --engine numpy")
        self._sql(f"CREATE OR REPLACE TEMPORARY VIEW {name}_all AS {' UNION ALL BY NAME '.join(parts)}")
        present = set(self.engine.columns(f"{name}_all"))
        q = self.engine.dialect.q
        cols = ", ".join(q(c) for c in dict.fromkeys([*columns, "filename"]) if c in present)
        self._sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS SELECT {cols} FROM {name}_all")
        return name

    def _checked_files(self, root: Path, window: Window, features: list[str]) -> list[Path]:
        files = log_files(root, window)
        for path in files:
            checked_columns(path, features)
        return files

    def _timestamp(self, view: str) -> str:
        """The timestamp column as TIMESTAMPTZ (UTC); a file whose timestamps are not timestamps: LogError."""
        kind = self._types(view)["timestamp"]
        if kind.startswith("TIMESTAMP"):
            return 'CAST("timestamp" AS TIMESTAMPTZ)'
        if kind != "VARCHAR":
            bad = self._sql(f"SELECT filename FROM {view} LIMIT 1")
            raise LogError(f"{bad[0][0] if bad else view}: column timestamp must hold timestamps (ISO 8601, UTC), "
                           f"got {kind.lower()}")
        bad = self._sql(f'SELECT filename FROM {view} WHERE "timestamp" IS NOT NULL AND '
                        'TRY_CAST("timestamp" AS TIMESTAMPTZ) IS NULL LIMIT 1')
        if bad:
            raise LogError(f"{bad[0][0]}: column timestamp must hold timestamps (ISO 8601, UTC), got string")
        return 'CAST("timestamp" AS TIMESTAMPTZ)'

    def _types(self, view: str) -> dict[str, str]:
        return {str(r[0]): str(r[1]).upper() for r in self._sql(f"DESCRIBE SELECT * FROM {view}")}

    def _window_sql(self, view: str, window: Window, model: str) -> str:
        empty = self._sql(f"SELECT filename FROM {view} WHERE request_id IS NULL LIMIT 1")
        if empty:
            raise LogError(f"{empty[0][0]}: request_id is empty on some rows; every prediction needs the id its "
                           "label will be joined by")
        ts = self._timestamp(view)
        lit = self.engine.dialect.literal
        start, end = (f"CAST({lit(_iso(t))} AS TIMESTAMPTZ)" for t in (window.start, window.end))
        return f"{ts} >= {start} AND {ts} < {end} AND CAST(model AS VARCHAR) = {lit(model)}"

    def _check_scores(self, table: str, where: str, label: str | None) -> None:
        kind = self._types(table)["score"]
        if not _numeric_type(kind):
            raise LogError(f"{where}: column score must be numeric (the model's P(label = 1) or prediction), "
                           f"got {kind.lower()}")
        bad = _int(self._sql(f"SELECT COUNT(*) FROM {table} WHERE score IS NULL OR isnan(CAST(score AS DOUBLE)) "
                            "OR ABS(CAST(score AS DOUBLE)) = CAST('Infinity' AS DOUBLE)")[0][0])
        if bad:
            raise LogError(f"{where}: {bad:,} row(s) have an empty or non-finite score; log the score the "
                           "model returned for every request")

    def load(self, root: Path, window: Window, *, model: ModelConfig, features: list[str], labels: Path | None,
             versions: list[str] | None, max_rows: int) -> SqlRows:
        """The window's rows of `model` answered by `versions` (None: every version), checked."""
        files = self._checked_files(root, window, features)
        label = model.label
        keep = [*(["request_id"] if labels is not None else []), "version", "score", *features,
                *([label] if labels is None else [])]
        self._n += 1
        table = f"mlgate_cur{self._n}"
        q = self.engine.dialect.q
        if not files:
            self._sql(f"CREATE OR REPLACE TEMPORARY TABLE {table} AS SELECT CAST(NULL AS VARCHAR) AS version, "
                      "CAST(NULL AS DOUBLE) AS score WHERE FALSE")
            return SqlRows(self, table, model)
        view = self._view(files, [*REQUIRED, *features, label])
        present = set(self.engine.columns(view))
        cols = ", ".join("CAST(version AS VARCHAR) AS version" if c == "version" else q(c)
                         for c in dict.fromkeys(keep) if c in present)
        self._sql(f"CREATE OR REPLACE TEMPORARY TABLE {table} AS SELECT {cols} FROM {view} "
                  f"WHERE {self._window_sql(view, window, model.name)}")
        n = _int(self._sql(f"SELECT COUNT(*) FROM {table}")[0][0])
        if n > max_rows:
            raise LogError(f"{root}: more than {max_rows:,} rows for {model.name} in {window.label()}; "
                           "shorten monitor.window_days")
        self._check_scores(table, str(root), label)
        if labels is not None:
            self._join_labels(table, labels, label)
        if versions is not None:
            names = ", ".join(self.engine.dialect.literal(v) for v in versions)
            self._sql(f"DELETE FROM {table} WHERE version NOT IN ({names})")
        return SqlRows(self, table, model)

    def previous_scores(self, root: Path, window: Window, model: ModelConfig, versions: list[str]) -> np.ndarray:
        """The scores the production version logged in `window` (the previous window), checked."""
        files = self._checked_files(root, window, [])
        if not files:
            return np.empty(0)
        view = self._view(files, list(REQUIRED))
        self._n += 1
        table = f"mlgate_prev{self._n}"
        names = ", ".join(self.engine.dialect.literal(v) for v in versions)
        self._sql(f"CREATE OR REPLACE TEMPORARY TABLE {table} AS SELECT CAST(version AS VARCHAR) AS version, score "
                  f"FROM {view} WHERE {self._window_sql(view, window, model.name)}")
        self._check_scores(table, str(root), None)
        out = self._fetch(f"SELECT CAST(score AS DOUBLE) AS score FROM {table} WHERE version IN ({names})")
        self._sql(f"DROP TABLE {table}")
        return np.asarray(out["score"].to_numpy(dtype=np.float64))

    def _join_labels(self, table: str, labels: Path, label: str) -> None:
        """Late labels by request id (the last label for an id wins), as bot.monitor.logs.join_labels."""
        parts = []
        for f in log_files(labels, None):
            _check_columns(f, _schema_names(f), ("request_id", label))
            parts.append(_read_one(f, ["request_id", label]).to_pandas())
        q = self.engine.dialect.q
        if not parts:
            self._sql(f"ALTER TABLE {table} ADD COLUMN {q(label)} DOUBLE")
            return
        frame = pd.concat(parts, ignore_index=True).drop_duplicates("request_id", keep="last")
        self.engine.register("mlgate_labels", TableSource.of_frame(frame, "labels"))
        id_type = self._types(table)["request_id"]
        self._sql(f"CREATE OR REPLACE TEMPORARY TABLE {table} AS SELECT c.*, l.{q(label)} FROM {table} c "
                  f"LEFT JOIN mlgate_labels l ON c.request_id = TRY_CAST(l.request_id AS {id_type})")

    def stream(self, sql: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The (g, v) rows of `sql` in chunks of CHUNK_ROWS, as (int64, float64) arrays."""
        import duckdb

        try:
            reader = self.engine.con.sql(sql).to_arrow_reader(CHUNK_ROWS)
            for batch in reader:
                yield (batch.column(0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False),
                       batch.column(1).to_numpy(zero_copy_only=False).astype(np.float64, copy=False))
        except duckdb.Error as exc:
            raise LogError(str(self.engine.translate(exc) or exc)) from None

    def fetch_compact(self, sql: str) -> pd.DataFrame:
        """A query's rows as a frame whose text columns are categorical (one string per distinct
        value, not per row, as pyarrow's reader gives the numpy path)."""
        import duckdb
        import pyarrow as pa

        try:
            table = self.engine.con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise LogError(str(self.engine.translate(exc) or exc)) from None
        for i, field in enumerate(table.schema):
            if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                table = table.set_column(i, field.name, table.column(i).dictionary_encode())
        frame = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        pa.default_memory_pool().release_unused()
        return frame

    def _fetch(self, sql: str) -> pd.DataFrame:
        import duckdb

        try:
            return self.engine.con.execute(sql).df()
        except duckdb.Error as exc:
            raise LogError(str(self.engine.translate(exc) or exc)) from None


def _int(v: object) -> int:
    return int(v)  # type: ignore[call-overload, no-any-return]


def _float(v: object) -> float:
    return float(v)  # type: ignore[arg-type]


def _iso(t: datetime) -> str:
    return t.isoformat()


def _numeric_type(kind: str) -> bool:
    return kind in ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE") or kind.startswith("DECIMAL")


class SqlRows:
    """The monitor's `Current` over a DuckDB table of one model's window (bot.monitor.checks)."""

    def __init__(self, scan: LogScan, table: str, model: ModelConfig) -> None:
        self._scan = scan
        self._table = table
        self._model = model
        self._types = scan._types(table)
        self.rows = _int(scan._sql(f"SELECT COUNT(*) FROM {table}")[0][0])
        self._groups: list[str] = []

    def _col(self, col: str) -> str:
        return "h." + self._scan.engine.dialect.q(col)

    def columns(self) -> list[str]:
        return list(self._types)

    def numeric(self, col: str) -> bool:
        return _numeric_type(self._types[col])

    def bind_splits(self, parts: list[Partition]) -> None:
        """Each spec's SQL key (bot.evaluation.engines.sql, as the evaluation engines segment rows),
        the log's distinct keys labelled as the numpy segments label them, and mapped to the
        reference's segment codes."""
        scan = self._scan
        kinds = scan.engine.columns(self._table)
        plan = SqlPlan(Request(task="regression", label="score", candidate=(), baseline=None, metrics=(),
                               segments=tuple(self._model.segments)), scan.engine.dialect, kinds, None)
        try:
            plan.build_partitions(self._has_null)
        except KeyError as exc:
            raise LogError(f"segment column {exc.args[0]!r} is not in the logged predictions; log it") from None
        self._groups = []
        for part, rp in zip(plan.partitions[1:], parts, strict=True):
            index = {v: i for i, v in enumerate(rp.values)}
            exprs = [k.expr for k in part.keys]
            keys = scan._sql(f"SELECT DISTINCT {', '.join(exprs)} FROM {self._table} h "
                             f"LIMIT {MAX_SEGMENT_KEYS + 1}")
            if len(keys) > MAX_SEGMENT_KEYS:
                raise LogError(f"segment {part.title!r} has more than {MAX_SEGMENT_KEYS:,} values in the log")
            table: dict[tuple[object, ...], int] = {}
            for row in keys:
                text = CROSS.join(k.label(v)[1] for k, v in zip(part.keys, row, strict=True))
                if text in index:
                    table[tuple(row)] = index[text]
            self._groups.append(lookup(exprs, table, scan.engine.dialect))
        if self._groups:  # one pass computes every segment code; each count table then groups by an integer
            codes = ", ".join(f"CAST({g} AS INTEGER) AS mlgate_g{i}" for i, g in enumerate(self._groups))
            scan._sql(f"CREATE OR REPLACE TEMPORARY TABLE {self._table} AS SELECT *, {codes} FROM {self._table} h")
            self._groups = [f"h.mlgate_g{i}" for i in range(len(self._groups))]

    def _has_null(self, col: str) -> bool:
        c = self._scan.engine.dialect.q(col)
        return bool(self._scan._sql(f"SELECT COUNT(*) FROM {self._table} WHERE {c} IS NULL")[0][0])

    def _group(self, split: int | None) -> str:
        return "0" if split is None else self._groups[split]

    def bin_counts(self, col: str, inner: np.ndarray, split: int | None, groups: int) -> np.ndarray:
        v = real(self._col(col))
        sql = count_table_sql(f"{self._table} h", self._group(split), bin_index(v, list(inner), self._scan.engine.dialect),
                              is_value(v))
        out = np.zeros((groups, len(inner) + 1))
        for g, b, n in self._scan._sql(sql):
            out[_int(g), _int(b)] += _float(n)
        return out

    def _text(self, col: str) -> str:
        kind = self._types[col]
        c = self._col(col)
        if kind == "VARCHAR":
            return c
        if kind == "BOOLEAN":
            return f"CASE WHEN {c} THEN 'True' ELSE 'False' END"
        raise LogError(f"column {col} is text in the reference but {kind.lower()} in the log; log it as the "
                       "reference holds it (or use --engine numpy)")

    def texts(self, col: str) -> list[str]:
        return [str(r[0]) for r in self._scan._sql(
            f"SELECT DISTINCT {self._text(col)} FROM {self._table} h WHERE {self._col(col)} IS NOT NULL")]

    def category_counts(self, col: str, cats: pd.Index, split: int | None, groups: int) -> np.ndarray:
        sql = count_table_sql(f"{self._table} h", self._group(split), self._text(col), f"{self._col(col)} IS NOT NULL")
        out = np.zeros((groups, len(cats)))
        at = {c: i for i, c in enumerate(cats)}
        for g, text, n in self._scan._sql(sql):
            out[_int(g), at[str(text)]] += _float(n)
        return out

    def ks(self, col: str, split: int | None, refs: dict[int, np.ndarray]) -> dict[int, float]:
        """Exact KS per group (bot.monitor.ks): the current values sorted by DuckDB (out of core),
        streamed in chunks and counted per slot among the group's distinct reference values
        (memory bounded by the chunk), then the same numpy as for a frame; where both sides
        are small enough for scipy's exact distribution, the current rows themselves."""
        scan = self._scan
        v = real(self._col(col))
        cur = f"SELECT {self._group(split)} AS g, {v} AS v FROM {self._table} h WHERE {is_value(v)}"
        wanted = ", ".join(str(int(g)) for g in refs)
        sizes = {_int(g): _int(n) for g, n in scan._sql(
            f"SELECT g, COUNT(*) FROM ({cur}) k WHERE g IN ({wanted}) GROUP BY g")}
        out: dict[int, float] = {}
        small = [g for g, r in refs.items() if sizes.get(g, 0) and max(len(r), sizes[g]) <= MAX_EXACT]
        large = [g for g, r in refs.items() if sizes.get(g, 0) and max(len(r), sizes[g]) > MAX_EXACT]
        if small:
            frame = scan._fetch(f"SELECT g, v FROM ({cur}) k WHERE g IN ({', '.join(map(str, small))})")
            gs, vs = frame["g"].to_numpy(), frame["v"].to_numpy(dtype=np.float64)
            for g in small:
                out[g] = float(stats.ks_2samp(refs[g], vs[gs == g]).pvalue)
        if large:
            distinct = {g: np.unique(refs[g], return_counts=True) for g in large}
            acc = {g: np.zeros(2 * len(distinct[g][0]) + 1, dtype=np.int64) for g in large}
            for gs, vs in scan.stream(f"SELECT g, v FROM ({cur}) k WHERE g IN ({', '.join(map(str, large))}) "
                                      "ORDER BY g, v"):
                cuts = np.flatnonzero(np.diff(gs)) + 1
                for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(gs)], strict=True):
                    u, chunk = distinct[int(gs[a])][0], vs[a:b]  # (sorted: the searches walk forward)
                    acc[int(gs[a])] += slots(u, chunk) if len(chunk) < len(u) else sorted_slots(u, chunk)
            for g in large:
                dmax, dmin = extremes_from_counts(distinct[g][1], acc[g])
                out[g] = p_value_from_extremes(len(refs[g]), sizes[g], dmax, dmin)
        return out

    def labelled(self, label: str, columns: list[str]) -> pd.DataFrame:
        q = self._scan.engine.dialect.q
        lab = q(label)
        kind = self._types[label]
        has = f"{lab} IS NOT NULL" + (f" AND NOT isnan({lab})" if kind in ("FLOAT", "DOUBLE") else "")
        cols = ", ".join(q(c) for c in dict.fromkeys([label, "score", *columns]))
        frame = self._scan.fetch_compact(f"SELECT {cols} FROM {self._table} WHERE {has}")
        # live quality is the last reader of the window (bot.monitor.checks.check_model): free DuckDB's
        # copy before the gate's estimators sort the labelled rows
        self._scan._sql(f"DROP TABLE IF EXISTS {self._table}")
        return frame
