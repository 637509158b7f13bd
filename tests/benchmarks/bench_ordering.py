"""Benchmark: what the order-independence costs one job in store time, against storing a delivery.

    .venv/bin/python tests/benchmarks/bench_ordering.py [--jobs 500] [--database-url URL]

Per job, as `pull_request` synchronize does it (bot/handlers/ordering.py): take the PR's lock,
order the new head against the stored one (the store-only path: `before` is the current head),
read and raise the head's phase, release the lock. The anchor, in the same run on the same
store, is `record_delivery`, which every webhook already pays. No GitHub call is made on this
path; the one-call path (heads the store cannot order) is not measured here.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.context import Context, Event  # noqa: E402
from bot.handlers.ordering import PENDING, claim_head, phase, pr_lock, reach  # noqa: E402
from bot.store import Store  # noqa: E402

REPO = "acme/churn"


def _ctx(store: Store, delivery: str, payload: dict[str, Any]) -> Context:
    event = Event("pull_request", "synchronize", delivery, {"repository": {"full_name": REPO}, **payload})
    return Context(event=event, github=None, store=store, log=logging.getLogger("bench"))


def run(store: Store, jobs: int) -> tuple[list[float], list[float]]:
    ordering, anchor = [], []
    head = secrets.token_hex(20)
    store.move_pr_head(REPO, 1, head, expected=None, retire=[])
    for i in range(jobs):
        new = secrets.token_hex(20)
        ctx = _ctx(store, f"bench-{i}", {"before": head})
        t0 = time.perf_counter()
        with pr_lock(ctx, 1):
            assert claim_head(ctx, 1, new, before=head)
            if phase(ctx, 1, new) < PENDING:
                reach(ctx, 1, new, PENDING)
        t1 = time.perf_counter()
        store.record_delivery(f"anchor-{i}-{secrets.token_hex(4)}", "pull_request", "synchronize", REPO, 1, b"{}")
        t2 = time.perf_counter()
        ordering.append(t1 - t0)
        anchor.append(t2 - t1)
        head = new
    return ordering, anchor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database_url or f"sqlite:///{tmp}/bench.db")
        store.migrate()
        ordering, anchor = run(store, args.jobs)
        store.engine.dispose()
    o, a = statistics.median(ordering) * 1000, statistics.median(anchor) * 1000
    print(f"{store.engine.dialect.name}, {args.jobs} jobs: ordering median {o:.2f} ms "
          f"(p95 {sorted(ordering)[int(len(ordering) * .95)] * 1000:.2f} ms), record_delivery median {a:.2f} ms, "
          f"ratio {o / a:.1f}x")


if __name__ == "__main__":
    main()
