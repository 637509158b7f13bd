"""A disk spool for deliveries that arrive while the store is down.

The webhook must not lose a delivery GitHub will not resend by itself. When the database
cannot take it, the web process writes it here (atomically) and answers 202. Spooled
deliveries move into the store and the queue, oldest first, outside any request: the web
process's `Drainer` (started by the delivery it spooled, and at the process's start for what
an earlier run left), and every worker's sweep when it shares the directory.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.report import write_atomic
from bot.store import Store, StoreError

log = logging.getLogger("mlgate.spool")


def spool(directory: str | Path, delivery_id: str, event: str, action: str | None, repo: str | None,
          installation_id: int | None, body: bytes) -> Path:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{time.time():.6f}-{delivery_id}.json"
    write_atomic(path, json.dumps({"id": delivery_id, "event": event, "action": action, "repo": repo,
                                   "installation_id": installation_id,
                                   "body": base64.b64encode(body).decode()}), mode=0o600)  # webhook bodies: ours only
    return path


def pending(directory: str | Path) -> bool:
    try:
        with os.scandir(directory) as it:
            return any(e.name.endswith(".json") for e in it)
    except FileNotFoundError:
        return False


def replay(directory: str | Path, store: Store, enqueue: Callable[[str], object], limit: int = 100) -> int:
    """Move spooled deliveries into the store and the queue; stops at the first store error."""
    d = Path(directory)
    if not pending(d):
        return 0
    moved = 0
    for path in sorted(d.glob("*.json"))[:limit]:
        try:
            item = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # another process is moving it, or it is half-written: leave it
        try:
            fresh = store.record_delivery(item["id"], item["event"], item["action"], item["repo"],
                                          item["installation_id"], base64.b64decode(item["body"]))
        except StoreError:
            break  # still down: try again later
        if fresh:
            try:
                enqueue(item["id"])
            except Exception:  # the sweep enqueues it later: it is queued in the store
                log.warning("queue unavailable while replaying %s", item["id"])
        path.unlink(missing_ok=True)
        moved += 1
    if moved:
        log.info("replayed %d spooled deliveries", moved)
    return moved


DRAIN_EVERY = 5.0  # seconds between attempts while the store is still down


class Drainer:
    """Replays one spool directory in a background thread until it is empty.

    `kick()` starts the thread unless one is running in this process (a forked child starts its
    own); the thread replays, and while anything is left (the store is still down, or another
    process holds a file) waits `every` seconds and tries again. It decides to end under the
    same lock `kick()` takes, so a delivery spooled while it ends is never left behind."""

    def __init__(self, directory: str | Path, store: Store, enqueue: Callable[[str], object],
                 every: float | None = None) -> None:
        self.directory, self.store, self.enqueue = Path(directory), store, enqueue
        self.every = DRAIN_EVERY if every is None else every
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def kick(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="mlgate-spool", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                replay(self.directory, self.store, self.enqueue)
            except Exception:  # never let the thread die with deliveries on disk
                log.exception("spool replay failed; trying again in %.0f s", self.every)
            with self._lock:
                if not pending(self.directory):
                    self._thread = None
                    return
            time.sleep(self.every)
