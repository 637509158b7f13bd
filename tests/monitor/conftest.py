"""A repository checkout with a reference file and a real MLflow registry for the monitor."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.monitor import simulate

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

MODEL = "churn-classifier"
END = datetime(2026, 11, 30, tzinfo=UTC)
CONFIG = f"""version: 1
models:
  - name: {MODEL}
    task: binary
    holdout: data/holdout.parquet
    label: churned
    segments: [region]
    metrics:
      roc_auc: {{max_drop: 0.01}}
      accuracy: {{informational: true}}
monitor:
  logs: logs/predictions
  window_days: 7
  retrain: {{workflow: retrain.yml, ref: main}}
"""


@dataclass
class Checkout:
    root: Path
    registry: Any
    uri: str

    def week(self, traffic: simulate.Traffic, *, seed: int, ending: datetime = END, rows_per_day: int = 2000) -> None:
        """Log a week of traffic ending at `ending`."""
        frame = simulate.window(traffic, seed=seed, start=ending - timedelta(days=7), days=7,
                                rows_per_day=rows_per_day)
        simulate.write_partitioned(frame, self.root / "logs" / "predictions")


@pytest.fixture(scope="module")
def mlflow_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two logged (tiny) sklearn models in a SQLite MLflow store; each test copies the store."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from tests.mlflow_state import mlflow_uris

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    exp = MlflowClient(uri, uri).create_experiment("train", artifact_location=(root / "artifacts").as_uri())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2))
    uris = []
    with mlflow_uris(uri):
        for c in (1.0, 0.1):
            with mlflow.start_run(experiment_id=exp):
                info = mlflow.sklearn.log_model(LogisticRegression(C=c).fit(x, x[:, 0] > 0), name="model",
                                                pip_requirements=["scikit-learn"], serialization_format="skops")
            uris.append(info.model_uri)
    return {"root": root, "uris": uris}


@pytest.fixture
def checkout(tmp_path: Path, mlflow_models: dict[str, Any]) -> Checkout:
    """acme/churn's checkout: config, reference, and production = version 1 promoted on its known AUC."""
    import shutil

    from bot.mlflow import Registry

    db = tmp_path / "mlflow.db"
    shutil.copy(mlflow_models["root"] / "mlflow.db", db)
    uri = f"sqlite:///{db}"
    reg = Registry(uri)
    for model_uri in mlflow_models["uris"]:
        reg.register(model_uri, MODEL)
    reg.set_alias(MODEL, "production", "1")
    reg.set_version_tags(MODEL, "1", {"mlgate.metric.roc_auc": repr(simulate.expected_auc(0.8))})
    root = tmp_path / "repo"
    (root / ".github").mkdir(parents=True)
    (root / "data").mkdir()
    (root / ".github" / "mlgate.yml").write_text(CONFIG)
    simulate.reference(0, 20_000).to_parquet(root / "data" / "holdout.parquet")
    return Checkout(root, reg, uri)
