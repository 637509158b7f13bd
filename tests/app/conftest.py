"""An App wired to the shared GitHub stand-in: webhooks go through the real Flask app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from bot.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONFIG = (FIXTURES / "reports" / "mlgate.yml").read_text()


class AppHarness:
    """Flask test client + captured queue; `drain()` runs queued jobs like a worker would."""

    def __init__(self, github: Any, tmp: Path):
        from bot.app import create_app
        from bot.queue import huey_for

        self.github = github
        self.settings = Settings(webhook_secret=github.webhook_secret, app_id=github.app_id,
                                 private_key=github.private_key, github_api_url=github.base_url,
                                 database_url=f"sqlite:///{tmp / 'mlgate.db'}",
                                 queue_url=f"sqlite:///{tmp / 'queue.db'}", public_url="https://mlgate.example.com")
        self.store = Store(self.settings.database_url)
        self.queued: list[str] = []
        self.app = create_app(self.settings, store=self.store,
                              queue=(huey_for(self.settings.queue_url), self.queued.append))
        self.client = self.app.test_client()
        self.responses: list[int] = []
        github.set_webhook(sink=self._deliver)

    def _deliver(self, headers: dict[str, str], body: bytes) -> int:
        resp = self.client.post("/webhook", data=body, headers=headers)
        self.responses.append(resp.status_code)
        return resp.status_code

    def drain(self) -> list[str]:
        from bot.worker import run_delivery

        outcomes = []
        while self.queued:
            outcomes.append(run_delivery(self.queued.pop(0), settings=self.settings, store=self.store))
        return outcomes


@pytest.fixture
def app_harness(github: Any, tmp_path: Path) -> Iterator[AppHarness]:
    github.push("acme/churn", "main", {".github/mlgate.yml": CONFIG})
    yield AppHarness(github, tmp_path)
