"""`mlgate worker`: runs queued deliveries through `bot.dispatch.dispatch`.

Each job re-reads its delivery from the store and dispatches it: an event no handler wants
ends `ignored` without a GitHub call; otherwise dispatch builds a Context (a GitHub client
with a fresh installation token, the store, a lazy registry) and runs the handler. The job
records the outcome. Transient failures are retried with backoff; when GitHub asks mlgate to
wait (rate limits) the job goes back to the queue with a delay instead of sleeping in a worker
thread (see `retry_delay` and docs/operations.md); after the last attempt the PR's check says
what went wrong.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from bot.context import Context
from bot.events import EventError, parse_event
from bot.logging_setup import configure_logging, describe, job_logger
from bot.settings import Settings, SettingsError
from bot.store import Store, StoreError

if TYPE_CHECKING:
    from bot.context import Event
    from bot.github_client import RetryLater
    from bot.ports import Registry as RegistryPort

log = logging.getLogger("mlgate.worker")

SECONDARY_WAIT = 60.0  # GitHub: after a secondary rate limit, wait at least a minute...
MAX_DEFER = 3600.0  # ...doubling per attempt; no single wait longer than an hour (a primary quota resets hourly)
JITTER = 0.2  # up to 20% more, so the jobs one rate limit stopped do not all come back at once


@cache
def _runtime() -> tuple[Settings, Store]:
    settings = Settings.from_env()
    store = Store(settings.database_url)
    store.migrate()
    return settings, store


def _event(delivery: dict[str, Any]) -> Event:
    return parse_event({"X-GitHub-Event": delivery["event"], "X-GitHub-Delivery": delivery["id"],
                        "Content-Type": "application/json"}, delivery["body"])


def build_context(settings: Settings, store: Store, delivery: dict[str, Any], job_id: str | None = None,
                  event: Event | None = None) -> Context:
    from bot.github_client import GitHubClient

    event = event or _event(delivery)
    github = None
    if event.installation_id and event.repo:
        github = GitHubClient.for_installation(settings, event.installation_id, event.repo)

    def registry() -> RegistryPort:
        from bot.mlflow import Registry, RegistryError

        if not settings.tracking_uri:  # never MLflow's default (an mlflow.db in the working directory)
            raise RegistryError("no model registry is configured: set MLFLOW_TRACKING_URI for the App's worker")
        return Registry(settings.tracking_uri)

    return Context(event=event, github=github, store=store, registry_factory=registry,
                   log=job_logger(delivery["id"], event.key, job_id), settings=settings, job_id=job_id)


def retry_delay(exc: RetryLater, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds the queue waits before running again a job GitHub asked to wait (never a sleep in
    a worker thread). GitHub's rules for integrators:

    - secondary rate limit: at least a minute, growing exponentially with each attempt
      (60, 120, 240, 480, 960 s), and never less than its Retry-After;
    - primary rate limit (the quota is spent): until X-RateLimit-Reset (or Retry-After);
    - 5xx and network errors: what the client estimated, 1 to 300 s.

    Rate-limit waits get up to JITTER more and are capped at MAX_DEFER.
    """
    if exc.rate_limit == "secondary":
        base = max(exc.seconds, SECONDARY_WAIT * 2 ** max(0, attempt - 1))
    elif exc.rate_limit == "primary":
        base = max(exc.seconds, 1.0)
    else:
        return float(min(max(exc.seconds, 1.0), 300.0))
    return float(min(base * (1 + JITTER * rand()), MAX_DEFER))


def run_delivery(delivery_id: str, attempt: int = 1, *, settings: Settings | None = None,
                 store: Store | None = None, job_id: str | None = None) -> str:
    """Process one delivery; returns done | ignored | failed. Raises to make the queue retry
    (RetryTask with a delay when GitHub asked mlgate to wait).

    `attempt` is the queue's count; the store's count of earlier attempts wins when larger,
    because a delayed retry (RetryTask) does not use up one of Huey's retries: without it a
    rate limit that never lifts would be retried forever."""
    from bot import metrics
    from bot.dispatch import ROUTER, dispatch, report_failure
    from bot.github_client import RetryLater
    from bot.queue import RETRIES, RetryTask

    if settings is None or store is None:
        settings, store = _runtime()
    try:
        delivery = store.delivery(delivery_id)
        if delivery is not None and delivery["status"] not in ("done", "ignored", "failed"):
            store.mark_running(delivery_id)
    except Exception:
        # the store is down: nothing to record it in; the queue (or a later sweep) runs it again
        final = attempt > RETRIES
        job_logger(delivery_id, "", job_id).error(
            "job could not start: the store is unavailable%s", DEFERRED if final else "; it will be retried",
            exc_info=True, extra={"outcome": "deferred" if final else "retry", "attempt": attempt})
        raise
    if delivery is None:
        log.warning("delivery %s is not in the store; dropped", delivery_id)
        return "ignored"
    if delivery["status"] in ("done", "ignored", "failed"):
        return "ignored"  # re-enqueued by a sweep after another worker finished it
    attempt = max(attempt, int(delivery.get("attempts") or 0) + 1)
    started = time.monotonic()
    key = f"{delivery['event']}.{delivery['action']}" if delivery["action"] else delivery["event"]
    from bot.events import event_label

    # metric labels stay a closed set: a routed key, else the event's closed label (actions are the sender's)
    label = key if key in ROUTER else event_label(delivery["event"])
    jlog = job_logger(delivery_id, key, job_id)
    try:
        # no token is asked for (no GitHub call made) before a handler is known to want the event
        handled = dispatch(_event(delivery), lambda event: build_context(settings, store, delivery, job_id, event))
    except EventError as exc:
        _record(store, jlog, delivery_id, "failed", str(exc))
        jlog.error("job failed: the delivery cannot be parsed: %s", exc, extra={"outcome": "failed"})
        return "ignored"
    except RetryLater as exc:
        if attempt > RETRIES:
            reason = exc if exc.rate_limit is None else RetryLater(
                f"GitHub's {exc.rate_limit} rate limit did not lift in {attempt} attempts: {exc}", exc.seconds,
                exc.status, rate_limit=exc.rate_limit)
            gave_up = _give_up(settings, store, delivery, reason, report_failure)
            jlog.error("job failed after %d attempts: %s%s", attempt, reason, "" if gave_up else DEFERRED,
                       extra={"outcome": "failed" if gave_up else "deferred"})
            if not gave_up:
                raise
            metrics.metrics().jobs.labels(event=label, outcome="failed").inc()
            return "failed"
        delay = retry_delay(exc, attempt)
        try:
            store.defer_delivery(delivery_id, time.time() + delay, str(exc)[:500])
        except Exception as store_exc:  # the queue still holds the delayed job; the sweep is the fallback
            jlog.warning("could not record delivery %s as deferred: %s", delivery_id, describe(store_exc))
        metrics.metrics().jobs.labels(event=label, outcome="retry").inc()
        jlog.warning("job deferred for %.0f s (attempt %d of %d): %s", delay, attempt, RETRIES + 1, exc,
                     extra={"outcome": "retry", "attempt": attempt, "delay": round(delay, 1),
                            "rate_limit": exc.rate_limit})
        raise RetryTask(delay=delay) from None
    except Exception as exc:
        final = attempt > RETRIES
        _record(store, jlog, delivery_id, "queued", describe(exc)[:500])
        gave_up = final and _give_up(settings, store, delivery, exc, report_failure)
        outcome = "failed" if gave_up else "deferred" if final else "retry"
        jlog.error("job failed (attempt %d)%s", attempt,
                   "" if gave_up else DEFERRED if final else "; it will be retried",
                   exc_info=True, extra={"outcome": outcome, "attempt": attempt})
        metrics.metrics().jobs.labels(event=label, outcome="failed" if gave_up else "retry").inc()
        raise
    finally:
        metrics.metrics().job_seconds.labels(event=label).observe(time.monotonic() - started)
    outcome = "done" if handled else "ignored"
    if not _record(store, jlog, delivery_id, outcome, None):
        jlog.warning("job %s, but the store did not take its outcome: a sweep will run it again", outcome,
                     extra={"outcome": "deferred"})
        return outcome
    metrics.metrics().jobs.labels(event=label, outcome="ok" if handled else "ignored").inc()
    jlog.info("job %s", outcome, extra={"outcome": outcome, "seconds": round(time.monotonic() - started, 3)})
    return outcome


DEFERRED = "; the store is unavailable, so it stays open there and a sweep runs it again"


def _record(store: Store, jlog: Any, delivery_id: str, status: str, error: str | None) -> bool:
    """Mark the delivery; False (logged) when the store is down, and the sweep will see it open."""
    try:
        store.mark_delivery(delivery_id, status, error)
        return True
    except Exception as exc:
        jlog.warning("could not record delivery %s as %s: %s", delivery_id, status, describe(exc))
        return False


def _give_up(settings: Settings, store: Store, delivery: dict[str, Any], exc: BaseException,
             hook: Callable[[Context, BaseException], None]) -> bool:
    """Mark the delivery failed and say so on the PR; False when the store could not take it."""
    try:
        store.mark_delivery(delivery["id"], "failed", describe(exc)[:500])
    except Exception:
        return False  # the delivery stays open in the store, so a sweep runs it again later
    try:
        hook(build_context(settings, store, delivery), exc)
    except Exception:
        log.exception("could not report the failure of delivery %s", delivery["id"])
    return True


STALE_AFTER = 60.0  # a queued or running delivery with no progress for this long is re-enqueued
SWEEP_EVERY = 15.0


def sweep(store: Store, enqueue: Any, stale_after: float = STALE_AFTER) -> list[str]:
    """Re-enqueue deliveries a dead worker left behind (the queue forgets a job once taken).

    Handlers are idempotent, so running a delivery twice is safe; losing one is not.
    """
    from bot.dispatch import free_pr_locks

    ids = store.stale_deliveries(time.time() - stale_after)
    # a dead job's PR locks die with it, or the PR's next jobs would wait out the lock's TTL
    free_pr_locks(store, ids)
    for delivery_id in ids:
        store.touch_delivery(delivery_id)
        enqueue(delivery_id)
    if ids:
        log.warning("re-enqueued %d stale deliveries", len(ids))
    return ids


def _sweeper(store: Store, enqueue: Any, stale_after: float, every: float, spool_dir: str | None = None) -> None:
    from bot import spool

    while True:
        try:
            if spool_dir:
                spool.replay(spool_dir, store, enqueue)
            sweep(store, enqueue, stale_after)
        except Exception:
            log.exception("sweep failed; trying again later")
        time.sleep(every)


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, got {text}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    from bot.cli import int_at_least

    parser.add_argument("--workers", type=int_at_least(1), default=2, help="jobs run at the same time (threads)")
    parser.add_argument("--stale-after", type=_positive_seconds, default=STALE_AFTER,
                        help="re-enqueue deliveries with no progress for this many seconds (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    configure_logging()
    try:
        settings, store = _runtime()
    except (SettingsError, StoreError) as exc:
        print(f"mlgate worker: {exc}", file=sys.stderr)
        return 2
    from bot.queue import QueueError, check_queue, make_queue

    huey, task = make_queue(settings, run_delivery)
    try:
        check_queue(huey, settings.queue_url)
    except QueueError as exc:
        print(f"mlgate worker: {exc}", file=sys.stderr)
        return 2
    import threading

    threading.Thread(target=_sweeper, args=(store, task, args.stale_after, min(SWEEP_EVERY, args.stale_after),
                                            settings.spool_dir),
                     daemon=True, name="mlgate-sweeper").start()
    log.info("worker started", extra={"queue": settings.queue_url.split("://")[0], "workers": args.workers})
    consumer = huey.create_consumer(workers=args.workers, worker_type="thread", periodic=False,
                                    initial_delay=0.05, backoff=1.15, max_delay=1.0)
    consumer.run()
    return 0
