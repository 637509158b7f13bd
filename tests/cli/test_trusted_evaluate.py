"""Trusted mode of `mlgate evaluate`: a PR-built model directory is loaded without running its code,
scored on the checked-out (base branch) holdout, logged with provenance tags, and the report says
where it came from. Real MLflow SQLite registry, real skops/cloudpickle files, a real
`workflow_run` event payload (@octokit/webhooks-examples) as the runner's event file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot import report as report_io
from bot.cli_evaluate import (
    EvaluateOptions,
    InputError,
    evaluate,
    provenance_from_env,
    provenance_run,
)
from tests.fixtures.webhooks import load as load_webhook
from tests.mlflow_state import mlflow_uris

CONFIG = """\
version: 1
models:
  - name: churn
    task: binary
    holdout: data/holdout.parquet
    label: churned
    metrics:
      roc_auc: {max_drop: 0.05}
    segments: [region]
    segment_policy: {min_rows: 50, max_drop: 0.2, fdr: 0.05}
    resamples: 50
"""
EVENT = load_webhook("workflow_run", "completed-3")  # octo-org/octo-repo, a branch of the repo itself, PR #2
REPO = EVENT["repository"]["full_name"]
HEAD = EVENT["workflow_run"]["head_sha"]
TRIGGERING = EVENT["workflow_run"]["id"]
TRUSTED_RUN = 987654321


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x1 + x2)))).astype(int)
    return pd.DataFrame({"region": rng.choice(["EU", "NA"], size=n), "x1": x1, "x2": x2, "churned": y})


def _fit(kind: str) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    train = _frame(600, 1)
    clf = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0) if kind == "tree" else LogisticRegression()
    pipe = Pipeline([("select", ColumnTransformer([("keep", "passthrough", ["x1", "x2"])])), ("clf", clf)])
    return pipe.fit(train.drop(columns=["churned"]), train["churned"])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A default-branch checkout with a holdout and @production, and candidate directories as a PR builds them."""
    import mlflow

    from bot.mlflow import CANDIDATE_EXPERIMENT, EXPERIMENT, Registry

    root = tmp_path_factory.mktemp("repo")
    (root / ".github").mkdir()
    (root / "data").mkdir()
    (root / ".github" / "mlgate.yml").write_text(CONFIG)
    _frame(500, 2).to_parquet(root / "data" / "holdout.parquet")
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    reg = Registry(tracking)
    # the experiments mlgate logs into, with their artifacts here: MLflow's default for a SQLite
    # store is ./mlruns of the working directory when the store is first opened (the repository root)
    for name in (CANDIDATE_EXPERIMENT, EXPERIMENT):
        reg.client.create_experiment(name, artifact_location=(root / "mlflow-artifacts" / name).as_uri())
    dirs = root.parent / f"{root.name}-candidates"
    with mlflow_uris(tracking):
        base = dirs / "production"
        mlflow.sklearn.save_model(_fit("linear"), str(base), pip_requirements=["scikit-learn"])
        reg.set_alias("churn", "production", reg.register(str(base), "churn"))
        mlflow.sklearn.save_model(_fit("linear"), str(dirs / "skops"), pip_requirements=["scikit-learn"])
        mlflow.sklearn.save_model(_fit("tree"), str(dirs / "tree"), pip_requirements=["scikit-learn"],
                                  skops_trusted_types=["sklearn.tree._tree.Tree"])
        mlflow.sklearn.save_model(_fit("linear"), str(dirs / "pickle"), pip_requirements=["scikit-learn"],
                                  serialization_format="cloudpickle")
    return {"root": root, "tracking": tracking, "dirs": dirs, "registry": reg}


def _env(tmp: Path, event: dict[str, Any] | None = None, **extra: str) -> dict[str, str]:
    path = tmp / "event.json"
    path.write_text(json.dumps(event or EVENT))
    return {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": REPO,
            "GITHUB_RUN_ID": str(TRUSTED_RUN), "GITHUB_SHA": "f" * 40, **extra}


def _evaluate(project: dict[str, Any], tmp: Path, candidate: str, *, config: str = CONFIG,
              event: dict[str, Any] | None = None) -> Any:
    (project["root"] / ".github" / "mlgate.yml").write_text(config)
    provenance = provenance_from_env(_env(tmp, event))
    try:
        return evaluate(EvaluateOptions(
            config=project["root"] / ".github" / "mlgate.yml", out=tmp / "report.json", root=project["root"],
            trusted_dirs={None: project["dirs"] / candidate}, tracking_uri=project["tracking"], progress=False,
            run=provenance_run(provenance), provenance=provenance))
    finally:
        (project["root"] / ".github" / "mlgate.yml").write_text(CONFIG)


def test_trusted_candidate_is_scored_logged_with_provenance_and_named_in_the_report(
        project: dict[str, Any], tmp_path: Path) -> None:
    result = _evaluate(project, tmp_path, "skops")
    report = report_io.load(tmp_path / "report.json")
    assert report["provenance"] == {"trusted_run_id": TRUSTED_RUN, "triggering_run_id": TRIGGERING,
                                    "head_sha": HEAD, "repository": REPO, "pr": 2}
    # the PR head, not the default branch commit this workflow checked out (GITHUB_SHA)
    assert report["run"]["head_sha"] == HEAD and report["environment"]["code_sha"] == HEAD
    (model,) = result.report["models"]
    uri = model["candidate"]["uri"]
    assert uri.startswith("models:/m-") and model["baseline"]["version"] == "1"
    # the logged run and its experiment, as written to disk (the MLflow UI's run link, #14 item 4)
    run = project["registry"].client.get_run(report["models"][0]["candidate"]["run_id"])
    assert report["models"][0]["candidate"]["experiment_id"] == run.info.experiment_id
    tags = project["registry"].candidate_provenance(uri)
    assert tags == {"mlgate.repository": REPO, "mlgate.pr": "2", "mlgate.head_sha": HEAD,
                    "mlgate.trusted_run_id": str(TRUSTED_RUN), "mlgate.triggering_run_id": str(TRIGGERING),
                    "mlgate.head_repository": REPO, "mlgate.model": "churn", "mlgate.loaded_as": "skops"}
    # what was logged is the model that was scored, and it registers and loads like any other
    version = project["registry"].register(uri, "churn-logged")
    scorer = project["registry"].load_scorer(f"models:/churn-logged/{version}", "binary")
    holdout = pd.read_parquet(project["root"] / "data" / "holdout.parquet").drop(columns=["churned"])
    candidate = [m for m in model["metrics"] if m["name"] == "roc_auc"][0]["candidate"]
    from sklearn.metrics import roc_auc_score

    labels = pd.read_parquet(project["root"] / "data" / "holdout.parquet")["churned"]
    assert roc_auc_score(labels, scorer(holdout)) == pytest.approx(candidate)


def test_tree_model_needs_its_types_listed_in_the_default_branch_config(
        project: dict[str, Any], tmp_path: Path) -> None:
    # the candidate's own MLmodel file lists sklearn.tree._tree.Tree as trusted: that list is ignored
    assert "sklearn.tree._tree.Tree" in (project["dirs"] / "tree" / "MLmodel").read_text()
    with pytest.raises(InputError, match=r"sklearn\.tree\._tree\.Tree.*evaluation\.skops_trusted_types"):
        _evaluate(project, tmp_path, "tree")
    assert not (tmp_path / "report.json").exists()
    allowed = CONFIG + "evaluation:\n  skops_trusted_types: [sklearn.tree._tree.Tree]\n"
    result = _evaluate(project, tmp_path, "tree", config=allowed)
    tags = project["registry"].candidate_provenance(result.report["models"][0]["candidate"]["uri"])
    assert tags["mlgate.loaded_as"] == "skops"


def test_pickle_candidate_is_refused_unless_the_config_opts_in_for_writers(
        project: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cloudpickle, which runs code.*allow_pickle: never"):
        _evaluate(project, tmp_path, "pickle")
    writers = CONFIG + "evaluation:\n  allow_pickle: writers\n"
    fork = json.loads(json.dumps(EVENT))
    fork["workflow_run"]["head_repository"]["full_name"] = "mallory/octo-repo"
    fork["workflow_run"]["pull_requests"] = []  # GitHub lists no PRs for a fork's run
    with pytest.raises(InputError, match="built from mallory/octo-repo, not from a branch of octo-org/octo-repo"):
        _evaluate(project, tmp_path, "pickle", config=writers, event=fork)
    assert not (tmp_path / "report.json").exists()
    result = _evaluate(project, tmp_path, "pickle", config=writers)
    tags = project["registry"].candidate_provenance(result.report["models"][0]["candidate"]["uri"])
    assert tags["mlgate.loaded_as"] == "pickle" and tags["mlgate.head_sha"] == HEAD


def test_a_model_directory_cannot_smuggle_files_or_aliases(project: dict[str, Any], tmp_path: Path) -> None:
    bad = project["dirs"] / "symlinked"
    shutil.copytree(project["dirs"] / "skops", bad, dirs_exist_ok=True)
    (bad / "secrets").unlink(missing_ok=True)
    (bad / "secrets").symlink_to("/etc/hostname")
    with pytest.raises(InputError, match="symbolic link"):
        _evaluate(project, tmp_path, "symlinked")
    (bad / "secrets").unlink()
    (bad / "MLmodel").write_text("a: &x [1]\nb: *x\n")
    with pytest.raises(InputError, match="YAML aliases"):
        _evaluate(project, tmp_path, "symlinked")


def test_provenance_comes_only_from_a_workflow_run_runner(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="the event is pull_request, not workflow_run"):
        provenance_from_env({**_env(tmp_path), "GITHUB_EVENT_NAME": "pull_request"})
    broken = json.loads(json.dumps(EVENT))
    broken["workflow_run"]["head_sha"] = "main"
    with pytest.raises(InputError, match="head_sha is not a commit SHA"):
        provenance_from_env(_env(tmp_path, broken))
    fork = json.loads(json.dumps(EVENT))
    fork["workflow_run"]["head_repository"]["full_name"] = "mallory/octo-repo"
    fork["workflow_run"]["pull_requests"] = []
    p = provenance_from_env(_env(tmp_path, fork))
    assert (p.pr, p.from_this_repository, p.report()["repository"]) == (None, False, "mallory/octo-repo")
    assert p.tags()["mlgate.repository"] == REPO  # where the trusted workflow ran


def test_the_cli_flags(project: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, **_env(tmp_path), "MLFLOW_TRACKING_URI": project["tracking"],
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(project["root"] / ".github/mlgate.yml"),
         "--trusted-candidate-dir", str(project["dirs"] / "skops"), "--provenance-from-env",
         "--out", str(tmp_path / "report.json"), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert res.returncode in (0, 1), res.stderr
    report = report_io.load(tmp_path / "report.json")
    assert report["provenance"]["trusted_run_id"] == TRUSTED_RUN
    assert report["models"][0]["candidate"]["uri"].startswith("models:/m-")
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(project["root"] / ".github/mlgate.yml"),
         "--candidate", "runs:/x/model", "--provenance-from-env", "--out", str(tmp_path / "r2.json")],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert res.returncode == 2 and "--provenance-from-env goes with --trusted-candidate-dir" in res.stderr


def test_data_changes_are_read_from_the_pr_head_commit_without_checking_it_out(
        project: dict[str, Any], tmp_path: Path) -> None:
    """The trusted job's checkout is the default branch; the PR's data files come from git's objects."""
    repo = tmp_path / "checkout"
    shutil.copytree(project["root"] / ".github", repo / ".github")
    shutil.copytree(project["root"] / "data", repo / "data")
    (repo / ".github" / "mlgate.yml").write_text(CONFIG.replace("version: 1\n", 'version: 1\npaths:\n  data: ["data/**"]\n'))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]

    def run(*args: str) -> str:
        return subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()

    run("init", "-q", "-b", "main")
    run("add", ".")
    run("commit", "-qm", "base")
    base = run("rev-parse", "HEAD")
    run("checkout", "-qb", "pr")
    (repo / "data" / "extra.csv").write_text("x1,churned\n1,0\n2,1\n")
    run("add", ".")
    run("commit", "-qm", "pr adds data")
    head = run("rev-parse", "HEAD")
    run("checkout", "-q", "main")  # the trusted job's checkout: the PR's file is not on disk
    assert not (repo / "data" / "extra.csv").exists()
    event = json.loads(json.dumps(EVENT))
    event["workflow_run"]["head_sha"] = head
    provenance = provenance_from_env(_env(tmp_path, event))
    result = evaluate(EvaluateOptions(
        config=repo / ".github" / "mlgate.yml", out=tmp_path / "report.json", root=repo, base_rev=base,
        trusted_dirs={None: project["dirs"] / "skops"}, tracking_uri=project["tracking"], progress=False,
        run=provenance_run(provenance), provenance=provenance))
    assert [(c["path"], c["status"], c["rows_after"]) for c in result.report["data"]["changes"]] == [
        ("data/extra.csv", "added", 2)]


def test_an_onnx_candidate_is_scored_by_onnxruntime_and_logged_with_provenance(
        project: dict[str, Any], tmp_path: Path) -> None:
    """`mlgate evaluate --trusted-candidate-dir` on an ONNX export of the PR's pipeline (one input per column)."""
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")
    import mlflow.onnx
    from skl2onnx.common.data_types import FloatTensorType

    pipe = _fit("linear")
    graph = skl2onnx.to_onnx(pipe, initial_types=[("x1", FloatTensorType([None, 1])),
                                                  ("x2", FloatTensorType([None, 1]))])
    directory = tmp_path / "onnx"
    mlflow.onnx.save_model(graph, str(directory), pip_requirements=["onnx"])
    env = {**os.environ, **_env(tmp_path), "MLFLOW_TRACKING_URI": project["tracking"],
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(project["root"] / ".github/mlgate.yml"),
         "--trusted-candidate-dir", str(directory), "--provenance-from-env",
         "--out", str(tmp_path / "report.json"), "--no-progress"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert res.returncode in (0, 1), res.stderr
    report = report_io.load(tmp_path / "report.json")
    assert report["provenance"]["trusted_run_id"] == TRUSTED_RUN and report["provenance"]["head_sha"] == HEAD
    (model,) = report["models"]
    tags = project["registry"].candidate_provenance(model["candidate"]["uri"])
    assert tags is not None and tags["mlgate.loaded_as"] == "onnx" and tags["mlgate.head_sha"] == HEAD
    # the report's AUC is the sklearn pipeline's own (onnxruntime scored it like sklearn does)
    from sklearn.metrics import roc_auc_score

    holdout = pd.read_parquet(project["root"] / "data" / "holdout.parquet")
    auc = [m for m in model["metrics"] if m["name"] == "roc_auc"][0]["candidate"]
    expected = roc_auc_score(holdout["churned"], pipe.predict_proba(holdout.drop(columns=["churned"]))[:, 1])
    assert auc == pytest.approx(expected, abs=1e-6)
