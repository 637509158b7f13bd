"""Benchmark: the store reads of one /rollback, by indexed queries against the old scans of the audit log.

    .venv/bin/python tests/benchmarks/bench_release_history.py [--rows 50000] [--models 20] [--database-url URL]

The audit log is filled with what bot.promotion.audit writes (promotions, rollbacks, refusals and
failures across `--models` models and two aliases). Per /rollback, bot.promotion reads: the
earlier release by this delivery (twice: before and under the lock) and the previous version of
the alias. The anchor, in the same run on the same store, is what that took before #10: three
reads of the model's whole audit log (`audit_records(model=...)`) filtered in Python, as the
old `_earlier` and `previous_version` did.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot import promotion  # noqa: E402
from bot.promotion import A_PROMOTE, A_ROLLBACK, R_FAILED, R_REFUSED, R_SUCCESS, Release  # noqa: E402
from bot.store import Store  # noqa: E402

REPO = "acme/churn"


def fill(store: Store, rows: int, models: int) -> None:
    version = {m: 1 for m in range(models)}
    for i in range(rows):
        m = i % models
        alias = "challenger" if i % 7 == 0 else "production"
        action = A_ROLLBACK if i % 5 == 0 else A_PROMOTE
        result = R_REFUSED if i % 11 == 0 else R_FAILED if i % 13 == 0 else R_SUCCESS
        release = Release(action, f"model-{m}", alias, "wes", f"d-{i}", REPO, i % 300, f"{i:040x}")  # type: ignore[arg-type]
        promotion.audit(store, release, action, result, from_version=str(version[m]), to_version=str(version[m] + 1))
        if result == R_SUCCESS:
            version[m] += 1


def old_reads(store: Store, model: str, alias: str, delivery: str, current: str) -> str | None:
    """What bot.promotion read per /rollback before #10 (its _earlier twice, then previous_version)."""
    def detail(row: Any) -> dict[str, Any]:
        data = json.loads(row.get("detail") or "{}")
        return data if isinstance(data, dict) else {}

    for _ in range(2):
        for row in reversed(store.audit_records(model=model)):
            if row["action"] == A_ROLLBACK and row["result"] == R_SUCCESS and row["delivery_id"] == delivery:
                break
    history = [r for r in store.audit_records(model=model) if r["action"] in (A_PROMOTE, A_ROLLBACK)
               and r["result"] == R_SUCCESS and detail(r).get("alias", "production") == alias]
    for row in reversed(history):
        if row["to_version"] == current:
            return row["from_version"]
    return None


def new_reads(store: Store, model: str, alias: str, delivery: str, current: str) -> str | None:
    for _ in range(2):
        store.earlier_release(model=model, action=A_ROLLBACK, delivery_id=delivery)
    return store.previous_version(model, alias, current)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.migrate()
        t0 = time.perf_counter()
        fill(store, args.rows, args.models)
        print(f"filled {args.rows} audit rows in {time.perf_counter() - t0:.1f} s")
        last = store.last_release("model-3", "production")
        assert last is not None and last.to_version is not None
        assert old_reads(store, "model-3", "production", "new", last.to_version) == \
            new_reads(store, "model-3", "production", "new", last.to_version)
        old, new = [], []
        for _ in range(args.repeat):
            t1 = time.perf_counter()
            old_reads(store, "model-3", "production", "new", last.to_version)
            t2 = time.perf_counter()
            new_reads(store, "model-3", "production", "new", last.to_version)
            t3 = time.perf_counter()
            old.append(t2 - t1)
            new.append(t3 - t2)
        o, n = statistics.median(old), statistics.median(new)
        print(f"per /rollback, median of {args.repeat}: scans {o * 1000:.1f} ms, indexed queries {n * 1000:.2f} ms, "
              f"ratio {o / n:.0f}x ({args.rows} rows, {args.models} models)")


if __name__ == "__main__":
    main()
