"""The per-PR lock: one job at a time per pull request, across threads and processes.

A lock row in the store, held while a job reads the PR's state and writes to GitHub (see
bot.handlers.ordering for why). It lives outside bot.handlers so bot.apply (a release's
state block) and bot.dispatch (the sweep that frees dead jobs' locks) take it without
importing a handler module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.context import Context

LOCK_TTL = 300.0  # a job holds its PR this long at most (a dead worker's lock expires)
LOCK_WAIT = 30.0  # how long a job waits in its thread for another job of the same PR
RETRY_AFTER = 60.0  # then it goes back to the queue for this long, freeing the thread

PR_LOCK_PREFIX = "pr:"

_HELD: ContextVar[frozenset[str]] = ContextVar("mlgate_pr_locks", default=frozenset())


def lock_name(repo: str, number: int) -> str:
    return f"{PR_LOCK_PREFIX}{repo}#{number}"


def pr_lock_holder(delivery_id: str) -> str:
    return f"delivery {delivery_id}"


@contextmanager
def pr_lock(ctx: Context, number: int) -> Iterator[None]:
    """Hold the store's lock of one PR for the block; re-entrant within a job.

    A job that cannot get it within LOCK_WAIT raises RetryLater, so the queue runs it again
    later instead of blocking a worker thread.
    """
    from bot.github_client import RetryLater

    name = lock_name(ctx.event.repo or "", number)
    if name in _HELD.get():
        yield
        return
    # the delivery holds the lock, not the attempt: a retry of a job that died holding it takes it back,
    # and the sweep that re-enqueues a dead job frees its locks (Store.release_pr_locks)
    holder = pr_lock_holder(ctx.delivery_id)
    deadline, pause = time.monotonic() + LOCK_WAIT, 0.01
    while (held := ctx.store.acquire(name, holder, LOCK_TTL)) is not None and held.holder != holder:
        if time.monotonic() > deadline:
            raise RetryLater(f"pull request #{number} is being updated by another job ({held.holder})", RETRY_AFTER)
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
    token = _HELD.set(_HELD.get() | {name})
    try:
        yield
    finally:
        _HELD.reset(token)
        ctx.store.release(name, holder)
