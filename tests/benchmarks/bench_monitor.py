"""Benchmark: one `mlgate monitor` run over a week of 10 million logged predictions.

    .venv/bin/python tests/benchmarks/bench_monitor.py [--rows 10000000] [--engines numpy,duckdb] [--engine-memory 1GB]
        [--evidently /tmp/evidently-venv/bin/python]

Writes a seeded week (bot.monitor.simulate, date partitions, every row labelled, one
segment column) plus a previous week of --previous rows, then times in fresh processes:

- the anchor: pyarrow reading the same week's columns into pandas (what any tool must do);
- `run_monitor` with each of --engines (numpy: the week in pandas; duckdb: out of core with
  --engine-memory, aggregates only): input drift per feature overall and per segment, prediction drift, live
  quality with intervals overall and per segment (the registry is a stub returning version 1
  and its promoted AUC: MLflow is not what is measured);
- optionally Evidently's DataDriftPreset on the same reference and week, in its own venv.

Each reports wall time and peak RSS (ru_maxrss of the child).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

END = datetime(2026, 11, 30, tzinfo=UTC)
CONFIG = """version: 1
models:
  - name: churn-classifier
    task: binary
    holdout: data/reference.parquet
    label: churned
    segments: [region]
    metrics: {roc_auc: {max_drop: 0.01}, accuracy: {informational: true}}
monitor: {logs: logs, window_days: 7}
"""

MONITOR = """
import resource, sys, time
from datetime import datetime
from pathlib import Path
sys.path.insert(0, {root!r})
t = time.perf_counter()
from bot.config import load_config
from bot.monitor.run import run_monitor
class Prod:
    def alias_version(self, name, alias): return "1"
    def version_tags(self, name, version): return {{"mlgate.metric.roc_auc": "0.6979"}}
root = Path({repo!r})
h = run_monitor(load_config(root / "mlgate.yml"), root=root, registry=Prod(), until=datetime.fromisoformat({end!r}),
                engine={engine!r}, memory={memory!r})[0]
ru = resource.getrusage(resource.RUSAGE_SELF); print(time.perf_counter() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, h.rows, h.state, len(h.drift))
"""

ANCHOR = """
import resource, sys, time
t = time.perf_counter()
import pyarrow.dataset as ds
cols = ["request_id", "timestamp", "model", "version", "score", "tenure_months", "monthly_charges", "region", "plan", "churned"]
f = ds.dataset({logs!r}, format="parquet", partitioning="hive").to_table(columns=cols).to_pandas()
ru = resource.getrusage(resource.RUSAGE_SELF); print(time.perf_counter() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, len(f), "-", 0)
"""

EVIDENTLY = """
import resource, sys, time
t = time.perf_counter()
import pandas as pd
import pyarrow.dataset as ds
cols = ["tenure_months", "monthly_charges", "region", "plan"]
ref = pd.read_parquet({ref!r})[cols]
cur = ds.dataset({logs!r}, format="parquet", partitioning="hive").to_table(columns=cols).to_pandas()
cur = cur[cols]
try:
    from evidently import Report
    from evidently.presets import DataDriftPreset
    snap = Report([DataDriftPreset()]).run(reference_data=ref, current_data=cur)
except ImportError:
    from evidently.report import Report
    from evidently.metric_preset import DataDriftPreset
    r = Report(metrics=[DataDriftPreset()]); r.run(reference_data=ref, current_data=cur)
ru = resource.getrusage(resource.RUSAGE_SELF); print(time.perf_counter() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, len(cur), "-", 0)
"""


def _child(python: str, code: str, timeout: float) -> str:
    t = time.perf_counter()
    try:
        res = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"did not finish in {timeout:.0f} s"
    if res.returncode != 0:
        return f"failed ({res.returncode}): {res.stderr.strip().splitlines()[-1] if res.stderr.strip() else ''}"
    secs, cpu, rss, rows, state, ndrift = res.stdout.split()[-6:]
    return (f"{float(secs):6.1f} s ({float(cpu):.1f} s CPU), peak RSS {float(rss) / 1024:5.2f} GB "
            f"({int(rows):,} rows; state {state}; {ndrift} drift rows; wall {time.perf_counter() - t:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--previous", type=int, default=2_000_000)
    ap.add_argument("--evidently", default=None, help="python of a venv with evidently installed")
    ap.add_argument("--keep", default=None, help="write the data here and keep it (default: a temporary directory)")
    ap.add_argument("--reuse", action="store_true", help="with --keep: the data is already there")
    ap.add_argument("--engines", default="numpy,duckdb", help="monitor engines to time, comma-separated")
    ap.add_argument("--engine-memory", default="1GB", help="the duckdb engine's memory limit (--engine-memory)")
    ap.add_argument("--no-anchor", action="store_true", help="skip the pyarrow anchor")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(args.keep or tmp)
        (repo / "data").mkdir(parents=True, exist_ok=True)
        (repo / "mlgate.yml").write_text(CONFIG)
        t = time.perf_counter()
        if not args.reuse:
            _write(repo, args.rows, args.previous)
        size = sum(p.stat().st_size for p in (repo / "logs").rglob("*.parquet"))
        print(f"data: {args.rows:,} rows this week + {args.previous:,} the week before, "
              f"{size / 1e6:.0f} MB Parquet, written in {time.perf_counter() - t:.0f} s")
        week = END - timedelta(days=7)
        this_week = [str(f) for p in sorted((repo / "logs").glob("date=*")) if p.name >= f"date={week:%Y-%m-%d}"
                     for f in sorted(p.glob("*.parquet"))]
        if not args.no_anchor:
            print("anchor (pyarrow read of the week into pandas):",
                  _child(sys.executable, ANCHOR.format(logs=this_week), 600))
        for engine in args.engines.split(","):
            print(f"mlgate monitor (run_monitor, engine {engine}):",
                  _child(sys.executable, MONITOR.format(root=str(ROOT), repo=str(repo), end=END.isoformat(),
                                                        engine=engine, memory=args.engine_memory), 900))
        if args.evidently:
            print("Evidently DataDriftPreset:",
                  _child(args.evidently, EVIDENTLY.format(ref=str(repo / "data" / "reference.parquet"),
                                                          logs=this_week), 1200))


def _write(repo: Path, rows: int, previous: int) -> None:
    from bot.monitor import simulate

    simulate.reference(0, 100_000).to_parquet(repo / "data" / "reference.parquet")
    week = END - timedelta(days=7)
    for seed, n, start in ((1, previous, week - timedelta(days=7)), (2, rows, week)):
        for day in range(7):  # a day at a time: the generator's own memory stays small
            frame = simulate.window(simulate.Traffic(shift=0.3), seed=seed * 100 + day,
                                    start=start + timedelta(days=day), days=1, rows_per_day=n // 7)
            simulate.write_partitioned(frame, repo / "logs")


if __name__ == "__main__":
    main()
