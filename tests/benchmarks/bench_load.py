"""Benchmark: webhook acks while hostile input is processed, with real processes on loopback.

    .venv/bin/python tests/benchmarks/bench_load.py [--rate 200] [--seconds 10] [--drain 300]

gunicorn (2 workers) and `mlgate worker` (2 threads) on SQLite, started as the e2e tests start
them (tests/processes.app_processes), against the GitHub stand-in. Two phases of the same
load, in the same run: signed `issue_comment` deliveries (an ordinary comment on a PR, each
with a new delivery id, so each is verified, stored, enqueued and run) at `--rate` per second
for `--seconds`,

- quiet (the anchor): nothing else;
- hostile: meanwhile, once a second, a comment of 65,534 backticks and newlines on the same
  PR, and a push to a PR in a second repository whose `.github/mlgate.yml` on the default
  branch is a YAML alias bomb (about 400 bytes; billions of values once expanded), so each
  push makes the worker load that policy.

It reports the p50/p99 time to the 202 in each phase and their ratio, waits up to `--drain`
seconds for every honest delivery to end `done` in the store, and reports how the hostile
deliveries ended and how long the worker spent on them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.sandbox import Sandbox, generate_private_key  # noqa: E402
from bot.signature import _header  # noqa: E402
from bot.store import Store, deliveries  # noqa: E402
from tests.processes import app_processes  # noqa: E402

SECRET = "bench-secret"
CONFIG = (ROOT / "tests" / "fixtures" / "reports" / "mlgate.yml").read_text()
HOSTILE_COMMENT = ("`\n" * 32_767)[:65_534]


def alias_bomb(levels: int = 10) -> str:
    """Billion laughs: each key repeats the previous one nine times through an alias (9**levels)."""
    lines = ["version: 1", 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def honest_template(box: Sandbox) -> tuple[dict[str, str], bytes, int]:
    """An ordinary comment on a PR, as the stand-in delivers it (captured, not sent to the App)."""
    captured: list[tuple[dict[str, str], bytes]] = []

    def sink(headers: dict[str, str], body: bytes) -> int:
        captured.append((headers, body))
        return 202

    box.set_webhook(sink=sink)
    pr = box.open_pull_request("acme/churn", {"data/train.csv": "a\n1\n"})
    box.comment("acme/churn", pr["number"], "Thanks, the new rows look right to me.", user="alice")
    headers, body = next((h, b) for h, b in captured if _header(h, "X-GitHub-Event") == "issue_comment")
    return headers, body, pr["number"]


def offer(url: str, template: tuple[dict[str, str], bytes], rate: float, seconds: float,
          threads: int = 8) -> tuple[list[float], list[str], int]:
    """Send signed copies of `template`, each with a new delivery id, at `rate`/s for `seconds`.
    Returns the ack latencies (s), the delivery ids answered 202 and the number of failures."""
    headers, body = template
    latencies: list[float] = []
    accepted: list[str] = []
    errors = 0
    lock = threading.Lock()
    interval = threads / rate
    start = time.monotonic()
    stop_at = start + seconds

    def run(offset: float) -> None:
        nonlocal errors
        session = requests.Session()
        next_at = start + offset
        while next_at < stop_at:
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            delivery = str(uuid.uuid4())
            h = {**headers, "X-GitHub-Delivery": delivery}
            t = time.perf_counter()
            try:
                ok = session.post(url, data=body, headers=h, timeout=30).status_code == 202
            except requests.RequestException:
                ok = False
            dt = time.perf_counter() - t
            with lock:
                if ok:
                    latencies.append(dt)
                    accepted.append(delivery)
                else:
                    errors += 1
            next_at += interval

    workers = [threading.Thread(target=run, args=(i * interval / threads,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies, accepted, errors


def hostile(box: Sandbox, number: int, seconds: float, opened: dict[str, Any]) -> None:
    """Once a second: the backtick comment, and a push that makes the worker load the alias bomb."""
    pr = opened["pr"] = box.open_pull_request("acme/hostile", {"data/x.csv": "a\n0\n"})
    for i in range(int(seconds)):
        started = time.monotonic()
        box.comment("acme/churn", number, HOSTILE_COMMENT, user="mallory")
        box.push_to_pull_request("acme/hostile", pr["number"], {"data/x.csv": f"a\n{i + 1}\n"})
        time.sleep(max(0.0, 1 - (time.monotonic() - started)))


def statuses(store: Store, ids: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as c:
        for i in range(0, len(ids), 500):
            rows = c.execute(select(deliveries.c.id, deliveries.c.status, deliveries.c.received_at,
                                    deliveries.c.updated_at, deliveries.c.last_error)
                             .where(deliveries.c.id.in_(ids[i:i + 500]))).mappings()
            out.update({r["id"]: dict(r) for r in rows})
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--drain", type=float, default=300, help="seconds to wait for the worker to finish")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's request log
    print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp, Sandbox() as box:
        tmpd = Path(tmp)
        box.register_app(private_key=generate_private_key(), webhook_secret=SECRET)
        box.create_installation("acme", ["acme/churn", "acme/hostile"])
        box.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
        bomb = alias_bomb()
        box.push("acme/hostile", "main", {".github/mlgate.yml": bomb})
        headers, body, number = honest_template(box)
        print(f"honest delivery: issue_comment, {len(body):,} bytes; hostile comment {len(HOSTILE_COMMENT):,} "
              f"characters; alias bomb {len(bomb.encode())} bytes")
        with app_processes(box, tmpd, web_workers=2, worker_threads=2) as procs:
            url = f"{procs['url']}/webhook"
            store = Store(procs["env"]["MLGATE_DATABASE_URL"])
            results: dict[str, tuple[list[float], list[str], int]] = {}
            results["quiet"] = offer(url, (headers, body), args.rate, args.seconds)
            opened: dict[str, Any] = {}
            attacker = threading.Thread(target=hostile, args=(box, number, args.seconds, opened))
            first_hostile = len(box.deliveries)
            attacker.start()
            results["hostile"] = offer(url, (headers, body), args.rate, args.seconds)
            attacker.join()
            hostile_ids = [d["delivery"] for d in box.deliveries[first_hostile:]]

            honest = [d for _, ids, _ in results.values() for d in ids]
            started = time.monotonic()
            while True:
                seen = statuses(store, honest + hostile_ids)
                pending = [d for d in honest if seen.get(d, {}).get("status") not in ("done", "ignored", "failed")]
                if not pending or time.monotonic() - started > args.drain:
                    break
                time.sleep(1)
            drained = time.monotonic() - started

        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        print(f"\n{'phase':<8} {'offered':>8} {'acked/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'errors':>6}")
        for phase, (lat, _, errors) in results.items():
            print(f"{phase:<8} {args.rate:>6.0f}/s {len(lat) / args.seconds:>8.1f} {pct(lat, 0.5):>7.2f} "
                  f"{pct(lat, 0.99):>7.2f} {max(lat) * 1000:>7.2f} {errors:>6}")
        ratio = pct(results["hostile"][0], 0.99) / pct(results["quiet"][0], 0.99)
        print(f"p99 hostile / quiet = {ratio:.2f}")
        counts: dict[str, int] = {}
        for d in honest:
            status = seen.get(d, {}).get("status", "missing")
            counts[status] = counts.get(status, 0) + 1
        print(f"honest deliveries: {len(honest)}, by final status {json.dumps(counts)}, "
              f"worker finished them {drained:.1f} s after the load ended")
        kinds: dict[tuple[str, str], list[float]] = {}
        for d in box.deliveries[first_hostile:]:
            row = seen.get(d["delivery"])
            kind = (d["event"], row["status"] if row else "not stored")
            kinds.setdefault(kind, []).append((row["updated_at"] - row["received_at"]) if row else 0.0)
        for (event, status), spans in sorted(kinds.items()):
            print(f"hostile {event}: {len(spans)} ended {status}, received to finished median "
                  f"{statistics.median(spans) * 1000:.0f} ms, max {max(spans) * 1000:.0f} ms")
        if "pr" in opened:
            head = box.pull("acme/hostile", opened["pr"]["number"])["head"]["sha"]
            for run in box.check_runs("acme/hostile", head):
                title = (run.get("output") or {}).get("title")
                print(f"hostile PR check {run['name']}: {run['status']}/{run['conclusion']}: {title}")
    return 0 if counts == {"done": len(honest)} else 1


if __name__ == "__main__":
    sys.exit(main())
