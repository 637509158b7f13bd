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
    ap.add_argument("--only-other-tasks", action="store_true", help="only the multiclass/regression coverage")
    args = ap.parse_args()
    if args.only_other_tasks:
        other_tasks(args.coverage_reps)
        multiclass_aa(300)
        return
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
    other_tasks(args.coverage_reps)
    multiclass_aa(300)


def other_tasks(reps: int) -> None:
    """Coverage of the multiclass and regression default metrics (A/A, 10,000 rows, 20 segments)."""
    from tests.statistics.simulate import segment_sizes

    rng = np.random.default_rng(300)
    sizes = segment_sizes()
    seg = np.repeat(np.arange(20), sizes)
    frame_seg = np.array([f"s{i:02d}" for i in range(20)])[seg]
    n = len(seg)
    covered: dict[tuple[str, str], list[int]] = {}
    t = time.perf_counter()
    for _ in range(reps):
        # multiclass: 4 classes, two softmax scorers sharing noise
        y = rng.integers(0, 4, n)
        shared = rng.normal(0, 0.6, (n, 4))
        def soft(z: np.ndarray) -> np.ndarray:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        onehot = np.eye(4)[y] * 1.2
        c, b = (soft(onehot + shared + rng.normal(0, 0.7, (n, 4))) for _ in range(2))
        import pandas as pd
        frame = pd.DataFrame({"y": y, "segment": frame_seg})
        mc = compare_models(frame, task="multiclass", label="y", candidate=c, baseline=b,
                            metrics=["macro_f1", "accuracy"], segments=["segment"], classes=[0, 1, 2, 3]).to_report()
        yr = rng.normal(0, 1, n)
        sh = rng.normal(0, 0.5, n)
        rc, rb = (yr + sh + rng.normal(0, 0.5, n) for _ in range(2))
        rframe = pd.DataFrame({"y": yr, "segment": frame_seg})
        rr = compare_models(rframe, task="regression", label="y", candidate=rc, baseline=rb,
                            metrics=["rmse", "mae", "r2"], segments=["segment"]).to_report()
        for task, rep in (("multiclass", mc), ("regression", rr)):
            parts = [("overall", rep["metrics"])] + [("segments >= 200 rows", x["metrics"])
                                                      for x in rep["segments"] if x["rows"] >= 200]
            for where, stats in parts:
                for m in stats:
                    cell = covered.setdefault((f"{task} {m['name']}", where), [0, 0])
                    if m["ci_low"] is not None:
                        cell[0] += m["ci_low"] <= 0 <= m["ci_high"]
                        cell[1] += 1
    print(f"coverage, multiclass and regression ({reps} A/A holdouts) [{time.perf_counter() - t:.0f} s]")
    for (name, where), (k, m) in sorted(covered.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  {name:22s} {where:22s} {_rate(k, m)}")


def multiclass_aa(reps: int) -> None:
    """The gate's false-fail rate on a 4-class A/A pair, macro_f1 and accuracy at max_drop 0 everywhere."""
    import pandas as pd

    from bot.config import parse_config
    from bot.gate import decide_model
    from tests.statistics.simulate import segment_sizes

    pol = parse_config("""
version: 1
models:
  - name: m
    task: multiclass
    holdout: h
    label: y
    segments: [segment]
    metrics: {macro_f1: {max_drop: 0}, accuracy: {max_drop: 0}}
    segment_policy: {min_rows: 200, max_drop: 0, metrics: [macro_f1, accuracy]}
""").models[0]
    rng = np.random.default_rng(1)
    seg = np.repeat(np.arange(20), segment_sizes())
    names = np.array([f"s{i:02d}" for i in range(20)])[seg]

    def soft(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    failed = 0
    for _ in range(reps):
        y = rng.integers(0, 4, len(seg))
        shared, onehot = rng.normal(0, 0.6, (len(seg), 4)), np.eye(4)[y] * 1.2
        c, b = (soft(onehot + shared + rng.normal(0, 0.7, (len(seg), 4))) for _ in range(2))
        rep = compare_models(pd.DataFrame({"y": y, "segment": names}), task="multiclass", label="y", candidate=c,
                             baseline=b, metrics=["macro_f1", "accuracy"], segments=["segment"],
                             classes=[0, 1, 2, 3]).to_report()
        md = decide_model({"name": "m", "baseline": {"uri": "b"}, **rep}, pol)
        failed += md.regressed or bool(md.undefined)
    print(f"A/A false-fail, multiclass, every max_drop 0: {_rate(failed, reps)}")


if __name__ == "__main__":
    main()
