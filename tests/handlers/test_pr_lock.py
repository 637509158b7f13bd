"""The per-PR lock (bot/prlock.py): one job at a time per PR, across threads and
processes through the store; re-entrant within a job; a job that waits too long goes back
to the queue instead of holding a worker thread."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from bot import prlock as ordering  # the lock lives outside bot.handlers (bot/prlock.py)
from bot.context import Context, Event
from bot.github_client import RetryLater
from bot.store import Store


def _ctx(store: Store, delivery: str) -> Context:
    return Context(event=Event("pull_request", "synchronize", delivery, {"repository": {"full_name": "acme/churn"}}),
                   github=None, store=store, log=logging.getLogger("test"))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'mlgate.db'}")
    s.migrate()
    return s


def test_jobs_of_one_pr_take_turns_and_other_prs_do_not_wait(store: Store) -> None:
    inside: list[str] = []
    overlap: list[tuple[str, str]] = []

    def job(name: str, number: int) -> None:
        with ordering.pr_lock(_ctx(store, name), number):
            overlap.extend((name, other) for other in inside if other.endswith(f"#{number}"))
            inside.append(f"{name}#{number}")
            time.sleep(0.05)
            inside.remove(f"{name}#{number}")

    threads = [threading.Thread(target=job, args=(f"d{i}", 1 + i % 2)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == []
    assert store.acquire(ordering.lock_name("acme/churn", 1), "probe", 1.0) is None  # released


def test_the_lock_is_reentrant_within_a_job(store: Store) -> None:
    ctx = _ctx(store, "d1")
    with ordering.pr_lock(ctx, 1), ordering.pr_lock(ctx, 1):
        pass
    assert store.acquire(ordering.lock_name("acme/churn", 1), "probe", 1.0) is None


def test_a_job_that_waits_too_long_goes_back_to_the_queue(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ordering, "LOCK_WAIT", 0.2)
    assert store.acquire(ordering.lock_name("acme/churn", 1), "another-job", 60) is None
    with pytest.raises(RetryLater) as raised, ordering.pr_lock(_ctx(store, "d2"), 1):
        pass
    assert raised.value.seconds == ordering.RETRY_AFTER and "another-job" in str(raised.value)


def test_a_retry_of_a_job_that_died_holding_the_lock_takes_it_back(store: Store) -> None:
    """A job killed (or cut off from the store) inside the lock never released it; its next
    attempt is the same delivery and must not wait out the lock's TTL behind itself."""
    name = ordering.lock_name("acme/churn", 1)
    assert store.acquire(name, ordering.pr_lock_holder("d1"), ordering.LOCK_TTL) is None  # the dead attempt
    entered = []
    with ordering.pr_lock(_ctx(store, "d1"), 1):  # would wait LOCK_WAIT, then RetryLater, for 300 s
        entered.append(True)
    assert entered and store.acquire(name, "probe", 1.0) is None


def test_the_sweep_frees_the_pr_locks_of_the_jobs_it_finds_dead(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-job: the sweep re-enqueues the delivery and frees the PR for the PR's
    other jobs at once, instead of after the lock's TTL."""
    from bot import worker

    monkeypatch.setattr(ordering, "LOCK_WAIT", 0.2)
    store.record_delivery("dead", "pull_request", "opened", "acme/churn", 1, b"{}")
    store.mark_running("dead")
    name = ordering.lock_name("acme/churn", 1)
    assert store.acquire(name, ordering.pr_lock_holder("dead"), ordering.LOCK_TTL) is None
    assert store.acquire("model:churn", ordering.pr_lock_holder("dead"), 60) is None  # not a PR lock: kept
    with pytest.raises(RetryLater), ordering.pr_lock(_ctx(store, "next"), 1):
        pass
    enqueued: list[str] = []
    assert worker.sweep(store, enqueued.append, stale_after=0.0) == ["dead"] == enqueued
    with ordering.pr_lock(_ctx(store, "next"), 1):
        pass
    held = store.acquire("model:churn", "probe", 1.0)
    assert held is not None and held.holder == ordering.pr_lock_holder("dead")
