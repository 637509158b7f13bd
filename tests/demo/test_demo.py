"""`mlgate demo` runs offline and shows the APAC regression failing the gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot import report as report_io


def test_demo_shows_the_segment_regression(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    res = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--dir", str(out)],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "The gate FAILED, as this demo intends" in res.stdout
    assert "roc_auc on region=APAC dropped by more than 0.02" in res.stdout
    report = report_io.load(out / "mlgate-out" / "report.json")
    (model,) = report["models"]
    overall = {m["name"]: m for m in model["metrics"]}
    assert overall["roc_auc"]["ci_low"] > 0  # better overall ...
    apac = next(s for s in model["segments"] if s["column"] == "region" and s["value"] == "APAC")
    auc = next(m for m in apac["metrics"] if m["name"] == "roc_auc")
    assert auc["ci_high"] < -0.02  # ... and clearly worse for APAC
    assert model["baseline"]["alias"] == "production" and model["baseline"]["version"] == "1"
    assert [c["path"] for c in report["data"]["changes"]] == ["data/train.parquet"]
    assert report["data"]["checks"] and all(c["passed"] for c in report["data"]["checks"])
    comment = (out / "mlgate-out" / "comment.md").read_text()
    assert comment.count("<!-- mlgate:report -->") == 1 and "region = APAC" in comment
    assert "<svg" in (out / "mlgate-out" / "report.html").read_text()
    # the evaluation was also logged to MLflow, in the experiment `mlgate`
    import sqlite3

    with sqlite3.connect(out / "mlflow.db") as db:
        names = {r[0] for r in db.execute("select name from experiments")}
        runs = db.execute("select count(*) from runs r join experiments e on r.experiment_id = e.experiment_id "
                          "where e.name = 'mlgate'").fetchone()[0]
    assert "mlgate" in names and runs == 1
    json.dumps(report)  # plain JSON


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me")
    res = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--dir", str(tmp_path), "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "is not empty" in res.stderr
    assert (tmp_path / "x").read_text() == "keep me"
