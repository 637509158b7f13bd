"""The DuckDB engine: the SQL of `bot.evaluation.engines.sql`, embedded and out of core.

Reads Parquet files, globs and (hive-partitioned) directories, local or remote through
DuckDB's readers, or an in-memory frame. `memory` bounds DuckDB's memory (`4GB`); above it
DuckDB spills to `temp_directory`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.evaluation import EvaluationError
from bot.evaluation.engines import EngineUnavailable, TableSource
from bot.evaluation.engines.sql import ROWS, Dialect, Kind, RankSums, Row, SqlEngine, SqlPlan

if TYPE_CHECKING:
    import duckdb

_KINDS = {"BOOLEAN": "bool", "TINYINT": "int", "SMALLINT": "int", "INTEGER": "int", "BIGINT": "int",
          "HUGEINT": "int", "UTINYINT": "int", "USMALLINT": "int", "UINTEGER": "int", "UBIGINT": "int",
          "FLOAT": "float", "DOUBLE": "float", "VARCHAR": "string"}


def connect_module() -> object:
    """duckdb, once it and numba (the compiled rank pass, `rank_kernel`) are known to import."""
    try:
        import duckdb
        import numba  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"the duckdb engine needs the {exc.name or 'duckdb'} package: "
                                "pip install 'mlgate[duckdb]'") from None
    return duckdb


RANKED = "mlgate_ranked"
CHUNK_ROWS = 1 << 20


class DuckDBEngine(SqlEngine):
    """`stream_ranks` (default): AUC and AP from DuckDB's out-of-core sort streamed through numpy
    (one sort per model over all rows, shared by every segment column; DuckDB's window operator
    needs four per segment column and is far slower). False: the portable window SQL that the
    Spark engine runs. Both are exact."""

    name = "duckdb"
    dialect = Dialect('"')
    stream_ranks = True

    def __init__(self, memory: str | None = None, threads: int | None = None,
                 temp_directory: str | None = None) -> None:
        connect_module()
        import duckdb

        self._duckdb = duckdb
        self.con: duckdb.DuckDBPyConnection = duckdb.connect(":memory:")
        settings = {"preserve_insertion_order": "false", "enable_progress_bar": "false",
                    "temp_directory": temp_directory or str(Path(tempfile.gettempdir()) / "mlgate-duckdb")}
        self._memory = (memory or "").replace("'", "")
        if memory:
            settings["memory_limit"] = memory
        if threads:
            settings["threads"] = str(int(threads))
        for k, v in settings.items():
            try:
                self.con.execute(f"SET {k} = '{v.replace(chr(39), '')}'")
            except duckdb.Error as exc:
                raise EvaluationError(f"invalid duckdb setting {k}={v!r}: {str(exc).splitlines()[0]}") from None
        self._ranked: str | None = None  # the rows view RANKED was materialised from
        self._accs: list[_RankAcc] = []  # every partition's rank sums, computed at the first partition
        self._accs_for: tuple[str, bool, bool] | None = None
        self._group_keys: dict[int, list[Row]] = {}  # partition -> (keys..., group code) rows

    def register(self, view: str, source: TableSource) -> None:
        if source.frame is not None:
            self.con.register(f"{view}_frame", source.frame)
            self._run(f"CREATE OR REPLACE TEMPORARY VIEW {view} AS SELECT * FROM {view}_frame")
            return
        paths = []
        for p in source.parquet:
            if "://" not in p and Path(p).is_dir():
                p = str(Path(p) / "**" / "*.parquet")
            elif "://" not in p and not any(ch in p for ch in "*?[") and not Path(p).exists():
                raise EvaluationError(f"{source.name or p}: {p} does not exist; check the path")
            paths.append("'" + p.replace("'", "''") + "'")
        self._run(f"CREATE OR REPLACE TEMPORARY VIEW {view} AS SELECT * FROM read_parquet([{', '.join(paths)}], "
                  "hive_partitioning = true, union_by_name = true)")

    def columns(self, view: str) -> dict[str, Kind]:
        rows = self._run(f"DESCRIBE SELECT * FROM {view}")
        out: dict[str, Kind] = {}
        for row in rows:
            t = str(row[1]).upper()
            out[str(row[0])] = "float" if t.startswith("DECIMAL") else _KINDS.get(t, "other")
        return out

    def query(self, sql: str) -> list[Row]:
        return self._run(sql)

    def _run(self, sql: str) -> list[Row]:
        """Run SQL; DuckDB's errors become one-line EvaluationErrors."""
        try:
            return [tuple(r) for r in self.con.execute(sql).fetchall()]
        except self._duckdb.Error as exc:
            raise self.translate(exc) or EvaluationError(str(exc)) from None

    def translate(self, exc: Exception) -> EvaluationError | None:
        d = self._duckdb
        if not isinstance(exc, d.Error):
            return None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, d.OutOfMemoryException):
            return EvaluationError(f"duckdb ran out of memory ({first}); raise --engine-memory or free disk for "
                                   "spilling")
        if isinstance(exc, d.IOException | d.HTTPException):
            return EvaluationError(f"cannot read the data: {first}")
        return EvaluationError(f"duckdb: {first}")

    def close(self) -> None:
        self.con.close()

    # ------------------------------------------------------------ AUC and AP by a streamed sort

    def _rank_sums(self, plan: SqlPlan, pi: int, index: dict[Row, int], G: int, want_auc: bool,
                   want_ap: bool) -> RankSums:
        if not self.stream_ranks:
            return super()._rank_sums(plan, pi, index, G, want_auc, want_ap)
        if self._ranked != plan.rows_sql():
            self._materialize(plan)
        if self._accs_for != (plan.rows_sql(), want_auc, want_ap):
            self._accs = self._stream(plan, want_auc, want_ap)
            self._accs_for = (plan.rows_sql(), want_auc, want_ap)
        groups = self._group_keys[pi] if pi else [(0,)]
        remap = np.empty(len(groups), dtype=np.int64)
        for row in groups:
            remap[int(row[-1])] = index[tuple(row[:-1])]  # type: ignore[call-overload]
        return self._accs[pi].sums(G, remap, plan.paired)

    def _stream(self, plan: SqlPlan, want_auc: bool, want_ap: bool) -> list[_RankAcc]:
        """Every partition's rank sums from one sort per model over all rows: the rows stream by
        in score order, and each row's group code picks its group's running sums in the compiled
        pass (within a group the rows stay in score order; group order never needs a sort)."""
        parts = range(len(plan.partitions))
        accs = []
        for pi in parts:
            size = len(self._group_keys[pi]) if pi else 1
            totals = np.zeros((size, 2))
            gexpr = f"g{pi}" if pi else "0"
            for g, m, p in self._run(f"SELECT {gexpr} AS g, COUNT(*), SUM(y) FROM {RANKED} GROUP BY 1"):
                totals[int(g)] = (float(m), float(p))  # type: ignore[call-overload, arg-type]
            accs.append(_RankAcc(size, totals, want_auc, want_ap))
        n = int(_first(self._run(f"SELECT MAX(rowid) + 1 FROM {RANKED}")))
        whos = ("c", "b") if plan.paired else ("c",)
        setting = str(_first_value(self._run("SELECT current_setting('memory_limit')")))
        limit = _bytes(setting)
        if plan.paired and limit:  # the first model's per-row values count against the memory budget
            kept = sum(acc.kept_bytes(n) for acc in accs)
            self._run(f"SET memory_limit = '{max(limit - kept, limit // 4)}B'")
        try:
            self._sorts(plan, accs, n, whos)
        finally:
            if plan.paired and limit:
                self._run(f"SET memory_limit = '{self._memory}'" if self._memory else "RESET memory_limit")
        return accs

    def _sorts(self, plan: SqlPlan, accs: list[_RankAcc], n: int, whos: tuple[str, ...]) -> None:
        parts = range(len(accs))
        gcols = "".join(f", g{pi}" for pi in parts if pi)
        one_group = np.zeros(0, dtype=np.int32)
        for k, w in enumerate(whos):
            # row id and label travel as one BIGINT: a narrower sort
            sql = f"SELECT rowid * 2 + y AS ry, {w}0 AS s{gcols} FROM {RANKED} ORDER BY s"
            for acc in accs:
                acc.start()
                if k == 0 and plan.paired:
                    acc.keep(n)
            # each partition's compiled pass runs in its own thread (it releases the GIL), chunk
            # after chunk, while this thread reads the next batch from DuckDB
            pending: list[Future[None]] = []
            try:
                with ThreadPoolExecutor(max_workers=len(accs)) as pool:
                    reader = self.con.sql(sql).to_arrow_reader(CHUNK_ROWS)
                    for cols, seen in _score_chunks(reader):
                        if self._step is not None:
                            self._step.within((k + seen / max(n, 1)) / len(whos))
                        for done in pending:
                            done.result()
                        pending = [pool.submit(acc.chunk, cols[0], cols[1], cols[1 + pi] if pi else one_group, k,
                                               plan.paired) for pi, acc in enumerate(accs)]
                    for done in pending:
                        done.result()
            except self._duckdb.Error as exc:
                raise self.translate(exc) or EvaluationError(str(exc)) from None

    def _materialize(self, plan: SqlPlan) -> None:
        """The rows both models' sorts share (their rowid pairs them): label, scores and a small
        group code per segment column. DuckDB spills it to disk beyond its memory limit."""
        joins, cols = [], ["CAST(r.y AS TINYINT) AS y", "r.c0"] + (["r.b0"] if plan.paired else [])
        self._group_keys = {}
        for i in range(1, len(plan.partitions)):
            keys = plan._keys(i)
            kl = ", ".join(keys)
            self._run(f"CREATE OR REPLACE TEMPORARY TABLE mlgate_g{i} AS SELECT {kl}, CAST(ROW_NUMBER() OVER "
                      f"(ORDER BY {kl}) - 1 AS INTEGER) AS g FROM (SELECT DISTINCT {kl} FROM {ROWS}) d")
            self._group_keys[i] = self._run(f"SELECT * FROM mlgate_g{i}")
            on = " AND ".join(f"r.{k} IS NOT DISTINCT FROM t{i}.{k}" for k in keys)
            joins.append(f"JOIN mlgate_g{i} t{i} ON {on}")
            cols.append(f"t{i}.g AS g{i}")
        self._run(f"CREATE OR REPLACE TEMPORARY TABLE {RANKED} AS SELECT {', '.join(cols)} FROM {ROWS} r "
                  + " ".join(joins))
        self._ranked = plan.rows_sql()


_UNITS = {"": 1, "B": 1, "BYTES": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10,
          "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _bytes(setting: str) -> int:
    """DuckDB's memory_limit setting ('3.7 GiB') in bytes; 0 when it has none or cannot be read."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", setting)
    if match is None or match.group(2).upper() not in _UNITS:
        return 0
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _first_value(rows: list[Row]) -> object:
    return rows[0][0] if rows else ""


def _first(rows: list[Row]) -> int:
    value = rows[0][0]
    if not isinstance(value, int):
        raise EvaluationError("duckdb returned no row count")
    return value


def _score_chunks(reader: object) -> Iterator[tuple[list[np.ndarray], int]]:
    """The columns of rows sorted by score (the second column), in chunks that never split a
    block of equal scores, with the rows seen. The last block of a batch waits for the next
    batch; only that block and its continuation are copied, the rest are views of the batch."""
    carry: list[np.ndarray] | None = None
    seen = 0
    for batch in reader:  # type: ignore[attr-defined]
        cols = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(batch.num_columns)]
        seen += len(cols[0])
        if not len(cols[0]):
            continue
        if carry is not None:  # the carried block goes on while the scores equal its score
            j = int(np.searchsorted(cols[1], carry[1][0], side="right"))
            carry = [np.concatenate((a, b[:j])) for a, b in zip(carry, cols, strict=True)]
            if j == len(cols[0]):
                continue
            yield carry, seen
            cols = [c[j:] for c in cols]
        s = cols[1]
        cut = int(np.searchsorted(s, s[-1], side="left"))  # where the batch's last block starts
        carry = [c[cut:] for c in cols]
        if cut:
            yield [c[:cut] for c in cols], seen
    if carry is not None:
        yield carry, seen


@dataclass
class _RankAcc:
    """AUC placements and AP influences of one partition, from rows sorted by score, through the
    compiled pass `rank_kernel.chunk` (the block arithmetic of `bot.evaluation.paired._ranked`).

    The running sums of each group are carried across chunks; a tie block is never split. The
    first model's per-row values are kept by row id (AUC placements as their exact integer
    numerators 2 * (count below) + ties, AP influences as floats); the second model's are paired
    with them and only their per-(group, class) count, mean and squared deviations kept.
    """

    G: int
    totals: np.ndarray  # [G, (rows, positives)]
    want_auc: bool
    want_ap: bool
    auc_num: np.ndarray = field(init=False)  # [G, model] sum over positives of 2 * placement numerator
    prec: np.ndarray = field(init=False)  # [G, model] sum of precision over positives
    stats: np.ndarray = field(init=False)  # [(auc, ap), (count, mean, M2), G, class]
    state: np.ndarray = field(init=False)  # [G, 4] running sums of the model being streamed
    first_v: np.ndarray = field(init=False)  # per row id: 2 * placement numerator (integers)
    first_i: np.ndarray = field(init=False)  # per row id: AP influence

    def __post_init__(self) -> None:
        self.auc_num = np.zeros((self.G, 2))
        self.prec = np.zeros((self.G, 2))
        self.stats = np.zeros((2, 3, self.G, 2))
        self.first_v = np.zeros(0, dtype=np.uint32)
        self.first_i = np.zeros(0)
        self.start()

    def start(self) -> None:
        """Before a model's sorted rows: nothing below yet."""
        self.state = np.zeros((self.G, 4))

    def keep(self, n: int) -> None:
        """Room for the first model's per-row values of n rows (the first model's pass writes
        every row's, NaN where a group has no AP)."""
        if self.want_auc:
            self.first_v = np.empty(n, dtype=np.uint32 if 2 * n < 2**32 else np.uint64)
        if self.want_ap:
            self.first_i = np.empty(n)

    def kept_bytes(self, n: int) -> int:
        return n * ((8 if 2 * n >= 2**32 else 4) * self.want_auc + 8 * self.want_ap)

    def chunk(self, ry: np.ndarray, s: np.ndarray, code: np.ndarray, k: int, paired: bool) -> None:
        """Rows in score order (whole tie blocks): 2 x row id + label, scores, group codes
        (empty: one group). k: 0 for the first model, 1 for the second."""
        from bot.evaluation.engines import rank_kernel

        rank_kernel.chunk(ry, s, code, self.totals, self.state, k, self.want_auc, self.want_ap, paired,
                          k == 0, self.auc_num, self.prec, self.first_v, self.first_i, self.stats)

    def sums(self, G: int, remap: np.ndarray, paired: bool) -> RankSums:
        out = RankSums.empty(G)
        m, P = self.totals[:, 0], self.totals[:, 1]
        cnt = np.stack((m - P, P), axis=1)
        out.cnt[remap] = cnt
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = self.auc_num * (0.5 / (m - P))[:, None] / P[:, None]
            out.auc[remap, 1, 0] = auc[:, 0]
            out.prec[remap, 0] = self.prec[:, 0]
            if paired:
                out.auc[remap, 1, 1] = auc[:, 1]
                out.prec[remap, 1] = self.prec[:, 1]
                d, e = self.stats[0], self.stats[1]
                out.dvar[remap] = np.where(d[0] > 1, d[2] / np.maximum(d[0] - 1, 1), np.nan)
                shift = (self.prec[:, 0] - self.prec[:, 1]) / P / P  # (AP_c - AP_b) / P, positives only
                out.ap_mean[remap] = e[1] - np.stack((np.zeros_like(shift), shift), axis=1)
                out.ap_m2[remap] = e[2]
        return out
