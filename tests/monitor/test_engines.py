"""The monitor on the DuckDB engine gives the numpy engine's results (issue #18, item 5).

Seeded logs from the project's own generator (bot.monitor.simulate), date partitions,
a split canary, late and missing labels, three kinds of segment (a column, a cross, bins):
every drift row, prediction drift and live-quality row, state and reason agree to 1e-9.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bot.config import load_config
from bot.monitor import simulate
from bot.monitor.ks import MAX_EXACT, extremes, ks_p_value
from bot.monitor.logs import LogError
from bot.monitor.run import run_monitor

pytest.importorskip("duckdb")

END = datetime(2026, 11, 30, tzinfo=UTC)
CONFIG = """version: 1
models:
  - name: churn-classifier
    task: {task}
    holdout: data/reference.parquet
    label: churned
    segments: [region, {{cross: [region, plan]}}, {{column: monthly_charges, bins: [0, 50, 80]}}]
    metrics: {metrics}
monitor: {{logs: {logs}, window_days: 7, min_rows: 50{labels}}}
"""
BINARY = ("{roc_auc: {max_drop: 0.01}, average_precision: {informational: true}, accuracy: {informational: true}, "
          "f1: {informational: true}, log_loss: {informational: true}, brier: {informational: true}}")
REGRESSION = "{mae: {max_drop: 0.01}, rmse: {informational: true}, r2: {informational: true}}"


class Prod:
    def __init__(self, figures: dict[str, str]) -> None:
        self.figures = figures

    def alias_version(self, name: str, alias: str) -> str | None:
        return "1"

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        return self.figures


def _repo(tmp: Path, rows: int, *, task: str = "binary", labels_file: bool = False, csv: bool = False,
          glob: bool = False) -> Path:
    (tmp / "data").mkdir(parents=True)
    simulate.reference(0, 3000).to_parquet(tmp / "data" / "reference.parquet")
    week = END - timedelta(days=7)
    traffic = simulate.Traffic(shift=0.3, challenger="2", share=0.2, labelled=0.7)
    for seed, n, start in ((1, rows // 2, week - timedelta(days=7)), (2, rows, week)):
        frame = simulate.window(traffic, seed=seed, start=start, days=7, rows_per_day=n // 7)
        if task == "regression":
            frame["churned"] = frame["churned"] * 3 + frame["monthly_charges"] / 50
        if labels_file:
            lab = frame[["request_id", "churned"]].dropna()
            (tmp / "labels").mkdir(exist_ok=True)
            lab.to_parquet(tmp / "labels" / f"labels-{seed}.parquet")
            frame = frame.drop(columns=["churned"])
        if csv:
            for day, part in frame.groupby(frame["timestamp"].dt.strftime("%Y-%m-%d")):
                folder = tmp / "logs" / f"date={day}"
                folder.mkdir(parents=True, exist_ok=True)
                out = part.assign(timestamp=part["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                out.to_csv(folder / "part-0.csv", index=False)
        else:
            simulate.write_partitioned(frame, tmp / "logs")
    logs = "logs/date=*/*.parquet" if glob else "logs"
    (tmp / "mlgate.yml").write_text(CONFIG.format(
        task=task, metrics=BINARY if task == "binary" else REGRESSION, logs=logs,
        labels=", labels: labels" if labels_file else ""))
    return tmp


def _both(repo: Path, figures: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    config = load_config(repo / "mlgate.yml")
    a, b = (dataclasses.asdict(run_monitor(config, root=repo, registry=Prod(figures), until=END, engine=e)[0])
            for e in ("numpy", "duckdb"))
    return a, b


def _same(a: object, b: object, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("rows", [7_000, 70_000])  # KS exact per group / asymptotic overall and per segment
def test_duckdb_equals_numpy_binary(tmp_path: Path, rows: int) -> None:
    a, b = _both(_repo(tmp_path, rows), {"mlgate.metric.roc_auc": "0.70"})
    _same(a, b)
    assert a["state"] == "alert" and a["drift"] and a["prediction"] and a["live"]
    assert {d["segment"].split("=")[0] for d in a["drift"]} == {"all", "region", "region × plan", "monthly_charges"}
    sizes = [d["rows"] for d in a["drift"] if d["kind"] == "numeric"]
    assert (max(sizes) > MAX_EXACT) == (rows > 50_000)


def test_duckdb_equals_numpy_regression_late_labels_and_glob(tmp_path: Path) -> None:
    a, b = _both(_repo(tmp_path, 14_000, task="regression", labels_file=True, glob=True), {"mlgate.metric.mae": "1.0"})
    _same(a, b)
    assert a["labelled"] > 0 and {r["metric"] for r in a["live"]} == {"mae", "rmse", "r2"}


def test_duckdb_equals_numpy_on_csv_logs(tmp_path: Path) -> None:
    a, b = _both(_repo(tmp_path, 7_000, csv=True), {"mlgate.metric.roc_auc": "0.70"})
    _same(a, b)
    assert a["rows"] > 0 and a["drift"]


@pytest.mark.parametrize("break_it, message", [
    (lambda f: f.drop(columns=["request_id"]), "missing column(s) request_id"),
    (lambda f: f.drop(columns=["plan"]), "missing feature column(s) plan"),
    (lambda f: f.assign(request_id=f["request_id"].astype(object).where(f.index != 3, None)), "request_id is empty"),
    (lambda f: f.assign(score=f["score"].where(f.index != 5, np.inf)), "1 row(s) have an empty or non-finite score"),
    (lambda f: f.assign(score="high"), "column score must be numeric"),
])
def test_duckdb_refuses_what_numpy_refuses(tmp_path: Path, break_it: Any, message: str) -> None:
    repo = _repo(tmp_path, 1_400)
    parts = sorted((repo / "logs").glob("date=2026-11-2*/*.parquet"))
    part = parts[-1]
    for p in parts if "numeric" in message else [part]:  # a type of the whole log, or one file's problem
        pd.read_parquet(p).pipe(break_it).to_parquet(p)
    config = load_config(repo / "mlgate.yml")
    errors = []
    for engine in ("numpy", "duckdb"):
        with pytest.raises(LogError) as info:
            run_monitor(config, root=repo, registry=Prod({}), until=END, engine=engine)
        errors.append(str(info.value))
    assert all(message in e for e in errors), errors
    if "score" not in message:  # file-level problems name the file on both engines
        assert all(str(part) in e for e in errors), errors


def test_ks_from_counts_is_scipys() -> None:
    rng = np.random.default_rng(7)
    for trial in range(120):
        n1, n2 = int(rng.integers(1, 25_000)), int(rng.integers(1, 40_000))
        if trial % 3 == 0:
            a, b = rng.normal(size=n1), rng.normal(0.03, 1, size=n2)
        elif trial % 3 == 1:  # heavy ties
            a, b = rng.integers(0, 12, n1).astype(float), rng.integers(0, 15, n2).astype(float)
        else:
            a, b = rng.integers(0, 3, n1).astype(float), rng.normal(1, 1, n2).round(1)
        ref = stats.ks_2samp(a, b)
        assert ks_p_value(a, b) == ref.pvalue
        if max(n1, n2) > MAX_EXACT:  # (the exact method rounds the statistic to its lattice)
            dmax, dmin = extremes(a, b)
            assert max(min(max(-dmin, 0.0), 1.0), dmax) == ref.statistic


def test_portable_ks_sql_matches_the_counts() -> None:
    """The window-sum form (for engines without an ASOF join, e.g. Spark) gives the same extremes."""
    import duckdb

    from bot.evaluation.engines.profile_sql import ks_extremes_sql

    rng = np.random.default_rng(3)
    con = duckdb.connect()
    for trial in range(6):
        a = rng.integers(0, 30, 4_000).astype(float) if trial % 2 else rng.normal(size=4_000)
        b = rng.integers(0, 35, 9_000).astype(float) if trial % 2 else rng.normal(0.1, 1, size=9_000)
        ref = pd.DataFrame({"g": 0, "v": a})  # noqa: F841 - read by DuckDB
        cur = pd.DataFrame({"g": 0, "v": b})  # noqa: F841
        (g, n_ref, n_cur, dmax, dmin), = con.execute(ks_extremes_sql("SELECT g, v FROM ref", "SELECT g, v FROM cur")
                                                     ).fetchall()
        assert (g, n_ref, n_cur) == (0, len(a), len(b))
        assert (dmax, dmin) == extremes(a, b)


def test_files_that_disagree_on_a_type_are_one_line(tmp_path: Path) -> None:
    repo = _repo(tmp_path, 1_400)
    part = sorted((repo / "logs").glob("date=2026-11-2*/*.parquet"))[-1]
    pd.read_parquet(part).assign(score="high").to_parquet(part)
    config = load_config(repo / "mlgate.yml")
    with pytest.raises(LogError, match="disagree on a column's type"):
        run_monitor(config, root=repo, registry=Prod({}), until=END, engine="numpy")
    with pytest.raises(LogError, match="column score must be numeric"):  # DuckDB unifies the column to text
        run_monitor(config, root=repo, registry=Prod({}), until=END, engine="duckdb")


def test_cli_engine_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mlgate monitor --engine`: both engines print and write the same result; auto picks duckdb
    for a glob or a large window only."""
    import json

    from bot import cli_monitor
    from bot.cli import main

    repo = _repo(tmp_path, 7_000)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = {}
    for engine in ("numpy", "duckdb"):
        code = main(["monitor", "--config", "mlgate.yml", "--root", str(repo), "--until", END.isoformat(),
                     "--no-issues", "--engine", engine, "--engine-memory", "256MB", "--json", str(tmp_path / engine)])
        assert code == 1  # no registry: unknown, never fine
        out[engine] = json.loads((tmp_path / engine).read_text())["models"][0]
    _same(out["numpy"], out["duckdb"])
    assert out["numpy"]["drift"] and out["numpy"]["state"] == "alert"
    config = load_config(repo / "mlgate.yml")
    assert cli_monitor.monitor_engine("auto", config, repo, END) == "numpy"  # 7,000 rows: far below 1 GB
    monkeypatch.setattr(cli_monitor, "AUTO_ENGINE_BYTES", 1000)
    assert cli_monitor.monitor_engine("auto", config, repo, END) == "duckdb"
    glob = load_config(_repo(tmp_path / "g", 700, glob=True) / "mlgate.yml")
    monkeypatch.setattr(cli_monitor, "AUTO_ENGINE_BYTES", 1 << 40)
    assert cli_monitor.monitor_engine("auto", glob, tmp_path / "g", END) == "duckdb"
    assert cli_monitor.monitor_engine("numpy", glob, tmp_path / "g", END) == "numpy"


def test_a_log_column_named_filename_is_refused_in_one_clear_line_on_duckdb(tmp_path: Path) -> None:
    """DuckDB's reader adds a `filename` column; a log that has its own stopped with a binder error."""
    repo = _repo(tmp_path, 1_400)
    for p in sorted((repo / "logs").glob("date=*/*.parquet")):
        pd.read_parquet(p).assign(filename="img-1.png").to_parquet(p)
    config = load_config(repo / "mlgate.yml")
    with pytest.raises(LogError) as info:
        run_monitor(config, root=repo, registry=Prod({}), until=END, engine="duckdb")
    assert "column 'filename' is reserved by the duckdb engine" in str(info.value)
    assert "--engine numpy" in str(info.value) and "Binder" not in str(info.value)
    run_monitor(config, root=repo, registry=Prod({}), until=END, engine="numpy")  # the numpy path reads it
