"""Benchmark: slice discovery on the DuckDB engine (issue #18, item 5).

    .venv/bin/python tests/benchmarks/bench_discovery_sql.py --rows 10000000 --dir /tmp/bds [--numpy]

Writes `--rows` rows of bench_discovery's holdout (20 feature columns: 10 categorical with 3 to
50 values, 10 numeric, a planted two-column slice) as Parquet parts of 1M rows with an id
column, and the two models' scores as a separate Parquet table (joined by id), unless they
exist. Then, each in its own process (peak RSS is per process): `discover_sql` on DuckDB at
depth 2 with the paired roc_auc of every tested slice, the same work `mlgate evaluate
--engine duckdb` does for a `discovery` block; with `--numpy`, `discover(key=...)` on the
same rows loaded into memory (the id split), for comparison.
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

PART = 1_000_000


def write(rows: int, out: Path) -> None:
    from tests.benchmarks.bench_discovery import holdout

    (out / "holdout").mkdir(parents=True, exist_ok=True)
    (out / "scores").mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, rows, PART)):
        target = out / "holdout" / f"part-{i:04d}.parquet"
        if target.exists():
            continue
        frame, _, cand, base = holdout(min(PART, rows - start), seed=i)
        ids = np.arange(start, start + len(frame), dtype=np.int64)
        frame.insert(0, "uid", ids)
        frame.to_parquet(target, index=False)
        pd.DataFrame({"uid": ids, "candidate": cand, "baseline": base}).to_parquet(
            out / "scores" / f"part-{i:04d}.parquet", index=False)


def measure(what: str, out: Path) -> dict[str, object]:
    from bot.evaluation.engines import Request, TableSource

    settings = dict(max_depth=2, min_rows=200, top_k=5, level=0.05, metrics=["roc_auc"], confidence=0.95,
                    seed=0, exclude=["uid"])
    t = time.perf_counter()
    if what == "duckdb":
        from bot.evaluation.engines.duckdb_engine import DuckDBEngine
        from bot.evaluation.engines.slices_sql import discover_sql

        req = Request(task="binary", label="y", candidate=("candidate",), baseline=("baseline",), metrics=(),
                      key="uid", predictions=TableSource.of_parquet(str(out / "scores")))
        eng = DuckDBEngine()
        found = discover_sql(eng, TableSource.of_parquet(str(out / "holdout")), req, **settings)  # type: ignore[arg-type]
        eng.close()
    else:
        from bot.evaluation.discovery import discover_models

        frame = pd.read_parquet(out / "holdout")
        scores = pd.read_parquet(out / "scores").set_index("uid").reindex(frame["uid"].to_numpy())
        t = time.perf_counter()
        found = discover_models(frame, task="binary", label="y", candidate=scores["candidate"].to_numpy(),
                                baseline=scores["baseline"].to_numpy(), classes=None,
                                key=frame["uid"].to_numpy(), **settings)  # type: ignore[arg-type]
    wall = time.perf_counter() - t
    top = found.slices[0] if found.slices else None
    return {"what": what, "seconds": round(wall, 2), "peak_mb": round(resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024), "scored": found.scored,
        "top": top.text if top else None, "confirmed": bool(top and top.confirmed)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/mlgate-bench-discovery-sql"))
    ap.add_argument("--numpy", action="store_true")
    ap.add_argument("--one", choices=["duckdb", "numpy"])
    args = ap.parse_args()
    out = args.dir / str(args.rows)
    if args.one:
        print(json.dumps(measure(args.one, out)))
        return
    write(args.rows, out)
    for what in ["duckdb"] + (["numpy"] if args.numpy else []):
        res = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--dir", str(args.dir),
                              "--one", what], capture_output=True, text=True, check=True)
        print(res.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
