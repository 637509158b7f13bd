"""Benchmark: what reading each model's @production from the registry costs the dashboard's home page (#14 item 6).

    .venv/bin/python tests/benchmarks/bench_dashboard_production.py [--models 20] [--repeat 15]

The App's store holds one evaluation of each of `--models` models (the failing fixture report,
renamed), stored by Store.record_evaluation; a real MLflow SQLite registry has one version of
each with @production on it. Printed, each the median of `--repeat` requests (`/dashboard`):

- no registry configured (no read at all);
- the registry: a new App's first request (opening the registry and one read per model), then
  the requests within the 30 s cache (no read);
- one round of reads with the registry already open and no cache (what each 30 s costs);
- an unreachable registry (a closed port): its first request (every read fails at once).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.app import create_app  # noqa: E402
from bot.dashboard_production import ProductionVersions  # noqa: E402
from bot.queue import huey_for  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store import Store  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "reports" / "failing.json"
TOKEN = "bench-token"


def app_for(tmp: Path, database_url: str, tracking_uri: str | None, n: int) -> Any:
    settings = Settings(webhook_secret="w", app_id=1, private_key="-----BEGIN PRIVATE KEY-----",
                        database_url=database_url, queue_url=f"sqlite:///{tmp / f'q-{n}.db'}",
                        dashboard_token=TOKEN, tracking_uri=tracking_uri)
    return create_app(settings, store=Store(database_url), queue=(huey_for(settings.queue_url), lambda _id: None))


def timed(client: Any, must: str, late_ok: bool = False) -> float:
    started = time.perf_counter()
    resp = client.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})
    elapsed = time.perf_counter() - started
    html = resp.get_data(as_text=True)
    late = html.count("did not answer in time")
    assert resp.status_code == 200 and (must in html or late_ok), must
    if late:
        print(f"  ({late} models: the registry did not answer in time)")
    return elapsed


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    from bot.mlflow import Registry

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        url = f"sqlite:///{tmp / 'db.sqlite'}"
        store = Store(url)
        store.migrate()
        uri = f"sqlite:///{tmp / 'mlflow.db'}"
        reg = Registry(uri)
        experiment = reg.client.create_experiment("train", artifact_location=str(tmp / "artifacts"))
        names = [f"model-{i:03d}" for i in range(args.models)]
        base = json.loads(FIXTURE.read_text())
        for i, name in enumerate(names):
            report = json.loads(json.dumps(base))
            report["models"][0]["name"] = name
            store.set_pr_head("acme/churn", i + 1, f"{i:040x}", "b" * 40, "alice")
            store.record_evaluation("acme/churn", i + 1, f"{i:040x}", i, "fail", report)
            version = reg.register(f"runs:/{reg.client.create_run(experiment).info.run_id}/model", name)
            reg.client.set_registered_model_alias(name, "production", version)

        none = app_for(tmp, url, None, 0).test_client()
        timed(none, "no registry configured")  # warm-up: templates compiled, store connected
        runs = [timed(none, "no registry configured") for _ in range(args.repeat)]
        print(f"{args.models} models, no registry configured: median {ms(statistics.median(runs))}")

        client = app_for(tmp, url, uri, 1).test_client()
        first = timed(client, "(set outside mlgate)", late_ok=True)
        time.sleep(5)  # reads that missed the first page's deadline finish and fill the cache
        runs = [timed(client, "(set outside mlgate)") for _ in range(args.repeat)]
        print(f"registry (SQLite): first request {ms(first)} (open + {args.models} reads), "
              f"then median {ms(statistics.median(runs))} from the cache")

        versions = ProductionVersions(lambda: reg, ttl=0.0)
        versions.read(names)
        rounds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            assert all(p.version == "1" for p in versions.read(names).values())
            rounds.append(time.perf_counter() - started)
        print(f"one round of {args.models} reads, registry open, no cache: median {ms(statistics.median(rounds))}")

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        down = app_for(tmp, url, f"http://127.0.0.1:{port}", 2).test_client()
        first = timed(down, "registry not reachable")
        runs = [timed(down, "registry not reachable") for _ in range(args.repeat)]
        print(f"unreachable registry: first request {ms(first)}, then median {ms(statistics.median(runs))} "
              "(the failures are cached too)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
