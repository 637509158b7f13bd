"""Benchmark: the evaluation engine against MLflow's evaluate + validate loop, same data, same run.

    .venv/bin/python tests/benchmarks/bench_evaluate.py [--rows 1000000 100000] [--repeat 3]
                                                        [--skip-mlflow] [--skip-cli]

Each side runs as a whole process (import, load the Parquet holdout, compute, write a JSON
result) and is timed from outside, with its peak RSS (getrusage of the child):

- `engine`: `bot.evaluation.compare_models` on every default binary metric with paired 95%
  intervals (1000 bootstrap resamples for the count metrics), overall and for 20 skewed
  segments: 168 intervals. Median of `--repeat` runs.
- `cli`: the same through `mlgate evaluate --predictions` (config parsing, report schema
  validation, gate, package versions: everything the CI step does). One run.
- `mlflow`: point values only: `mlflow.models.evaluate` (default evaluator, static dataset
  with a `predictions=` column) for candidate and baseline on each of the 20 segments, then
  `mlflow.validate_evaluation_results`, in a temporary SQLite tracking store. One run.
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

ENGINE = textwrap.dedent(
    """
    import json, sys
    import pandas as pd
    from bot.evaluation import compare_models
    holdout = pd.read_parquet(sys.argv[1])
    scores = pd.read_parquet(sys.argv[2])
    result = compare_models(
        holdout, task="binary", label="y", candidate=scores["candidate"].to_numpy(),
        baseline=scores["baseline"].to_numpy(), metrics=sys.argv[4].split(","), segments=["segment"],
        confidence=0.95, resamples=1000, seed=0,
    )
    with open(sys.argv[3], "w") as fh:
        json.dump(result.to_report(), fh)
    """
)

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


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of one child process.

    CPU seconds are the steadier figure on a shared machine: waiting for a core counts in
    wall time but not in CPU time.
    """
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); dt = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(dt, u.ru_maxrss / 1024, u.ru_utime + u.ru_stime, r.returncode)\n"
    )
    res = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env, cwd=cwd)
    wall, rss, cpu, rc = res.stdout.strip().splitlines()[-1].split()
    if int(rc) not in (0, 1):
        raise RuntimeError(f"{argv[:3]} failed: {res.stderr[-2000:]}")
    return float(wall), float(rss), float(cpu)


def intervals(body: dict) -> int:  # type: ignore[type-arg]
    return sum(1 for m in body["metrics"] if m["ci_low"] is not None) + sum(
        1 for s in body["segments"] for m in s["metrics"] if m["ci_low"] is not None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="engine runs per size (the median is shown)")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-cli", action="store_true")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(repo)}
    env.pop("MLFLOW_TRACKING_URI", None)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'rows':>9} {'tool':<7} {'wall s':>8} {'CPU s':>7} {'peak RSS MB':>12}")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            make_data(root, rows)
            (root / "engine.py").write_text(ENGINE)
            engine = [sys.executable, str(root / "engine.py"), str(root / "holdout.parquet"),
                      str(root / "scores.parquet"), str(root / "engine.json"), ",".join(METRICS)]
            runs = sorted(measure(engine, env, repo) for _ in range(max(args.repeat, 1)))
            t_e, rss_e, cpu_e = runs[len(runs) // 2][0], max(r[1] for r in runs), runs[len(runs) // 2][2]
            body = json.loads((root / "engine.json").read_text())
            spread = f"runs {', '.join(f'{w:.2f}' for w, _, _ in runs)}"
            print(f"{rows:>9} {'engine':<7} {t_e:>8.2f} {cpu_e:>7.2f} {rss_e:>12.0f}   "
                  f"({intervals(body)} intervals; {spread})")
            if not args.skip_cli:
                cli = [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(root / "mlgate.yml"),
                       "--root", str(root), "--predictions", str(root / "scores.parquet"),
                       "--out", str(root / "report.json"), "--no-progress"]
                t_c, rss_c, cpu_c = measure(cli, env, repo)
                report = json.loads((root / "report.json").read_text())["models"][0]
                print(f"{rows:>9} {'cli':<7} {t_c:>8.2f} {cpu_c:>7.2f} {rss_c:>12.0f}   ({intervals(report)} intervals)")
            if args.skip_mlflow:
                continue
            script = root / "mlflow_loop.py"
            script.write_text(MLFLOW_LOOP)
            mlflow = [sys.executable, str(script), str(root / "joined.parquet"),
                      f"sqlite:///{root / 'mlflow.db'}", str(root / "mlflow.json")]
            t_m, rss_m, cpu_m = measure(mlflow, env, root)
            print(f"{rows:>9} {'mlflow':<7} {t_m:>8.2f} {cpu_m:>7.2f} {rss_m:>12.0f}   (point values only)")
            print(f"{rows:>9} ratio   mlflow/engine wall = {t_m / t_e:.1f}x"
                  + ("" if args.skip_cli else f", mlflow/cli wall = {t_m / t_c:.1f}x"))


if __name__ == "__main__":
    main()
