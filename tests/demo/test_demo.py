"""`mlgate demo` runs offline and shows the APAC regression failing the gate; the example project is valid."""

from __future__ import annotations

import os
import runpy
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot import report as report_io
from bot.demo import example_dir


@pytest.mark.slow
def test_demo_shows_the_segment_regression(tmp_path: Path) -> None:
    project, out = tmp_path / "demo", tmp_path / "out"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--dir", str(project), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    stdout = res.stdout
    assert "The gate FAILED, which is what this demo intends" in stdout
    assert stdout.count("    done in ") >= 5  # every step longer than a second says how long it took
    open_step = None  # each "==> step" line is closed by its "done in" before the next step starts
    for line in stdout.splitlines():
        if line.startswith("==> "):
            assert open_step is None, f"no 'done in' after {open_step!r}"
            open_step = line
        elif line.startswith("    done in "):
            open_step = None
    assert open_step is None, open_step
    assert "roc_auc on region=APAC dropped by more than 0.02" in stdout
    # the hidden regression (issue #15): no configured segment covers it, discovery finds it
    assert "mlgate found it anyway: payment_method = invoice and tenure_months < 28" in stdout
    assert "<!-- mlgate:report -->" in stdout  # the rendered comment is printed
    assert "INFO mlflow" not in res.stdout + res.stderr  # MLflow's chatter stays out of the story

    for name in ("report.json", "comment.md", "report.html"):
        assert (out / name).is_file(), name
    report = report_io.load(out / "report.json")
    (model,) = report["models"]
    overall = {m["name"]: m for m in model["metrics"]}
    assert overall["roc_auc"]["ci_low"] > 0  # better overall ...
    apac = next(s for s in model["segments"] if s["column"] == "region" and s["value"] == "APAC")
    auc = next(m for m in apac["metrics"] if m["name"] == "roc_auc")
    assert apac["rows"] >= 1000 and auc["ci_high"] < -0.05  # ... and clearly worse for APAC
    others = [s for s in model["segments"] if s["column"] == "region" and s["value"] != "APAC"]
    assert all(next(m for m in s["metrics"] if m["name"] == "roc_auc")["delta"] > 0 for s in others)
    assert model["baseline"]["alias"] == "production" and model["baseline"]["version"] == "1"
    # the "Reproduce" line is the evaluation the demo ran, not "mlgate demo"
    assert report["environment"]["command"].startswith("mlgate evaluate --config .github/mlgate.yml --candidate models:/")
    assert [c["path"] for c in report["data"]["changes"]] == ["data/train.parquet"]
    assert report["data"]["checks"] and all(c["passed"] for c in report["data"]["checks"])

    comment = (out / "comment.md").read_text()
    assert comment.count("<!-- mlgate:report -->") == 1 and "region = APAC" in comment
    assert "**Slices mlgate found**" in comment and "| payment\\_method = invoice and tenure\\_months &lt; 28 |" in comment
    hidden = next(s for s in model["discovered_slices"]
                  if {p["text"] for p in s["predicates"]} == {"payment_method = invoice", "tenure_months < 28"})
    slice_auc = next(m for m in hidden["metrics"] if m["name"] == "roc_auc")
    assert hidden["confirmed"] and slice_auc["ci_high"] < 0 and hidden["confirm_rows"] < hidden["rows"]
    # a configured segment (region = APAC) is not reported again as a discovered slice
    assert not any(s["text"] == "region = APAC" for s in model["discovered_slices"])
    assert "<svg" in (out / "report.html").read_text()

    # a real PR story: the base commit and a PR commit changing the features and a data file
    log = subprocess.run(
        ["git", "log", "--format=%s", "--name-only"], cwd=project, capture_output=True, text=True
    )
    assert (
        log.stdout.count("\n\n") >= 1
        and "data/train.parquet" in log.stdout
        and "train.py" in log.stdout
    )
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    )
    assert status.stdout == ""  # mlflow.db, mlruns/ are ignored, not committed

    # production is registered behind the alias, and the evaluation is an MLflow run in `mlgate`
    with sqlite3.connect(project / "mlflow.db") as db:
        aliases = db.execute("select name, alias, version from registered_model_aliases").fetchall()
        runs = db.execute(
            "select count(*) from runs r join experiments e on r.experiment_id = e.experiment_id "
            "where e.name = 'mlgate'"
        ).fetchone()[0]
    assert aliases == [("churn-classifier", "production", 1)] and runs == 1
    assert (project / "mlruns").is_dir() and not (
        tmp_path / "mlruns"
    ).exists()  # artifacts stay in the project


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me")
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--dir", str(tmp_path), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert res.returncode == 2 and "is not empty" in res.stderr
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == ["x"]
        and (tmp_path / "x").read_text() == "keep me"
    )


def test_example_config_contract_and_data_are_valid(tmp_path: Path) -> None:
    from bot.config import load_config
    from bot.datachecks import load_contract

    example = example_dir()
    config = load_config(example / ".github" / "mlgate.yml")
    (model,) = config.models
    assert model.name == "churn-classifier" and model.task == "binary"
    schema, limits = load_contract(example / "data" / "schema.yml")
    make_data = runpy.run_path(str(example / "make_data.py"))
    frame = make_data["make_frame"](2000, 0)
    assert frame.equals(make_data["make_frame"](2000, 0))  # deterministic
    schema.validate(frame, lazy=True)
    assert set(frame["region"]) == {"EU", "NA", "APAC", "LATAM"}
    assert set(limits) <= set(frame.columns)
    train = runpy.run_path(str(example / "train.py"))
    assert "support_calls" in train["FEATURES"]  # the feature the demo's PR removes
    assert config.models[0].discovery is not None and "payment_method" in frame.columns


def test_a_step_shows_it_is_alive_and_how_long_it_took(capsys: pytest.CaptureFixture[str]) -> None:
    """The training steps ran for 12 s without a word (issue #14)."""
    import time

    from bot.demo_steps import step

    with step("training", quiet=False, every=0.05):
        time.sleep(0.3)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "==> training"
    assert any(line.startswith("    ... ") and line.endswith(" s") for line in out[1:-1])
    assert out[-1].startswith("    done in ") and out[-1].endswith(" s")
    with step("quiet", quiet=True, every=0.05):
        time.sleep(0.1)
    assert capsys.readouterr().out == ""


def test_the_example_config_sets_no_key_that_does_nothing() -> None:
    """`make demo` warned twice that the example's own config sets keys that no longer do anything."""
    from bot.config import load_config

    assert load_config(example_dir() / ".github" / "mlgate.yml").unused_settings() == []


def test_the_closing_prose_writes_numbers_as_the_comment_does() -> None:
    """The demo's last lines said q=1.2e-05 and roc_auc -0.15 where the comment says q < 0.0001 and -0.1523."""
    from bot.demo import slice_line

    found = {"text": "payment_method = invoice and tenure_months < 28", "rows": 1779, "q_value": 1.2e-05,
             "metrics": [{"name": "roc_auc", "delta": -0.15234, "ci_low": -0.2211, "ci_high": -0.0836}]}
    assert slice_line(found) == ("payment_method = invoice and tenure_months < 28 "
                                 "(1,779 rows, roc_auc -0.1523 [-0.2211, -0.0836], q < 0.0001)")
    assert slice_line({**found, "q_value": 0.00049}).endswith(", q=0.0005)")
