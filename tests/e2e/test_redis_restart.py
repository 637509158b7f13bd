"""Redis restarted during a run: /healthz says so, the App recovers by itself, no delivery is lost.

The test runs its own redis-server on a free port (it keeps nothing on disk, like the
machine's), so restarting it disturbs nothing else.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import CONFIG
from tests.processes import stop, wait_for

BIN = Path(sys.executable).parent



class PrivateRedis:
    def __init__(self) -> None:
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_for("redis", lambda: _ping(client))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def _ping(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    r = PrivateRedis()
    r.start()
    yield r
    if r.proc and r.proc.poll() is None:
        r.kill()


def test_redis_restart_loses_no_delivery(github: Any, tmp_path: Path, private_redis: PrivateRedis) -> None:
    from bot.app import create_app
    from bot.settings import Settings
    from bot.store import Store

    queue_url = f"redis://127.0.0.1:{private_redis.port}/0"
    settings = Settings(webhook_secret=github.webhook_secret, app_id=github.app_id, private_key=github.private_key,
                        github_api_url=github.base_url, database_url=f"sqlite:///{tmp_path / 'mlgate.db'}",
                        queue_url=queue_url)
    store = Store(settings.database_url)
    store.migrate()  # the process's start; create_app takes the store as it is
    app = create_app(settings, store=store)
    client = app.test_client()
    codes: list[int] = []
    github.set_webhook(sink=lambda h, b: codes.append(client.post("/webhook", data=b, headers=h).status_code) or 202)
    github.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
    env = {**os.environ, "MLGATE_WEBHOOK_SECRET": github.webhook_secret, "MLGATE_APP_ID": str(github.app_id),
           "MLGATE_PRIVATE_KEY": github.private_key, "MLGATE_GITHUB_API_URL": github.base_url,
           "MLGATE_DATABASE_URL": settings.database_url, "MLGATE_QUEUE_URL": queue_url}
    worker = subprocess.Popen([str(BIN / "mlgate"), "worker", "--workers", "1", "--stale-after", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
        wait_for("the first PR's comment", lambda: len(github.comments("acme/churn", first["number"])) == 1)
        assert client.get("/healthz").status_code == 200

        private_redis.kill()
        health = client.get("/healthz")
        assert health.status_code == 503 and health.get_json()["queue"] == "unreachable"
        second = github.open_pull_request("acme/churn", {"data/b.csv": "b\n"})
        assert codes[-1] == 202  # stored; the queue will get it later

        private_redis.start()  # empty: Redis kept nothing
        wait_for("healthy again", lambda: client.get("/healthz").status_code == 200)
        wait_for("the second PR's comment", lambda: len(github.comments("acme/churn", second["number"])) == 1, 90)
        # the comment is posted before the job's last steps: wait for each delivery to be marked done
        wait_for("every delivery done", lambda: {d["status"] for d in store.recent_deliveries()} == {"done"})
    finally:
        stop(worker)
