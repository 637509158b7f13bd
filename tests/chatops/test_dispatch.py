"""One dispatch: the routers every handler module declares, composed in one place (bot.dispatch)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bot.handlers
from bot.context import Context, Event
from bot.dispatch import ROUTER, dispatch, wanted
from bot.routing import Router


def _never(event: Event) -> Context:
    raise AssertionError(f"a context (an installation token) was built for {event.key}")


def test_every_handler_modules_router_is_composed() -> None:
    """A module's router left out of bot.dispatch would leave its events unhandled, silently."""
    for info in pkgutil.iter_modules(bot.handlers.__path__):
        module = importlib.import_module(f"bot.handlers.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, Router):
            assert router and all(ROUTER.handler(key) is router.handler(key) for key in router), info.name


def test_two_handlers_for_one_key_are_refused_when_composed() -> None:
    def a(ctx: Context) -> None: ...

    def b(ctx: Context) -> None: ...

    with pytest.raises(ValueError, match="two handlers for pull_request.opened"):
        Router.compose(Router({"pull_request.opened": a}, name="one"), Router({"pull_request.opened": b}, name="two"))


@pytest.mark.parametrize("event", [
    Event("pull_request", "labeled", "d-1", {"installation": {"id": 1}, "repository": {"full_name": "acme/churn"}}),
    Event("pull_request", "opened", "d-2", {"repository": {"full_name": "acme/churn"}}),  # no installation
    Event("issue_comment", "created", "d-3", {"installation": {"id": 1}}),  # no repository
    Event("star", "created", "d-4", {"installation": {"id": 1}, "repository": {"full_name": "acme/churn"}}),
])
def test_an_event_nobody_handles_builds_no_context(event: Event) -> None:
    assert not wanted(event)
    assert dispatch(event, _never) is False


def test_installation_events_need_no_repository() -> None:
    seen: list[str] = []

    class Store:
        def set_installation(self, *args: object, **kwargs: object) -> None:
            seen.append("recorded")

    event = Event("installation", "created", "d-5", {"installation": {"id": 7, "account": {"login": "acme"}},
                                                      "repositories": [{"full_name": "acme/churn"}]})
    assert wanted(event)
    assert dispatch(event, lambda e: Context(event=e, github=None, store=Store()))  # type: ignore[arg-type]
    assert seen == ["recorded"]


def test_only_the_dispatch_imports_the_handlers() -> None:
    """Chat-ops, plan/apply, the worker and the rest reach handlers only through bot.dispatch."""
    import ast
    from pathlib import Path

    root = Path(bot.handlers.__file__).parents[1]
    importers = set()
    for path in root.rglob("*.py"):
        if path.is_relative_to(root / "handlers"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "bot.handlers" or n.startswith("bot.handlers.") for n in names):
                importers.add(path.relative_to(root.parent).as_posix())
    assert importers == {"bot/dispatch.py"}
