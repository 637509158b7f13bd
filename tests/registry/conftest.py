"""A real MLflow SQLite registry in a temporary directory, with a few logged models."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.mlflow_state import mlflow_uris

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    return x, x["a"].to_numpy() + 0.5 * x["b"].to_numpy() + rng.normal(scale=0.5, size=n)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """sqlite:/// store with binary, multiclass, regression, a second binary model and a pyfunc model."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.svm import LinearSVC

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    exp = client.create_experiment("train", artifact_location=(root / "artifacts").as_uri())
    x, z = frame()
    models: dict[str, Any] = {
        "binary": LogisticRegression().fit(x, (z > 0).astype(int)),
        "binary2": LogisticRegression(C=0.01).fit(x, (z > 0.3).astype(int)),
        "multiclass": LogisticRegression().fit(x, np.digitize(z, [-0.5, 0.5])),
        "regression": LinearRegression().fit(x, z),
        "no_proba": LinearSVC().fit(x, (z > 0).astype(int)),
    }

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
        def predict(
            self, context: Any, model_input: pd.DataFrame, params: Any = None
        ) -> np.ndarray:
            return np.asarray(model_input["a"] * 2.0)

    uris: dict[str, str] = {}
    runs: dict[str, str] = {}
    with mlflow_uris(uri):  # leave mlflow's global state as it was: the registry must not depend on it
        for name, model in models.items():
            with mlflow.start_run(experiment_id=exp) as run:
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    pip_requirements=["scikit-learn"],
                    serialization_format="cloudpickle",
                )
            uris[name], runs[name] = info.model_uri, run.info.run_id
        with mlflow.start_run(experiment_id=exp) as run:
            info = mlflow.pyfunc.log_model(
                name="model", python_model=Doubler(), pip_requirements=["pandas"]
            )
        uris["pyfunc"], runs["pyfunc"] = info.model_uri, run.info.run_id
        local = root / "local-model"
        mlflow.sklearn.save_model(
            models["binary"],
            str(local),
            pip_requirements=["scikit-learn"],
            serialization_format="cloudpickle",
        )
    return {
        "root": root,
        "uri": uri,
        "uris": uris,
        "runs": runs,
        "models": models,
        "x": x,
        "local": local,
    }
