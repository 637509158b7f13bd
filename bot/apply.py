"""Write a PRUpdate (bot.plan) to GitHub: only what differs from what the store remembers.

- A check run is written when its digest (status, conclusion, title, summary, details URL)
  differs from the one the store remembers for that commit and name; its id is remembered so
  an update costs one call, and a completed run that must wait again gets a new run.
- The sticky comment is written when its body's SHA-256 differs from the one remembered.
- Labels: the calls the plan asks for (it compared with its memory of the verdict).
- The state the comment shows is remembered (pr_states), so a later event (a review, a
  release) plans from it.

The helpers every handler shares live here too (the App's own view of a PR's changes, the
"could not decide" check, labels from the payload), so nothing imports bot.handlers except the
dispatcher. The Action's token mode applies through `apply` with `NoMemory` (it keeps no store).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.config import Config, Paths
from bot.context import Context
from bot.gate import Changes
from bot.plan import (
    EVALUATION,
    MAX_RELEASES,
    REVIEW,
    UNDECIDED_TITLE,
    CheckUpdate,
    PRState,
    PRUpdate,
    PullView,
    ReleaseNote,
    Remembered,
    comment_digest,
    restate,
)
from bot.ports import GitHub

if TYPE_CHECKING:
    from bot.plan import Reviews
    from bot.policy import Refusal
    from bot.store import ReleaseRow


class Memory(Protocol):
    """What apply reads and records (bot.store.Store; NoMemory for the Action)."""

    def check_id(self, repo: str, sha: str, name: str) -> int | None: ...
    def check_conclusion(self, repo: str, sha: str, name: str) -> str | None: ...
    def check_digest(self, repo: str, sha: str, name: str) -> str | None: ...
    def set_check(self, repo: str, sha: str, name: str, check_id: int, conclusion: str | None,
                  digest: str | None = None) -> None: ...
    def comment_id(self, repo: str, pr: int) -> int | None: ...
    def set_comment_id(self, repo: str, pr: int, comment_id: int) -> None: ...
    def pr_state(self, repo: str, pr: int) -> tuple[str, str, str | None] | None: ...
    def set_pr_state(self, repo: str, pr: int, state: str, section: str, comment_sha256: str | None) -> None: ...
    def releases_of_pr(self, repo: str, pr: int, limit: int) -> Sequence[ReleaseRow] | None: ...


class NoMemory:
    """A store that remembers nothing (the Action's token mode): every write is made, and GitHub
    is searched for the check run and the sticky comment to edit."""

    def check_id(self, repo: str, sha: str, name: str) -> int | None:
        return None

    def check_conclusion(self, repo: str, sha: str, name: str) -> str | None:
        return None

    def check_digest(self, repo: str, sha: str, name: str) -> str | None:
        return None

    def set_check(self, repo: str, sha: str, name: str, check_id: int, conclusion: str | None,
                  digest: str | None = None) -> None:
        return None

    def comment_id(self, repo: str, pr: int) -> int | None:
        return None

    def set_comment_id(self, repo: str, pr: int, comment_id: int) -> None:
        return None

    def pr_state(self, repo: str, pr: int) -> tuple[str, str, str | None] | None:
        return None

    def set_pr_state(self, repo: str, pr: int, state: str, section: str, comment_sha256: str | None) -> None:
        return None

    def releases_of_pr(self, repo: str, pr: int, limit: int) -> Sequence[ReleaseRow] | None:
        return None  # no history: the state block lists the releases it is told of


# ---------------------------------------------------------------- apply


def remembered(memory: Memory, repo: str, number: int) -> Remembered:
    """What the store remembers of the PR's living comment, with the PR's releases read from
    the store's release history (so a release whose own refresh was lost is listed anyway)."""
    rows = memory.releases_of_pr(repo, number, MAX_RELEASES)
    releases = tuple(release_note(r) for r in reversed(rows)) if rows is not None else None
    commented = memory.comment_id(repo, number) is not None
    row = memory.pr_state(repo, number)
    if row is None:
        return Remembered(releases=releases, commented=commented)
    state = PRState.from_json(row[0])
    return Remembered(state, row[1] if state is not None else "", releases, commented)


def release_note(row: ReleaseRow) -> ReleaseNote:
    """One row of the release history as the state block says it."""
    from bot.promotion import detail_of

    canary = detail_of(row).get("canary")
    action: Literal["promote", "rollback"] = "promote" if row.action == "promote" else "rollback"
    return ReleaseNote(action, row.model, row.alias, row.to_version, row.actor, row.from_version,
                       float(canary) if isinstance(canary, (int, float)) else None)


def write_check(github: GitHub, memory: Memory, repo: str, check: CheckUpdate, *, lookup: bool = False) -> int | None:
    """Create or update a check run, unless the store remembers writing this very run; its id
    (None when skipped)."""
    digest = check.digest
    if memory.check_digest(repo, check.sha, check.name) == digest:
        return None
    known = memory.check_id(repo, check.sha, check.name)
    replacing = None
    if known is not None and check.conclusion is None and memory.check_conclusion(repo, check.sha, check.name):
        # a completed run stays completed on GitHub: a check that must wait again gets a new run
        known, replacing = None, known
        # a retry of a job whose new run was created but not yet remembered: adopt that run
        newest = github.find_check(check.sha, check.name)
        if newest is not None and newest != replacing:
            known, replacing = newest, None
    check_id = int(github.set_check(check.sha, check.name, status=check.status, conclusion=check.conclusion,
                                    title=check.title, summary=check.summary or check.title,
                                    details_url=check.details_url, known_id=known, lookup=lookup and known is None,
                                    replacing=replacing))
    memory.set_check(repo, check.sha, check.name, check_id, check.conclusion, digest)
    return check_id


def apply(update: PRUpdate, github: GitHub, memory: Memory, repo: str, *, lookup: bool = False) -> int | None:
    """Write what `update` changes; the sticky comment's id (None when it was not written)."""
    from bot.render import MARKER

    for check in update.checks:
        write_check(github, memory, repo, check, lookup=lookup)
    if update.labels_add:
        github.add_labels(update.number, list(update.labels_add))
    for label in update.labels_remove:
        github.remove_label(update.number, label)
    comment_id = None
    if update.comment is not None:
        digest = comment_digest(update.comment)
        row = memory.pr_state(repo, update.number)
        known = memory.comment_id(repo, update.number)
        if row is None or row[2] != digest or known is None:
            comment_id = int(github.upsert_sticky_comment(update.number, update.comment, MARKER, known_id=known))
            memory.set_comment_id(repo, update.number, comment_id)
        if update.state is not None:
            memory.set_pr_state(repo, update.number, update.state.to_json(), update.section, digest)
    return comment_id


def apply_update(ctx: Context, update: PRUpdate) -> None:
    """`apply` for a handler: its repository, store, and the audit records of accepted regressions."""
    from bot import promotion

    repo = ctx.event.repo or ""
    apply(update, ctx.github, ctx.store, repo)
    for a in update.accepted:
        promotion.record_accepted_regression(ctx.store, repo=repo, pr=update.number, sha=update.head_sha,
                                             model=a.model, approvers=list(a.approvers), reasons=list(a.reasons),
                                             delivery_id=ctx.delivery_id)


def refresh_pr_state(ctx: Context, number: int, releases: Sequence[ReleaseNote]) -> None:
    """After a release from PR `number` (chat-ops, or on merge): the comment's state block says
    so. Nothing is decided or rendered again but the state block; a PR without a comment yet
    gets none."""
    from bot.github_client import RetryLater
    from bot.prlock import pr_lock

    repo = ctx.event.repo or ""
    if not releases:
        return
    try:
        with pr_lock(ctx, number):  # a job planning the PR meanwhile would write over the release
            before = remembered(ctx.store, repo, number)  # its release history already has the release
            if before.state is not None:
                apply(restate(before, PullView(number, before.state.head_sha), releases), ctx.github, ctx.store, repo)
    except RetryLater as exc:  # the release is done and replied to; only the comment's block misses it
        ctx.log.warning("pull request #%s: the comment's state block does not show the release: %s", number, exc)


def unevaluated(ctx: Context, number: int, head: str, phase: Literal["no_ml", "not_evaluated", "undecided"],
                why: str | None = None, *, releases_refused: Refusal | None = None,
                checks: Sequence[CheckUpdate] = ()) -> None:
    """The head gets no evaluation (`checks`, written first, or its checks already say so): the
    living comment's state block says what happened to it (bot.plan.plan_unevaluated), so the
    verdict on an earlier head never stays on top. Call it holding the PR's lock, for the PR's
    current head only. A GitHub error writing the comment is raised (the queue retries)."""
    from dataclasses import replace

    from bot.plan import plan_unevaluated

    repo = ctx.event.repo or ""
    update = plan_unevaluated(remembered(ctx.store, repo, number), PullView(number, head,
                                                                          releases_refused=releases_refused),
                              phase, why)
    apply(replace(update, checks=(*checks, *update.checks)), ctx.github, ctx.store, repo)


def after_release(ctx: Context, number: int, outcome: Any) -> None:
    """`refresh_pr_state` after a release use case (bot.promotion.Outcome): only a release that
    moved an alias is a new state; a dry run, a refusal or a failure changes nothing shown."""
    release = outcome.release
    if outcome.status != "done" or release.dry_run:
        return
    refresh_pr_state(ctx, number, [ReleaseNote(release.action, release.model, release.alias, outcome.to_version,
                                               release.actor, outcome.from_version, release.canary)])


# ---------------------------------------------------------------- the helpers handlers share


def set_check(ctx: Context, sha: str, name: str, *, status: str, conclusion: str | None = None,
              title: str = "", summary: str = "", details_url: str | None = None) -> int | None:
    """One check run through `write_check` (remembered, written only when it changed)."""
    check = CheckUpdate(name, sha, status, conclusion, title, summary, details_url)  # type: ignore[arg-type]
    return write_check(ctx.github, ctx.store, ctx.event.repo or "", check)


def undecided(ctx: Context, sha: str, names: Iterable[str], what: str, exc: BaseException, *,
              pr: int | None = None) -> None:
    """GitHub did not answer cleanly while mlgate needed `what`: the checks say mlgate could not
    decide, with the cause and how to try again (never success or neutral). With `pr` (the PR
    whose current head `sha` is), its comment's state block says so too, when GitHub takes it.
    A transient error is raised again afterwards, so the queue retries the job."""
    from bot.github_client import GitHubError, RetryLater
    from bot.plan import undecided_check

    retrying = isinstance(exc, RetryLater)
    ctx.log.warning("could not %s for %s: %s", what, sha[:12], exc)
    cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for name in names:
        write_check(ctx.github, ctx.store, ctx.event.repo or "", undecided_check(sha, name, what, cause, retrying))
    if pr is not None:
        try:
            unevaluated(ctx, pr, sha, "undecided", f"GitHub did not answer when mlgate tried to {what} ({cause})")
        except GitHubError as comment_exc:  # the checks say it; the comment follows on the retry
            ctx.log.warning("pull request #%s: the comment's state block does not say so: %s", pr, comment_exc)
    if retrying:
        raise exc


def read_reviews(github: GitHub, number: int, author: str, config: Config) -> Reviews:
    """The PR's reviews, and whether each reviewer the gate reads counts as an approver: a
    configured approver (users, `@org/team`s), or anyone with write access when none is set.
    The App (bot.handlers.inputs) and the Action's token mode (bot.action) read them alike."""
    from bot.permissions import Permissions
    from bot.plan import Reviews, users_to_resolve
    from bot.review_gate import ReviewIn

    items = tuple(ReviewIn.from_api(r) for r in github.reviews(number))
    approvers = list(config.review.approvers)
    who = Permissions(github)
    counted = {user.lower(): who.in_list(approvers, user) if approvers else who.has_role(user, "write")
               for user in users_to_resolve(items, author)}
    return Reviews(items, counted)


def pr_changes(ctx: Context, number: int, total: int | None, paths: Paths) -> tuple[list[str], Changes]:
    """What the PR changes, from the App's own list of its files, classified by the policy's globs.

    GitHub lists at most 3,000 files; `total` is the PR's `changed_files` as GitHub reports it.
    When the list is shorter, or the total is unknown, the PR counts as both a data and a model
    change (`complete` False), so nothing hides behind file 3,001.
    """
    from bot.datachanges import classify

    files = ctx.github.changed_files(number)
    kinds = classify(files, paths)
    return files, Changes(data=bool(kinds["data"]), model=bool(kinds["model"]),
                          complete=total is not None and len(files) >= total)


def sync_labels(ctx: Context, number: int, want: set[str], managed: set[str], current: set[str] | None) -> None:
    """Make mlgate's own labels (`managed`) on the PR equal `want`; others' labels are untouched.

    With `current` (the labels the event's payload shows) only the differences cost calls.
    """
    add = sorted(want - current) if current is not None else sorted(want)
    remove = sorted((managed - want) & current) if current is not None else sorted(managed - want)
    if add:
        ctx.github.add_labels(number, add)
    for label in remove:
        ctx.github.remove_label(number, label)


def payload_labels(pr: dict[str, Any]) -> set[str] | None:
    labels = pr.get("labels")
    if not isinstance(labels, list):
        return None
    return {str(x.get("name")) for x in labels if isinstance(x, dict) and x.get("name")}


__all__ = ["EVALUATION", "REVIEW", "UNDECIDED_TITLE", "Memory", "NoMemory", "after_release", "apply", "apply_update",
           "payload_labels", "pr_changes", "read_reviews", "refresh_pr_state", "remembered", "set_check", "sync_labels",
           "undecided", "unevaluated", "write_check"]
