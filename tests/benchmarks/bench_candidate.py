"""Benchmark: what the trusted evaluation's candidate handling costs, against an anchor, same run.

    .venv/bin/python tests/benchmarks/bench_candidate.py [--repeat 5]

On a local SQLite MLflow store, for the example project's gradient-boosting pipeline saved with
skops: `Registry.load_candidate` (skops audit + load with the allowlist) and
`Registry.log_candidate` (save again with pinned pip requirements, upload as a logged model,
tags). The anchor is `mlflow.sklearn.save_model` of the same model with pinned requirements;
for reference, the same save without `pip_requirements`, where MLflow infers them (seconds).
The figure is the median wall time of `--repeat` runs and its ratio to the anchor's.
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from bot.mlflow import LoadPolicy, Registry  # noqa: E402


def median(fn: Callable[[int], object], repeat: int) -> float:
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import mlflow

    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-candidate-"))
    example = ROOT / "docs" / "examples" / "churn"
    runpy.run_path(str(example / "make_data.py"), run_name="x")["write"](tmp, seed=0, rows=5000)
    train = runpy.run_path(str(example / "train.py"), run_name="x")
    train["save"](tmp / "data", tmp / "candidate")
    reg = Registry(f"sqlite:///{tmp / 'mlflow.db'}")
    types = tuple(train["SKOPS_TRUSTED_TYPES"])
    policy = LoadPolicy(trusted_types=types)
    loaded = reg.load_candidate(tmp / "candidate", "binary", policy)
    model = loaded.estimator

    anchor = median(lambda i: mlflow.sklearn.save_model(
        model, str(tmp / f"anchor-{i}"), skops_trusted_types=list(types), pip_requirements=["scikit-learn"]),
        args.repeat)
    rows = [
        ("anchor: save_model, pinned requirements", anchor),
        ("load_candidate (skops audit + load)", median(lambda i: reg.load_candidate(tmp / "candidate", "binary",
                                                                                    policy), args.repeat)),
        ("log_candidate (save, upload, tags)", median(lambda i: reg.log_candidate(
            loaded, {"mlgate.repository": "acme/churn"}), args.repeat)),
        ("reference: save_model, inferred requirements", median(lambda i: mlflow.sklearn.save_model(
            model, str(tmp / f"inferred-{i}"), skops_trusted_types=list(types)), min(args.repeat, 2))),
    ]
    for name, seconds in rows:
        print(f"{name:48s} {seconds * 1000:9.1f} ms  {seconds / anchor:6.1f}x")


if __name__ == "__main__":
    main()
