"""Whose report counts: the checks behind "the App accepts a report only from the trusted evaluation".

A pull request can add or change any workflow file, and its runs upload whatever artifacts it
likes, so a workflow's *name* proves nothing (issue #11: a read-only contributor's workflow
named `mlgate` uploaded a made-up report and both checks went green). mlgate decides from the
Actions API instead:

- `evaluation.trust: workflow_run` (the default): the report must come from a run of the
  configured workflow file with event `workflow_run` on the default branch (GitHub runs such a
  workflow from the default branch's file, never from the PR's), and the run it names as its
  trigger must have built the PR's current head, in this repository or the PR's fork.
- `evaluation.trust: pull_request` (single workflow, for small teams): the PR's own run of the
  configured file, event `pull_request`, on the PR's head; the comment says the numbers were
  computed by the PR's own workflow.

Every function here is pure over what the API returned; the handler fetches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.config import Evaluation
from bot.github_client import PullInfo, RunInfo

Mode = Literal["workflow_run", "pull_request"]
NOT_TRUSTED_TITLE = "Report not from the trusted evaluation"


@dataclass(frozen=True)
class Origin:
    """Where an accepted report came from, as verified through the Actions API."""

    mode: Mode
    run_id: int  # the run that uploaded the report
    head_sha: str  # the PR head the candidate was built from
    triggering_run_id: int | None = None  # the PR's run that triggered the trusted evaluation

    @property
    def by_pull_request(self) -> bool:
        """Computed by the PR's own workflow (the single-workflow mode): the comment says so."""
        return self.mode == "pull_request"


def _safe(value: str) -> str:
    """A name from the run (a PR chooses its workflow paths and branch names) made inert inside
    backticks: only path characters, at most 200 of them."""
    return re.sub(r"[^A-Za-z0-9._/@+-]", "?", value[:200]) or "?"


def _describe(run: RunInfo) -> str:
    return f"path `{_safe(run.path)}`, event `{_safe(run.event)}`, branch `{_safe(run.head_branch)}`"


def expected(config: Evaluation, default_branch: str) -> str:
    """The run mlgate accepts a report from, in words."""
    if config.trust == "workflow_run":
        return f"`{config.workflow}` run by the `workflow_run` event on `{default_branch}`"
    return f"`{config.workflow}` run by the `pull_request` event on the pull request's head"


def uploader_problem(run: RunInfo, config: Evaluation, default_branch: str, repo: str) -> str | None:
    """Why the run that uploaded a report is not the configured evaluation workflow (None: it is)."""
    if config.trust == "workflow_run":
        ok = (run.path == config.workflow and run.event == "workflow_run" and run.head_branch == default_branch
              and run.repository == repo and run.head_repository == repo)
    else:
        ok = run.path == config.workflow and run.event == "pull_request" and run.repository == repo
    if ok:
        return None
    return (f"report not from the trusted evaluation workflow: {_describe(run)}. "
            f"mlgate accepts a report only from {expected(config, default_branch)}")


def head_problem(run: RunInfo, pr: PullInfo, repo: str) -> str | None:
    """Why `run` (the PR's run that built the candidate) is not a build of the PR's current head
    in this repository or its fork (None: it is)."""
    if run.repository != repo:
        return f"the run {run.id} that built the candidate belongs to `{_safe(run.repository)}`, not `{_safe(repo)}`"
    if run.head_sha != pr.head_sha:
        return (f"the run {run.id} that built the candidate built {run.head_sha[:12] or '?'}, "
                f"but the head of #{pr.number} is {pr.head_sha[:12]}")
    return None


RUN_NAME = re.compile(r"mlgate evaluate \(run ([1-9][0-9]{0,19})\)")


def trigger_in_title(run: RunInfo) -> int | None:
    """The run that started the trusted evaluation, as its title says: exactly `mlgate evaluate
    (run N)`, the `run-name:` the default branch's file sets from github.event.workflow_run.id, so
    GitHub wrote it and no PR chose it. Any other title names nothing: a run-name that also quoted
    something a PR chooses (its title, its branch) could carry a forged `(run N)`."""
    found = RUN_NAME.fullmatch(run.display_title)
    return int(found.group(1)) if found else None


def pulls_of(run: RunInfo, repo: str, fork_pulls: Sequence[PullInfo]) -> list[int]:
    """Numbers of the PRs `run` built a head of: the run's own list for a branch of this
    repository; for a fork (GitHub lists none), the open PRs from `head_owner:head_branch`
    (`fork_pulls`, fetched by the caller). Whether it built the *current* head is
    head_problem's question."""
    if run.head_repository == repo:
        return list(run.pull_requests)
    return [p.number for p in fork_pulls]
