"""Benchmark: `mlgate evaluate` against MLflow's evaluate + validate loop, same data, same run.

    .venv/bin/python tests/benchmarks/bench_evaluate.py [--rows 1000000 100000] [--skip-mlflow]

Each side runs as a whole process (import, load the Parquet holdout, compute, write the
result) and is timed from outside, with its peak RSS. mlgate computes every default binary
metric with paired 95% intervals, overall and for 20 skewed segments (168 intervals);
MLflow computes point values only: `mlflow.models.evaluate` for candidate and baseline on
each segment, then `mlflow.validate_evaluation_results`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

SEGMENTS = 20
METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss", "brier"]

MLFLOW_LOOP = textwrap.dedent(
    """
    import os, sys, json
    import pandas as pd, mlflow
    from mlflow.models import MetricThreshold
    mlflow.set_tracking_uri(sys.argv[2])
    df = pd.read_parquet(sys.argv[1])
    out = {}
    with mlflow.start_run():
        for seg, part in df.groupby("segment", observed=True):
            res = {}
            for who in ("candidate", "baseline"):
                data = part[["y", who]].rename(columns={who: "prediction"})
                data["prediction"] = (data["prediction"] >= 0.5).astype(int)
                res[who] = mlflow.models.evaluate(
                    data=data, targets="y", predictions="prediction", model_type="classifier",
                    evaluators=["default"], evaluator_config={"log_model_explainability": False},
                )
            try:
                mlflow.validate_evaluation_results(
                    {"f1_score": MetricThreshold(greater_is_better=True, min_absolute_change=None)},
                    res["candidate"], res["baseline"],
                )
            except Exception:
                pass
            out[str(seg)] = {k: float(v) for k, v in res["candidate"].metrics.items() if isinstance(v, (int, float))}
    json.dump(out, open(sys.argv[3], "w"))
    """
)

CONFIG = """\
version: 1
models:
  - name: bench
    task: binary
    holdout: holdout.parquet
    label: y
    segments: [segment]
    metrics: {metrics}
    resamples: 1000
"""


def make_data(root: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    weights = np.arange(1, SEGMENTS + 1, dtype=float) ** 2
    segment = rng.choice([f"s{i:02d}" for i in range(SEGMENTS)], size=rows, p=weights / weights.sum())
    y = rng.integers(0, 2, rows)
    cand = 1 / (1 + np.exp(-2 * (y + rng.normal(0, 1.1, rows) - 0.5)))
    base = 1 / (1 + np.exp(-2 * (y + rng.normal(0, 1.2, rows) - 0.5)))
    pd.DataFrame({"segment": segment, "y": y}).to_parquet(root / "holdout.parquet")
    pd.DataFrame({"candidate": cand, "baseline": base}).to_parquet(root / "scores.parquet")
    pd.DataFrame({"segment": segment, "y": y, "candidate": cand, "baseline": base}).to_parquet(root / "joined.parquet")
    metrics = "{" + ", ".join(f"{m}: {{max_drop: 0.01}}" for m in METRICS) + "}"
    (root / "mlgate.yml").write_text(CONFIG.format(metrics=metrics))


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); dt = time.perf_counter() - t\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)\n"
    )
    res = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env)
    wall, rss, rc = res.stdout.strip().splitlines()[-1].split()
    if int(rc) not in (0, 1):
        raise RuntimeError(f"{argv[:3]} failed: {res.stderr[-2000:]}")
    return float(wall), float(rss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 100_000])
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    print(f"{'rows':>9} {'tool':<8} {'wall s':>8} {'peak RSS MB':>12}")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_data(root, rows)
            mlgate = [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(root / "mlgate.yml"),
                      "--root", str(root), "--predictions", str(root / "scores.parquet"),
                      "--out", str(root / "report.json"), "--no-progress"]
            t_g, rss_g = measure(mlgate, env)
            report = json.loads((root / "report.json").read_text())
            intervals = sum(1 for m in report["models"][0]["metrics"] if m["ci_low"] is not None) + sum(
                1 for s in report["models"][0]["segments"] for m in s["metrics"] if m["ci_low"] is not None)
            print(f"{rows:>9} {'mlgate':<8} {t_g:>8.2f} {rss_g:>12.0f}   ({intervals} intervals)")
            if args.skip_mlflow:
                continue
            script = root / "mlflow_loop.py"
            script.write_text(MLFLOW_LOOP)
            mlflow = [sys.executable, str(script), str(root / "joined.parquet"),
                      f"sqlite:///{root / 'mlflow.db'}", str(root / "mlflow.json")]
            t_m, rss_m = measure(mlflow, env)
            print(f"{rows:>9} {'mlflow':<8} {t_m:>8.2f} {rss_m:>12.0f}   (point values only)")
            print(f"{rows:>9} ratio    mlflow/mlgate wall = {t_m / t_g:.1f}x")


if __name__ == "__main__":
    main()
