"""`mlgate evaluate` end to end: real MLflow SQLite registry, real files, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot import report as report_io
from tests.mlflow_state import mlflow_uris

CONFIG = """\
version: 1
paths:
  data: ["data/**"]
models:
  - name: churn
    task: binary
    holdout: data/holdout.parquet
    label: churned
    segments: [region, {column: tenure, bins: [0, 12, 48]}]
    metrics:
      roc_auc: {max_drop: 0.005}
      f1: {max_drop: 0.01}
      accuracy: {informational: true}
    segment_policy: {min_rows: 200, max_drop: 0.02, fdr: 0.05}
    resamples: 200
"""


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice(["EU", "NA", "APAC"], size=n)
    tenure = rng.integers(0, 48, size=n)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    apac = (region == "APAC").astype(float)
    logit = 1.5 * x1 + 1.2 * x2 * apac - 0.02 * tenure
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"region": region, "tenure": tenure, "x1": x1, "x2": x2, "apac": apac, "churned": y})


def _train(frame: pd.DataFrame, features: list[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    pipe = Pipeline(
        [
            ("select", ColumnTransformer([("keep", "passthrough", features)])),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    return pipe.fit(frame.drop(columns=["churned", "region"]), frame["churned"])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A repository with a holdout, a production model (@production) and two candidates."""
    import mlflow
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("repo")
    (root / ".github").mkdir()
    (root / "data").mkdir()
    (root / ".github" / "mlgate.yml").write_text(CONFIG)
    train, holdout = _frame(6000, 1), _frame(4000, 2)
    holdout.to_parquet(root / "data" / "holdout.parquet")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    uris = {}
    specs = {
        "production": ["x1", "x2", "apac", "tenure"],  # knows the APAC interaction partly
        "same": ["x1", "x2", "apac", "tenure"],
        "blind": ["x1", "tenure"],  # ignores x2: worse for APAC
    }
    with mlflow_uris(uri):  # later tests in this process must not log here
        exp = mlflow.create_experiment("train", artifact_location=(root / "artifacts").as_uri())
        for name, feats in specs.items():
            with mlflow.start_run(experiment_id=exp):
                model = _train(train, feats)
                info = mlflow.sklearn.log_model(
                    model, name="model", pip_requirements=["scikit-learn"], serialization_format="cloudpickle"
                )
                uris[name] = info.model_uri
        client = MlflowClient(uri, uri)
        mv = mlflow.register_model(uris["production"], "churn")
        client.set_registered_model_alias("churn", "production", mv.version)
    return {"root": root, "tracking": uri, "uris": uris}


def _run(project: dict[str, Any], *args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": project["tracking"], "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(project["root"] / ".github/mlgate.yml"), *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp,
    )


def test_regression_fails_the_gate_with_exit_1(project: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = _run(
        project, "--candidate", project["uris"]["blind"], "--out", str(out / "report.json"),
        "--markdown", str(out / "comment.md"), "--html", str(out / "report.html"), tmp=tmp_path,
    )
    assert res.returncode == 1, res.stderr
    assert "gate failed" in res.stderr and "APAC" in res.stderr
    report = report_io.load(out / "report.json")
    (model,) = report["models"]
    assert model["baseline"]["alias"] == "production" and model["baseline"]["version"] == "1"
    assert model["holdout"]["rows"] == 4000 and len(model["holdout"]["sha256"]) == 64
    names = {m["name"] for m in model["metrics"]}
    assert names == {"roc_auc", "f1", "accuracy"}
    apac = next(s for s in model["segments"] if s["column"] == "region" and s["value"] == "APAC")
    auc = next(m for m in apac["metrics"] if m["name"] == "roc_auc")
    assert auc["ci_high"] < -0.02  # clearly worse for APAC
    assert (out / "comment.md").read_text().count("<!-- mlgate:report -->") == 1
    assert "<html" in (out / "report.html").read_text().lower()
    env = report["environment"]
    assert env["seed"] == 0 and env["resamples"] == 200 and "scikit-learn" in env["packages"]


def test_same_model_passes_and_is_reproducible(project: dict[str, Any], tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path in (a, b):
        res = _run(project, "--candidate", project["uris"]["same"], "--out", str(path), tmp=tmp_path)
        assert res.returncode == 0, res.stderr
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ra["models"] == rb["models"]  # same seed, same numbers


def test_predictions_file_instead_of_a_model(project: dict[str, Any], tmp_path: Path) -> None:
    holdout = pd.read_parquet(project["root"] / "data" / "holdout.parquet")
    rng = np.random.default_rng(0)
    preds = pd.DataFrame({"candidate": rng.random(len(holdout)), "baseline": rng.random(len(holdout))})
    preds.to_csv(tmp_path / "scores.csv", index=False)
    res = _run(project, "--predictions", str(tmp_path / "scores.csv"), "--out", str(tmp_path / "r.json"), tmp=tmp_path)
    assert res.returncode in (0, 1), res.stderr
    report = report_io.load(tmp_path / "r.json")
    assert report["models"][0]["candidate"]["uri"] == "predictions:scores.csv"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--candidate", "runs:/0123456789abcdef/model"], "candidate model"),
        (["--candidate", "RUNS", "--baseline", "nosuchalias"], "no alias 'nosuchalias'"),
        (["--predictions", "missing.csv"], "does not exist"),
        ([], "give the candidate"),
    ],
)
def test_input_errors_exit_2_with_one_line_cause_and_no_files(
    project: dict[str, Any], tmp_path: Path, args: list[str], needle: str
) -> None:
    args = [project["uris"]["same"] if a == "RUNS" else a for a in args]
    out = tmp_path / "report.json"
    res = _run(project, *args, "--out", str(out), tmp=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("mlgate:")]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_config_typo_exits_2_with_file_and_line(project: dict[str, Any], tmp_path: Path) -> None:
    bad = tmp_path / "cfg" / "mlgate.yml"
    bad.parent.mkdir()
    bad.write_text(CONFIG.replace("segment_policy", "segment_polcy"))
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(bad), "--root", str(project["root"]),
         "--candidate", project["uris"]["same"], "--out", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 2
    assert "mlgate.yml:14: unknown key 'segment_polcy'" in res.stderr
    assert "did you mean 'segment_policy'" in res.stderr


def test_unreachable_registry_exits_2(project: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": "http://user:s3cret@127.0.0.1:9", "MLFLOW_DISABLE_TELEMETRY": "true"}
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(project["root"] / ".github/mlgate.yml"),
         "--candidate", "models:/churn@production", "--out", str(tmp_path / "r.json")],
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert res.returncode == 2, res.stderr
    assert "127.0.0.1:9" in res.stderr and "s3cret" not in res.stderr


def test_a_missing_run_is_named_as_missing(project: dict[str, Any], tmp_path: Path) -> None:
    """A run id the store does not hold was reported as corrupt model files."""
    res = _run(project, "--candidate", "runs:/0123456789abcdef/model", "--out", str(tmp_path / "r.json"),
               tmp=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "run 0123456789abcdef does not exist" in res.stderr
    assert "corrupt" not in res.stderr


@pytest.mark.parametrize("candidate", ["runs:/0123456789abcdef/model", "models:/churn@production"])
def test_without_a_tracking_uri_no_store_is_created(
    project: dict[str, Any], tmp_path: Path, candidate: str
) -> None:
    """Without MLFLOW_TRACKING_URI, MLflow fell back to ./mlflow.db: an empty store appeared in the
    directory and the missing model was blamed on corrupt files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    work = tmp_path / "work"
    work.mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(project["root"] / ".github/mlgate.yml"),
         "--candidate", candidate, "--out", str(work / "r.json")],
        capture_output=True, text=True, env=env, timeout=180, cwd=work,
    )
    assert res.returncode == 2, res.stderr
    assert "MLFLOW_TRACKING_URI" in res.stderr and "corrupt" not in res.stderr
    assert list(work.iterdir()) == []  # no mlflow.db, no mlruns/
