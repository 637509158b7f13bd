"""What a handler gets: the parsed event and a context carrying its I/O (as in Probot).

A handler is `def handle(ctx: Context) -> None`. It reads `ctx.event`, talks to GitHub only
through `ctx.github` (bot.github_client) and to MLflow only through `ctx.registry`
(bot.mlflow), and records state in `ctx.store`. Tests build a Context around the shared
GitHub stand-in and a real SQLite store; nothing here depends on Flask or Huey.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import MlgateError

if TYPE_CHECKING:
    from bot.ports import GitHub, Registry, Store
    from bot.settings import Settings


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


class NoRepository(MlgateError):
    """A handler asked for GitHub on an event that names no repository or installation."""


class Context:
    """Everything a handler may touch. The worker builds one per job.

    `github` is the repository-bound client; an event without a repository or an installation
    (installation events, a delivery built for a benchmark) has none, and asking for it raises
    NoRepository instead of handing a None to code typed against the port.
    """

    def __init__(
        self,
        event: Event,
        github: GitHub | None,
        store: Store,
        registry_factory: Callable[[], Registry] | None = None,
        log: logging.LoggerAdapter[logging.Logger] | logging.Logger | None = None,
        settings: Settings | None = None,
        job_id: str | None = None,
    ) -> None:
        self.event = event
        self._github = github
        self.store = store
        self.registry_factory = registry_factory  # lazy: MLflow is slow to import
        self.log: logging.LoggerAdapter[logging.Logger] | logging.Logger = log or logging.getLogger("mlgate")
        self.settings = settings
        self.job_id = job_id

    @property
    def github(self) -> GitHub:
        if self._github is None:
            raise NoRepository(f"the {self.event.key} event names no repository mlgate is installed on")
        return self._github

    @property
    def has_repository(self) -> bool:
        """Whether the event came with a repository-bound GitHub client."""
        return self._github is not None

    @property
    def delivery_id(self) -> str:
        return self.event.delivery_id

    def registry(self) -> Registry:
        if self.registry_factory is None:
            raise RuntimeError("no model registry is configured (set MLFLOW_TRACKING_URI)")
        return self.registry_factory()


Handler = Callable[[Context], None]
