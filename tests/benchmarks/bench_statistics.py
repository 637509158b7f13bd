"""Benchmark: the gate's error rate, power and interval coverage at full size (docs/statistics.md).

    .venv/bin/python tests/benchmarks/bench_statistics.py [--reps 2000] [--power-reps 1000] [--coverage-reps 1000]

On the simulated holdout of tests/statistics/simulate.py (10,000 rows, 20 skewed segments of
66 to 2,099 rows, positive rates 4% to 40%, two scorers with correlated scores), through the
engine and `bot.gate.decide_model` exactly as CI runs them:

- false-fail rate of an equal-quality candidate: the example policy, and every max_drop 0
  with both gating metrics tested per segment (the hardest valid config);
- power: a 0.10 AUC drop confined to the 489-row segment, and a uniform 0.02 AUC drop;
- coverage of the 95% interval of every binary metric, overall and in every segment of at
  least 200 rows (an A/A pair: the true difference is 0 for every metric).

Each figure comes with its 95% Clopper-Pearson interval.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.evaluation import compare_models  # noqa: E402
from tests.statistics.simulate import fails, holdout, policy  # noqa: E402

BINARY = ["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss", "brier"]


def _rate(k: int, n: int) -> str:
    ci = binomtest(k, n).proportion_ci(0.95)
    return f"{k / n:.2%} ({k}/{n}; 95% CI {ci.low:.2%}–{ci.high:.2%})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--power-reps", type=int, default=1000)
    ap.add_argument("--coverage-reps", type=int, default=1000)
    args = ap.parse_args()
    zero = policy("roc_auc: {max_drop: 0}, f1: {max_drop: 0}",
                  "{min_rows: 200, max_drop: 0, fdr: 0.05, metrics: [roc_auc, f1]}")
    cases = [
        ("A/A false-fail, example policy", policy(), args.reps, {}),
        ("A/A false-fail, every max_drop 0, both metrics per segment", zero, args.reps, {}),
        ("power: 0.10 AUC drop in the 489-row segment", policy(), args.power_reps,
         {"auc_drop": 0.10, "drop_segment": 6}),
        ("power: uniform 0.02 AUC drop", policy(), args.power_reps, {"auc_drop": 0.02}),
    ]
    for i, (name, pol, reps, kw) in enumerate(cases):
        t = time.perf_counter()
        rng = np.random.default_rng(100 + i)
        k = sum(fails(holdout(rng, **kw), pol) for _ in range(reps))
        print(f"{name}: {_rate(k, reps)}  [{time.perf_counter() - t:.0f} s]", flush=True)

    rng = np.random.default_rng(200)
    covered: dict[tuple[str, str], list[int]] = {}
    t = time.perf_counter()
    for _ in range(args.coverage_reps):
        h = holdout(rng)
        rep = compare_models(h.frame, task="binary", label="y", candidate=h.candidate, baseline=h.baseline,
                             metrics=BINARY, segments=["segment"]).to_report()
        parts = [("overall", rep["metrics"])] + [("segments >= 200 rows", s["metrics"])
                                                  for s in rep["segments"] if s["rows"] >= 200]
        for where, stats in parts:
            for m in stats:
                c = covered.setdefault((m["name"], where), [0, 0, 0])
                if m["ci_low"] is None:
                    c[2] += 1  # n/a: undefined or degenerate, never gates by p = 0
                    continue
                c[0] += m["ci_low"] <= 0 <= m["ci_high"]
                c[1] += 1
    print(f"coverage of the 95% intervals ({args.coverage_reps} A/A holdouts) "
          f"[{time.perf_counter() - t:.0f} s]")
    for (name, where), (k, n, na) in sorted(covered.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  {name:18s} {where:22s} {_rate(k, n)}" + (f"  n/a {na}" if na else ""))


if __name__ == "__main__":
    main()
