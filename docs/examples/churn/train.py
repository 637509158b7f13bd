"""Train a churn model and log it to MLflow; prints the model URI.

    python train.py --data data --features baseline|candidate [--tracking-uri URI]

`baseline` uses support calls; `candidate` swaps them for a model-wide engineered feature.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

FEATURES = {
    "baseline": ["region", "plan", "tenure_months", "monthly_charges", "support_calls"],
    "candidate": ["region", "plan", "tenure_months", "monthly_charges", "contract_months_left"],
}
CATEGORICAL = ["region", "plan"]


def build(features: list[str]) -> Pipeline:
    cats = [c for c in features if c in CATEGORICAL]
    nums = [c for c in features if c not in CATEGORICAL]
    prep = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), cats), ("num", "passthrough", nums)]
    )
    clf = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, categorical_features=list(range(len(cats))), random_state=0)
    return Pipeline([("prep", prep), ("clf", clf)])


def train(data: Path, features: str, tracking_uri: str | None = None) -> str:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    frame = pd.read_parquet(data / "train.parquet")
    model = build(FEATURES[features]).fit(frame.drop(columns=["churned", "customer_id"]), frame["churned"])
    mlflow.set_experiment("churn-training")
    with mlflow.start_run(run_name=f"churn-{features}"):
        mlflow.log_param("features", ",".join(FEATURES[features]))
        info = mlflow.sklearn.log_model(
            model, name="model", serialization_format="cloudpickle", pip_requirements=["scikit-learn", "pandas"]
        )
    return str(info.model_uri)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--features", choices=sorted(FEATURES), default="candidate")
    parser.add_argument("--tracking-uri")
    args = parser.parse_args()
    print(train(args.data, args.features, args.tracking_uri))


if __name__ == "__main__":
    main()
