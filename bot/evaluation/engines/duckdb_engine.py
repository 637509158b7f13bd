"""The DuckDB engine: the SQL of `bot.evaluation.engines.sql`, embedded and out of core.

Reads Parquet files, globs and (hive-partitioned) directories, local or remote through
DuckDB's readers, or an in-memory frame. `memory` bounds DuckDB's memory (`4GB`); above it
DuckDB spills to `temp_directory`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.evaluation import EvaluationError
from bot.evaluation.engines import EngineUnavailable, TableSource
from bot.evaluation.engines.sql import Dialect, Kind, Row, SqlEngine

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


class DuckDBEngine(SqlEngine):
    name = "duckdb"
    dialect = Dialect('"')

    def __init__(self, memory: str | None = None, threads: int | None = None,
                 temp_directory: str | None = None) -> None:
        connect_module()
        import duckdb

        self._duckdb = duckdb
        self.con: duckdb.DuckDBPyConnection = duckdb.connect(":memory:")
        settings = {"preserve_insertion_order": "false", "enable_progress_bar": "false"}
        if memory:
            settings["memory_limit"] = memory
        if threads:
            settings["threads"] = str(int(threads))
        if temp_directory:
            settings["temp_directory"] = temp_directory
        for k, v in settings.items():
            try:
                self.con.execute(f"SET {k} = '{v.replace(chr(39), '')}'")
            except duckdb.Error as exc:
                raise EvaluationError(f"invalid duckdb setting {k}={v!r}: {str(exc).splitlines()[0]}") from None
        self._frames: list[object] = []

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
