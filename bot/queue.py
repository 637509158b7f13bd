"""The job queue (Huey): SQLite by default, Redis for scale-out. Jobs carry ids only.

`make_queue(settings, job)` builds the Huey instance and registers the one task,
`process_delivery(delivery_id)`; the web process enqueues it, `mlgate worker` consumes it
with `job` (bot.worker.run_delivery; this module imports nothing of the worker's).
The delivery's body waits in the store, so a job re-reads it and nothing is lost if a
worker dies mid-job (Huey re-runs unacknowledged Redis jobs; SQLite jobs are retried).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.exceptions import RetryTask

from bot.errors import AdapterError

RETRIES = 5
RETRY_DELAY = 2

log = logging.getLogger("mlgate.queue")


def huey_for(queue_url: str, name: str = "mlgate", immediate: bool = False) -> Huey:
    """The Huey queue at `queue_url`; a URL mlgate cannot use raises SettingsError (a ValueError)."""
    from bot.settings import check_queue_url

    check_queue_url(queue_url)  # one rule for the settings and here: its form, never its value
    if queue_url.startswith(("redis://", "rediss://")):
        return RedisHuey(name, url=queue_url, immediate=immediate)
    path = queue_url.removeprefix("sqlite:///")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # WAL without fsync per job: a killed process loses nothing; use Redis when an OS crash must not
    return SqliteHuey(name, filename=path, immediate=immediate, fsync=False)


class QueueError(AdapterError):
    """The queue cannot be reached; names it without credentials."""


def check_queue(huey: Huey, queue_url: str) -> None:
    """Raise QueueError unless the queue answers (Redis: PING); for the processes' start."""
    from bot.redact import redact, redact_url

    try:
        if isinstance(huey, RedisHuey):
            huey.storage.conn.ping()
        else:
            huey.pending_count()
    except Exception as exc:
        raise QueueError(f"the queue at {redact_url(queue_url)} cannot be reached: "
                         f"{redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:200]}; "
                         "start it, or fix MLGATE_QUEUE_URL") from None


class Job(Protocol):
    """What runs one delivery: `bot.worker.run_delivery`, given by the worker (the queue does
    not import it, so the web process never loads the job code)."""

    def __call__(self, delivery_id: str, attempt: int = 1, *, job_id: str | None = None) -> object: ...


def make_queue(settings: Any, job: Job | None = None) -> tuple[Huey, Any]:
    """The Huey instance and the `process_delivery` task bound to it. A process that only
    enqueues (the web) gives no `job`: its task refuses to run there."""
    huey = huey_for(settings.queue_url, settings.queue_name)

    def process_delivery(delivery_id: str, task: Any = None) -> None:
        if job is None:
            raise QueueError("this process only enqueues deliveries; `mlgate worker` runs them")
        attempt = RETRIES - (task.retries if task is not None else RETRIES) + 1
        job(delivery_id, attempt, job_id=task.id if task is not None else None)

    task = huey.task(retries=RETRIES, retry_delay=RETRY_DELAY, context=True, name="process_delivery")(process_delivery)
    return huey, task


def queue_depth(huey: Huey) -> int | None:
    try:
        return int(huey.pending_count())
    except Exception:
        return None


__all__ = ["RETRIES", "RETRY_DELAY", "Job", "RetryTask", "huey_for", "make_queue", "queue_depth"]
