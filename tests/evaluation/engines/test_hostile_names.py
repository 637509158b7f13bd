"""Hostile column names and values on the DuckDB paths (issue #18, security review).

The holdout, the logs and the data files are untrusted in CI (a pull request can change them):
a column may be named anything and a category may hold quotes, backslashes, newlines or NUL.
Every SQL build site quotes them through the engine's `Dialect`, so each path gives the numpy
path's answer on such data (and nothing the data holds is run as SQL).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.datachecks import run_checks, run_checks_sql
from bot.datafiles import read_table
from bot.drift import compute_drift, compute_drift_sql
from bot.evaluation.engines import TableSource
from bot.evaluation.engines.slices_sql import discover_sql
from tests.evaluation.engines.slices_data import assert_same_report, numpy_discovery, planted, write
from tests.evaluation.engines.test_slices_sql import SETTINGS, request

pytest.importorskip("duckdb")

A, B, C, X = 'a" ; DROP TABLE x; --', "b'\\\n\tq", "c`[]", 'x""\\'


def test_discovery_with_hostile_names_and_values(tmp_path: Path) -> None:
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine

    frame, preds, _ = planted("binary", 8000, 3)
    frame = frame.rename(columns={"a": A, "b": B, "c": C, "x": X})
    frame[B] = frame[B].str.replace("b3", "b3'; DROP TABLE t; --\\").str.replace("b2", "b\x00z")
    holdout = tmp_path / "it's.parquet"
    frame = write(frame, holdout)
    preds.to_parquet(tmp_path / "scores.parquet")
    settings: dict[str, Any] = {k: v for k, v in SETTINGS.items() if k != "segments"}
    segments: list[Any] = [A, {"column": X, "bins": [-10, 0, 10]}]
    want = numpy_discovery(frame, preds, "binary", None, exclude=["uid"], metrics=["roc_auc"], segments=segments,
                           **settings).to_report()
    engine = DuckDBEngine()
    try:
        got = discover_sql(engine, TableSource.of_parquet(str(holdout)),
                           request("binary", None, tmp_path / "scores.parquet", segments), exclude=[],
                           metrics=["roc_auc"], **settings).to_report()
    finally:
        engine.close()
    top = {p["text"] for p in want["discovered_slices"][0]["predicates"]}
    assert top == {f"{A} = P", f"{B} = b3'; DROP TABLE t; --\\"}  # the planted slice, named by the hostile text
    assert_same_report(want, got)


def test_checks_and_drift_with_hostile_names_and_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 500
    f = pd.DataFrame({A: rng.choice(["EU", "o'k", "a\\b", "z\x00z"], n), B: rng.integers(0, 5, n),
                      X: rng.normal(size=n)})
    f.loc[3, X], f.loc[4, X], f.loc[5, X] = np.inf, np.nan, -np.inf
    contract = tmp_path / "schema.yml"
    contract.write_text(json.dumps({"schema_type": "dataframe", "columns": {
        A: {"dtype": "str", "isin": ["EU", "o'k"]}, B: {"dtype": "int64", "in_range": {"min_value": 0,
                                                                                       "max_value": 3},
                                                        "unique": True},
        X: {"dtype": "float64", "nullable": True, "unique": True}}, "mlgate": {"max_missing": {X: 0.0}}}))
    (tmp_path / "it's").mkdir()
    path = tmp_path / "it's" / "data.parquet"
    f.to_parquet(path)
    expected = run_checks(read_table(path), contract, file="f")
    assert not all(r["passed"] for r in expected)
    assert run_checks_sql([str(tmp_path / "it's")], contract, file="f") == expected
    ref = f.sample(frac=1.0, random_state=1).reset_index(drop=True)
    ref[X] = ref[X] + 0.3
    want = compute_drift(ref, read_table(path), psi_threshold=0.2, p_threshold=0.01, file="c")
    got = compute_drift_sql(ref, [str(path)], psi_threshold=0.2, p_threshold=0.01, file="c")
    assert [r["column"] for r in got] == [A, B, X]
    for a, b in zip(want, got, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float) and not (math.isnan(a[k]) and math.isnan(b[k])):
                assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12), (a["column"], k)
            elif not isinstance(a[k], float):
                assert a[k] == b[k], (a["column"], k)


def test_monitor_with_hostile_names_values_and_path(tmp_path: Path) -> None:
    """The monitor on DuckDB: segment and feature columns with hostile names, values with quotes,
    a backslash and NUL, under a log directory whose path holds a quote; the numpy engine's result."""
    from tests.monitor.test_engines import _both, _repo, _same

    region, plan, charges = 'reg" ; DROP TABLE x; --', "pl'an\\\n", 'mc"\\'
    repo = _repo(tmp_path / "m'o\\n", 7000)

    def hostile(f: pd.DataFrame) -> pd.DataFrame:
        f = f.rename(columns={"region": region, "plan": plan, "monthly_charges": charges})
        if region in f:
            f[region] = f[region].astype(str).str.replace("EU", "E'U\\")
        if plan in f:
            f[plan] = f[plan].astype(object).where(f[plan].isna(), f[plan].astype(str) + "'\x00")
        return f

    for p in list(repo.rglob("*.parquet")):
        hostile(pd.read_parquet(p)).to_parquet(p)
    config = repo / "mlgate.yml"
    old = "segments: [region, {cross: [region, plan]}, {column: monthly_charges, bins: [0, 50, 80]}]"
    assert old in config.read_text()
    r, p_, c = (json.dumps(s) for s in (region, plan, charges))
    config.write_text(config.read_text().replace(old, f"segments: [{r}, {{cross: [{r}, {p_}]}}, "
                                                      f"{{column: {c}, bins: [0, 50, 80]}}]"))
    a, b = _both(repo, {})
    assert any(d["segment"].startswith(f"{region}=E'U\\") for d in a["drift"]), a["drift"][:3]
    _same(a, b)
