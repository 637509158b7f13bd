"""The stand-in's admin API: the story of a PR as GitHub would play it, and what a test reads back.

Each admin method changes the state (`World`) as GitHub would and sends the webhook GitHub
sends for it, built on a real example payload (webhooks.py) around the JSON shapes
(shapes.py). The same methods serve other processes over HTTP (admin.py). Faults a test
plans are kept by faults.py and answered by the server.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import secrets
import time
import uuid
from collections import Counter
from typing import Any

import requests

from bot.sandbox import webhooks
from bot.sandbox.faults import Fault, Faults
from bot.sandbox.shapes import Shapes
from bot.sandbox.state import Commit, Repo, SandboxError, World, make_artifact_zip, new_sha, now

_ROLES = ("read", "triage", "write", "maintain", "admin")
# Installation ids are unique per process, not per stand-in: clients cache tokens by
# (API URL, app id, installation id), and a later stand-in may get an earlier one's port.
_INSTALLATION_IDS = itertools.count(1000)

# the example trusted workflow's `run-name:` (docs/examples/churn/.github/workflows/mlgate-evaluate.yml)
EXAMPLE_RUN_NAME = "mlgate evaluate (run {id})"


def _titled(run_name: str | None, triggered_by: int) -> dict[str, str]:
    """The `display_title` GitHub gives a workflow_run-triggered run whose file sets `run-name:`."""
    return {} if run_name is None else {"display_title": run_name.replace("{id}", str(triggered_by))}


class Scenario(World):
    """The state with its admin methods; `Sandbox` (server.py) serves it over HTTP."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.shapes = Shapes(self)
        self.fault_plan = Faults(self.lock)

    @property
    def faults(self) -> list[Fault]:
        """The planned faults, each with its `remaining` uses."""
        return self.fault_plan.planned

    @property
    def latency(self) -> float:
        return self.fault_plan.latency

    @property
    def slow_started(self) -> int:
        """How many "slow" faults have begun their delay."""
        return self.fault_plan.slow_started

    # ------------------------------------------------------------ admin: setup

    def create_repo(self, full_name: str, *, default_branch: str = "main") -> Repo:
        """An empty repository with one commit on its default branch (no webhook)."""
        with self.lock:
            if full_name in self.repos:
                return self.repos[full_name]
            owner, name = full_name.split("/")
            repo = Repo(next(self.ids), owner, name, default_branch=default_branch)
            sha = new_sha()
            repo.trees[sha] = {}
            repo.commits[sha] = Commit(sha, [], "Initial commit", owner, now(), repo.trees[sha])
            repo.branches[default_branch] = sha
            self.repos[full_name] = repo
            return repo

    def fork(self, repo: str, owner: str) -> Repo:
        """`owner`'s fork of `repo`: the same history, its own branches; the App is not installed on it."""
        base = self.lookup_repo(repo)
        full = f"{owner}/{base.name}"
        with self.lock:
            if full in self.repos:
                return self.repos[full]
            f = Repo(next(self.ids), owner, base.name, default_branch=base.default_branch, parent=base.full_name)
            f.trees.update(base.trees)
            f.commits.update(base.commits)
            f.branches[base.default_branch] = base.branches[base.default_branch]
            self.repos[full] = f
            return f

    def _push_head(self, r: Repo, pr_head_repo: str, branch: str, files: dict[str, str | bytes], *,
                   delete: tuple[str, ...], message: str, author: str) -> str:
        """Commit on a PR's head branch, in the fork when the PR comes from one; the commit is then
        also reachable in the base repository by its SHA (GitHub's refs/pull/N/head)."""
        sha = self.push(pr_head_repo, branch, files, delete=delete, message=message, author=author)
        if pr_head_repo != r.full_name:
            head = self.lookup_repo(pr_head_repo)
            with self.lock:
                r.trees[sha], r.commits[sha] = head.trees[sha], head.commits[sha]
        return sha

    def create_installation(self, account: str, repos: list[str], *, sender: str | None = None) -> int:
        """Install the App on `account` for `repos` (created if new); sends `installation` created."""
        with self.lock:
            inst_id = next(_INSTALLATION_IDS)
            self.installations[inst_id] = {"id": inst_id, "account": account, "repos": list(repos),
                                           "created_at": now()}
            for full in repos:
                self.create_repo(full)
            if self.installation_id is None:
                self.installation_id = inst_id
        self._deliver("installation", {
            "action": "created", "installation": self.shapes.installation_json(inst_id),
            "repositories": [self.shapes.repo_brief(self.repos[f]) for f in repos], "requester": None,
        }, None, sender or account)
        return inst_id

    def add_repositories(self, installation_id: int, repos: list[str], *, sender: str | None = None) -> None:
        """Add repositories to an installation; sends `installation_repositories` added."""
        with self.lock:
            inst = self.installations[installation_id]
            for full in repos:
                self.create_repo(full)
                if full not in inst["repos"]:
                    inst["repos"].append(full)
        self._deliver("installation_repositories", {
            "action": "added", "installation": self.shapes.installation_json(installation_id),
            "repository_selection": "selected", "repositories_added": [self.shapes.repo_brief(self.repos[f]) for f in repos],
            "repositories_removed": [], "requester": None,
        }, None, sender or inst["account"])

    def create_token(self, repo: str, *, read_only: bool = False) -> str:
        """A workflow-style token (GITHUB_TOKEN) for one repository; read-only like a fork's."""
        token = "ghs_" + secrets.token_hex(18)
        self.tokens[token] = {"installation_id": None, "repos": [repo], "read_only": read_only,
                              "expires": time.time() + 3600}
        return token

    def set_permission(self, repo: str, login: str, permission: str) -> None:
        """Collaborator role: read, triage, write, maintain or admin."""
        if permission not in _ROLES:
            raise SandboxError(f"unknown permission {permission!r}")
        self.lookup_repo(repo).collaborators[login] = permission

    def protect_branch(self, repo: str, branch: str, protected: bool = True) -> None:
        """Branch protection without required checks (GitHub then reports `protected: true`)."""
        r = self.lookup_repo(repo)
        with self.lock:
            (r.protected.add if protected else r.protected.discard)(branch)

    def add_team_member(self, org: str, team: str, login: str) -> None:
        self.teams.setdefault((org, team), set()).add(login)

    def remove_team_member(self, org: str, team: str, login: str) -> None:
        self.teams.get((org, team), set()).discard(login)

    def require_checks(self, repo: str, branch: str, contexts: list[str]) -> None:
        """Branch protection: these status checks are required on `branch`."""
        self.lookup_repo(repo).required_checks[branch] = list(contexts)

    def push(self, repo: str, branch: str, files: dict[str, str | bytes], *, delete: tuple[str, ...] = (),
             message: str = "Update", author: str = "alice") -> str:
        """Commit files on a branch (created from the default branch if new); returns the SHA.

        No webhook: mlgate does not listen to `push`. Use push_to_pull_request for a PR."""
        r = self.lookup_repo(repo)
        with self.lock:
            parent = r.branches.get(branch) or r.branches[r.default_branch]
            tree = dict(r.trees[parent])
            for path, content in files.items():
                tree[path] = content.encode() if isinstance(content, str) else content
            for path in delete:
                tree.pop(path, None)
            sha = new_sha()
            r.trees[sha] = tree
            r.commits[sha] = Commit(sha, [parent], message, author, now(), tree)
            r.branches[branch] = sha
            return sha

    # ------------------------------------------------------------ admin: the PR story

    def open_pull_request(
        self, repo: str, files: dict[str, str | bytes], *, author: str = "alice", base: str = "main",
        head: str | None = None, title: str = "Retrain the model", draft: bool = False, body: str = "",
        delete: tuple[str, ...] = (), fork: str | None = None,
    ) -> dict[str, Any]:
        """Push `files` to a new head branch and open a PR (sends pull_request opened). With `fork`
        (a login) the head branch is in that user's fork of `repo`, as for an outside contributor."""
        r = self.lookup_repo(repo)
        with self.lock:
            number = self.next_number(r)
            head = head or f"pr-{number}"
            base_sha = r.branches[base]
            head_repo = self.fork(repo, fork).full_name if fork else repo
            head_sha = self._push_head(r, head_repo, head, files, delete=delete, message=title, author=author)
            pr = {"number": number, "title": title, "body": body, "author": author, "base": base, "head": head,
                  "head_repo": head_repo,
                  "base_sha": base_sha, "head_sha": head_sha, "state": "open", "merged": False,
                  "draft": draft, "id": next(self.ids), "changed": sorted({*files, *delete}),
                  "created_at": now(), "updated_at": now(), "closed_at": None, "merged_at": None,
                  "merged_by": None}
            r.pulls[number] = pr
        self.pr_event(r, pr, "opened", author)
        return self.shapes.pull_json(r, pr)

    def push_to_pull_request(self, repo: str, number: int, files: dict[str, str | bytes], *,
                             delete: tuple[str, ...] = (), message: str = "Update") -> str:
        """New commit on the PR's head branch (sends pull_request synchronize); returns the new SHA."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        with self.lock:
            before = pr["head_sha"]
            sha = self._push_head(r, pr.get("head_repo") or repo, pr["head"], files, delete=delete, message=message,
                                  author=pr["author"])
            pr["head_sha"] = sha
            pr["changed"] = sorted(set(pr["changed"]) | set(files) | set(delete))
            pr["updated_at"] = now()
        self.pr_event(r, pr, "synchronize", pr["author"], before=before, after=sha)
        return sha

    def close_pull_request(self, repo: str, number: int, *, user: str | None = None) -> None:
        """Close without merging (sends pull_request closed, merged false)."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        pr["state"], pr["closed_at"], pr["updated_at"] = "closed", now(), now()
        self.pr_event(r, pr, "closed", user or pr["author"])

    def merge(self, repo: str, number: int, *, user: str = "alice") -> str:
        """Merge the PR into its base (sends pull_request closed, merged true); returns the merge SHA."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        with self.lock:
            base_head = r.branches[pr["base"]]
            tree = {**r.trees[base_head], **r.trees[pr["head_sha"]]}
            for path in pr["changed"]:
                if path not in r.trees[pr["head_sha"]]:
                    tree.pop(path, None)
            sha = new_sha()
            r.trees[sha] = tree
            r.commits[sha] = Commit(sha, [base_head, pr["head_sha"]], f"Merge pull request #{number}", user, now(), tree)
            r.branches[pr["base"]] = sha
            pr.update(state="closed", merged=True, merged_at=now(), closed_at=now(), merged_by=user,
                      merge_commit_sha=sha, updated_at=now())
        self.pr_event(r, pr, "closed", user)
        return sha

    def reopen_pull_request(self, repo: str, number: int, *, user: str | None = None) -> None:
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        if pr["merged"]:
            raise SandboxError(f"PR #{number} is merged and cannot be reopened")
        pr["state"], pr["closed_at"] = "open", None
        self.pr_event(r, pr, "reopened", user or pr["author"])

    def ready_for_review(self, repo: str, number: int) -> None:
        """A draft PR is marked ready (sends pull_request ready_for_review)."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        pr["draft"] = False
        self.pr_event(r, pr, "ready_for_review", pr["author"])

    def convert_to_draft(self, repo: str, number: int) -> None:
        """An open PR goes back to draft (sends pull_request converted_to_draft)."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        pr["draft"] = True
        self.pr_event(r, pr, "converted_to_draft", pr["author"])

    def change_base(self, repo: str, number: int, base: str, *, user: str | None = None) -> None:
        """The PR's base branch is edited (sends pull_request edited with changes.base.ref.from and sha.from)."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        old_ref, old_sha = pr["base"], pr["base_sha"]
        pr["base"], pr["base_sha"], pr["updated_at"] = base, r.branches[base], now()
        self.pr_event(r, pr, "edited", user or pr["author"],
                       changes={"base": {"ref": {"from": old_ref}, "sha": {"from": old_sha}}})

    def merge_queue(self, repo: str, numbers: list[int], *, base: str = "main", batch: bool = False,
                    user: str = "alice") -> list[str]:
        """Queue PRs: one merge group per entry on top of the previous entry's commit (or, with `batch`,
        one group for all), each announced with merge_group checks_requested; returns the group SHAs."""
        from bot.sandbox import gates

        r = self.lookup_repo(repo)
        entries = gates.build_merge_groups(self, r, numbers, base, batch)
        for n, entry_base, head in entries:
            self._deliver("merge_group", {"action": "checks_requested",
                                          "merge_group": gates.merge_group_payload(r, n, base, entry_base, head)},
                          r, user)
        return [head for _, _, head in entries]

    def complete_merge_group_evaluation(self, repo: str, group: str, report: bytes, *,
                                        build_path: str = ".github/workflows/mlgate-build.yml",
                                        evaluate_path: str = ".github/workflows/mlgate-evaluate.yml") -> dict[str, int]:
        """The build workflow ran `on: merge_group` for the group commit `group` (its queue branch), then the
        default branch's evaluation workflow evaluated it (two workflow_run completed deliveries)."""
        r = self.lookup_repo(repo)
        branch = next(b for b, s in r.branches.items() if s == group and b.startswith("gh-readonly-queue/"))
        build = self._complete_run(r, {"name": "mlgate-build", "head_sha": group, "head_branch": branch,
                                       "event": "merge_group", "path": build_path, "number": None, "author": "github",
                                       "head_repo": r.full_name},
                                   "success", {"mlgate-candidate": make_artifact_zip({"candidate/MLmodel": b"{}\n"})})
        data = json.loads(report)
        evaluate_id = self.reserve_run_id()
        data["provenance"] = {"trusted_run_id": evaluate_id, "triggering_run_id": build, "head_sha": group,
                              "repository": r.full_name}
        evaluate = self._complete_run(
            r, {"name": "mlgate-evaluate", "head_sha": r.branches[r.default_branch], "head_branch": r.default_branch,
                "event": "workflow_run", "path": evaluate_path, "number": None, "author": "github",
                "head_repo": r.full_name, "triggered_by": build, **_titled(EXAMPLE_RUN_NAME, build)},
            "success", {"mlgate-report": make_artifact_zip({"mlgate-report.json": json.dumps(data).encode()})},
            run_id=evaluate_id)
        return {"build": build, "evaluate": evaluate}

    def destroy_merge_group(self, repo: str, head: str, *, reason: str = "merged", base: str = "main") -> None:
        """GitHub removed the group (merged, dequeued or invalidated): merge_group destroyed."""
        from bot.sandbox import gates

        r = self.lookup_repo(repo)
        c = r.commits[head]
        n = int(c.message.rsplit("#", 1)[-1])
        self._deliver("merge_group", {"action": "destroyed", "reason": reason,
                                      "merge_group": gates.merge_group_payload(r, n, base, c.parents[0], head)},
                      r, "github")

    def request_deployment(self, repo: str, sha: str, *, environment: str = "production", ref: str = "main",
                           user: str = "alice", event: str = "push") -> int:
        """A workflow job targets `environment`, whose protection rule is this App: GitHub creates the
        deployment, holds the job, and sends deployment_protection_rule requested; returns the run id."""
        r = self.lookup_repo(repo)
        api = self.shapes.api(r)
        with self.lock:
            run_id, did = next(self.ids), next(self.ids)
            d = {"id": did, "node_id": f"DE_kwDO{did}", "url": f"{api}/deployments/{did}", "sha": sha, "ref": ref,
                 "task": "deploy", "payload": {}, "original_environment": environment, "environment": environment,
                 "description": None, "creator": self.shapes.user(user), "created_at": now(), "updated_at": now(),
                 "statuses_url": f"{api}/deployments/{did}/statuses", "repository_url": api,
                 "transient_environment": False, "production_environment": environment == "production"}
            r.deployments[did] = d
            self.protection_requests[(r.full_name, run_id, environment)] = {"state": "waiting", "sha": sha,
                                                                             "deployment": did}
        self._deliver("deployment_protection_rule", {
            "action": "requested", "environment": environment, "event": event,
            "deployment_callback_url": f"{api}/actions/runs/{run_id}/deployment_protection_rule",
            "deployment": self.shapes.deployment_json(r, d), "pull_requests": []}, r, user)
        return run_id

    def protection_answer(self, repo: str, run_id: int, environment: str = "production") -> dict[str, Any]:
        """What the App answered a deployment protection rule: state waiting|approved|rejected, comment."""
        return dict(self.protection_requests[(repo, run_id, environment)])

    def comment(self, repo: str, number: int, body: str, *, user: str = "alice") -> dict[str, Any]:
        """A user posts a PR comment (sends issue_comment created)."""
        r = self.lookup_repo(repo)
        self.lookup_pull(r, number)
        c = self.new_comment(r, number, body, user)
        self._comment_event(r, c, "created", user)
        return self.shapes.comment_json(r, c)

    def edit_comment(self, repo: str, comment_id: int, body: str, *, user: str | None = None) -> dict[str, Any]:
        """A comment's body changes (sends issue_comment edited with `changes.body.from`)."""
        r = self.lookup_repo(repo)
        c = r.comments[comment_id]
        old, c["body"], c["updated_at"] = c["body"], body, now()
        self._comment_event(r, c, "edited", user or c["user"], changes={"body": {"from": old}})
        return self.shapes.comment_json(r, c)

    def delete_comment(self, repo: str, comment_id: int, *, user: str | None = None) -> None:
        """A comment is deleted (sends issue_comment deleted)."""
        r = self.lookup_repo(repo)
        c = r.comments.pop(comment_id)
        self._comment_event(r, c, "deleted", user or c["user"])

    def review(self, repo: str, number: int, *, user: str, state: str = "APPROVED", sha: str | None = None,
               body: str = "") -> int:
        """Submit a review (APPROVED, CHANGES_REQUESTED, COMMENTED) on the head or a given SHA."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        rid = next(self.ids)
        review = {"id": rid, "user": user, "state": state, "commit_id": sha or pr["head_sha"],
                  "submitted_at": now(), "body": body, "number": number}
        r.reviews.setdefault(number, []).append(review)
        self._deliver("pull_request_review", {"action": "submitted", "review": self.shapes.review_json(r, review),
                                              "pull_request": self.shapes.pull_json(r, pr)}, r, user)
        return rid

    def dismiss_review(self, repo: str, number: int, review_id: int, *, user: str | None = None) -> None:
        """Dismiss a review (sends pull_request_review dismissed)."""
        r = self.lookup_repo(repo)
        for rv in r.reviews.get(number, []):
            if rv["id"] == review_id:
                rv["state"] = "DISMISSED"
                self._deliver("pull_request_review", {"action": "dismissed", "review": self.shapes.review_json(r, rv),
                                                      "pull_request": self.shapes.pull_json(r, r.pulls[number])},
                              r, user or rv["user"])
                return
        raise SandboxError(f"no review {review_id} on PR #{number}")

    def complete_workflow_run(
        self, repo: str, number: int, *, artifact: bytes | None = None, name: str = "mlgate",
        artifact_name: str = "mlgate-report", conclusion: str = "success", head_sha: str | None = None,
        path: str = ".github/workflows/mlgate.yml", event: str = "pull_request",
    ) -> int:
        """The PR's own workflow finished, optionally with an artifact zip (sends workflow_run completed).

        The run is the PR's: its head branch and SHA, its head repository (the fork for a fork's
        PR, whose run then lists no `pull_requests`, as on GitHub), and the workflow file at `path`
        as the PR's commit has it (a PR can add or change any workflow file for its own runs)."""
        r = self.lookup_repo(repo)
        pr = self.lookup_pull(r, number)
        sha = head_sha or pr["head_sha"]
        return self._complete_run(r, {"name": name, "head_sha": sha, "head_branch": pr["head"], "event": event,
                                      "path": path, "number": number, "author": pr["author"],
                                      "head_repo": pr.get("head_repo") or r.full_name},
                                  conclusion, {artifact_name: artifact} if artifact is not None else {})

    def complete_evaluation_run(
        self, repo: str, *, triggered_by: int, artifact: bytes | None = None, name: str = "mlgate-evaluate",
        artifact_name: str = "mlgate-report", conclusion: str = "success",
        path: str = ".github/workflows/mlgate-evaluate.yml", event: str = "workflow_run",
        run_name: str | None = EXAMPLE_RUN_NAME, run_id: int | None = None,
    ) -> int:
        """A workflow that `triggered_by`'s completion started finished (sends workflow_run completed).

        GitHub runs a `workflow_run` workflow from the default branch's file: its head branch and
        SHA are the default branch's, it names no pull request, and the REST API does not say which
        run triggered it (the workflow reads that from its event, github.event.workflow_run).
        `run_name` is the file's `run-name:` with `{id}` for github.event.workflow_run.id (the
        example workflow's by default; None: the file sets none), shown as `display_title`.
        `run_id`: one from reserve_run_id (a report names its own run, GITHUB_RUN_ID)."""
        r = self.lookup_repo(repo)
        if triggered_by not in r.runs:
            raise SandboxError(f"no workflow run {triggered_by} in {repo}")
        trigger = r.runs[triggered_by]
        return self._complete_run(r, {"name": name, "head_sha": r.branches[r.default_branch],
                                      "head_branch": r.default_branch, "event": event, "path": path, "number": None,
                                      "author": trigger["author"], "head_repo": r.full_name,
                                      "triggered_by": triggered_by,
                                      **_titled(run_name, triggered_by)},
                                  conclusion, {artifact_name: artifact} if artifact is not None else {},
                                  run_id=run_id)

    def reserve_run_id(self) -> int:
        """The id of a run that has started but not yet completed: its job knows it (GITHUB_RUN_ID)
        and writes it into what it uploads; pass it to complete_evaluation_run."""
        with self.lock:
            return next(self.ids)

    def complete_trusted_evaluation(
        self, repo: str, number: int, report: bytes | None, *, head_sha: str | None = None,
        build_path: str = ".github/workflows/mlgate-build.yml", evaluate_path: str = ".github/workflows/mlgate-evaluate.yml",
        conclusion: str = "success", run_name: str | None = EXAMPLE_RUN_NAME,
    ) -> dict[str, int]:
        """The two-workflow pattern of a PR, both runs (two workflow_run completed deliveries).

        First the PR's own run (`build_path`, event pull_request, no secrets) builds the candidate
        and uploads it as `mlgate-candidate`; then the default branch's evaluation workflow
        (`evaluate_path`, event workflow_run) uploads `report` as `mlgate-report`, with the
        `provenance` that `mlgate evaluate` writes there from GitHub's event (both run ids, the
        built head SHA, the head repository, the PR). No report: the evaluation uploaded none.
        `run_name`: as for complete_evaluation_run. Returns {"build": run id, "evaluate": run id}.
        """
        build = self.complete_workflow_run(repo, number, name="mlgate-build", path=build_path, head_sha=head_sha,
                                           artifact=make_artifact_zip({"candidate/MLmodel": b"flavors: {}\n"}),
                                           artifact_name="mlgate-candidate")
        r = self.lookup_repo(repo)
        trigger = r.runs[build]
        if report is not None:
            data = json.loads(report)
            evaluate_id = self.reserve_run_id()  # the id the evaluation run gets below
            data["provenance"] = {"trusted_run_id": evaluate_id, "triggering_run_id": build,
                                  "head_sha": trigger["head_sha"], "repository": trigger["head_repo"], "pr": number}
            report = json.dumps(data).encode()
        else:
            evaluate_id = None
        evaluate = self._complete_run(
            r, {"name": "mlgate-evaluate", "head_sha": r.branches[r.default_branch], "head_branch": r.default_branch,
                "event": "workflow_run", "path": evaluate_path, "number": None, "author": trigger["author"],
                "head_repo": r.full_name, "triggered_by": build, **_titled(run_name, build)},
            conclusion, {"mlgate-report": make_artifact_zip({"mlgate-report.json": report})} if report is not None else {},
            run_id=evaluate_id)
        return {"build": build, "evaluate": evaluate}

    def _complete_run(self, r: Repo, fields: dict[str, Any], conclusion: str, artifacts: dict[str, bytes], *,
                      run_id: int | None = None) -> int:
        run_id = run_id or next(self.ids)
        run = {"id": run_id, "status": "completed", "conclusion": conclusion, "run_number": len(r.runs) + 1,
               "run_attempt": 1, "workflow_id": 70 + int(hashlib.sha256(fields["path"].encode()).hexdigest()[:6], 16),
               "created_at": now(), "updated_at": now(), **fields}
        with self.lock:
            r.runs[run_id] = run
            for artifact_name, data in artifacts.items():
                aid = next(self.ids)
                r.artifacts[aid] = {"id": aid, "name": artifact_name, "run_id": run_id, "data": data,
                                    "created_at": now()}
        self._deliver("workflow_run", {"action": "completed", "workflow_run": self.shapes.run_json(r, run),
                                       "workflow": self.shapes.workflow_json(r, run)}, r, run["author"])
        return run_id

    def rerequest_check_run(self, repo: str, check_run_id: int, *, user: str = "alice") -> None:
        """Someone presses "Re-run" on a check run (sends check_run rerequested)."""
        r = self.lookup_repo(repo)
        check = r.check_runs[check_run_id]
        self._deliver("check_run", {"action": "rerequested", "check_run": self.shapes.check_json(r, check)}, r, user)

    def request_check_suite(self, repo: str, sha: str, *, user: str | None = None) -> None:
        """GitHub made a check suite for new code at `sha` (sends check_suite requested). GitHub
        sends it on every push, to Apps that subscribe to `check_suite`; the stand-in only when
        a test calls this, so the other tests' deliveries stay as they were."""
        r = self.lookup_repo(repo)
        self._deliver("check_suite", {"action": "requested", "check_suite": self.shapes.suite_json(r, sha)}, r,
                      user or r.owner)

    def rerequest_check_suite(self, repo: str, sha: str, *, user: str = "alice") -> None:
        """Someone presses "Re-run all checks" on the App's suite at `sha` (check_suite rerequested)."""
        r = self.lookup_repo(repo)
        self._deliver("check_suite", {"action": "rerequested", "check_suite": self.shapes.suite_json(r, sha)}, r, user)

    def ping(self) -> int | None:
        """GitHub's first delivery after a hook is configured."""
        hook = {"type": "App", "id": 1, "name": "web", "active": True, "events": ["pull_request"],
                "config": {"content_type": "json", "insecure_ssl": "0", "url": self.webhook_url or ""},
                "app_id": self.app_id}
        return self._deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": hook}, None,
                             None)

    def redeliver(self, index: int = -1) -> int | None:
        """Send a recorded delivery again, same delivery id (as GitHub's "Redeliver")."""
        d = self.deliveries[index]
        return self._send(d["headers"], json.dumps(d["payload"]).encode())

    # ------------------------------------------------------------ admin: inspection

    def pull(self, repo: str, number: int) -> dict[str, Any]:
        r = self.lookup_repo(repo)
        return self.shapes.pull_json(r, self.lookup_pull(r, number))

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The PR's comments, oldest first, as the REST API returns them."""
        r = self.lookup_repo(repo)
        return [self.shapes.comment_json(r, c) for c in self.snapshot(r.comments) if c["issue"] == number]

    def check_runs(self, repo: str, sha: str, name: str | None = None) -> list[dict[str, Any]]:
        r = self.lookup_repo(repo)
        return [self.shapes.check_json(r, c) for c in self.snapshot(r.check_runs)
                if c["head_sha"] == sha and (name is None or c["name"] == name)]

    def statuses(self, repo: str, sha: str) -> list[dict[str, Any]]:
        r = self.lookup_repo(repo)
        return [self.shapes.status_json(r, s) for s in reversed(r.statuses.get(sha, []))]

    def labels(self, repo: str, number: int) -> list[str]:
        return list(self.lookup_repo(repo).labels.get(number, []))

    def reactions(self, repo: str, comment_id: int) -> list[str]:
        return [x["content"] for x in self.lookup_repo(repo).reactions.get(comment_id, [])]

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        r = self.lookup_repo(repo)
        return [self.shapes.review_json(r, rv) for rv in r.reviews.get(number, [])]

    def deployments(self, repo: str) -> list[dict[str, Any]]:
        """Deployments, oldest first, each with its `statuses` (oldest first)."""
        r = self.lookup_repo(repo)
        return [{**self.shapes.deployment_json(r, d),
                 "statuses": [self.shapes.deployment_status_json(r, s) for s in r.deployment_statuses.get(d["id"], [])]}
                for d in self.snapshot(r.deployments)]

    def reruns(self, repo: str) -> list[int]:
        """Workflow run ids that were re-run through the API."""
        return list(self.lookup_repo(repo).reruns)

    def dispatches(self, repo: str) -> list[dict[str, Any]]:
        """workflow_dispatch requests: {"workflow_id", "ref", "inputs"}."""
        return list(self.lookup_repo(repo).dispatches)

    def repository_dispatches(self, repo: str) -> list[dict[str, Any]]:
        """repository_dispatch requests: {"event_type", "client_payload"}."""
        return list(self.lookup_repo(repo).repository_dispatches)

    def issues(self, repo: str) -> list[dict[str, Any]]:
        """Plain issues (not pull requests) as GitHub returns them, with their comments' bodies."""
        r = self.lookup_repo(repo)
        return [{**self.shapes.plain_issue_json(r, i),
                 "comment_bodies": [c["body"] for c in self.snapshot(r.comments) if c["issue"] == i["number"]]}
                for i in self.snapshot(r.issues)]

    def file(self, repo: str, path: str, ref: str | None = None) -> bytes | None:
        r = self.lookup_repo(repo)
        sha = r.resolve(ref or r.default_branch)
        return r.trees.get(sha or "", {}).get(path)

    # ------------------------------------------------------------ admin: calls, problems, faults

    def count_calls(self, method: str | None = None, contains: str = "") -> int:
        """Requests answered, by method and a substring of the path."""
        return sum(1 for c in list(self.calls) if (method is None or c.method == method) and contains in c.path)

    def call_counts(self) -> Counter[tuple[str, str]]:
        """Requests answered per (method, OpenAPI path template)."""
        return Counter((c.method, c.template) for c in list(self.calls))

    def reset_calls(self) -> None:
        self.calls.clear()

    def reset(self) -> None:
        """Forget calls, problems, faults and deliveries (state stays)."""
        with self.lock:
            self.calls.clear()
            self.problems.clear()
            self.fault_plan.clear()
            self.deliveries.clear()

    def assert_no_invalid_requests(self) -> None:
        """Fail when any request was one GitHub would reject (422/404 from the description)."""
        if self.problems:
            raise AssertionError("the GitHub stand-in got requests GitHub would reject:\n" + "\n".join(self.problems))

    def inject_fault(self, method: str, path_regex: str, kind: str, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` requests matching method and `path_regex` (re.search on the path) answer
        502/500/503/504, 429 with Retry-After, 403 rate limit (X-RateLimit-Remaining 0 and Reset),
        403 secondary rate limit with GitHub's documented message, without ("secondary") or with
        ("secondary_retry_after") a Retry-After header, or ("slow") are answered normally after
        `retry_after` seconds."""
        self.fault_plan.inject(method, path_regex, kind, times, retry_after)

    def set_latency(self, seconds: float) -> None:
        """Answer every API request after `seconds`, as GitHub does from far away (about 0.1-0.3 s).

        For sizing: a worker's throughput is bounded by its API calls times this latency."""
        self.fault_plan.set_latency(seconds)

    def clear_faults(self) -> None:
        self.fault_plan.clear()

    def revoke_token(self, token: str | None = None, installation_id: int | None = None) -> int:
        """Revoke one token, or every token of an installation (as `DELETE /installation/token`
        or suspending the App does): GitHub then answers 401 Bad credentials. Returns how many."""
        with self.lock:
            gone = [t for t, info in self.tokens.items()
                    if t == token or (installation_id is not None and info["installation_id"] == installation_id)]
            for t in gone:
                del self.tokens[t]
        return len(gone)

    def enterprise_server(self, rate_limiting: bool = False) -> None:
        """Answer like GitHub Enterprise Server with rate limiting disabled (the default on GHES):
        no X-RateLimit-* headers on any answer, and `GET /rate_limit` is 404."""
        self.rate_limiting = bool(rate_limiting)

    # ------------------------------------------------------------ webhooks

    def send_webhook(self, event: str, payload: dict[str, Any], repo: str | None, sender: str | None) -> int | None:
        """Deliver any event for `repo` (public for tests that need an event the admin methods lack)."""
        return self._deliver(event, payload, self.lookup_repo(repo) if repo else None, sender)

    def _deliver(self, event: str, ours: dict[str, Any], r: Repo | None, sender: str | None) -> int | None:
        full = r.full_name if r else "octo-org/octo-repo"
        base = webhooks.template(event, ours.get("action"), api_url=self.base_url or "http://sandbox", full_name=full)
        if r is not None:
            ours["repository"] = self.shapes.repo_json(r)
            inst = next((i for i, v in self.installations.items() if r.full_name in v["repos"]), None)
            if inst is not None:
                ours["installation"] = {"id": inst, "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{inst}"}
            if self.is_org(r.owner):
                ours["organization"] = self.shapes.org_json(r.owner)
        else:
            base.pop("repository", None)
        if sender is not None:
            ours["sender"] = self.shapes.user(sender)
        payload = webhooks.overlay(base, ours)
        for key in ("installation", "changes", "organization", "enterprise", "requester"):
            # exact or absent: a template's own installation or org must never leak through
            if key in ours:
                payload[key] = ours[key]
            else:
                payload.pop(key, None)
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        headers = webhooks.headers(event, delivery, self.webhook_secret, body)
        record = {"event": event, "action": payload.get("action"), "delivery": delivery, "payload": payload,
                  "headers": headers, "status": None}
        with self.lock:
            self.deliveries.append(record)
        try:
            record["status"] = self._send(headers, body)
        except requests.RequestException as exc:
            # as on GitHub: an unreachable webhook URL fails this delivery (redeliver it later), nothing more
            record["error"] = f"{type(exc).__name__}: {self.webhook_url} could not be reached"
            logging.getLogger(__name__).warning(
                "webhook %s: %s; start the App, then POST /_sandbox/redeliver", event, record["error"])
        status: int | None = record["status"]
        return status

    def _send(self, headers: dict[str, str], body: bytes) -> int | None:
        if self.webhook_sink is not None:
            return self.webhook_sink(dict(headers), body)
        if self.webhook_url:
            return requests.post(self.webhook_url, data=body, headers=headers, timeout=30).status_code
        return None

    def pr_event(self, r: Repo, pr: dict[str, Any], action: str, sender: str, **extra: Any) -> None:
        self._deliver("pull_request", {"action": action, "number": pr["number"],
                                       "pull_request": self.shapes.pull_json(r, pr), **extra}, r, sender)

    def _comment_event(self, r: Repo, c: dict[str, Any], action: str, sender: str, **extra: Any) -> None:
        pr = r.pulls.get(c["issue"])
        issue = self.shapes.issue_json(r, pr) if pr else {"number": c["issue"]}
        self._deliver("issue_comment", {"action": action, "issue": issue, "comment": self.shapes.comment_json(r, c),
                                        **extra}, r, sender)
