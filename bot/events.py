"""Parsing a webhook delivery into an Event: a pure function of (headers, body).

Everything in a delivery is bounded here, before a store or a handler sees it: the event
name's form, the JSON's nesting depth, and the lengths and types of the fields the store
keeps (action, repository, installation id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from bot.context import Event
from bot.errors import InvalidInput
from bot.signature import _header

# The events the App subscribes to (docs/app-manifest.json and the ones GitHub sends every
# App: installation, ping), as in DESIGN.md's table. Metric labels use this closed set.
KNOWN_EVENTS = frozenset({
    "check_run", "check_suite", "deployment_protection_rule", "installation", "installation_repositories",
    "issue_comment", "merge_group", "ping", "pull_request", "pull_request_review", "workflow_run",
})
# GitHub's payloads nest 7 levels at most (@octokit/webhooks-examples); deeper JSON is refused
# long before Python's recursion limit, so no later json.dumps or deepcopy can hit it either.
MAX_DEPTH = 64
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DELIVERY = re.compile(r"[A-Za-z0-9\-]{1,64}")
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,63}")
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")  # GitHub's owner/name characters
_MAX_INSTALLATION_ID = 2**63 - 1  # the store's BIGINT


class EventError(InvalidInput):
    """A delivery that is not a well-formed GitHub webhook."""


def event_label(name: str | None) -> str:
    """The event as a metric label: one of KNOWN_EVENTS or `other`, so labels stay a closed set."""
    return name if name in KNOWN_EVENTS else "other"


def delivery_id_or_none(value: str | None) -> str | None:
    """The X-GitHub-Delivery header if it has GitHub's form, else None (safe to log)."""
    return value if value is not None and _DELIVERY.fullmatch(value) else None


def parse_event(headers: Mapping[str, str], body: bytes) -> Event:
    name = _header(headers, "X-GitHub-Event")
    delivery = _header(headers, "X-GitHub-Delivery")
    if not name:
        raise EventError("missing X-GitHub-Event header")
    if not _NAME.fullmatch(name):
        raise EventError("malformed X-GitHub-Event header: expected a GitHub event name such as pull_request")
    if not delivery or not _DELIVERY.fullmatch(delivery):
        raise EventError("missing or malformed X-GitHub-Delivery header")
    try:
        payload = json.loads(json_body(headers, body))
    except RecursionError:
        raise EventError(f"body nests JSON deeper than {MAX_DEPTH} levels; GitHub payloads nest far less") from None
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        if isinstance(exc, EventError):
            raise
        raise EventError(f"body is not valid JSON: {type(exc).__name__}") from None
    if not isinstance(payload, dict):
        raise EventError("body must be a JSON object")
    if _depth_exceeds(payload, MAX_DEPTH):
        raise EventError(f"body nests JSON deeper than {MAX_DEPTH} levels; GitHub payloads nest far less")
    action = payload.get("action")
    if isinstance(action, str) and not _ACTION.fullmatch(action):
        raise EventError("action must be a GitHub action name such as opened")
    _check_ids(payload)
    return Event(name=name, action=action if isinstance(action, str) else None, delivery_id=delivery,
                 payload=payload)


def json_body(headers: Mapping[str, str], body: bytes) -> str:
    """The delivery's JSON text: the body, or a form delivery's `payload` field. The store keeps
    it (as UTF-8), so the worker parses exactly what the door did. GitHub sends UTF-8 without
    a byte-order mark; anything else is refused here rather than guessed (json.loads would
    accept UTF-16 and a BOM at the door, and the worker's parse would then fail)."""
    ctype = (_header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if ctype not in ("application/json", "application/x-www-form-urlencoded"):
        shown = ctype[:40] or "(none)"
        raise EventError(f"unsupported content type {shown}; use application/json")
    try:
        text = body.decode("utf-8")
        if ctype == "application/x-www-form-urlencoded":
            text = parse_qs(text, strict_parsing=True, errors="strict")["payload"][0]
    except UnicodeDecodeError:
        raise EventError("body is not UTF-8; GitHub sends JSON in UTF-8") from None
    except (ValueError, KeyError) as exc:
        raise EventError(f"body is not a form with a payload field: {type(exc).__name__}") from None
    if text.startswith("\ufeff"):
        raise EventError("body starts with a byte-order mark; GitHub sends JSON in UTF-8 without one")
    return text


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit`; iterative, so any depth is safe to ask about."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _check_ids(payload: dict[str, Any]) -> None:
    """The installation id and repository name the store keeps have the types and sizes it takes."""
    inst = payload.get("installation")
    if isinstance(inst, dict) and "id" in inst:
        iid = inst["id"]
        valid = isinstance(iid, int) and not isinstance(iid, bool) and 0 < iid <= _MAX_INSTALLATION_ID
        if iid is not None and not valid:
            raise EventError("installation.id must be a positive integer")
    repo = payload.get("repository")
    if isinstance(repo, dict) and "full_name" in repo:
        full = repo["full_name"]
        if full is not None and not (isinstance(full, str) and _REPO.fullmatch(full)):
            raise EventError("repository.full_name must be owner/name as GitHub spells it")
