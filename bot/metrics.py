"""Prometheus metrics, safe under gunicorn's many processes and the worker's.

With `PROMETHEUS_MULTIPROC_DIR` set (the operator's choice; `mlgate serve` and the Procfile
set it), every process writes its samples to files there and `/metrics` aggregates them, so
the web's answer includes what the workers did. Without it, the process's own registry is
served. prometheus_client reads the variable when it creates a metric, which happens on the
first `metrics()` call, never at import.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _mp

from bot.events import event_label

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# What the web door did with a delivery: a closed set, like the event label (bot.events.event_label),
# so no request, signed or not, can add a series.
DeliveryOutcome = Literal["accepted", "duplicate", "spooled", "stored", "unavailable", "unauthorized",
                          "bad_request", "too_large", "ping"]
_lock = threading.Lock()


@dataclass(frozen=True)
class Metrics:
    deliveries: Counter  # labels: event (bot.events.KNOWN_EVENTS | other), outcome (DeliveryOutcome)
    jobs: Counter  # labels: event, outcome (ok|retry|failed|ignored)
    job_seconds: Histogram  # labels: event
    queue_depth: Gauge
    github_calls: Counter  # labels: method, status
    github_rate_remaining: Gauge
    verdicts: Counter  # labels: outcome (pass|fail|neutral)
    releases: Counter  # labels: action, result (done|dry_run|refused|failed|lock_held|unchanged|already_done)
    chatops_suppressed: Counter  # labels: scope (user|pr): chat-ops replies not posted, the budget spent


@cache
def metrics() -> Metrics:
    """The process's metric objects, created once (after the environment is final)."""
    with _lock:
        return Metrics(
            deliveries=Counter(
                "mlgate_webhook_deliveries", "Webhook deliveries by event and outcome", ["event", "outcome"]
            ),
            jobs=Counter("mlgate_jobs", "Jobs run by the worker, by event and outcome", ["event", "outcome"]),
            job_seconds=Histogram(
                "mlgate_job_duration_seconds",
                "Time to run one job",
                ["event"],
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            ),
            queue_depth=Gauge(
                "mlgate_queue_depth", "Jobs waiting in the queue", multiprocess_mode="mostrecent"
            ),
            github_calls=Counter("mlgate_github_api_calls", "GitHub API calls", ["method", "status"]),
            github_rate_remaining=Gauge(
                "mlgate_github_rate_limit_remaining",
                "Remaining GitHub API rate limit, as last seen",
                multiprocess_mode="mostrecent",
            ),
            verdicts=Counter("mlgate_gate_verdicts", "Gate outcomes of evaluations", ["outcome"]),
            releases=Counter(
                "mlgate_releases", "Promotions and rollbacks by result", ["action", "result"]
            ),
            chatops_suppressed=Counter(
                "mlgate_chatops_replies_suppressed", "Chat-ops replies not posted: the commenter's or "
                "the PR's reply budget was spent", ["scope"]
            ),
        )


def count_delivery(event_name: str | None, outcome: DeliveryOutcome) -> None:
    """Count one webhook request; an event outside the App's subscriptions is counted as `other`."""
    metrics().deliveries.labels(event=event_label(event_name), outcome=outcome).inc()


def exposition() -> tuple[bytes, str]:
    """The text for GET /metrics and its content type."""
    metrics()  # make sure this process's metrics exist even if nothing happened yet
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        registry = CollectorRegistry()
        _mp.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """gunicorn `child_exit` hook: drop a dead worker's live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        _mp.mark_process_dead(pid)  # type: ignore[no-untyped-call]
