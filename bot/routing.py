"""A feature module's routes: event keys to handlers (bedevere's `gidgethub.routing.Router`).

Each handler module builds one `router = Router({...})`; `bot.dispatch` composes them, by
name, into the one table the worker, the demo and the tests dispatch through. A key taken
by two modules is an error when they are composed, never a silent override.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from bot.context import Handler


class Router:
    """Event keys (`"pull_request.opened"`, or just the name when it has no action) to handlers."""

    def __init__(self, routes: Mapping[str, Handler] | None = None, *, name: str = "") -> None:
        self.name = name
        self._routes: dict[str, Handler] = dict(routes or {})

    def handler(self, key: str) -> Handler | None:
        return self._routes.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._routes

    def __iter__(self) -> Iterator[str]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    @classmethod
    def compose(cls, *routers: Router) -> Router:
        """One router holding every route of `routers`; a key two of them take raises ValueError."""
        table: dict[str, Handler] = {}
        owner: dict[str, Router] = {}
        for router in routers:
            for key, handler in router._routes.items():
                if key in table:
                    raise ValueError(f"two handlers for {key}: {_named(owner[key], table[key])} "
                                     f"and {_named(router, handler)}")
                table[key], owner[key] = handler, router
        return cls(table, name="+".join(r.name for r in routers))


def _named(router: Router, handler: Handler) -> str:
    return router.name or getattr(handler, "__module__", "?")
