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
    try:
        import duckdb
    except ImportError:
        raise EngineUnavailable("the duckdb engine needs the duckdb package: pip install 'mlgate[duckdb]'") from None
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
        in score order, and each chunk is split by segment code with a stable counting sort, so
        within a segment they stay in score order (segment code order never needs a sort)."""
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
        for k, w in enumerate(whos):
            sql = f"SELECT rowid, y, {w}0 AS s{gcols} FROM {RANKED} ORDER BY s"
            first = w == "c"
            states: list[dict[int, _State]] = [{} for _ in parts]
            if first and plan.paired:
                for acc in accs:
                    acc.keep(n)
            # each partition's numpy work runs in its own thread (numpy releases the GIL), chunk
            # after chunk, while this thread reads the next batch from DuckDB
            pending: list[Future[None]] = []
            try:
                with ThreadPoolExecutor(max_workers=len(accs)) as pool:
                    reader = self.con.sql(sql).to_arrow_reader(CHUNK_ROWS)
                    for cols, seen in _score_chunks(reader):
                        cols[1] = cols[1].astype(np.float64)
                        if self._step is not None:
                            self._step.within((k + seen / max(n, 1)) / len(whos))
                        for done in pending:
                            done.result()
                        pending = [pool.submit(acc.chunk, cols[:3], cols[2 + pi] if pi else None, states[pi], first,
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
    """The columns of rows sorted by score (the third column), in chunks that never split a
    block of equal scores (the last block of a batch waits for the next), with the rows seen."""
    carry: list[np.ndarray] | None = None
    seen = 0
    for batch in reader:  # type: ignore[attr-defined]
        cols = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(batch.num_columns)]
        seen += len(cols[0])
        if carry is not None:
            cols = [np.concatenate((a, b)) for a, b in zip(carry, cols, strict=True)]
        s = cols[2]
        other = np.flatnonzero(s != s[-1])
        cut = int(other[-1]) + 1 if len(other) else 0
        carry = [c[cut:] for c in cols]
        if cut:
            yield [c[:cut] for c in cols], seen
    if carry is not None and len(carry[0]):
        yield carry, seen


@dataclass
class _State:
    """Running sums of one group over the rows of lower score seen so far."""

    cnt: float = 0.0
    pos: float = 0.0
    cx: float = 0.0
    cc: float = 0.0


@dataclass
class _RankAcc:
    """AUC placements and AP influences per row of one partition, from rows sorted by score.

    The same block arithmetic as `bot.evaluation.paired._ranked`, with the running sums of each
    group carried across chunks; a tie block is never split. The first model's per-row values
    are kept by row id (AUC placements as their exact integer numerators 2 * (count below) + ties,
    AP influences as floats); the second model's are paired with them and only their
    per-(group, class) mean and squared deviations kept.
    """

    G: int
    totals: np.ndarray  # [G, (rows, positives)]
    want_auc: bool
    want_ap: bool
    pos_v: np.ndarray = field(init=False)  # [G, model] sum of placements over positives
    prec: np.ndarray = field(init=False)  # [G, model] sum of precision over positives
    stats: dict[str, np.ndarray] = field(init=False)  # "d"/"e" -> [3, G, 2]: count, mean, M2
    first_v: np.ndarray = field(init=False)  # per row id: 2 * placement numerator (integers)
    first_i: np.ndarray = field(init=False)  # per row id: AP influence

    def __post_init__(self) -> None:
        self.pos_v = np.zeros((self.G, 2))
        self.prec = np.zeros((self.G, 2))
        self.stats = {k: np.zeros((3, self.G, 2)) for k in ("d", "e")}

    def keep(self, n: int) -> None:
        """Room for the first model's per-row values of n rows."""
        self.first_v = np.zeros(n, dtype=np.uint32 if 2 * n < 2**32 else np.uint64) if self.want_auc \
            else np.empty(0)
        self.first_i = np.full(n, np.nan) if self.want_ap else np.empty(0)

    def kept_bytes(self, n: int) -> int:
        return n * ((8 if 2 * n >= 2**32 else 4) * self.want_auc + 8 * self.want_ap)

    def chunk(self, cols: list[np.ndarray], g: np.ndarray | None, states: dict[int, _State], first: bool,
              paired: bool) -> None:
        """Rows in score order (whole tie blocks), with their group codes (None: one group)."""
        rid, y_raw, s = cols
        if g is None:
            self._group(rid, y_raw, s, 0, states.setdefault(0, _State()), first, paired)
            return
        code = g.astype(np.int16) if self.G < 1 << 15 else g
        order = np.argsort(code, kind="stable")  # a radix sort for 16-bit codes: score order kept per group
        code, rid, y_raw, s = code[order], rid[order], y_raw[order], s[order]
        bounds = np.flatnonzero(code[1:] != code[:-1]) + 1
        for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [len(code)])), strict=True):
            gg = int(code[lo])
            self._group(rid[lo:hi], y_raw[lo:hi], s[lo:hi], gg, states.setdefault(gg, _State()),
                        first, paired)

    def _group(self, rid: np.ndarray, y: np.ndarray, s: np.ndarray, gg: int, st: _State, first: bool,
               paired: bool) -> None:
        m, P = self.totals[gg]
        k = 0 if first else 1
        rows = len(s)
        new = np.empty(rows, dtype=bool)
        new[0] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        bid: np.ndarray | None = None
        bcnt: np.ndarray | float
        if not new.all():  # ties: rows aggregate into blocks of equal score
            starts = np.flatnonzero(new)
            bid = np.cumsum(new) - 1
            bcnt = np.diff(np.append(starts, rows)).astype(np.float64)
            bpos = np.add.reduceat(y, starts)
            cnt_below = np.cumsum(bcnt)
            cnt_below -= bcnt
        else:  # no ties: every row is its own block
            bcnt, bpos = 1.0, y
            cnt_below = np.arange(rows, dtype=np.float64)
        cnt_below += st.cnt
        pos_below = np.cumsum(bpos)
        pos_below -= bpos
        pos_below += st.pos
        st.cnt += float(rows)
        st.pos += float(bpos.sum())

        def per_row(block: np.ndarray) -> np.ndarray:
            return block if bid is None else block[bid]

        pos = y > 0
        auc = self.want_auc and P > 0 and m > P
        v2 = np.zeros(0)  # 2 * numerator of each row's placement: exact integers
        if auc:
            n10 = cnt_below - pos_below
            n10 *= 2
            n10 += bcnt
            n10 -= bpos
            self.pos_v[gg, k] += float(np.dot(bpos, n10)) * 0.5 / (m - P)
            if paired:
                n01 = P - pos_below
                n01 *= 2
                n01 -= bpos
                v2 = np.where(pos, per_row(n10), per_row(n01))
        ap = self.want_ap and P > 0
        part = np.zeros(0)
        if ap:
            rest = m - cnt_below  # rows at or above the block's score
            prec = P - pos_below
            prec /= rest
            self.prec[gg, k] += float(np.dot(bpos, prec))
            x = bpos / rest
            cx = np.cumsum(x)
            cx += st.cx
            x *= prec
            cc = np.cumsum(x)
            cc += st.cc
            st.cx, st.cc = float(cx[-1]), float(cc[-1])
            if paired:
                cx += prec
                part = per_row(cx)
                part *= y
                part -= per_row(cc)
                part /= P
        if not paired:
            return
        if first:
            if auc:
                self.first_v[rid] = v2
            if ap:
                self.first_i[rid] = part
            return
        cls = pos.astype(np.intp)
        nan = np.full(rows, np.nan) if not (auc and ap) else np.zeros(0)
        if self.want_auc:
            # both placements have the same denominator: subtract the exact numerators first
            diff = (self.first_v[rid] - v2) * np.where(pos, 0.5 / (m - P), 0.5 / P) if auc else nan
            _merge(self.stats["d"][:, gg, :], diff, cls)
        if self.want_ap:
            _merge(self.stats["e"][:, gg, :], self.first_i[rid] - part if ap else nan, cls)

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
