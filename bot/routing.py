"""One table from event keys to handlers, merged from every handler module (bedevere style)."""

from __future__ import annotations

import importlib
from functools import cache

from bot.context import Context, Event, Handler

HANDLER_MODULES = [
    "bot.handlers.pull_request",
    "bot.handlers.workflow_run",
    "bot.handlers.check_run",
    "bot.handlers.check_suite",
    "bot.handlers.installation",
    "bot.handlers.issue_comment",
    "bot.handlers.review",
    "bot.handlers.merge",
    "bot.handlers.merge_group",
    "bot.handlers.deployment_protection",
]


@cache
def routes() -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for name in HANDLER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a feature not built into this version
            raise
        for key, handler in module.ROUTES.items():
            if key in table:
                raise RuntimeError(f"two handlers for {key}: {table[key].__module__} and {name}")
            table[key] = handler
    return table


def wanted(event: Event) -> bool:
    """Whether a handler acts on the event, decided from the event alone: the worker asks this
    before it gets an installation token, so an event nobody handles costs no GitHub call and
    cannot fail for want of a token. The same rule as `route`."""
    if event.key not in routes():
        return False
    return bool(event.installation_id and event.repo) or event.name.startswith("installation")


def route(ctx: Context) -> bool:
    """Run the handler for the event; False when no handler wants it."""
    handler = routes().get(ctx.event.key)
    if handler is None:
        return False
    if ctx.github is None and not ctx.event.name.startswith("installation"):
        ctx.log.info("event without an installation or repository: nothing mlgate can act on")
        return False
    handler(ctx)
    return True
