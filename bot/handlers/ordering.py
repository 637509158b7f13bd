"""Order-independent PR updates: GitHub does not promise delivery order, and the worker runs
jobs in parallel (threads and processes), yet a PR's comment and checks must never go backwards.

Two rules, with the store as the arbiter so they hold across processes:

- One job at a time per pull request: `pr_lock` is a lock row in the store, held while a job
  reads the PR's state and writes to GitHub. Without it a slow "evaluation pending" write
  could land after a finished report.
- Within that lock, `claim_head` decides whether the event's head SHA is (now) the PR's head,
  and each head SHA has a phase that only rises (`pr_heads.phase`): a pending state never
  replaces a finished report of the same head, and an older head never replaces a newer one.

Which of two heads is newer is known from the store when it can be (a head that was replaced
is marked superseded; `synchronize` names the head it replaces in `before`). Only when the
store cannot tell does `claim_head` ask GitHub for the PR's current head (one call).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.context import Context, Handler

SEEN, PENDING, EVALUATED = 0, 1, 2  # the phase of one head SHA: it only rises

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


def claim_head(ctx: Context, number: int, sha: str, *, before: str | None = None,
               base_sha: str | None = None, author: str | None = None) -> bool:
    """Whether `sha` is the PR's head, making it so when it is newer than the one the store knows.

    Call it holding `pr_lock`. `before` is the head a `synchronize` replaced: that one is older
    whatever happens. False means the event is about a head that a newer one replaced: it may
    complete that commit's own checks, never the PR's comment, labels or review.
    """
    repo = ctx.event.repo or ""
    for _ in range(3):
        verdict, current = ctx.store.order_pr_head(repo, number, sha, before=before, base_sha=base_sha,
                                                   author=author)
        if verdict in ("current", "stale"):
            return verdict == "current"
        if verdict == "retry":
            continue
        # the store cannot order the two heads: GitHub's current head decides
        github_head = ctx.github.pull(number).head_sha
        if github_head == sha:
            if ctx.store.move_pr_head(repo, number, sha, expected=current, retire=[], base_sha=base_sha,
                                      author=author, revive=True):
                return True
            continue
        if github_head == current:
            ctx.store.move_pr_head(repo, number, str(current), expected=current, retire=[sha])
        else:
            ctx.log.info("PR #%s: neither %s nor %s is its head %s; the event about that head decides",
                         number, sha[:12], str(current)[:12], github_head[:12])
        return False
    raise RuntimeError(f"PR #{number}: its head kept changing while this job looked at it")


def phase(ctx: Context, number: int, sha: str) -> int:
    return ctx.store.head_state(ctx.event.repo or "", number, sha)[0]


def reach(ctx: Context, number: int, sha: str, to: int) -> None:
    """Record that this head's jobs got to phase `to` (never lowers it)."""
    ctx.store.raise_head_phase(ctx.event.repo or "", number, sha, to)


def one_job_per_pull_request(handler: Handler) -> Handler:
    """Run a handler of an event that carries `pull_request` holding that PR's lock."""
    @functools.wraps(handler)
    def locked(ctx: Context) -> None:
        pr = ctx.event.payload.get("pull_request") or {}
        if not pr.get("number"):
            handler(ctx)
            return
        with pr_lock(ctx, int(pr["number"])):
            handler(ctx)
    return locked
