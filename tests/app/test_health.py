"""Health and start-up: unreachable databases and queues are reported, never hidden."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot import spool
from bot.app import create_app
from bot.queue import huey_for
from bot.settings import Settings
from bot.store import Store
from tests.backends import PG_ADMIN, postgres_database, redis_queue

KEY = "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----"


def _settings(db: str, queue: str, name: str = "mlgate") -> Settings:
    return Settings(webhook_secret="s", app_id=1, private_key=KEY, database_url=db, queue_url=queue, queue_name=name)


def test_healthz_turns_503_when_postgresql_goes_away_and_recovers(tmp_path: Path) -> None:
    import psycopg

    with postgres_database() as db, redis_queue() as (queue_url, name):
        settings = _settings(db, queue_url, name)
        store = Store(db)
        store.migrate()
        app = create_app(settings, store=store, queue=(huey_for(queue_url, name), lambda _id: None))
        c = app.test_client()
        assert c.get("/healthz").status_code == 200
        dbname = db.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dbname}'")
        down = c.get("/healthz")
        assert down.status_code == 503 and down.get_json()["store"] == "unreachable"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        assert c.get("/healthz").status_code == 200  # recovered by itself: the pool re-connects
        store.engine.dispose()


def test_healthz_503_when_the_queue_is_unreachable(tmp_path: Path) -> None:
    settings = _settings(f"sqlite:///{tmp_path / 'db'}", "redis://127.0.0.1:9/0")
    app = create_app(settings, store=Store(settings.database_url),
                     queue=(huey_for(settings.queue_url), lambda _id: None))
    r = app.test_client().get("/healthz")
    assert r.status_code == 503 and r.get_json() == {"store": "ok", "queue": "unreachable", "queue_depth": None}


def test_serve_and_worker_exit_at_start_when_the_queue_is_unreachable(tmp_path: Path, github_app_key: str) -> None:
    env = {**os.environ, "MLGATE_WEBHOOK_SECRET": "s", "MLGATE_APP_ID": "1", "MLGATE_PRIVATE_KEY": github_app_key,
           "MLGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'mlgate.db'}",
           "MLGATE_QUEUE_URL": "redis://:s3cret@127.0.0.1:9/0"}
    for command in (["serve", "--port", "0"], ["worker"]):
        res = subprocess.run([sys.executable, "-m", "bot.cli", *command], env=env, capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 2, res.stderr
        assert "the queue at redis://***@127.0.0.1:9/0 cannot be reached" in res.stderr, res.stderr
        assert "s3cret" not in res.stderr and "Traceback" not in res.stderr


def test_serve_and_worker_exit_at_start_when_the_database_is_unreachable(tmp_path: Path, github_app_key: str) -> None:
    env = {**os.environ, "MLGATE_WEBHOOK_SECRET": "s", "MLGATE_APP_ID": "1", "MLGATE_PRIVATE_KEY": github_app_key,
           "MLGATE_DATABASE_URL": "postgresql+psycopg://postgres:s3cret@127.0.0.1:9/none",
           "MLGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    for command in (["serve", "--port", "0"], ["worker"]):
        res = subprocess.run([sys.executable, "-m", "bot.cli", *command], env=env, capture_output=True,
                             text=True, timeout=120)
        assert res.returncode == 2, res.stderr
        assert "cannot open the database postgresql+psycopg://***@127.0.0.1:9/none" in res.stderr
        assert "s3cret" not in res.stderr


def test_serve_refuses_to_start_without_a_webhook_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLGATE_")}
    res = subprocess.run([sys.executable, "-m", "bot.cli", "serve"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "MLGATE_WEBHOOK_SECRET" in res.stderr


def test_a_delivery_during_a_postgresql_outage_is_spooled_then_stored(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Spooled while the store is down; moved in by the web process's background drainer once
    it is back, with no request needed (the request path does no replay)."""
    import hashlib
    import hmac
    import json

    import psycopg

    monkeypatch.setattr(spool, "DRAIN_EVERY", 0.1)
    ids: list[str] = []
    with postgres_database() as db:
        settings = Settings(webhook_secret="s", app_id=1, private_key=KEY, database_url=db,
                            queue_url=f"sqlite:///{tmp_path / 'q.db'}", spool_dir=str(tmp_path / "spool"))
        store = Store(db)
        store.migrate()
        app = create_app(settings, store=store, queue=(huey_for(settings.queue_url), ids.append))
        c = app.test_client()

        def deliver(delivery: str) -> int:
            body = json.dumps({"action": "opened", "repository": {"full_name": "acme/churn"}}).encode()
            sig = "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
            return c.post("/webhook", data=body, headers={
                "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery,
                "Content-Type": "application/json", "X-Hub-Signature-256": sig}).status_code

        dbname = db.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dbname}'")
        assert deliver("during-outage") == 202  # spooled on disk, not lost
        assert list((tmp_path / "spool").glob("*.json")) and ids == []
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 30
        while list((tmp_path / "spool").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not list((tmp_path / "spool").glob("*.json")) and ids == ["during-outage"]  # no request needed
        assert deliver("after-outage") == 202
        assert ids == ["during-outage", "after-outage"]
        assert {d["id"] for d in store.recent_deliveries()} == {"during-outage", "after-outage"}
        assert deliver("during-outage") == 200  # and it is deduplicated like any other
        store.engine.dispose()
