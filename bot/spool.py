"""A disk spool for deliveries that arrive while the store is down.

The webhook must not lose a delivery GitHub will not resend by itself. When the database
cannot take it, the web process writes it here (atomically) and answers 202; the workers'
sweep, and the next webhook that finds the store up, move spooled deliveries into the store
and the queue, oldest first.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

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


def replay(directory: str | Path, store: Store, enqueue: Any, limit: int = 100) -> int:
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
