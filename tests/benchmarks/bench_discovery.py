"""Benchmark: slice discovery's speed at 1M rows and its soundness in seeded simulations.

    .venv/bin/python tests/benchmarks/bench_discovery.py speed [--rows 1000000] [--depth 2] [--sliceline]
    .venv/bin/python tests/benchmarks/bench_discovery.py soundness [--runs 1000] [--planted-runs 1000]

speed: a holdout of `--rows` rows and 20 feature columns (10 categorical with 3 to 50 values,
10 numeric, 5% missing in two), a binary label and two scorers, the candidate worse on a
planted two-column slice. Each measurement runs in its own process (peak RSS is per process):

- the anchor: `compare_models` with roc_auc, f1 and log_loss and no segments (the evaluation
  without discovery, whose speed must not change);
- `discover` at `--depth` (features, split, search, confirmation with the engine's paired
  roc_auc on every tested slice), the same call `mlgate evaluate` makes;
- with `--sliceline`: the `sliceline` package's Slicefinder on the same search half, the same
  cells (the categorical values and the quantile bins discovery uses) and the same depth. It
  searches ONE error vector (here the candidate's per-row log loss, min_sup = min_rows / 2,
  k = 10, alpha 0.95): it cannot compare a pair of models, and it neither splits nor confirms.

soundness: `runs` seeded A/A runs (two equal models; a confirmed slice counts as a false
alarm) and `runs` planted runs (tests/evaluation/discovery_sim.py: 20,000 rows, a two-column
slice of 3% where the candidate's AUC is 0.15 lower; found = a confirmed slice with exactly
the planted predicates), each with its 95% Clopper-Pearson interval.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def holdout(rows: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    cards = np.linspace(3, 50, 10).astype(int)
    for i, k in enumerate(cards):
        p = rng.dirichlet(np.full(k, 2.0))
        cols[f"cat{i}"] = rng.choice(np.array([f"v{j}" for j in range(k)]), rows, p=p)
    for i in range(10):
        x = rng.normal(size=rows) if i % 2 else rng.exponential(size=rows)
        if i < 2:
            x[rng.random(rows) < 0.05] = np.nan
        cols[f"num{i}"] = x
    latent = rng.normal(size=rows) * 1.5
    y = (rng.random(rows) < 1 / (1 + np.exp(-latent))).astype(np.int64)
    base = 1 / (1 + np.exp(-(latent + rng.normal(size=rows) * 0.5)))
    own = rng.normal(size=rows) * 0.5
    planted = (cols["cat0"] == "v0") & (cols["num3"] > 1.0)
    own = np.where(planted, rng.normal(size=rows) * 3.0, own)
    cand = 1 / (1 + np.exp(-(latent + own)))
    frame = pd.DataFrame(cols)
    frame["y"] = y
    return frame, y, cand, base


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(what: str, rows: int, depth: int) -> dict[str, object]:
    """One measurement in this process: wall seconds and peak RSS."""
    from bot.evaluation import compare_models
    from bot.evaluation.discovery import build_features, discover, feature_columns, loss_rows
    from bot.evaluation.paired import Scored

    frame, y, cand, base = holdout(rows)
    before = _peak_mb()
    out: dict[str, object] = {"what": what, "rows": rows, "depth": depth, "data_mb": round(before)}
    if what == "anchor":
        t = time.perf_counter()
        compare_models(frame, task="binary", label="y", candidate=cand, baseline=base,
                       metrics=["roc_auc", "f1", "log_loss"], segments=[])
        out["seconds"] = time.perf_counter() - t
    elif what == "discover":
        t = time.perf_counter()
        found = discover(frame, Scored("binary", y, cand, base), label="y", max_depth=depth, min_rows=200,
                         top_k=5, metrics=["roc_auc"], seed=0)
        out["seconds"] = time.perf_counter() - t
        out["scored"] = found.scored
        out["confirmed"] = [s.text for s in found.slices if s.confirmed]
    else:  # sliceline on the same cells, one error vector
        from sliceline.slicefinder import Slicefinder

        features = build_features(frame, feature_columns(frame, "y", None, []), 200)
        half = np.random.default_rng(0).random(rows) < 0.5
        X = np.column_stack([f.codes[half] for f in features])
        errors = loss_rows("binary", y[half], cand[half])
        t = time.perf_counter()
        sf = Slicefinder(alpha=0.95, k=10, max_l=depth, min_sup=100, verbose=False).fit(X, errors)
        out["seconds"] = time.perf_counter() - t
        out["top"] = [list(map(lambda v: None if v is None else int(v), s)) for s in sf.top_slices_[:3]]
    out["peak_mb"] = round(_peak_mb())
    return out


def speed(args: argparse.Namespace) -> None:
    whats = ["anchor", "discover"] + (["sliceline"] if args.sliceline else [])
    results = []
    for what in whats:
        t = time.perf_counter()
        try:
            res = subprocess.run([sys.executable, __file__, "one", what, str(args.rows), str(args.depth)],
                                 capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            results.append({"what": what, "error": f"no answer within {args.timeout} s"})
            continue
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or [""])[-1][:200]
            results.append({"what": what, "error": f"exit {res.returncode} after {time.perf_counter() - t:.0f} s "
                                                   f"(-9: killed, e.g. out of memory) {last}"})
            continue
        results.append(json.loads(res.stdout.strip().splitlines()[-1]))
    anchor = next((r for r in results if r["what"] == "anchor" and "seconds" in r), None)
    print(f"rows {args.rows:,}, 20 feature columns, depth {args.depth}")
    for r in results:
        if "error" in r:
            print(f"  {r['what']:<10} failed: {r['error']}")
            continue
        ratio = f" ({float(r['seconds']) / float(anchor['seconds']):.1f}x the anchor)" if anchor else ""
        extra = {k: v for k, v in r.items() if k in ("scored", "confirmed", "top")}
        print(f"  {r['what']:<10} {float(r['seconds']):6.2f} s{ratio}, peak RSS {r['peak_mb']} MB "
              f"(data alone {r['data_mb']} MB) {extra}")


def soundness(args: argparse.Namespace) -> None:
    from scipy.stats import binomtest

    from bot.evaluation.discovery import discover
    from bot.evaluation.paired import Scored
    from tests.evaluation.discovery_sim import PLANTED
    from tests.evaluation.discovery_sim import holdout as sim

    t = time.perf_counter()
    false_alarms = hits = 0
    for r in range(max(args.runs, args.planted_runs)):
        if r < args.runs:
            frame, y, cand, base, _ = sim(100_000 + r, planted=False)
            found = discover(frame, Scored("binary", y, cand, base), label="y", seed=r)
            false_alarms += any(s.confirmed for s in found.slices)
        if r >= args.planted_runs:
            continue
        frame, y, cand, base, _ = sim(200_000 + r, planted=True)
        found = discover(frame, Scored("binary", y, cand, base), label="y", seed=r)
        hits += any(s.confirmed and {p.text for p in s.predicates} == PLANTED for s in found.slices)
    for name, k, n in (("A/A runs with a confirmed slice", false_alarms, args.runs),
                       ("planted slice found and confirmed", hits, args.planted_runs)):
        ci = binomtest(k, n).proportion_ci(0.95)
        print(f"{name}: {k}/{n} = {k / n:.1%} [{ci.low:.1%}, {ci.high:.1%}]")
    print(f"({time.perf_counter() - t:.0f} s)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "one":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--rows", type=int, default=1_000_000)
    sp.add_argument("--depth", type=int, default=2)
    sp.add_argument("--sliceline", action="store_true")
    sp.add_argument("--timeout", type=int, default=900)
    so = sub.add_parser("soundness")
    so.add_argument("--runs", type=int, default=1000, help="A/A runs")
    so.add_argument("--planted-runs", type=int, default=1000)
    args = parser.parse_args()
    speed(args) if args.cmd == "speed" else soundness(args)


if __name__ == "__main__":
    main()
