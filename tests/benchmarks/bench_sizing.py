"""Benchmark for sizing: jobs per second per worker against a GitHub with real latency.

    .venv/bin/python tests/benchmarks/bench_sizing.py [--prs 40] [--latency 0.1] [--threads 2 4 8]

The scale-out layout on this machine: gunicorn (2 workers) and one `mlgate worker
--workers T` on PostgreSQL (127.0.0.1:5432, a fresh database) and Redis (a fresh queue
name), the GitHub stand-in answering every API call after `--latency` seconds, as GitHub
does from far away. For each T, P pull requests are opened (P `pull_request` jobs: the
pending comment and checks) and then their evaluation workflows complete with a report
(P `workflow_run` jobs: artifact, comment, checks, labels). The clock runs from the first
webhook to the last delivery marked done in the store.

Anchor, in the same run: the same number of API calls per job made by T plain threads
with `requests` against the same stand-in, i.e. the throughput of a worker that did
nothing but its GitHub calls. mlgate / anchor says how close the worker gets to that
bound; the calls per job times the latency, divided by T, is what sizes a deployment.

Also reported: resident memory of one gunicorn worker and of the queue worker, and the
store's growth per pull request (PostgreSQL database size, before and after).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from bot.sandbox import Sandbox, generate_private_key  # noqa: E402
from tests.processes import free_port, stop, wait_for  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CONFIG = (ROOT / "tests" / "fixtures" / "reports" / "mlgate.yml").read_text()
REPORT = (ROOT / "tests" / "fixtures" / "reports" / "passing.json").read_bytes()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def finished(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM deliveries WHERE status IN ('done', 'ignored', 'failed')").fetchone()
    return int(row[0]) if row else 0


def db_size(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def anchor(box: Sandbox, calls: int, threads: int) -> float:
    """Seconds for `threads` plain threads to make `calls` authenticated API calls in all."""
    token = box.create_token("acme/churn")
    url = f"{box.base_url}/repos/acme/churn/pulls/1"
    per = [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]

    def run(n: int) -> None:
        s = requests.Session()
        for _ in range(n):
            s.get(url, headers={"Authorization": f"token {token}"}, timeout=30).raise_for_status()

    workers = [threading.Thread(target=run, args=(n,)) for n in per]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.monotonic() - start


def one(threads: int, prs: int, latency: float, key: str) -> dict[str, Any]:
    name = f"mlgate_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db = f"postgresql://postgres@127.0.0.1:5432/{name}"
    box = Sandbox()
    box.start()
    box.register_app(private_key=key, webhook_secret="bench-secret")
    box.create_installation("acme", ["acme/churn"])
    box.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
    port = free_port()
    env = {**os.environ, "MLGATE_WEBHOOK_SECRET": "bench-secret", "MLGATE_APP_ID": str(box.app_id),
           "MLGATE_PRIVATE_KEY": key, "MLGATE_GITHUB_API_URL": box.base_url,
           "MLGATE_DATABASE_URL": db.replace("postgresql://", "postgresql+psycopg://"),
           "MLGATE_QUEUE_URL": "redis://127.0.0.1:6379/0", "MLGATE_QUEUE_NAME": name,
           "MLGATE_PUBLIC_URL": f"http://127.0.0.1:{port}", "MLGATE_DATA_DIR": tempfile.mkdtemp(prefix="mlgate-bench-")}
    web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                            "bot.app:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(BIN / "mlgate"), "worker", "--workers", str(threads)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("gunicorn", lambda: _up(port))
        box.set_webhook(url=f"http://127.0.0.1:{port}/webhook")
        box.set_latency(latency)
        size0 = db_size(db)
        result: dict[str, Any] = {"threads": threads}
        numbers: list[int] = []
        for phase in ("pull_request", "workflow_run"):
            box.reset_calls()
            done0 = finished(db)
            start = time.monotonic()
            for i in range(prs):
                if phase == "pull_request":
                    numbers.append(box.open_pull_request("acme/churn", {f"data/{i}.csv": f"{i}\n"})["number"])
                else:
                    # the trusted pattern: the PR's build run, then the evaluation run (two jobs per PR)
                    box.complete_trusted_evaluation("acme/churn", numbers[i], REPORT)
            jobs = prs if phase == "pull_request" else 2 * prs
            wait_for(f"{jobs} {phase} jobs", lambda d=done0, j=jobs: finished(db) >= d + j, 600)
            took = time.monotonic() - start
            calls = sum(box.call_counts().values())
            ideal = anchor(box, calls, threads)
            result[phase] = {"jobs_s": prs / took, "calls_per_job": calls / prs, "anchor_jobs_s": prs / ideal}
        result["store_kb_per_pr"] = (db_size(db) - size0) / 1024 / prs
        result["rss_web_mb"] = max(rss_mb(p) for p in children(web.pid))
        result["rss_worker_mb"] = rss_mb(worker.pid)
        failed = [c for n in numbers for c in [len(box.comments("acme/churn", n))] if c != 1]
        if failed:
            raise RuntimeError(f"{len(failed)} PRs do not have exactly one comment")
        return result
    finally:
        for p in (web, worker):
            stop(p)
        box.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        import redis

        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for k in client.scan_iter(f"huey*{name}*"):
            client.delete(k)


def _up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per GitHub API call")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's access log
    key = generate_private_key()
    print(f"{args.prs} PRs, GitHub latency {args.latency * 1000:.0f} ms per call, PostgreSQL + Redis")
    print("| worker threads | job | calls/job | mlgate jobs/s | anchor jobs/s | mlgate / anchor |")
    print("|---|---|---|---|---|---|")
    rows = []
    for t in args.threads:
        r = one(t, args.prs, args.latency, key)
        rows.append(r)
        for phase in ("pull_request", "workflow_run"):
            p = r[phase]
            print(f"| {t} | {phase} | {p['calls_per_job']:.1f} | {p['jobs_s']:.2f} | {p['anchor_jobs_s']:.2f} | "
                  f"{p['jobs_s'] / p['anchor_jobs_s']:.2f} |", flush=True)
    for r in rows:
        print(f"threads {r['threads']}: gunicorn worker {r['rss_web_mb']:.0f} MB, queue worker "
              f"{r['rss_worker_mb']:.0f} MB, store {r['store_kb_per_pr']:.1f} KB per PR")


if __name__ == "__main__":
    main()
