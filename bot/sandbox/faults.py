"""Faults a test plans: the next requests matching a method and path get an error, a rate
limit or a delay instead of their answer (`Sandbox.inject_fault`, docs/sandbox.md)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass

from flask import Response

from bot.sandbox.responses import error
from bot.sandbox.state import SandboxError

FAULT_KINDS = ("500", "502", "503", "504", "404", "429", "rate_limit", "secondary", "secondary_retry_after", "slow")
SECONDARY_LIMIT = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                   "If you reach out to GitHub Support for help, please include the request ID {id}.")


@dataclass
class Fault:
    """The next `remaining` requests matching method+pattern get `kind` instead of an answer."""

    method: str
    pattern: re.Pattern[str]
    kind: str  # one of FAULT_KINDS
    remaining: int
    retry_after: int = 1


class Faults:
    """The planned faults, the latency added to every answer, and how many slow answers began."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.planned: list[Fault] = []
        self.latency = 0.0  # seconds added to every API answer, as real GitHub takes (see set_latency)
        self.slow_started = 0

    def inject(self, method: str, path_regex: str, kind: str, times: int = 1, retry_after: int = 1) -> None:
        if kind not in FAULT_KINDS:
            raise SandboxError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.planned.append(Fault(method.upper(), re.compile(path_regex), kind, int(times), int(retry_after)))

    def clear(self) -> None:
        with self.lock:
            self.planned.clear()

    def set_latency(self, seconds: float) -> None:
        if not 0 <= float(seconds) <= 30:
            raise SandboxError(f"latency must be between 0 and 30 seconds, got {seconds!r}")
        self.latency = float(seconds)

    def take(self, method: str, path: str) -> Response | None:
        """The fault answer for this request (one use of the first matching fault), or None
        after any planned delay and the latency: answer it normally."""
        delay = 0.0
        with self.lock:
            for f in self.planned:
                if f.remaining > 0 and f.method == method and f.pattern.search(path):
                    f.remaining -= 1
                    if f.kind == "slow":
                        delay = f.retry_after
                        break
                    return _answer(f)  # logged by the server's after_request like any answer
        if delay:
            self.slow_started += 1
            time.sleep(delay)
        if self.latency:
            time.sleep(self.latency)
        return None


def _answer(f: Fault) -> Response:
    if f.kind == "429":
        resp = error(429, "You have exceeded a secondary rate limit.")
        resp.headers["Retry-After"] = str(f.retry_after)
    elif f.kind in ("secondary", "secondary_retry_after"):
        # GitHub's secondary limits keep the primary quota's headers (not 0)
        resp = error(403, SECONDARY_LIMIT.format(id=uuid.uuid4().hex[:20].upper()))
        if f.kind == "secondary_retry_after":
            resp.headers["Retry-After"] = str(f.retry_after)
    elif f.kind == "rate_limit":
        resp = error(403, "API rate limit exceeded for installation.")
        resp.headers["X-RateLimit-Remaining"] = "0"
        resp.headers["X-RateLimit-Reset"] = str(int(time.time()) + f.retry_after)
    elif f.kind == "404":  # what GitHub answers for a repository the token cannot see
        resp = error(404, "Not Found")
    else:
        resp = error(int(f.kind), "Server Error" if f.kind == "500" else "Bad Gateway"
                     if f.kind == "502" else "Service Unavailable")
    return resp
