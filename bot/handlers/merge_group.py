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

from bot.apply import set_check, undecided
from bot.config import CONFIG_PATH, Config
from bot.context import Context
from bot.plan import EVALUATION, INVALID_CONFIG_TITLE, NO_CONFIG_TITLE, REVIEW
from bot.routing import Router

# GitHub's queue branches: gh-readonly-queue/<base branch>/pr-<number>-<sha of the entry's base>
_QUEUE_REF = re.compile(r"gh-readonly-queue/.+/pr-(\d{1,9})-[0-9a-f]{40}$")
_GREEN = ("success", "neutral")  # neutral: "no ML changes" (a draft, also neutral, cannot be queued)
MAX_PRS = 100
GROUPS = 0  # the store keeps a group commit's own evaluation under this PR number


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
    from bot.handlers.ordering import pr_lock

    with pr_lock(ctx, GROUPS):  # a group commit's own report may arrive meanwhile (on_group_report)
        own = ctx.store.latest_evaluation(ctx.event.repo or "", GROUPS, head)
        for name, (prs, problems) in verdicts.items():
            waiting = False
            if name == EVALUATION and policy.config.evaluation.merge_group and not problems:
                if own is None:
                    waiting = True
                elif own["outcome"] != "pass":
                    problems.append(f"the evaluation of the merge group commit itself: {own['outcome']}")
            title = (f"Merge group of {_numbers(prs)}: {problems[0]}" if problems else
                     "Waiting for the evaluation of the merge group commit" if waiting else
                     f"Every pull request in the group passed ({_numbers(prs)})")
            summary = render_reply("merge_group_check.md.j2", head=head, base_branch=base_branch, prs=prs,
                                   problems=problems, check=name, check_evaluation=name == EVALUATION,
                                   waiting=waiting, group_evaluated=own is not None)
            if waiting:
                set_check(ctx, head, name, status="queued", title=title, summary=summary)
            else:
                set_check(ctx, head, name, status="completed", conclusion="failure" if problems else "success",
                          title=title, summary=summary)


def judge(ctx: Context, config: Config, head: str, base: str,
          named: int | None) -> dict[str, tuple[list[int], list[str]]]:
    """For each check: (the group's PRs, why the check does not pass on the group; empty: it passes)."""
    from bot.apply import pr_changes
    from bot.datachanges import classify

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
        from bot.render.text import inline_code

        # paths are the PR authors' text: shown as code spans, which nothing inside can close
        shown = ", ".join(inline_code(p) for p in unevaluated[:5]) + (
            f" and {len(unevaluated) - 5} more" if len(unevaluated) > 5 else "")
        problems[EVALUATION].append(f"the group changes {shown}, which no pull request in it changes, so it "
                                    "was never evaluated")
    return {name: (numbers, p) for name, p in problems.items()}


def on_group_report(ctx: Context, trigger: Any, report: dict[str, Any], problem: Exception | None) -> None:
    """The trusted evaluation of a merge group's own commit (`evaluation.merge_group`): the run that
    built it ran `on: merge_group` on a queue branch of this repository; the report's provenance
    must name that commit. Recorded for the group's head (PR number GROUPS); a group check that
    waits for it is completed now, else the merge_group job reads it when it runs."""
    from bot.gate import Changes, decide
    from bot.github_client import GitHubError
    from bot.handlers.ordering import pr_lock
    from bot.policy import resolve_policy

    repo, head = ctx.event.repo or "", str(trigger.head_sha)
    m = re.fullmatch(r"gh-readonly-queue/(.+)/pr-\d{1,9}-[0-9a-f]{40}", str(trigger.head_branch))
    if m is None or trigger.repository != repo or trigger.head_repository != repo:
        ctx.log.warning("merge_group run %s is not on a merge queue branch of %s; ignored", trigger.id, repo)
        return
    claimed = (report.get("provenance") or {}).get("head_sha")
    try:
        policy = resolve_policy(ctx, m.group(1))
    except GitHubError as exc:
        undecided(ctx, head, (EVALUATION,), "read the policy", exc)
        return
    if policy.config is None:
        return
    if problem is not None or claimed != head:
        outcome, why = "error", str(problem or f"the report evaluated {str(claimed)[:12]}, not the group {head[:12]}")
    else:
        # the App cannot list a group's files cheaply here: it counts as a data and a model change
        decision = decide(report, policy.config, Changes(data=True, model=True, complete=False))
        outcome, why = decision.outcome, "; ".join(decision.reasons[:3])
    with pr_lock(ctx, GROUPS):
        ctx.store.record_evaluation(repo, GROUPS, head, int(trigger.id), outcome, report)
        if ctx.store.check_id(repo, head, EVALUATION) is None or ctx.store.check_conclusion(repo, head, EVALUATION):
            return  # the merge_group job has not run yet (it reads this), or it already failed the group
        passed = outcome == "pass"
        set_check(ctx, head, EVALUATION, status="completed", conclusion="success" if passed else "failure",
                  title=("The merge group commit's own evaluation passed" if passed else
                         f"The merge group commit's own evaluation: {outcome}"),
                  summary=(why or "Every pull request in the group passed, and so did the group commit's own "
                           "evaluation.")[:2000])


def on_destroyed(ctx: Context) -> None:
    """The group is gone (merged, dequeued or invalidated): nothing waits on its commit any more."""
    group = ctx.event.payload.get("merge_group") or {}
    ctx.log.info("merge group %s destroyed (%s)", str(group.get("head_sha") or "")[:12],
                 ctx.event.payload.get("reason"))


def _numbers(prs: list[int]) -> str:
    return ", ".join(f"#{n}" for n in prs) or "no known pull request"


router = Router({
    "merge_group.checks_requested": on_checks_requested,
    "merge_group.destroyed": on_destroyed,
})
