"""`mlgate worker`: runs queued deliveries through the handlers.

Each job re-reads its delivery from the store, builds a Context (a GitHub client with a
fresh installation token, the store, a lazy registry), routes it, and records the outcome.
Transient failures are retried with backoff; after the last retry the PR's check says what
went wrong.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from functools import cache
from typing import Any

from bot.context import Context
from bot.events import EventError, parse_event
from bot.logging_setup import configure_logging, describe, job_logger
from bot.settings import Settings, SettingsError
from bot.store import Store, StoreError

log = logging.getLogger("mlgate.worker")


@cache
def _runtime() -> tuple[Settings, Store]:
    settings = Settings.from_env()
    store = Store(settings.database_url)
    store.migrate()
    return settings, store


def build_context(settings: Settings, store: Store, delivery: dict[str, Any], job_id: str | None = None) -> Context:
    from bot.github_client import GitHubClient

    event = parse_event({"X-GitHub-Event": delivery["event"], "X-GitHub-Delivery": delivery["id"],
                         "Content-Type": "application/json"}, delivery["body"])
    github = None
    if event.installation_id and event.repo:
        github = GitHubClient.for_installation(settings, event.installation_id, event.repo)

    def registry() -> Any:
        from bot.registry import Registry

        return Registry(settings.tracking_uri)

    return Context(event=event, github=github, store=store, registry_factory=registry,
                   log=job_logger(delivery["id"], event.key, job_id), settings=settings, job_id=job_id)


def run_delivery(delivery_id: str, attempt: int = 1, *, settings: Settings | None = None,
                 store: Store | None = None, job_id: str | None = None) -> str:
    """Process one delivery; returns done | ignored. Raises to make the queue retry."""
    from bot import metrics
    from bot.github_client import RetryLater
    from bot.handlers import on_job_failed
    from bot.queue import RETRIES, RetryTask
    from bot.routing import route

    if settings is None or store is None:
        settings, store = _runtime()
    delivery = store.delivery(delivery_id)
    if delivery is None:
        log.warning("delivery %s is not in the store; dropped", delivery_id)
        return "ignored"
    if delivery["status"] in ("done", "ignored", "failed"):
        return "ignored"  # re-enqueued by a sweep after another worker finished it
    store.mark_running(delivery_id)
    started = time.monotonic()
    key = f"{delivery['event']}.{delivery['action']}" if delivery["action"] else delivery["event"]
    jlog = job_logger(delivery_id, key, job_id)
    try:
        ctx = build_context(settings, store, delivery, job_id)
        handled = route(ctx)
    except EventError as exc:
        store.mark_delivery(delivery_id, "failed", str(exc))
        jlog.error("job failed: the delivery cannot be parsed: %s", exc, extra={"outcome": "failed"})
        return "ignored"
    except RetryLater as exc:
        if attempt > RETRIES:
            jlog.error("job failed after %d attempts: %s", attempt, exc, extra={"outcome": "failed"})
            _give_up(settings, store, delivery, exc, on_job_failed)
            raise
        store.mark_delivery(delivery_id, "queued", str(exc))
        metrics.metrics().jobs.labels(event=key, outcome="retry").inc()
        jlog.warning("job will be retried in %ss: %s", exc.seconds, exc, extra={"outcome": "retry", "attempt": attempt})
        raise RetryTask(delay=min(max(exc.seconds, 1), 300)) from None
    except Exception as exc:
        final = attempt > RETRIES
        jlog.error("job failed (attempt %d)%s", attempt, "" if final else "; it will be retried",
                   exc_info=True, extra={"outcome": "failed" if final else "retry", "attempt": attempt})
        try:
            store.mark_delivery(delivery_id, "queued", describe(exc)[:500])
        except Exception:
            log.warning("could not record the failure of delivery %s; the sweep will retry it", delivery_id)
        metrics.metrics().jobs.labels(event=key, outcome="failed" if final else "retry").inc()
        if final:
            _give_up(settings, store, delivery, exc, on_job_failed)
        raise
    finally:
        metrics.metrics().job_seconds.labels(event=key).observe(time.monotonic() - started)
    outcome = "done" if handled else "ignored"
    store.mark_delivery(delivery_id, outcome)
    metrics.metrics().jobs.labels(event=key, outcome="ok" if handled else "ignored").inc()
    jlog.info("job %s", outcome, extra={"outcome": outcome, "seconds": round(time.monotonic() - started, 3)})
    return outcome


def _give_up(settings: Settings, store: Store, delivery: dict[str, Any], exc: BaseException, hook: Any) -> None:
    try:
        store.mark_delivery(delivery["id"], "failed", describe(exc)[:500])
    except Exception:
        # the store is down too: the delivery stays open there, so a sweep runs it again later
        log.warning("could not mark delivery %s failed; the sweep will retry it", delivery["id"])
        return
    try:
        hook(build_context(settings, store, delivery), exc)
    except Exception:
        log.exception("could not report the failure of delivery %s", delivery["id"])


STALE_AFTER = 60.0  # a queued or running delivery with no progress for this long is re-enqueued
SWEEP_EVERY = 15.0


def sweep(store: Store, enqueue: Any, stale_after: float = STALE_AFTER) -> list[str]:
    """Re-enqueue deliveries a dead worker left behind (the queue forgets a job once taken).

    Handlers are idempotent, so running a delivery twice is safe; losing one is not.
    """
    ids = store.stale_deliveries(time.time() - stale_after)
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


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="jobs run at the same time (threads)")
    parser.add_argument("--stale-after", type=float, default=STALE_AFTER,
                        help="re-enqueue deliveries with no progress for this many seconds (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    configure_logging()
    try:
        settings, store = _runtime()
    except (SettingsError, StoreError) as exc:
        print(f"mlgate worker: {exc}", file=sys.stderr)
        return 2
    from bot.queue import make_queue

    huey, task = make_queue(settings)
    import threading

    threading.Thread(target=_sweeper, args=(store, task, args.stale_after, min(SWEEP_EVERY, args.stale_after),
                                            settings.spool_dir),
                     daemon=True, name="mlgate-sweeper").start()
    log.info("worker started", extra={"queue": settings.queue_url.split("://")[0], "workers": args.workers})
    consumer = huey.create_consumer(workers=args.workers, worker_type="thread", periodic=False,
                                    initial_delay=0.05, backoff=1.15, max_delay=1.0)
    consumer.run()
    return 0
