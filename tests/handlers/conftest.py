"""Handlers run against the shared GitHub stand-in and a real SQLite store, without Flask or
the queue: webhooks the stand-in sends go through the production dispatch (tests/harness.py),
and a job that raises RetryLater is run again, as the queue would after its backoff."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.context import Context, Event
from bot.github_client import CONTENTS, GitHubClient
from bot.settings import Settings
from bot.store import Store
from tests.harness import Harness, Outcome

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONFIG = (FIXTURES / "reports" / "mlgate.yml").read_text()
FAILING = (FIXTURES / "reports" / "failing.json").read_bytes()
PASSING = (FIXTURES / "reports" / "passing.json").read_bytes()
REPO = "acme/churn"

__all__ = ["CONFIG", "FAILING", "PASSING", "REPO", "Hub", "Outcome"]


@dataclass
class Hub(Harness):
    """The harness with the worker's context: a client on the App's installation, the store."""

    store: Store
    settings: Settings

    def context(self, event: Event) -> Context:
        client = GitHubClient.for_installation(self.settings, int(event.installation_id or 0), event.repo or "")
        return Context(event=event, github=client, store=self.store, settings=self.settings,
                       log=logging.getLogger("mlgate.test"), job_id=event.delivery_id)

    def one(self) -> Outcome:
        """Run the pending deliveries; the last one's outcome, which must have succeeded."""
        out = self.run()
        assert out, "no webhook was sent"
        assert out[-1].error is None, out[-1].error
        return out[-1]

    def checks(self, sha: str) -> dict[str, dict[str, Any]]:
        """The newest run of each name; an older run of a name must be completed (superseded
        because the check had to wait again), never a duplicate of one still open."""
        runs = sorted(self.github.check_runs(REPO, sha), key=lambda r: r["id"])
        newest = {r["name"]: r for r in runs}
        open_twice = [r["name"] for r in runs if r is not newest[r["name"]] and r["status"] != "completed"]
        assert not open_twice, f"duplicate check runs on {sha[:7]}: {open_twice}"
        return newest

    def comments(self, number: int) -> list[dict[str, Any]]:
        return list(self.github.comments(REPO, number))

    @staticmethod
    def cold() -> None:
        """Forget cached file contents, as a freshly started worker would."""
        with CONTENTS.lock:
            CONTENTS.items.clear()


@pytest.fixture
def hub(github: Any, tmp_path: Path) -> Iterator[Hub]:
    github.push(REPO, "main", {".github/mlgate.yml": CONFIG})
    store = Store(f"sqlite:///{tmp_path / 'mlgate.db'}")
    store.migrate()
    settings = Settings(webhook_secret=github.webhook_secret, app_id=github.app_id, private_key=github.private_key,
                        github_api_url=github.base_url, database_url=f"sqlite:///{tmp_path / 'mlgate.db'}",
                        queue_url=f"sqlite:///{tmp_path / 'queue.db'}", public_url="https://mlgate.example.com")
    h = Hub(github, store, settings)
    github.set_webhook(sink=h.receive)
    yield h
