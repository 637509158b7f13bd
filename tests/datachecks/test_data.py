"""Data contracts (pandera YAML), drift, data changes between git revisions, glob classification."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bot.config import Paths
from bot.datachanges import DataChangeError, classify, data_changes, matches
from bot.datachecks import DataCheckError, run_checks
from bot.datafiles import DataFileError, read_table, sha256_file
from bot.drift import compute_drift, psi

CONTRACT = """\
schema_type: dataframe
columns:
  customer_id: {dtype: str, unique: true, str_matches: '^C\\d+$'}
  tenure_months: {dtype: int64, in_range: {min_value: 0, max_value: 120}}
  plan: {dtype: str, nullable: true, isin: [basic, pro]}
unique: [customer_id, plan]
mlgate:
  max_missing: {plan: 0.2}
"""


def _contract(tmp_path: Path, text: str = CONTRACT) -> Path:
    p = tmp_path / "schema.yml"
    p.write_text(text)
    return p


def _by(results: list[dict], column: str, check: str) -> dict:  # type: ignore[type-arg]
    return next(r for r in results if r["column"] == column and r["check"].startswith(check))


def test_clean_data_passes_every_check(tmp_path: Path) -> None:
    df = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "tenure_months": [1, 5, 120], "plan": ["basic", "pro", "pro"]})
    results = run_checks(df, _contract(tmp_path), file="data/h.parquet")
    assert results and all(r["passed"] and r["failures"] == 0 for r in results)
    assert {r["check"] for r in results} >= {"required column", "unique", "not null", "unique rows"}
    assert all(r["file"] == "data/h.parquet" for r in results)


def test_each_check_type_fails_with_counts_and_examples(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "customer_id": ["C1", "C1", "bad", "C4", "C5"],
        "tenure_months": [1, 500, 3, -2, 4],
        "plan": ["basic", "gold", None, None, "pro"],
    })
    r = run_checks(df, _contract(tmp_path))
    assert _by(r, "customer_id", "unique")["failures"] == 2
    assert _by(r, "customer_id", "unique")["examples"] == ["C1"]
    assert _by(r, "customer_id", "str_matches")["examples"] == ["bad"]
    rng = _by(r, "tenure_months", "in_range")
    assert rng["failures"] == 2 and set(rng["examples"]) == {"500", "-2"}
    assert _by(r, "plan", "isin")["examples"] == ["gold"]
    missing = _by(r, "plan", "missing rate")
    assert not missing["passed"] and missing["failures"] == 2 and "40.0% missing" in missing["examples"][0]
    assert _by(r, "tenure_months", "not null")["passed"]


def test_missing_column_and_nulls_and_dtype(tmp_path: Path) -> None:
    df = pd.DataFrame({"customer_id": ["C1", None], "plan": ["basic", "pro"]})
    r = run_checks(df, _contract(tmp_path))
    req = _by(r, "tenure_months", "required column")
    assert not req["passed"]
    # an absent column's other checks are not reported as passed
    assert [x["check"] for x in r if x["column"] == "tenure_months"] == ["required column"]
    assert _by(r, "customer_id", "not null")["failures"] == 1
    df2 = pd.DataFrame({"customer_id": ["C1"], "tenure_months": [1.5], "plan": ["pro"]})
    assert not _by(run_checks(df2, _contract(tmp_path)), "tenure_months", "dtype")["passed"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("columns: [\n", "invalid YAML"),
        ("- a\n", "expected a pandera DataFrameSchema"),
        ("columns: {a: {dtype: notatype}}\n", "not a valid pandera schema"),
        ("columns: {}\nmlgate: {max_missing: {a: 3}}\n", "rates between 0 and 1"),
        ("columns: {}\nmlgate: {min_rows: 3}\n", "accepts only max_missing"),
    ],
)
def test_malformed_contracts_name_the_file(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(DataCheckError) as info:
        run_checks(pd.DataFrame({"a": [1]}), _contract(tmp_path, text))
    assert needle in str(info.value) and "schema.yml" in str(info.value)


def test_psi_matches_the_formula_and_drift_flags() -> None:
    e, a = np.array([50.0, 30, 20]), np.array([30.0, 30, 40])
    pe, pa_ = e / e.sum(), a / a.sum()
    assert psi(e, a) == pytest.approx(float(np.sum((pa_ - pe) * np.log(pa_ / pe))))
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b"], 5000), "y": rng.integers(0, 2, 5000)})
    same = pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b"], 5000), "y": 0})
    shifted = pd.DataFrame({"x": rng.normal(0.5, 1, 5000), "c": rng.choice(["a", "b", "new"], 5000), "y": 0})
    r_same = {d["column"]: d for d in compute_drift(ref, same, exclude=["y"])}
    r_shift = {d["column"]: d for d in compute_drift(ref, shifted, exclude=["y"])}
    assert set(r_same) == {"x", "c"}
    assert not r_same["x"]["drifted"] and not r_same["c"]["drifted"]
    assert r_shift["x"]["drifted"] and r_shift["c"]["drifted"]
    ks = stats.ks_2samp(ref["x"], shifted["x"])
    assert r_shift["x"]["ks_statistic"] == pytest.approx(ks.statistic)
    assert r_shift["x"]["kind"] == "numeric" and r_shift["c"]["kind"] == "categorical"
    assert r_shift["c"]["chi2_p_value"] < 1e-10


@pytest.mark.parametrize(
    ("path", "globs", "expected"),
    [
        ("data/train.parquet", ["data/**"], True),
        ("data/a/b.csv", ["data/**"], True),
        ("src/data/x.csv", ["data/**"], False),
        ("models/x.dvc", ["**/*.dvc"], True),
        ("x.dvc", ["**/*.dvc"], True),
        ("train.py", ["train.py"], True),
        ("sub/train.py", ["train.py"], False),
        ("src/a.py", ["src/*.py"], True),
        ("src/a/b.py", ["src/*.py"], False),
    ],
)
def test_glob_matching(path: str, globs: list[str], expected: bool) -> None:
    assert matches(path, globs) is expected


def test_classify() -> None:
    got = classify(["data/a.csv", "src/m.py", "README.md"], Paths(data=["data/**"], model=["src/**"]))
    assert got == {"data": ["data/a.csv"], "model": ["src/m.py"]}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def test_data_changes_between_revisions(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    pd.DataFrame({"a": range(10)}).to_parquet(root / "data" / "train.parquet")
    pd.DataFrame({"a": range(5)}).to_csv(root / "data" / "old.csv", index=False)
    pd.DataFrame({"a": range(7)}).to_csv(root / "data" / "gone.csv", index=False)
    (root / "README.md").write_text("x")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "base")
    base = _git(root, "rev-parse", "HEAD")
    pd.DataFrame({"a": range(12)}).to_parquet(root / "data" / "train.parquet")
    _git(root, "mv", "data/old.csv", "data/renamed.csv")
    _git(root, "rm", "-q", "data/gone.csv")
    pd.DataFrame({"b": range(3)}).to_csv(root / "data" / "new.csv", index=False)
    (root / "README.md").write_text("y")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "head")
    changes = {c["path"]: c for c in data_changes(root, base, "HEAD", ["data/**"])}
    assert set(changes) == {"data/train.parquet", "data/renamed.csv", "data/gone.csv", "data/new.csv"}
    t = changes["data/train.parquet"]
    assert (t["status"], t["rows_before"], t["rows_after"]) == ("modified", 10, 12)
    assert t["sha256_after"] == sha256_file(root / "data" / "train.parquet")
    assert changes["data/renamed.csv"]["status"] == "renamed"
    assert changes["data/renamed.csv"]["sha256_before"] == changes["data/renamed.csv"]["sha256_after"]
    assert (changes["data/gone.csv"]["status"], changes["data/gone.csv"]["rows_after"]) == ("deleted", None)
    assert (changes["data/new.csv"]["status"], changes["data/new.csv"]["rows_before"], changes["data/new.csv"]["rows_after"]) == ("added", None, 3)
    with pytest.raises(DataChangeError, match="revision 'nope' does not exist"):
        data_changes(root, "nope", "HEAD", ["data/**"])
    with pytest.raises(DataChangeError, match="not a git checkout"):
        data_changes(tmp_path, base, "HEAD", ["data/**"])


def test_read_table_errors(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("a")
    with pytest.raises(DataFileError, match="unsupported file type .txt"):
        read_table(tmp_path / "x.txt")
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(DataFileError, match="not a valid parquet file"):
        read_table(tmp_path / "x.parquet")
