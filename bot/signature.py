"""Webhook signatures: a pure function of (headers, body, secret), as in gidgethub."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from bot.errors import InvalidInput

# GitHub sends `sha256=` and 64 lowercase hex digits; anything else (also non-ASCII, which
# hmac.compare_digest refuses with a TypeError on str) is turned away before comparing.
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})")


class SignatureError(InvalidInput):
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
    match = _SIGNATURE.fullmatch(given.strip())
    if match is None:
        raise SignatureError("X-Hub-Signature-256 must be sha256= and 64 lowercase hex digits")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), match.group(1).encode("ascii")):
        raise SignatureError("signature does not match")
