"""The DuckDB engine: the SQL of `bot.evaluation.engines.sql`, embedded and out of core.

Reads Parquet files, globs and (hive-partitioned) directories, local or remote through
DuckDB's readers, or an in-memory frame. `memory` bounds DuckDB's memory (`4GB`); above it
DuckDB spills to `temp_directory`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
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
    try:
        import duckdb
    except ImportError:
        raise EngineUnavailable("the duckdb engine needs the duckdb package: pip install 'mlgate[duckdb]'") from None
    return duckdb


RANKED = "mlgate_ranked"
CHUNK_ROWS = 1 << 20


class DuckDBEngine(SqlEngine):
    """`stream_ranks` (default): AUC and AP from DuckDB's out-of-core sort streamed through numpy
    (one sort per model and segment column; DuckDB's window operator needs four and is far
    slower). False: the portable window SQL that the Spark engine runs. Both are exact."""

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
        if pi:
            groups, gexpr = self._group_keys[pi], f"g{pi}"
        else:
            groups, gexpr = [(0,)], "0"
        remap = np.empty(len(groups), dtype=np.int64)
        for row in groups:
            remap[int(row[-1])] = index[tuple(row[:-1])]  # type: ignore[call-overload]
        totals = np.zeros((len(groups), 2))
        for g, m, p in self._run(f"SELECT {gexpr} AS g, COUNT(*), SUM(y) FROM {RANKED} GROUP BY 1"):
            totals[int(g)] = (float(m), float(p))  # type: ignore[call-overload, arg-type]
        n = int(_first(self._run(f"SELECT MAX(rowid) + 1 FROM {RANKED}")))
        acc = _RankAcc(len(groups), totals, want_auc, want_ap)
        whos = ("c", "b") if plan.paired else ("c",)
        for w in whos:
            sql = f"SELECT rowid, y, {gexpr} AS g, {w}0 AS s FROM {RANKED} ORDER BY {'g, ' if pi else ''}s"
            try:
                reader = self.con.sql(sql).to_arrow_reader(CHUNK_ROWS)
                k = whos.index(w)

                def tick(rows: int, k: int = k) -> None:
                    if self._step is not None:
                        self._step.within((k + rows / max(n, 1)) / len(whos))

                acc.run(reader, w == "c", plan.paired, n, tick)
            except self._duckdb.Error as exc:
                raise self.translate(exc) or EvaluationError(str(exc)) from None
        return acc.sums(G, remap, plan.paired)

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


def _first(rows: list[Row]) -> int:
    value = rows[0][0]
    if not isinstance(value, int):
        raise EvaluationError("duckdb returned no row count")
    return value


@dataclass
class _State:
    """Running sums of the current group while its rows stream by in score order."""

    g: int = -1
    cnt: float = 0.0
    pos: float = 0.0
    cx: float = 0.0
    cc: float = 0.0


@dataclass
class _RankAcc:
    """AUC placements and AP influences per row, from rows sorted by (group, score), in chunks.

    The same block arithmetic as `bot.evaluation.paired._ranked`, with the running sums of a
    group carried across chunks; a tie block is never split (the chunk's last block waits for
    the next chunk). The first model's per-row values are kept by row id; the second model's
    are paired with them and only their per-(group, class) mean and squared deviations kept.
    """

    G: int
    totals: np.ndarray  # [G, (rows, positives)]
    want_auc: bool
    want_ap: bool
    pos_v: np.ndarray = field(init=False)  # [G, model] sum of placements over positives
    prec: np.ndarray = field(init=False)  # [G, model] sum of precision over positives
    stats: dict[str, np.ndarray] = field(init=False)  # "d"/"e" -> [3, G, 2]: count, mean, M2
    first_v: np.ndarray = field(init=False)
    first_i: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.pos_v = np.zeros((self.G, 2))
        self.prec = np.zeros((self.G, 2))
        self.stats = {k: np.zeros((3, self.G, 2)) for k in ("d", "e")}

    def run(self, reader: object, first: bool, paired: bool, n: int,
            tick: Callable[[int], None] | None = None) -> None:
        if first and paired:
            self.first_v = np.full(n, np.nan) if self.want_auc else np.empty(0)
            self.first_i = np.full(n, np.nan) if self.want_ap else np.empty(0)
        st = _State()
        carry: list[np.ndarray] | None = None
        seen = 0
        for batch in reader:  # type: ignore[attr-defined]
            cols = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(4)]
            seen += len(cols[0])
            if tick is not None:
                tick(seen)
            if carry is not None:
                cols = [np.concatenate((a, b)) for a, b in zip(carry, cols, strict=True)]
            g, s = cols[2], cols[3]
            other = np.flatnonzero((g != g[-1]) | (s != s[-1]))
            cut = int(other[-1]) + 1 if len(other) else 0
            carry = [c[cut:] for c in cols]
            if cut:
                self._chunk([c[:cut] for c in cols], st, first, paired)
        if carry is not None and len(carry[0]):
            self._chunk(carry, st, first, paired)

    def _chunk(self, cols: list[np.ndarray], st: _State, first: bool, paired: bool) -> None:
        rid, y_raw, g_all, s_all = cols
        bounds = np.flatnonzero(g_all[1:] != g_all[:-1]) + 1
        for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [len(g_all)])), strict=True):
            gg = int(g_all[lo])
            if gg != st.g:
                st.g, st.cnt, st.pos, st.cx, st.cc = gg, 0.0, 0.0, 0.0, 0.0
            self._group(rid[lo:hi], y_raw[lo:hi].astype(np.float64), s_all[lo:hi], gg, st, first, paired)

    def _group(self, rid: np.ndarray, y: np.ndarray, s: np.ndarray, gg: int, st: _State, first: bool,
               paired: bool) -> None:
        m, P = self.totals[gg]
        k = 0 if first else 1
        rows = len(s)
        new = np.empty(rows, dtype=bool)
        new[0] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        bid: np.ndarray | None = None
        if len(starts) < rows:  # ties: rows aggregate into blocks of equal score
            bid = np.cumsum(new) - 1
            bcnt = np.diff(np.append(starts, rows)).astype(np.float64)
            bpos = np.add.reduceat(y, starts)
        else:  # no ties: every row is its own block
            bcnt, bpos = np.ones(rows), y

        def per_row(block: np.ndarray) -> np.ndarray:
            return block if bid is None else block[bid]

        cnt_below = st.cnt + (np.cumsum(bcnt) - bcnt)
        pos_below = st.pos + (np.cumsum(bpos) - bpos)
        st.cnt += float(bcnt.sum())
        st.pos += float(bpos.sum())
        pos = y > 0
        v = np.full(rows, np.nan)
        if self.want_auc and P > 0 and m > P:
            v10 = (cnt_below - pos_below + 0.5 * (bcnt - bpos)) / (m - P)
            v01 = (P - pos_below - 0.5 * bpos) / P
            v = np.where(pos, per_row(v10), per_row(v01))
            self.pos_v[gg, k] += float(np.dot(bpos, v10))
        part = np.full(rows, np.nan)
        if self.want_ap and P > 0:
            prec = (P - pos_below) / (m - cnt_below)
            self.prec[gg, k] += float(np.dot(bpos, prec))
            x = bpos / (m - cnt_below)
            cx = st.cx + np.cumsum(x)
            cc = st.cc + np.cumsum(x * prec)
            st.cx, st.cc = float(cx[-1]), float(cc[-1])
            part = (y * per_row(cx + prec) - per_row(cc)) / P
        if not paired:
            return
        if first:
            if self.want_auc:
                self.first_v[rid] = v
            if self.want_ap:
                self.first_i[rid] = part
            return
        for key, other, mine, want in (("d", self.first_v, v, self.want_auc), ("e", self.first_i, part, self.want_ap)):
            if want:
                _merge(self.stats[key][:, gg, :], other[rid] - mine, pos.astype(np.intp))

    def sums(self, G: int, remap: np.ndarray, paired: bool) -> RankSums:
        out = RankSums.empty(G)
        m, P = self.totals[:, 0], self.totals[:, 1]
        cnt = np.stack((m - P, P), axis=1)
        out.cnt[remap] = cnt
        with np.errstate(invalid="ignore", divide="ignore"):
            out.auc[remap, 1, 0] = self.pos_v[:, 0] / P
            out.prec[remap, 0] = self.prec[:, 0]
            if paired:
                out.auc[remap, 1, 1] = self.pos_v[:, 1] / P
                out.prec[remap, 1] = self.prec[:, 1]
                d, e = self.stats["d"], self.stats["e"]
                out.dvar[remap] = np.where(d[0] > 1, d[2] / np.maximum(d[0] - 1, 1), np.nan)
                shift = (self.prec[:, 0] - self.prec[:, 1]) / P / P  # (AP_c - AP_b) / P, positives only
                out.ap_mean[remap] = e[1] - np.stack((np.zeros_like(shift), shift), axis=1)
                out.ap_m2[remap] = e[2]
        return out


def _merge(acc: np.ndarray, x: np.ndarray, cls: np.ndarray) -> None:
    """Fold values into running (count, mean, M2) per class (Chan et al.), in place; acc is [3, 2]."""
    nb = np.bincount(cls, minlength=2).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mb = np.bincount(cls, weights=x, minlength=2) / nb
        dev = x - mb[cls]
        m2b = np.bincount(cls, weights=dev * dev, minlength=2)
        na, ma, m2a = acc[0].copy(), acc[1].copy(), acc[2].copy()
        n = na + nb
        delta = mb - ma
        has = nb > 0
        acc[0] = n
        acc[1] = np.where(has, ma + delta * nb / np.where(n > 0, n, 1), ma)
        acc[2] = np.where(has, m2a + m2b + delta * delta * na * nb / np.where(n > 0, n, 1), m2a)
