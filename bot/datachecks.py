"""Data contracts: pandera's YAML schema format, validated with pandera, reported per check.

The contract is a pandera `DataFrameSchema` YAML file. mlgate adds one optional top-level
section that pandera has no built-in for, missing-value rates:

    mlgate:
      max_missing: {plan: 0.05}      # at most 5% of plan may be missing

Every check is reported, passed ones too, with the failing count and a few examples, so
the comment can say "11 of 12 checks passed" and show what failed.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bot.errors import InvalidInput

MAX_EXAMPLES = 5


class DataCheckError(InvalidInput):
    """A data contract that cannot be used: names the file and the problem."""


def load_contract(path: str | Path) -> tuple[Any, dict[str, float]]:
    """The pandera schema and the mlgate missing-rate limits from a contract file."""
    import pandera.pandas as pa

    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise DataCheckError(f"data contract {p}: cannot be read ({exc.strerror}); fix data_checks.schema") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise DataCheckError(f"data contract {p}{where}: invalid YAML") from None
    if not isinstance(doc, dict):
        raise DataCheckError(f"data contract {p}: expected a pandera DataFrameSchema mapping")
    ext = doc.pop("mlgate", None) or {}
    if not isinstance(ext, dict) or set(ext) - {"max_missing"}:
        raise DataCheckError(f"data contract {p}: the mlgate section accepts only max_missing")
    limits = ext.get("max_missing") or {}
    if not isinstance(limits, dict) or not all(
        isinstance(v, int | float) and 0 <= v <= 1 for v in limits.values()
    ):
        raise DataCheckError(f"data contract {p}: mlgate.max_missing maps columns to rates between 0 and 1")
    doc.setdefault("schema_type", "dataframe")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema = pa.DataFrameSchema.from_yaml(yaml.safe_dump(doc))
    except Exception as exc:  # pandera raises several types for a bad schema
        raise DataCheckError(f"data contract {p}: not a valid pandera schema: {str(exc)[:200]}") from None
    return schema, {str(k): float(v) for k, v in limits.items()}


def _expected_checks(schema: Any) -> list[tuple[str | None, str]]:
    """Every (column, check) the schema will run, named as pandera names failures."""
    out: list[tuple[str | None, str]] = []
    for name, col in schema.columns.items():
        if getattr(col, "required", True):
            out.append((name, "column_in_dataframe"))
        if col.dtype is not None:
            out.append((name, f"dtype('{col.dtype}')"))
        if not col.nullable:
            out.append((name, "not_nullable"))
        if col.unique:
            out.append((name, "field_uniqueness"))
        for check in col.checks:
            out.append((name, str(check.error or check.name)))
    if schema.unique:
        out.append((", ".join(schema.unique), "multiple_fields_uniqueness"))
    return out


def _friendly(check: str) -> str:
    if check.startswith("dtype('"):
        return f"dtype {check[7:-2]}"
    return {
        "column_in_dataframe": "required column",
        "not_nullable": "not null",
        "field_uniqueness": "unique",
        "multiple_fields_uniqueness": "unique rows",
    }.get(check, check)


def _jsonable(v: Any) -> str | float | int | bool | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, bool | int):
        return v
    if isinstance(v, float):
        return v
    return str(v)[:200]


Cases = list[tuple[Any, int]]  # (failure case, how many rows it stands for)


def _failures(schema: Any, frame: pd.DataFrame) -> dict[tuple[str | None, str], Cases]:
    """pandera's failure cases of `frame`, by (column, check); each case stands for one row."""
    import pandera.pandas as pa

    failures: dict[tuple[str | None, str], Cases] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        for row in fc.itertuples(index=False):
            column = row.column if isinstance(row.column, str) else None
            check = str(row.check)
            if check == "column_in_dataframe":
                column = str(row.failure_case)
            if check == "multiple_fields_uniqueness":
                column = ", ".join(schema.unique or [])
            failures.setdefault((column, check), []).append((row.failure_case, 1))
    except pa.errors.SchemaError as exc:  # a non-lazy failure (e.g. frame-level dtype coercion)
        failures.setdefault((None, "schema"), []).append((str(exc)[:200], 1))
    return failures


def run_checks(frame: pd.DataFrame, contract: str | Path, *, file: str | None = None) -> list[dict[str, Any]]:
    """Validate `frame` against a contract file; one result per check, in schema order."""
    schema, limits = load_contract(contract)
    failures = _failures(schema, frame)
    key = (", ".join(schema.unique or []), "multiple_fields_uniqueness")
    if key in failures:
        failures[key] = failures[key][:: max(1, len(schema.unique or [1]))]  # one failure case per column per row
    missing = {c: int(frame[c].isna().sum()) for c in limits if c in frame.columns}
    return _report(schema, limits, failures, missing, len(frame), file)


def _report(schema: Any, limits: dict[str, float], failures: dict[tuple[str | None, str], Cases],
            missing: dict[str, int], rows: int, file: str | None) -> list[dict[str, Any]]:
    """One result per check, in schema order; `missing`: missing values of the columns that exist."""
    results: list[dict[str, Any]] = []
    absent = {c for c, chk in failures if chk == "column_in_dataframe"}
    seen = set()
    for key in [*_expected_checks(schema), *failures]:
        if key in seen or (key[0] in absent and key[1] != "column_in_dataframe"):
            continue
        seen.add(key)
        column, check = key
        cases = failures.get(key, [])
        count = sum(n for _, n in cases)
        results.append({
            "file": file,
            "column": column,
            "check": _friendly(check),
            "passed": not count,
            "failures": count,
            "examples": [_jsonable(v) for v in list(dict.fromkeys(str(v) for v, _ in cases))[:MAX_EXAMPLES]]
            if count else [],
        })
    for column, limit in limits.items():
        if column not in missing:
            results.append({"file": file, "column": column, "check": f"missing rate <= {limit:.1%}",
                            "passed": False, "failures": 1, "examples": ["column is absent"]})
            continue
        n_missing = missing[column]
        rate = n_missing / rows if rows else 0.0
        results.append({
            "file": file, "column": column, "check": f"missing rate <= {limit:.1%}",
            "passed": rate <= limit, "failures": n_missing if rate > limit else 0,
            "examples": [f"{rate:.1%} missing ({n_missing} of {rows} rows)"] if rate > limit else [],
        })
    return results


# ---------------------------------------------------------------- the same checks on the DuckDB engine

CHUNK_VALUES = 1 << 18  # distinct values validated per pandera call
MAX_DUPLICATE_ROWS = 100_000  # rows read to name the examples of duplicated rows


def run_checks_sql(paths: list[str], contract: str | Path, *, file: str | None = None,
                   memory: str | None = None) -> list[dict[str, Any]]:
    """`run_checks` on Parquet files, globs or directories read by DuckDB, out of core (issue #18).

    pandera still decides every check, on what DuckDB aggregates: the dtypes come from a
    two-row sample carrying each column's type and whether it has missing values (read back
    through pandas as `read_table` reads the file), and the value checks run on each column's
    distinct values with their row counts, in order of first appearance, so failures are
    counted per row and the examples are the same as on the whole frame. Uniqueness and
    missing rates are counted in SQL.
    """
    from bot.evaluation import EvaluationError
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine

    schema, limits = load_contract(contract)
    try:
        engine = DuckDBEngine(memory=memory)
    except EvaluationError as exc:
        raise DataCheckError(str(exc)) from None
    try:
        return _ProfiledChecks(engine, paths, file).run(schema, limits)
    except EvaluationError as exc:
        raise DataCheckError(f"data file {file or ', '.join(paths)}: {exc}") from None
    finally:
        engine.close()


class _ProfiledChecks:
    VIEW = "mlgate_checked"

    def __init__(self, engine: Any, paths: list[str], file: str | None) -> None:
        self.engine = engine
        self.file = file
        files = []
        for p in paths:
            if "://" not in p and Path(p).is_dir():
                p = str(Path(p) / "**" / "*.parquet")
            files.append("'" + p.replace("'", "''") + "'")
        own = engine.query(f"DESCRIBE SELECT * FROM read_parquet([{', '.join(files)}], union_by_name = true)")
        reserved = sorted({str(r[0]) for r in own} & {"filename", "file_row_number"})
        if reserved:  # DuckDB's reader adds these columns to say where each row came from
            raise DataCheckError(f"data file {file or ', '.join(paths)}: column {reserved[0]!r} is reserved by the "
                                 "duckdb engine (it names each row's file); rename the column, or run with --engine numpy")
        engine.query(f"CREATE OR REPLACE TEMPORARY VIEW {self.VIEW}_raw AS SELECT * FROM read_parquet("
                     f"[{', '.join(files)}], union_by_name = true, filename = true, file_row_number = true)")
        engine.query(f"CREATE OR REPLACE TEMPORARY VIEW {self.VIEW} AS SELECT * EXCLUDE (filename, file_row_number), "
                     "struct_pack(f := filename, r := file_row_number) AS mlgate_pos FROM "
                     f"{self.VIEW}_raw")
        self.types = {str(r[0]): str(r[1]).upper() for r in engine.query(f"DESCRIBE SELECT * FROM {self.VIEW}")
                      if r[0] != "mlgate_pos"}

    def q(self, col: str) -> str:
        return str(self.engine.dialect.q(col))

    def _missing(self, col: str) -> str:
        c = self.q(col)
        return f"({c} IS NULL OR isnan({c}))" if self.types[col] in ("FLOAT", "DOUBLE") else f"({c} IS NULL)"

    def run(self, schema: Any, limits: dict[str, float]) -> list[dict[str, Any]]:
        cols = list(self.types)
        counts = self.engine.query(f"SELECT COUNT(*), {', '.join(f'SUM(CASE WHEN {self._missing(c)} THEN 1 ELSE 0 END)' for c in cols) or '0'} FROM {self.VIEW}")[0]
        rows = int(counts[0])
        missing = {c: int(counts[i + 1] or 0) for i, c in enumerate(cols)}
        template = self._template(cols, missing)
        failures = {k: v for k, v in _failures(schema, template).items()
                    if k[1] == "column_in_dataframe" or k[1].startswith("dtype(") or k[1] == "schema"}
        for name, column in schema.columns.items():
            if name not in self.types:
                continue
            if column.checks or not column.nullable:
                self._value_checks(name, column, template[name].dtype, failures)
            if column.unique:
                cases = self._duplicates([name])
                if cases:
                    failures[(name, "field_uniqueness")] = cases
        if schema.unique and all(c in self.types for c in schema.unique):
            cases = self._duplicate_rows(list(schema.unique))
            if cases:
                failures[(", ".join(schema.unique), "multiple_fields_uniqueness")] = cases
        return _report(schema, limits, failures, {c: missing[c] for c in limits if c in missing}, rows, self.file)

    def _template(self, cols: list[str], missing: dict[str, int]) -> pd.DataFrame:
        """A zero-row frame with the dtypes pandas gives the whole file (a column with missing
        values reads as float or object, as from the file itself)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from bot.datafiles import read_table_bytes

        first = ", ".join(f"ANY_VALUE({self.q(c)}) AS {self.q(c)}" for c in cols)
        second = ", ".join(f"CASE WHEN {missing[c]} > 0 THEN NULL ELSE ANY_VALUE({self.q(c)}) END AS {self.q(c)}"
                           for c in cols)
        table = self.engine.con.sql(f"SELECT {first} FROM {self.VIEW} UNION ALL SELECT {second} FROM {self.VIEW}"
                                    ).to_arrow_table()
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return read_table_bytes(sink.getvalue().to_pybytes(), ".parquet").iloc[:0]

    def _value_checks(self, name: str, column: Any, dtype: Any, failures: dict[tuple[str | None, str], Cases]) -> None:
        """The column's checks and nullability on its distinct values (in order of first
        appearance), each failure case weighted by the rows that hold the value."""
        import pandera.pandas as pa

        sub = pa.DataFrameSchema({name: pa.Column(dtype=None, checks=column.checks, nullable=column.nullable,
                                                  name=name)})
        c = self.q(name)
        reader = self.engine.con.sql(f"SELECT {c}, COUNT(*) AS n, MIN(mlgate_pos) AS p FROM {self.VIEW} "
                                     f"GROUP BY {c} ORDER BY p").to_arrow_reader(CHUNK_VALUES)
        for batch in reader:
            frame = batch.select([0]).to_pandas()
            frame.columns = [name]
            frame[name] = frame[name].astype(dtype)  # the template's: missing values made it float/object
            weights = batch.column(1).to_numpy()
            for (col, check), cases in _failures_with_index(sub, frame).items():
                failures.setdefault((col, check), []).extend((v, int(weights[i])) for v, i in cases)

    def _duplicates(self, names: list[str]) -> Cases:
        """pandera's `unique`: every row of a value that occurs more than once (missing values aside)."""
        keys = ", ".join(self.q(n) for n in names)
        present = " AND ".join(f"NOT {self._missing(n)}" for n in names)
        rows = self.engine.query(f"SELECT {keys}, COUNT(*), MIN(mlgate_pos) AS p FROM {self.VIEW} WHERE {present} "
                                 f"GROUP BY {keys} HAVING COUNT(*) > 1 ORDER BY p LIMIT {MAX_EXAMPLES}")
        total = self.engine.query(f"SELECT COALESCE(SUM(n), 0) FROM (SELECT COUNT(*) AS n FROM {self.VIEW} "
                                  f"WHERE {present} GROUP BY {keys} HAVING COUNT(*) > 1) t")[0][0]
        if not rows:
            return []
        cases: Cases = [(r[0], 0) for r in rows]
        cases[0] = (cases[0][0], int(total))
        return cases

    def _duplicate_rows(self, names: list[str]) -> Cases:
        """pandera's `unique: [a, b]`: the duplicated rows; the examples as the numpy path names them
        (the failure cases column by column, every len(names)-th)."""
        dup = self._duplicates(names)
        if not dup:
            return []
        total = dup[0][1]
        keys = ", ".join(self.q(n) for n in names)
        present = " AND ".join(f"NOT {self._missing(n)}" for n in names)
        rows = self.engine.query(
            f"SELECT {keys} FROM {self.VIEW} WHERE {present} AND ({keys}) IN (SELECT ({keys}) FROM {self.VIEW} "
            f"WHERE {present} GROUP BY {keys} HAVING COUNT(*) > 1) ORDER BY mlgate_pos LIMIT {MAX_DUPLICATE_ROWS}")
        k, m = len(names), int(total)
        sequence = [rows[p % m][p // m] for p in range(0, k * m, k) if p % m < len(rows)]
        out: Cases = [(v, 0) for v in sequence[: 50 * MAX_EXAMPLES]]
        out[0] = (out[0][0], m)
        return out


def _failures_with_index(schema: Any, frame: pd.DataFrame) -> dict[tuple[str | None, str], list[tuple[Any, int]]]:
    """pandera's failure cases with the row index each came from."""
    import pandera.pandas as pa

    out: dict[tuple[str | None, str], list[tuple[Any, int]]] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        for row in exc.failure_cases.itertuples(index=False):
            column = row.column if isinstance(row.column, str) else None
            out.setdefault((column, str(row.check)), []).append((row.failure_case, int(row.index)))
    return out
