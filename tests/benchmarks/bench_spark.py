"""Benchmark: the Spark engine in local mode against Spark MLlib's evaluator loop, same data, same run.

    .venv/bin/python tests/benchmarks/bench_spark.py [--rows 10000000] [--data DIR]
                                                     [--skip-numpy] [--skip-duckdb] [--skip-anchor]

The holdout of bench_evaluate.py (20 skewed segments, a binary label, two scorers), its
`joined.parquet` file (rows and scores in one file). Each side runs as a whole process and is timed from outside; CPU and peak RSS
add the Spark JVM's own (read from /proc before the session stops):

- `spark`: `SparkEngine.compare` on a local[2] session (driver memory 4 GB) that the process
  starts: all eight binary metrics with paired 95% intervals, overall and per segment (168
  intervals, exact DeLong AUC). `session` and `compute` split its time: inside a Spark job the
  session already exists.
- `duckdb`, `numpy`: the same request through the other engines (`compare_table`).
- `mllib`, the anchor: `BinaryClassificationEvaluator` (areaUnderROC, binned, numBins 1000) on
  the same local[2] session settings, looped over the 20 segments for the candidate and the
  baseline (40 evaluations of a cached DataFrame): point AUC only, no intervals.

Every engine's report is checked equal to the others' to 1e-9 (relative; 1e-12 absolute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluate import METRICS, make_data  # noqa: E402  (the same holdout as the numpy benchmark)

SESSION = textwrap.dedent(
    """
    import json, resource, sys, time
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession
    spark = (SparkSession.builder.master("local[2]").appName("bench")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", "4g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    t_session = time.perf_counter() - t0

    def jvm():
        pid = spark.sparkContext._gateway.proc.pid
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        tick = __import__("os").sysconf("SC_CLK_TCK")
        hwm = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0].split()[1]
        return (int(stat[11]) + int(stat[12])) / tick, int(hwm) / 1024

    def finish(out, body, t_compute):
        cpu, rss = jvm()
        me = resource.getrusage(resource.RUSAGE_SELF)
        body.update(session_s=t_session, compute_s=t_compute, cpu_s=cpu + me.ru_utime + me.ru_stime,
                    rss_mb=rss + me.ru_maxrss / 1024)
        spark.stop()
        json.dump(body, open(out, "w"))
    """
)

SPARK = SESSION + textwrap.dedent(
    """
    from bot.evaluation.engines import Request, TableSource
    from bot.evaluation.engines.spark_engine import SparkEngine
    req = Request(task="binary", label="y", candidate=("candidate",), baseline=("baseline",),
                  metrics=tuple(sys.argv[3].split(",")), segments=("segment",))
    t = time.perf_counter()
    engine = SparkEngine(spark=spark)
    report = engine.compare(TableSource.of_parquet(sys.argv[1]), req).to_report()
    engine.close()
    finish(sys.argv[2], {"report": report}, time.perf_counter() - t)
    """
)

MLLIB = SESSION + textwrap.dedent(
    """
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import functions as F
    t = time.perf_counter()
    df = spark.read.parquet(sys.argv[1]).withColumn("label", F.col("y").cast("double")).cache()
    df.count()
    aucs = {}
    for seg in sorted(r[0] for r in df.select("segment").distinct().collect()):
        part = df.filter(F.col("segment") == seg)
        for who in ("candidate", "baseline"):
            ev = BinaryClassificationEvaluator(rawPredictionCol=who, labelCol="label", metricName="areaUnderROC")
            aucs[f"{seg}/{who}"] = ev.evaluate(part)
    finish(sys.argv[2], {"aucs": aucs}, time.perf_counter() - t)
    """
)

LOCAL = textwrap.dedent(
    """
    import json, resource, sys, time
    from bot.evaluation.tables import compare_table
    from bot.evaluation.engines import Request, TableSource
    req = Request(task="binary", label="y", candidate=("candidate",), baseline=("baseline",),
                  metrics=tuple(sys.argv[3].split(",")), segments=("segment",))
    t = time.perf_counter()
    report = compare_table(TableSource.of_parquet(sys.argv[1]), req, sys.argv[4]).to_report()
    me = resource.getrusage(resource.RUSAGE_SELF)
    json.dump({"report": report, "compute_s": time.perf_counter() - t, "cpu_s": me.ru_utime + me.ru_stime,
               "rss_mb": me.ru_maxrss / 1024}, open(sys.argv[2], "w"))
    """
)


def run(script: str, args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, dict]:  # type: ignore[type-arg]
    """Wall seconds of the whole process, and the figures it wrote (its last argument is the JSON path)."""
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        raise RuntimeError(f"{args} failed: {res.stderr[-3000:]}")
    return wall, json.loads(Path(args[1]).read_text())


def differences(a: dict, b: dict) -> tuple[int, float]:  # type: ignore[type-arg]
    """(fields compared, largest relative difference); raises if the reports differ beyond 1e-9."""
    fields = ("baseline", "candidate", "delta", "ci_low", "ci_high", "se", "p_value")
    pairs = [(a["metrics"], b["metrics"])] + [
        (x["metrics"], y["metrics"]) for x, y in zip(a["segments"], b["segments"], strict=True)]
    assert [(s["value"], s["rows"]) for s in a["segments"]] == [(s["value"], s["rows"]) for s in b["segments"]]
    count, worst = 0, 0.0
    for ma, mb in pairs:
        for sa, sb in zip(ma, mb, strict=True):
            for f in fields:
                x, y = sa[f], sb[f]
                assert (x is None) == (y is None), (sa["name"], f, x, y)
                if x is None:
                    continue
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (sa["name"], f, x, y)
                count += 1
                if y != 0:
                    worst = max(worst, abs(x - y) / abs(y))
    return count, worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--data", help="directory to keep the generated Parquet file in (default: temporary)")
    parser.add_argument("--skip-numpy", action="store_true")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--skip-anchor", action="store_true")
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data or tmp) / str(args.rows)
        data = root / "joined.parquet"  # segment, y, candidate, baseline
        if not data.exists():
            root.mkdir(parents=True, exist_ok=True)
            make_data(root, args.rows)
        print(f"{args.rows:,} rows; load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} cores", flush=True)
        print(f"{'side':<7} {'wall s':>8} {'session s':>10} {'compute s':>10} {'CPU s':>8} {'peak RSS MB':>12}",
              flush=True)
        metrics = ",".join(METRICS)
        reports: dict[str, dict] = {}  # type: ignore[type-arg]
        times: dict[str, float] = {}
        sides = [("spark", SPARK, [str(data), str(Path(tmp) / "spark.json"), metrics])]
        for name, skip in (("duckdb", args.skip_duckdb), ("numpy", args.skip_numpy)):
            if not skip:
                sides.append((name, LOCAL, [str(data), str(Path(tmp) / f"{name}.json"), metrics, name]))
        if not args.skip_anchor:
            sides.append(("mllib", MLLIB, [str(data), str(Path(tmp) / "mllib.json")]))
        for name, script, argv in sides:
            wall, body = run(script, argv, env, repo)
            times[name] = body["compute_s"]
            session = f"{body['session_s']:.1f}" if "session_s" in body else "-"
            print(f"{name:<7} {wall:>8.1f} {session:>10} {body['compute_s']:>10.1f} {body['cpu_s']:>8.1f} "
                  f"{body['rss_mb']:>12.0f}", flush=True)
            if "report" in body:
                reports[name] = body["report"]
            else:
                spark_auc = {f"{s['value']}/{w}": s["metrics"][METRICS.index("roc_auc")][w]
                             for s in reports.get("spark", {}).get("segments", []) for w in ("candidate", "baseline")}
                if spark_auc:
                    gap = max(abs(body["aucs"][k] - v) for k, v in spark_auc.items())
                    print(f"        MLlib's binned AUC differs from the exact one by up to {gap:.2e}", flush=True)
        names = list(reports)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                count, worst = differences(reports[a], reports[b])
                print(f"{a} = {b}: {count} values equal to 1e-9 (largest relative difference {worst:.1e})")
        if "mllib" in times:
            print(f"ratio: MLlib loop compute / spark engine compute = {times['mllib'] / times['spark']:.1f}x")
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
