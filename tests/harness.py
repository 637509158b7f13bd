"""The one test harness: webhooks the GitHub stand-in sends, run through the production entry points.

- `Harness`: each delivery is parsed (`bot.events.parse_event`) and run through
  `bot.dispatch.dispatch`, exactly as the worker's job does, with the context the test's world
  builds (an installation client, or a token client and a registry). A job that raises
  RetryLater is run again, as the queue would after its backoff. tests/handlers' `Hub` and
  tests/chatops' `World` are this harness with their own context.
- `AppHarness`: the whole App in this process (`bot.demo_app.LocalApp`, the demo's): each
  delivery goes through the real Flask door (signature, store, enqueue), and `drain()` runs the
  queued jobs through `bot.worker.run_delivery`, which dispatches them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.context import Context, Event
from bot.demo_app import LocalApp
from bot.dispatch import dispatch
from bot.events import parse_event
from bot.github_client import RetryLater
from bot.settings import Settings
from bot.store import Store

Delivery = tuple[dict[str, str], bytes]  # a webhook as GitHub sends it: headers and body


@dataclass
class Outcome:
    """What one delivery did: its GitHub calls (token minting excluded) and attempts."""

    event: str
    calls: list[tuple[str, str, int]]
    attempts: int
    error: BaseException | None = None


@dataclass
class Harness:
    """Deliveries received from the stand-in (`receive` is its webhook sink), run in order by `run`."""

    github: Any  # bot.sandbox.Sandbox
    inbox: list[Delivery] = field(default_factory=list, kw_only=True)
    handled: list[Event] = field(default_factory=list, kw_only=True)
    outcomes: list[Outcome] = field(default_factory=list, kw_only=True)

    def context(self, event: Event) -> Context:
        """The Context a job gets for `event` (the subclass's world)."""
        raise NotImplementedError

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        self.inbox.append((headers, body))
        return 202

    def take(self) -> list[Event]:
        """The deliveries received so far, parsed, and removed from the inbox (not run)."""
        events = [parse_event(h, b) for h, b in self.inbox]
        self.inbox.clear()
        return events

    def run_event(self, event: Event, attempts: int = 5) -> Outcome:
        """One job: dispatched, and run again while it raises RetryLater (at most `attempts` runs)."""
        start = len(self.github.calls)
        error: BaseException | None = None
        n = 0
        for n in range(1, attempts + 1):  # noqa: B007 - n is read after the loop
            try:
                dispatch(event, self.context)
                error = None
                break
            except RetryLater as exc:  # the queue would wait exc.seconds and run the job again
                error = exc
        # the App's own calls (an installation token; its slug, read once per process) are not the job's
        calls = [c for c in self.github.calls[start:] if "/access_tokens" not in c[1] and c[1] != "/app"]
        self.handled.append(event)
        outcome = Outcome(event.key, calls, n, error)
        self.outcomes.append(outcome)
        return outcome

    def run(self, attempts: int = 5) -> list[Outcome]:
        """Run every delivery received so far, in order, and those they cause; one Outcome each."""
        done = []
        while self.inbox:
            headers, body = self.inbox.pop(0)
            done.append(self.run_event(parse_event(headers, body), attempts))
        return done


class AppHarness(LocalApp):
    """The App in this process wired to the stand-in: webhooks through the real Flask door;
    `drain()` runs the queued jobs as the worker does."""

    def __init__(self, github: Any, tmp: Path) -> None:
        self.github = github
        settings = Settings(webhook_secret=github.webhook_secret, app_id=github.app_id,
                            private_key=github.private_key, github_api_url=github.base_url,
                            database_url=f"sqlite:///{tmp / 'mlgate.db'}",
                            queue_url=f"sqlite:///{tmp / 'queue.db'}", public_url="https://mlgate.example.com")
        super().__init__(settings, Store(settings.database_url))
        self.responses: list[int] = []
        github.set_webhook(sink=self.receive)

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        status = super().receive(headers, body)
        self.responses.append(status)
        return status

    def drain(self) -> list[str]:
        return self.work()
