"""Webhook signatures: a pure function of (headers, body, secret), as in gidgethub."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping


class SignatureError(ValueError):
    """The delivery is not signed with our secret."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raise SignatureError unless X-Hub-Signature-256 is the HMAC-SHA256 of body with secret."""
    if not secret:
        raise SignatureError("no webhook secret is configured")  # fail closed
    given = _header(headers, "X-Hub-Signature-256")
    if not given:
        raise SignatureError("missing X-Hub-Signature-256")
    if not given.startswith("sha256="):
        raise SignatureError("X-Hub-Signature-256 must be sha256=<hex>")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.strip()):
        raise SignatureError("signature does not match")
