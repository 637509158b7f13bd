"""The composite action in trusted mode (input candidate-artifact), in a `workflow_run` runner: it
downloads the PR run's candidate, loads it without running its code, logs it with provenance
and uploads a report that says where it came from. Run step by step by the local harness, with
a real MLflow registry and the runner's event file from @octokit/webhooks-examples."""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot import report as report_io
from tests.action.harness import Harness
from tests.fixtures.webhooks import load as load_webhook
from tests.mlflow_state import mlflow_uris

ACTION_DIR = Path(__file__).resolve().parents[2] / "actions" / "evaluate"
VENV_BIN = Path(sys.executable).parent
CONFIG = """\
version: 1
models:
  - name: churn
    task: binary
    holdout: data/holdout.parquet
    label: churned
    metrics:
      roc_auc: {max_drop: 0.05}
    resamples: 50
"""


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "churned": (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(int)})


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default branch's checkout (config, holdout), @production, and two PR-built candidates."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from bot.mlflow import Registry

    root = tmp_path_factory.mktemp("trusted")
    ws = root / "workspace"
    (ws / ".github").mkdir(parents=True)
    (ws / "data").mkdir()
    (ws / ".github" / "mlgate.yml").write_text(CONFIG)
    _frame(400, 2).to_parquet(ws / "data" / "holdout.parquet")
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    train = _frame(400, 1)
    model = LogisticRegression().fit(train[["x"]], train["churned"])
    with mlflow_uris(tracking):
        mlflow.sklearn.save_model(model, str(root / "production"), pip_requirements=["scikit-learn"])
        mlflow.sklearn.save_model(model, str(root / "skops" / "model"), pip_requirements=["scikit-learn"])
        mlflow.sklearn.save_model(model, str(root / "pickle" / "model"), pip_requirements=["scikit-learn"],
                                  serialization_format="cloudpickle")
    reg = Registry(tracking)
    reg.set_alias("churn", "production", reg.register(str(root / "production"), "churn"))
    return {"ws": ws, "tracking": tracking, "root": root, "registry": reg}


def _event() -> dict[str, Any]:
    event = load_webhook("workflow_run", "completed-3")  # a branch of octo-org/octo-repo, PR #2
    return event


def _harness(setup: dict[str, Any], artifact: str) -> Harness:
    return Harness(
        action_dir=ACTION_DIR, workspace=setup["ws"], event_name="workflow_run", event=_event(),
        repository="octo-org/octo-repo",
        env={"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
             "MLFLOW_TRACKING_URI": setup["tracking"], "MLFLOW_DISABLE_TELEMETRY": "true"},
        bin_dir=VENV_BIN, downloads={"mlgate-candidate": setup["root"] / artifact / "model"})


def test_trusted_mode_downloads_logs_with_provenance_and_uploads_the_report(setup: dict[str, Any]) -> None:
    h = _harness(setup, "skops")
    res = h.run({"candidate-artifact": "mlgate-candidate", "install": "false"})
    assert not res.failed, res.log
    # the candidate came from the run that triggered this workflow, with this workflow's token
    event = _event()
    assert [(d["name"], d["run-id"], d["github-token"]) for d in h.downloaded] == [
        ("mlgate-candidate", str(event["workflow_run"]["id"]), "harness-workflow-token")]
    with zipfile.ZipFile(io.BytesIO(res.artifacts["mlgate-report"])) as zf:
        report = report_io.loads(zf.read("mlgate-report.json"))
    assert report["provenance"] == {"trusted_run_id": 4242, "triggering_run_id": event["workflow_run"]["id"],
                                    "head_sha": event["workflow_run"]["head_sha"], "repository": "octo-org/octo-repo",
                                    "pr": 2}
    uri = report["models"][0]["candidate"]["uri"]
    tags = setup["registry"].candidate_provenance(uri)
    assert (tags["mlgate.repository"], tags["mlgate.trusted_run_id"], tags["mlgate.head_sha"]) == (
        "octo-org/octo-repo", "4242", event["workflow_run"]["head_sha"])
    assert res.outputs["verdict"] in ("pass", "fail")


def test_a_pickled_candidate_fails_the_step_and_uploads_no_report(setup: dict[str, Any]) -> None:
    res = _harness(setup, "pickle").run({"candidate-artifact": "mlgate-candidate", "install": "false"})
    assert res.failed and res.outputs["verdict"] == "error"
    [error] = [line for line in res.log.splitlines() if line.startswith("::error")]
    assert "cloudpickle, which runs code from the pull request" in error
    assert "mlgate-report" not in res.artifacts


def test_trusted_mode_outside_workflow_run_is_refused(setup: dict[str, Any]) -> None:
    h = _harness(setup, "skops")
    h.event_name = "pull_request"
    res = h.run({"candidate-artifact": "mlgate-candidate", "install": "false"})
    assert res.failed and "the event is pull_request, not workflow_run" in res.log
    res = _harness(setup, "skops").run({"candidate-artifact": "mlgate-candidate", "install": "false",
                                        "mode": "token", "github-token": "t"})
    assert res.failed and "use mode app" in res.log
    assert json.dumps(res.outputs).count("error") == 1
