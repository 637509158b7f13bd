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


def run_checks(frame: pd.DataFrame, contract: str | Path, *, file: str | None = None) -> list[dict[str, Any]]:
    """Validate `frame` against a contract file; one result per check, in schema order."""
    import pandera.pandas as pa

    schema, limits = load_contract(contract)
    failures: dict[tuple[str | None, str], list[Any]] = {}
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
            failures.setdefault((column, check), []).append(row.failure_case)
    except pa.errors.SchemaError as exc:  # a non-lazy failure (e.g. frame-level dtype coercion)
        failures.setdefault((None, "schema"), []).append(str(exc)[:200])
    results: list[dict[str, Any]] = []
    absent = {c for c, chk in failures if chk == "column_in_dataframe"}
    seen = set()
    for key in [*_expected_checks(schema), *failures]:
        if key in seen or (key[0] in absent and key[1] != "column_in_dataframe"):
            continue
        seen.add(key)
        column, check = key
        cases = failures.get(key, [])
        if check == "multiple_fields_uniqueness":
            cases = cases[:: max(1, len(schema.unique or [1]))]  # one failure case per column per row
        results.append({
            "file": file,
            "column": column,
            "check": _friendly(check),
            "passed": not cases,
            "failures": len(cases),
            "examples": [_jsonable(v) for v in list(dict.fromkeys(map(str, cases)))[:MAX_EXAMPLES]]
            if cases else [],
        })
    for column, limit in limits.items():
        if column not in frame.columns:
            results.append({"file": file, "column": column, "check": f"missing rate <= {limit:.1%}",
                            "passed": False, "failures": 1, "examples": ["column is absent"]})
            continue
        missing = int(frame[column].isna().sum())
        rate = missing / len(frame) if len(frame) else 0.0
        results.append({
            "file": file, "column": column, "check": f"missing rate <= {limit:.1%}",
            "passed": rate <= limit, "failures": missing if rate > limit else 0,
            "examples": [f"{rate:.1%} missing ({missing} of {len(frame)} rows)"] if rate > limit else [],
        })
    return results
