"""Order-independent PR updates: GitHub does not promise delivery order, and the worker runs
jobs in parallel (threads and processes), yet a PR's comment and checks must never go backwards.

Two rules, with the store as the arbiter so they hold across processes:

- One job at a time per pull request: `pr_lock` (bot.prlock) is a lock row in the store, held while a job
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

from bot.context import Context, Handler
from bot.prlock import (
    LOCK_TTL,
    LOCK_WAIT,
    PR_LOCK_PREFIX,
    RETRY_AFTER,
    lock_name,
    pr_lock,
    pr_lock_holder,
)

__all__ = ["EVALUATED", "LOCK_TTL", "LOCK_WAIT", "PENDING", "PR_LOCK_PREFIX", "RETRY_AFTER", "SEEN", "claim_head",
           "lock_name", "one_job_per_pull_request", "phase", "pr_lock", "pr_lock_holder", "reach"]

SEEN, PENDING, EVALUATED = 0, 1, 2  # the phase of one head SHA: it only rises


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
