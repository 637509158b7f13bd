"""merge_group checks_requested/destroyed: the required mlgate checks on a merge queue's commit.

With a merge queue, GitHub builds a temporary commit for each queue entry (the target branch
plus the queued pull requests) and waits for the required checks on *that* commit. mlgate
never evaluated it, so without this handler a queue that requires mlgate/evaluation and
mlgate/review waits forever.

The group's checks are decided from what mlgate already decided, never from the group's own
CI: the pull requests in the group are the PRs whose head commits the group adds to its base
(GitHub's compare API, matched against the heads the store knows, plus the PR the queue
branch is named after). Each check passes when every one of them has that check green on
its own current head; `mlgate/evaluation` also needs every data or model file the group
changes to be among the files of a PR in the group (nothing slipped in unevaluated). A PR
whose check is red, missing or unfinished fails the group, naming it: GitHub only queues PRs
whose required checks passed, so an unfinished one means mlgate cannot vouch for it now.
"""

from __future__ import annotations

import re
from typing import Any

from bot.config import CONFIG_PATH, Config
from bot.context import Context, Handler
from bot.handlers import (
    EVALUATION,
    INVALID_CONFIG_TITLE,
    NO_CONFIG_TITLE,
    REVIEW,
    set_check,
    undecided,
)

# GitHub's queue branches: gh-readonly-queue/<base branch>/pr-<number>-<sha of the entry's base>
_QUEUE_REF = re.compile(r"gh-readonly-queue/.+/pr-(\d{1,9})-[0-9a-f]{40}$")
_GREEN = ("success", "neutral")  # neutral: "no ML changes" (a draft, also neutral, cannot be queued)
MAX_PRS = 100


def queued_pr(head_ref: str) -> int | None:
    """The PR a queue branch is named after (the last PR of its group), if the ref has GitHub's form."""
    m = _QUEUE_REF.search(head_ref)
    return int(m.group(1)) if m else None


def on_checks_requested(ctx: Context) -> None:
    from bot.github_client import GitHubError
    from bot.policy import resolve_policy

    group: dict[str, Any] = ctx.event.payload.get("merge_group") or {}
    head, base = str(group.get("head_sha") or ""), str(group.get("base_sha") or "")
    base_branch = str(group.get("base_ref") or "").removeprefix("refs/heads/")
    if not head or not base:
        ctx.log.warning("merge_group without head_sha or base_sha: nothing to report on")
        return
    names = (EVALUATION, REVIEW)
    try:
        policy = resolve_policy(ctx, base_branch or None)
    except GitHubError as exc:
        undecided(ctx, head, names, "read the policy", exc)
        return
    if policy.problem:
        for name in names:
            set_check(ctx, head, name, status="completed", conclusion="failure", title=INVALID_CONFIG_TITLE,
                      summary=f"`{CONFIG_PATH}` on `{policy.branch}` is invalid, so mlgate cannot gate this "
                              f"merge group:\n\n```\n{policy.problem}\n```")
        return
    if policy.config is None:
        for name in names:
            set_check(ctx, head, name, status="completed", conclusion="neutral", title=NO_CONFIG_TITLE,
                      summary=f"The default branch `{policy.default_branch}` has no `{CONFIG_PATH}`, so there "
                              "is no policy to apply.")
        return
    try:
        verdicts = judge(ctx, policy.config, head, base, queued_pr(str(group.get("head_ref") or "")))
    except GitHubError as exc:
        undecided(ctx, head, names, "read the merge group's commits and pull requests", exc)
        return
    from bot.chatops import render_reply

    for name, (prs, problems) in verdicts.items():
        title = (f"Merge group of {_numbers(prs)}: {problems[0]}" if problems else
                 f"Every pull request in the group passed ({_numbers(prs)})")
        summary = render_reply("merge_group_check.md.j2", head=head, base_branch=base_branch, prs=prs,
                               problems=problems, check=name, check_evaluation=name == EVALUATION)
        set_check(ctx, head, name, status="completed", conclusion="failure" if problems else "success",
                  title=title, summary=summary)


def judge(ctx: Context, config: Config, head: str, base: str,
          named: int | None) -> dict[str, tuple[list[int], list[str]]]:
    """For each check: (the group's PRs, why the check does not pass on the group; empty: it passes)."""
    from bot.datachanges import classify
    from bot.handlers import pr_changes

    repo = ctx.event.repo or ""
    diff = ctx.github.compare(base, head)
    prs: set[int] = {named} if named is not None else set()
    for sha in diff.commits[:1000]:
        prs.update(ctx.store.prs_with_head(repo, sha))
    numbers = sorted(prs)[:MAX_PRS]
    common: list[str] = []
    if not numbers:
        common.append("mlgate cannot tell which pull requests this merge group holds")
    if not diff.complete:
        common.append("GitHub lists only part of the group's commits or files, so mlgate cannot check them all")
    problems: dict[str, list[str]] = {EVALUATION: list(common), REVIEW: list(common)}
    covered: set[str] = set()
    for n in numbers:
        pull = ctx.github.pull(n)
        if pull.head_sha not in diff.commits:
            for name in problems:
                problems[name].append(f"#{n}: its head {pull.head_sha[:12]} is not in this merge group "
                                      "(it changed after it was queued)")
            continue
        files, changes = pr_changes(ctx, n, pull.changed_files, config.paths)
        covered.update(files)
        if not changes.complete:
            problems[EVALUATION].append(f"#{n}: GitHub lists only part of its files")
        for name in problems:
            got = ctx.store.check_conclusion(repo, pull.head_sha, name)
            if got not in _GREEN:
                state = "has not finished" if got is None else f"is {got}"
                problems[name].append(f"#{n}: {name} {state} on its head {pull.head_sha[:12]}")
    kinds = classify(diff.files, config.paths)
    unevaluated = sorted((set(kinds["data"]) | set(kinds["model"])) - covered)
    if numbers and unevaluated:
        shown = ", ".join(unevaluated[:5]) + (f" and {len(unevaluated) - 5} more" if len(unevaluated) > 5 else "")
        problems[EVALUATION].append(f"the group changes {shown}, which no pull request in it changes, so it "
                                    "was never evaluated")
    return {name: (numbers, p) for name, p in problems.items()}


def on_destroyed(ctx: Context) -> None:
    """The group is gone (merged, dequeued or invalidated): nothing waits on its commit any more."""
    group = ctx.event.payload.get("merge_group") or {}
    ctx.log.info("merge group %s destroyed (%s)", str(group.get("head_sha") or "")[:12],
                 ctx.event.payload.get("reason"))


def _numbers(prs: list[int]) -> str:
    return ", ".join(f"#{n}" for n in prs) or "no known pull request"


ROUTES: dict[str, Handler] = {
    "merge_group.checks_requested": on_checks_requested,
    "merge_group.destroyed": on_destroyed,
}
