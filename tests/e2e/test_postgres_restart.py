"""The PostgreSQL server itself restarted during a run, under real gunicorn and a real worker.

The server is the test's own cluster (tests.backends.PrivatePostgres) so that stopping it
disturbs nothing else. It is stopped with `-m immediate`, which clients see as a crash.
It goes down while a job is in the middle of a GitHub call. While it is down: /healthz says 503 naming the store, and a delivery is spooled to disk
and answered 202. After it is back: the same processes (never restarted) report healthy,
and every delivery, the spooled one included, ends with its comment, exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.app.conftest import CONFIG
from tests.backends import PrivatePostgres, redis_queue
from tests.processes import free_port, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.close()


def _health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        r = requests.get(f"{url}/healthz", timeout=5)
        return r.status_code, r.json()
    except (requests.RequestException, ValueError):
        return 0, {}


def test_postgresql_server_restart_loses_no_delivery(github: Any, tmp_path: Path,
                                                    private_postgres: PrivatePostgres) -> None:
    import psycopg

    with psycopg.connect(private_postgres.url().replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("CREATE DATABASE mlgate")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with redis_queue() as (queue_url, queue_name):
        env = {**os.environ, "MLGATE_WEBHOOK_SECRET": github.webhook_secret, "MLGATE_APP_ID": str(github.app_id),
               "MLGATE_PRIVATE_KEY": github.private_key, "MLGATE_GITHUB_API_URL": github.base_url,
               "MLGATE_DATABASE_URL": private_postgres.url("mlgate"), "MLGATE_QUEUE_URL": queue_url,
               "MLGATE_QUEUE_NAME": queue_name, "MLGATE_SPOOL_DIR": str(tmp_path / "spool"),
               "MLGATE_PUBLIC_URL": url}
        logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "worker")}  # noqa: SIM115
        web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                                "bot.app:create_app()"], cwd=ROOT, env=env, stdout=logs["web"],
                               stderr=subprocess.STDOUT)
        worker = subprocess.Popen([str(BIN / "mlgate"), "worker", "--workers", "2", "--stale-after", "3"], cwd=ROOT,
                                  env=env, stdout=logs["worker"], stderr=subprocess.STDOUT)
        try:
            wait_for("gunicorn", lambda: _health(url)[0] == 200)
            github.set_webhook(url=f"{url}/webhook")
            github.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
            first = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
            wait_for("the first PR's comment", lambda: len(github.comments("acme/churn", first["number"])) == 1)

            # the server dies while a job is inside a GitHub call: it cannot record its outcome
            github.inject_fault("POST", r"/issues/\d+/comments$", "slow", times=1, retry_after=2)
            inflight = github.open_pull_request("acme/churn", {"data/inflight.csv": "i\n"})
            wait_for("the job to be inside its GitHub call", lambda: github.slow_started == 1)
            private_postgres.stop("immediate")
            wait_for("/healthz to name the store", lambda: _health(url)[1].get("store") == "unreachable", 30)
            assert _health(url)[0] == 503
            second = github.open_pull_request("acme/churn", {"data/b.csv": "b\n"})
            assert github.deliveries[-1]["status"] == 202  # spooled on disk, not lost and not retried by GitHub
            assert list((tmp_path / "spool").glob("*.json"))

            wait_for("the interrupted job's comment", lambda: len(github.comments("acme/churn", inflight["number"])) == 1)
            time.sleep(1)  # the job goes on and finds the store gone
            private_postgres.start()
            wait_for("healthy again without a restart", lambda: _health(url)[0] == 200, 60)
            wait_for("the interrupted job, finished", lambda: len(github.comments("acme/churn", inflight["number"])) == 1)
            wait_for("the spooled PR's comment", lambda: len(github.comments("acme/churn", second["number"])) == 1, 90)
            third = github.open_pull_request("acme/churn", {"data/c.csv": "c\n"})
            wait_for("a PR opened after the restart", lambda: len(github.comments("acme/churn", third["number"])) == 1)

            assert web.poll() is None and worker.poll() is None  # recovered by itself
            assert not list((tmp_path / "spool").glob("*.json"))
            for pr in (first, inflight, second, third):
                assert len(github.comments("acme/churn", pr["number"])) == 1
            def statuses() -> dict[str, int]:
                with psycopg.connect(private_postgres.url("mlgate").replace("+psycopg", "")) as db:
                    return dict(db.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall())

            # the comment is posted before the job's last steps: wait for each delivery to be marked done
            wait_for("every delivery done", lambda: statuses() == {"done": 4})

            # the outage did hit that job, which failed, and a later attempt finished it
            inflight_id = next(d["delivery"] for d in github.deliveries
                               if d["payload"].get("number") == inflight["number"])

            def story() -> list[str]:
                text = (tmp_path / "worker.log").read_text()
                lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
                return [x["outcome"] for x in lines if x.get("delivery_id") == inflight_id and "outcome" in x]

            wait_for("the interrupted job's last log line", lambda: story()[-1:] == ["done"])
            assert story()[0] == "retry", story()
        finally:
            for p in (web, worker):
                stop(p)
            for f in logs.values():
                f.close()
