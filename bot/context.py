"""What a handler gets: the parsed event and a context carrying its I/O (as in Probot).

A handler is `def handle(ctx: Context) -> None`. It reads `ctx.event`, talks to GitHub only
through `ctx.github` (bot.github_client) and to MLflow only through `ctx.registry`
(bot.registry), and records state in `ctx.store`. Tests build a Context around the shared
GitHub stand-in and a real SQLite store; nothing here depends on Flask or Huey.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """A verified, parsed webhook delivery. Built by bot.events.parse_event."""

    name: str  # X-GitHub-Event, e.g. "pull_request"
    action: str | None  # payload["action"], if any
    delivery_id: str  # X-GitHub-Delivery
    payload: dict[str, Any]

    @property
    def installation_id(self) -> int | None:
        inst = self.payload.get("installation") or {}
        return inst.get("id") if isinstance(inst, dict) else None

    @property
    def repo(self) -> str | None:
        """owner/name of the repository the event is about."""
        repo = self.payload.get("repository") or {}
        return repo.get("full_name") if isinstance(repo, dict) else None

    @property
    def sender(self) -> dict[str, Any]:
        return self.payload.get("sender") or {}

    @property
    def key(self) -> str:
        """Routing key, e.g. "pull_request.opened" (or just the name when no action)."""
        return f"{self.name}.{self.action}" if self.action else self.name


@dataclass
class Context:
    """Everything a handler may touch. The worker builds one per job."""

    event: Event
    github: Any  # bot.github_client.GitHubClient bound to the event's installation + repo
    store: Any  # bot.store.Store
    registry_factory: Callable[[], Any] | None = None  # -> bot.registry.Registry (lazy: MLflow is slow to import)
    log: logging.LoggerAdapter[logging.Logger] | logging.Logger = field(
        default_factory=lambda: logging.getLogger("mlgate")
    )
    settings: Any = None  # bot.settings.Settings
    job_id: str | None = None

    @property
    def delivery_id(self) -> str:
        return self.event.delivery_id

    def registry(self) -> Any:
        if self.registry_factory is None:
            raise RuntimeError("no model registry is configured (set MLFLOW_TRACKING_URI)")
        return self.registry_factory()


Handler = Callable[[Context], None]
