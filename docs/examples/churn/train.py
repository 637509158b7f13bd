"""Train the churn model and log it to MLflow; prints the logged model's URI.

    python train.py [--data data] [--tracking-uri URI]
    python train.py --save DIR      # CI without secrets: an MLflow model directory (skops), no MLflow server

The PR in `mlgate demo` edits FEATURES below: it drops `support_calls` (costly to collect)
for `contract_months_left`. Better for most customers; see what mlgate says about APAC.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

FEATURES = ["region", "plan", "payment_method", "tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["region", "plan", "payment_method"]
LABEL = "churned"


def build(features: list[str]) -> Pipeline:
    """Ordinal-encoded categoricals + numeric passthrough into gradient boosting (seeded)."""
    cats = [c for c in features if c in CATEGORICAL]
    nums = [c for c in features if c not in CATEGORICAL]
    prep = ColumnTransformer(
        [
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), cats),
            ("num", "passthrough", nums),
        ]
    )
    clf = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.08, categorical_features=list(range(len(cats))), random_state=0
    )
    return Pipeline([("prep", prep), ("clf", clf)])


# The types in this pipeline that skops does not trust by default; mlgate loads the candidate only
# when the default branch's .github/mlgate.yml lists them under evaluation.skops_trusted_types.
SKOPS_TRUSTED_TYPES = [
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]


def save(data: Path, out: Path) -> Path:
    """Fit on data/train.parquet and save an MLflow model directory with skops (nothing is logged)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    frame = pd.read_parquet(data / "train.parquet")
    model = build(FEATURES).fit(frame[FEATURES], frame[LABEL])
    mlflow.sklearn.save_model(model, str(out), serialization_format="skops",
                              skops_trusted_types=SKOPS_TRUSTED_TYPES, pip_requirements=["scikit-learn", "pandas"])
    return out


def train(data: Path, tracking_uri: str | None = None, run_name: str = "churn") -> str:
    """Fit on data/train.parquet, log to MLflow (experiment churn-training); return models:/m-… ."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    frame = pd.read_parquet(data / "train.parquet")
    model = build(FEATURES).fit(frame[FEATURES], frame[LABEL])
    mlflow.set_experiment("churn-training")
    with mlflow.start_run(run_name=run_name):
        mlflow.log_params({"features": ",".join(FEATURES), "train_rows": len(frame)})
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            # tree ensembles are not in skops' default trusted types; pin requirements so
            # MLflow does not spend seconds inferring them
            serialization_format="cloudpickle",
            pip_requirements=["scikit-learn", "pandas"],
        )
    return str(info.model_uri)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI")
    parser.add_argument("--save", type=Path, metavar="DIR", help="save a model directory instead of logging")
    args = parser.parse_args()
    print(save(args.data, args.save) if args.save else train(args.data, args.tracking_uri))


if __name__ == "__main__":
    main()
