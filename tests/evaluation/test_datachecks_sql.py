"""data_checks on the DuckDB engine: the numpy path's findings, from aggregates (issue #18).

The same pandera contract on the same Parquet data, read whole by pandas (`run_checks`) or
aggregated by DuckDB (`run_checks_sql`): the same checks, pass/fail, failure counts and
examples; and drift against the reference (PSI, KS, chi-square) the same to 1e-9.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.datachecks import run_checks, run_checks_sql
from bot.datafiles import read_table
from bot.drift import compute_drift, compute_drift_sql

pytest.importorskip("duckdb")

CONTRACT = r"""schema_type: dataframe
columns:
  customer_id: {dtype: str, unique: true, str_matches: '^C\d+$'}
  region: {dtype: str, isin: [EU, NA, APAC, LATAM]}
  plan: {dtype: str, nullable: true, isin: [basic, pro, enterprise]}
  tenure_months: {dtype: int64, in_range: {min_value: 0, max_value: 120}}
  monthly_charges: {dtype: float64, nullable: true, in_range: {min_value: 0, max_value: 500}}
  support_calls: {dtype: int64, greater_than_or_equal_to: 0}
  churned: {dtype: int64, isin: [0, 1]}
  absent_column: {dtype: str, required: true}
unique: [customer_id, plan]
mlgate:
  max_missing: {monthly_charges: 0.01, plan: 0.5, nowhere: 0.1}
"""


def _frame(rows: int, seed: int, broken: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(rows)],
        "region": rng.choice(["EU", "NA", "APAC", "LATAM"], rows),
        "plan": rng.choice(["basic", "pro", "enterprise"], rows),
        "tenure_months": rng.integers(0, 121, rows),
        "monthly_charges": rng.normal(60, 20, rows).clip(5, 400).round(2),
        "support_calls": rng.poisson(1.0, rows),
        "churned": rng.integers(0, 2, rows),
    })
    if broken:
        bad = rng.choice(rows, 40, replace=False)
        f.loc[bad[:5], "customer_id"] = ["X1", "C3", "C3", "bad", "C7"]
        f.loc[bad[5:12], "region"] = ["MARS", "EU ", "MARS", "VENUS", "mars", "MARS", "pluto"]
        f.loc[bad[12:20], "plan"] = None
        f.loc[bad[20:24], "tenure_months"] = [500, -1, 121, 500]
        f.loc[bad[24:30], "monthly_charges"] = [np.nan, -5.0, np.nan, 900.5, np.nan, np.nan]
        f.loc[bad[30:33], "support_calls"] = [-1, -3, -1]
        f.loc[bad[33:36], "churned"] = [2, 7, 2]
    return f


@pytest.mark.parametrize("broken", [False, True])
def test_sql_checks_equal_numpy(tmp_path: Path, broken: bool) -> None:
    contract = tmp_path / "schema.yml"
    contract.write_text(CONTRACT)
    path = tmp_path / "holdout.parquet"
    _frame(3_000, 1, broken).to_parquet(path)
    expected = run_checks(read_table(path), contract, file="data/holdout.parquet")
    got = run_checks_sql([str(path)], contract, file="data/holdout.parquet")
    assert got == expected
    failed = {(r["column"], r["check"].split("(")[0]) for r in expected if not r["passed"]}
    if broken:
        assert {("customer_id", "unique"), ("customer_id", "str_matches"), ("region", "isin"),
                ("tenure_months", "in_range"), ("monthly_charges", "in_range"), ("support_calls",
                "greater_than_or_equal_to"), ("churned", "isin"), ("absent_column", "required column")} <= failed
    else:
        assert failed == {("absent_column", "required column"), ("nowhere", "missing rate <= 10.0%")}


def test_sql_checks_on_a_directory_equal_numpy_on_the_whole(tmp_path: Path) -> None:
    contract = tmp_path / "schema.yml"
    contract.write_text(CONTRACT)
    whole = _frame(4_000, 2, True)
    (tmp_path / "parts").mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(whole)), 3)):
        whole.iloc[part].to_parquet(tmp_path / "parts" / f"part-{i}.parquet")
    one = tmp_path / "whole.parquet"
    pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "parts").glob("*.parquet"))]).to_parquet(one)
    expected = run_checks(read_table(one), contract, file="f")
    assert run_checks_sql([str(tmp_path / "parts")], contract, file="f") == expected


@pytest.mark.parametrize("rows", [3_000, 40_000])  # scipy's exact KS distribution / the asymptotic one
def test_sql_drift_equals_numpy(tmp_path: Path, rows: int) -> None:
    ref = _frame(5_000, 3, False)
    cur = _frame(rows, 4, True)
    cur["tenure_months"] = cur["tenure_months"] + 3
    path = tmp_path / "current.parquet"
    cur.to_parquet(path)
    current = read_table(path)
    expected = compute_drift(ref, current, psi_threshold=0.2, p_threshold=0.01, exclude=["churned"], file="c")
    got = compute_drift_sql(ref, [str(path)], psi_threshold=0.2, p_threshold=0.01, exclude=["churned"], file="c")
    assert len(got) == len(expected) and any(r["drifted"] for r in expected)
    for a, b in zip(expected, got, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float):
                assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12), (a["column"], k, a[k], b[k])
            else:
                assert a[k] == b[k], (a["column"], k)


def test_evaluate_data_section_on_duckdb_equals_numpy(tmp_path: Path) -> None:
    """`mlgate evaluate`'s data section: --engine duckdb checks and drifts the files by aggregates
    (a directory too, which pandas cannot read), with the numpy engine's findings."""
    from bot.cli_evaluate import EvaluateOptions, _data_section
    from bot.config import load_config

    (tmp_path / "data" / "parts").mkdir(parents=True)
    (tmp_path / "data" / "schema.yml").write_text(CONTRACT)
    _frame(5_000, 3, False).to_parquet(tmp_path / "data" / "reference.parquet")
    holdout = _frame(4_000, 5, True)
    holdout.to_parquet(tmp_path / "data" / "holdout.parquet")
    for i, part in enumerate(np.array_split(np.arange(len(holdout)), 2)):
        holdout.iloc[part].to_parquet(tmp_path / "data" / "parts" / f"part-{i}.parquet")
    config = tmp_path / "mlgate.yml"
    config.write_text("""version: 1
models:
  - {name: churn, task: binary, holdout: data/holdout.parquet, label: churned}
data_checks:
  schema: data/schema.yml
  reference: data/reference.parquet
  files: [data/holdout.parquet]
""")
    cfg = load_config(config)
    sections = {e: _data_section(cfg, tmp_path, EvaluateOptions(config=config, out=tmp_path / "r.json", engine=e))
                for e in ("numpy", "duckdb")}
    assert sections["duckdb"]["checks"] == sections["numpy"]["checks"]
    assert [d["column"] for d in sections["duckdb"]["drift"]] == [d["column"] for d in sections["numpy"]["drift"]]
    for a, b in zip(sections["numpy"]["drift"], sections["duckdb"]["drift"], strict=True):
        assert a["drifted"] == b["drifted"] and math.isclose(a["psi"], b["psi"], rel_tol=1e-9)
    config.write_text(config.read_text().replace("files: [data/holdout.parquet]", "files: [data/parts]"))
    parts = _data_section(load_config(config), tmp_path, EvaluateOptions(config=config, out=tmp_path / "r.json"))
    assert [{**r, "file": "x"} for r in parts["checks"]] == [{**r, "file": "x"} for r in sections["numpy"]["checks"]]


@pytest.mark.parametrize("column", ["filename", "file_row_number"])
def test_a_column_the_duckdb_reader_adds_is_refused_in_one_clear_line(tmp_path: Path, column: str) -> None:
    from bot.datachecks import DataCheckError

    contract = tmp_path / "schema.yml"
    contract.write_text(CONTRACT)
    path = tmp_path / "holdout.parquet"
    _frame(300, 1, False).assign(**{column: 1}).to_parquet(path)
    with pytest.raises(DataCheckError) as info:
        run_checks_sql([str(path)], contract, file="data/holdout.parquet")
    assert f"data file data/holdout.parquet: column {column!r} is reserved by the duckdb engine" in str(info.value)
    assert "Binder" not in str(info.value)
