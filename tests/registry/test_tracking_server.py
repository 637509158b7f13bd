"""The scale-out registry: a real `mlflow server` with a PostgreSQL backend store.

Logs a model over HTTP, registers it through the adapter, moves an alias, scores through
the alias, and logs an evaluation run — the same calls the App and the CLI make.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.backends import mlflow_server
from tests.mlflow_state import mlflow_uris

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server") / "artifacts") as url:
        yield url


def test_registry_adapter_against_a_tracking_server_on_postgresql(server: str) -> None:
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from bot.mlflow import Registry

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (x["a"] > 0).astype(int)
    client = mlflow.MlflowClient(server, server)
    exp = client.create_experiment("train")
    # mlflow_uris puts the globals back as they were: set_tracking_uri(get_tracking_uri()) would leave
    # MLFLOW_TRACKING_URI=sqlite:///mlflow.db (MLflow's default) in the environment of every later test
    with mlflow_uris(server), mlflow.start_run(experiment_id=exp):
        uri = mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="model",
                                       pip_requirements=["scikit-learn"],
                                       serialization_format="cloudpickle").model_uri
    reg = Registry(server)
    v1 = reg.register(uri, "churn-classifier", {"mlgate.pr": "7"})
    assert reg.register(uri, "churn-classifier") == v1  # idempotent over HTTP too
    reg.set_alias("churn-classifier", "production", v1)
    assert reg.alias_version("churn-classifier", "production") == v1
    scores = reg.load_scorer("models:/churn-classifier@production", "binary")(x)
    assert scores.shape == (200,) and scores.min() >= 0 and scores.max() <= 1
    report = json.loads((FIXTURES / "failing.json").read_text())
    run_id = reg.log_evaluation(report, "<html></html>", {"mlgate.pr": "7"})
    run = client.get_run(run_id)
    assert run.data.tags["mlgate.pr"] == "7" and run.data.metrics
