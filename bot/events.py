"""Parsing a webhook delivery into an Event: a pure function of (headers, body)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qs

from bot.context import Event
from bot.signature import _header


class EventError(ValueError):
    """A delivery that is not a well-formed GitHub webhook."""


def parse_event(headers: Mapping[str, str], body: bytes) -> Event:
    name = _header(headers, "X-GitHub-Event")
    delivery = _header(headers, "X-GitHub-Delivery")
    if not name:
        raise EventError("missing X-GitHub-Event header")
    if not delivery or not re.fullmatch(r"[A-Za-z0-9\-]{1,64}", delivery):
        raise EventError("missing or malformed X-GitHub-Delivery header")
    ctype = (_header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    try:
        if ctype == "application/json":
            payload = json.loads(body)
        elif ctype == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode("utf-8"), strict_parsing=True)
            payload = json.loads(form["payload"][0])
        else:
            raise EventError(f"unsupported content type {ctype or '(none)'}; use application/json")
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        if isinstance(exc, EventError):
            raise
        raise EventError(f"body is not valid JSON: {type(exc).__name__}") from None
    if not isinstance(payload, dict):
        raise EventError("body must be a JSON object")
    action = payload.get("action")
    return Event(name=name, action=action if isinstance(action, str) else None, delivery_id=delivery, payload=payload)
