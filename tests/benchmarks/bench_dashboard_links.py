"""Benchmark: the dashboard's evaluations page with and without MLflow UI links (#14 item 6).

    .venv/bin/python tests/benchmarks/bench_dashboard_links.py [--evaluations 200] [--repeat 15] [--database-url URL]

The store holds `--evaluations` evaluations of the failing fixture report (17.7 kB each, named
evaluation run), stored by Store.record_evaluation as the App stores them. The page lists the
newest 200. Without MLGATE_MLFLOW_UI_URL it reads only the evaluations' index columns; with it,
the links need each listed report, read once per process (bot.dashboard.ReportLinks) and then
kept. Printed: the median of `--repeat` requests in each mode, and the first request with the
setting (every report read).
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

from bot.app import create_app  # noqa: E402
from bot.queue import huey_for  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store import Store  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "reports" / "failing.json"
TOKEN = "bench-token"


def app_for(tmp: Path, database_url: str, ui: str | None) -> Any:
    settings = Settings(webhook_secret="w", app_id=1, private_key="-----BEGIN PRIVATE KEY-----",
                        database_url=database_url, queue_url=f"sqlite:///{tmp / f'q-{ui is None}.db'}",
                        dashboard_token=TOKEN, mlflow_ui_url=ui)
    return create_app(settings, store=Store(database_url), queue=(huey_for(settings.queue_url), lambda _id: None))


def timed(client: Any) -> float:
    started = time.perf_counter()
    resp = client.get("/dashboard/evaluations", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evaluations", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = args.database_url or f"sqlite:///{tmp / 'db.sqlite'}"
    store = Store(url)
    store.migrate()
    report = json.loads(FIXTURE.read_text())
    report["evaluation_run"] = {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": "3"}
    for i in range(args.evaluations):
        store.set_pr_head("acme/churn", i + 1, f"{i:040x}", "b" * 40, "alice")
        store.record_evaluation("acme/churn", i + 1, f"{i:040x}", i, "fail", report)
    for ui in (None, "https://mlflow.example.com"):
        client = app_for(tmp, url, ui).test_client()
        first = timed(client)
        runs = [timed(client) for _ in range(args.repeat)]
        label = "with MLGATE_MLFLOW_UI_URL" if ui else "without the setting"
        print(f"{label}: first request {first * 1000:.0f} ms, then median {statistics.median(runs) * 1000:.0f} ms "
              f"(min {min(runs) * 1000:.0f}, max {max(runs) * 1000:.0f}) over {args.repeat}")


if __name__ == "__main__":
    main()
