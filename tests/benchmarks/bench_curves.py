"""Benchmark: what report.html's curves add to `mlgate evaluate` (issue #14), against the engine in the same run.

    .venv/bin/python tests/benchmarks/bench_curves.py [--rows 1000000] [--repeat 3]

`bot.render.plots.curve_data` (ROC, precision-recall, calibration and confusion matrix of
candidate and baseline, condensed into the report) is timed against its anchor,
`bot.evaluation.compare_models` on every default binary metric with paired 95% intervals,
overall and for 20 segments (as bench_evaluate.py's engine side), on the same in-memory
holdout. Medians of `--repeat` runs; the ratio is the cost of the curves as a share of the
evaluation. Also prints the rendering of the five plots (matplotlib SVG) once.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

from bot.evaluation import compare_models
from bot.render.plots import curve_data, render_plots

METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss", "brier"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(np.int64)
    cand = 1 / (1 + np.exp(-x + rng.normal(scale=0.5, size=n)))
    base = 1 / (1 + np.exp(-0.8 * x + rng.normal(scale=0.7, size=n)))
    frame = pd.DataFrame({"y": y, "segment": rng.integers(0, 20, size=n).astype(str)})
    engine, curves = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        compare_models(frame, task="binary", label="y", candidate=cand, baseline=base, metrics=METRICS,
                       segments=["segment"], confidence=0.95, resamples=1000, seed=0)
        engine.append(time.perf_counter() - t)
        t = time.perf_counter()
        data = curve_data("binary", y, cand, base, None)
        curves.append(time.perf_counter() - t)
    t = time.perf_counter()
    figures = render_plots(data, "b")
    drawn = time.perf_counter() - t
    e, c = statistics.median(engine), statistics.median(curves)
    print(f"rows {n:,}: engine {e:.2f} s, curves {c:.3f} s, ratio {c / e:.3f}; "
          f"{len(figures)} plots drawn in {drawn:.2f} s ({sum(len(f['svg']) for f in figures):,} characters of SVG)")


if __name__ == "__main__":
    main()
