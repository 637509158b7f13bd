"""The web process (issue #10): building the app has no side effect on the store, starting the
process (`create_app()` with no arguments, as gunicorn calls it) migrates, and a webhook
request only verifies, stores and enqueues: spooled deliveries move in from a background
drainer, never inside a request. Each test here failed on the code before it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot import spool
from bot.app import create_app
from bot.queue import huey_for
from bot.settings import Settings
from bot.store import Store

BODY = json.dumps({"action": "opened", "repository": {"full_name": "acme/churn"}}).encode()


def _settings(tmp: Path, key: str) -> Settings:
    return Settings(webhook_secret="s", app_id=1, private_key=key, database_url=f"sqlite:///{tmp / 'mlgate.db'}",
                    queue_url=f"sqlite:///{tmp / 'q.db'}", spool_dir=str(tmp / "spool"))


def _headers(delivery: str) -> dict[str, str]:
    return {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac.new(b"s", BODY, hashlib.sha256).hexdigest()}


def _environment(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    for name, value in {"MLGATE_WEBHOOK_SECRET": settings.webhook_secret, "MLGATE_APP_ID": str(settings.app_id),
                        "MLGATE_PRIVATE_KEY": settings.private_key, "MLGATE_DATABASE_URL": settings.database_url,
                        "MLGATE_QUEUE_URL": settings.queue_url, "MLGATE_SPOOL_DIR": settings.spool_dir}.items():
        monkeypatch.setenv(name, value)


def _wait_until_empty(directory: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while spool.pending(directory) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_an_app_built_around_a_store_leaves_the_store_as_it_is(tmp_path: Path, github_app_key: str) -> None:
    settings = _settings(tmp_path, github_app_key)
    store = Store(settings.database_url)
    create_app(settings, store=store, queue=(huey_for(settings.queue_url), lambda _id: None))
    assert inspect(store.engine).get_table_names() == []  # no migration hidden in the factory


def test_the_web_process_start_migrates_the_store(tmp_path: Path, github_app_key: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, github_app_key)
    _environment(monkeypatch, settings)
    app = create_app()  # gunicorn 'bot.app:create_app()'
    assert "deliveries" in inspect(app.config["MLGATE_STORE"].engine).get_table_names()
    resp = app.test_client().post("/webhook", data=BODY, headers=_headers("d-1"))
    assert resp.status_code == 202 and resp.get_json()["status"] == "queued"


def test_a_webhook_request_does_not_replay_the_spool(tmp_path: Path, github_app_key: str) -> None:
    settings = _settings(tmp_path, github_app_key)
    store = Store(settings.database_url)
    store.migrate()
    spool.spool(settings.spool_dir, "left-over", "pull_request", "opened", "acme/churn", None, BODY)
    queued: list[str] = []
    client = create_app(settings, store=store, queue=(huey_for(settings.queue_url), queued.append)).test_client()
    assert client.post("/webhook", data=BODY, headers=_headers("fresh")).status_code == 202
    assert queued == ["fresh"] and spool.pending(settings.spool_dir)  # the request moved nothing
    assert store.delivery("left-over") is None


def test_the_web_process_start_replays_what_an_earlier_run_spooled(tmp_path: Path, github_app_key: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "DRAIN_EVERY", 0.05)
    settings = _settings(tmp_path, github_app_key)
    _environment(monkeypatch, settings)
    spool.spool(settings.spool_dir, "left-over", "pull_request", "opened", "acme/churn", None, BODY)
    app = create_app()
    _wait_until_empty(settings.spool_dir)
    assert not spool.pending(settings.spool_dir)
    stored = app.config["MLGATE_STORE"].delivery("left-over")
    assert stored is not None and stored["status"] == "queued"
    assert huey_for(settings.queue_url, settings.queue_name).pending_count() == 1  # and enqueued


def test_the_drainer_keeps_trying_while_the_store_is_down(tmp_path: Path) -> None:
    """A spooled delivery stays on disk while the store refuses it, and goes in once it takes it."""
    from bot.store import StoreError

    class Flaky:
        def __init__(self) -> None:
            self.refusals = 3
            self.recorded: list[str] = []

        def record_delivery(self, delivery_id: str, *_: object) -> bool:
            if self.refusals:
                self.refusals -= 1
                raise StoreError("down")
            self.recorded.append(delivery_id)
            return True

    directory = str(tmp_path / "spool")
    spool.spool(directory, "d-1", "pull_request", "opened", "acme/churn", None, BODY)
    store = Flaky()
    queued: list[str] = []
    drainer = spool.Drainer(directory, store, queued.append, every=0.02)  # type: ignore[arg-type]
    drainer.kick()
    drainer.kick()  # one thread per process: a second kick while it runs starts none
    _wait_until_empty(directory)
    assert store.refusals == 0 and store.recorded == ["d-1"] and queued == ["d-1"]
    assert not spool.pending(directory)
