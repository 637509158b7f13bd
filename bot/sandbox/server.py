"""The GitHub stand-in: admin methods that play a PR's life, and the REST routes the App calls.

Response bodies start from GitHub's own examples in the OpenAPI description and carry the
stand-in's state on top; every URL in them is built from the stand-in's base URL (PyGithub
refuses to follow URLs on another host).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from bot.sandbox import openapi, webhooks
from bot.sandbox.state import (
    FAULT_KINDS,
    Call,
    Commit,
    Fault,
    Repo,
    SandboxError,
    make_artifact_zip,
    new_sha,
    now,
)

__all__ = ["Sandbox", "SandboxError", "Sink", "generate_private_key", "make_artifact_zip"]

Sink = Callable[[dict[str, str], bytes], int]
"""A Python webhook receiver: (headers, body) -> HTTP status."""

RATE_LIMIT = 5000
API_VERSIONS = ("2022-11-28",)  # X-GitHub-Api-Version values the stand-in serves; others get 400, as on GitHub
SECONDARY_LIMIT = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                   "If you reach out to GitHub Support for help, please include the request ID {id}.")
_JWT_TEMPLATES = {"/app", "/app/installations", "/app/installations/{installation_id}/access_tokens",
                  "/repos/{owner}/{repo}/installation"}
_ROLES = ("read", "triage", "write", "maintain", "admin")
# Installation ids are unique per process, not per stand-in: clients cache tokens by
# (API URL, app id, installation id), and a later stand-in may get an earlier one's port.
_INSTALLATION_IDS = itertools.count(1000)


# the example trusted workflow's `run-name:` (docs/examples/churn/.github/workflows/mlgate-evaluate.yml)
EXAMPLE_RUN_NAME = "mlgate evaluate (run {id})"


def _titled(run_name: str | None, triggered_by: int) -> dict[str, str]:
    """The `display_title` GitHub gives a workflow_run-triggered run whose file sets `run-name:`."""
    return {} if run_name is None else {"display_title": run_name.replace("{id}", str(triggered_by))}


def generate_private_key() -> str:
    """A fresh RSA private key (PEM, PKCS#8) for a test App."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@lru_cache(maxsize=256)
def _example_text(name: str, base_url: str) -> str:
    return json.dumps(openapi.example(name)).replace("https://api.github.com", base_url)


def _error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "documentation_url": "https://docs.github.com/rest",
                            "status": str(status)}
    if errors:
        body["errors"] = errors
    resp = jsonify(body)
    resp.status_code = status
    return resp


class Sandbox:
    """The stand-in. Start it, register an app, then drive it with the admin methods.

    >>> with Sandbox() as gh:
    ...     key = gh.register_app(webhook_sink=my_receiver)
    ...     inst = gh.create_installation("acme", ["acme/churn"])
    ...     pr = gh.open_pull_request("acme/churn", {"data/train.csv": "a\\n1\\n"})
    """

    def __init__(self, port: int = 0, validate: bool = True, *, validate_responses: bool = False,
                 host: str = "127.0.0.1"):
        self.host = host
        self.port = port
        self.validate = validate
        self.validate_responses = validate_responses
        self.lock = threading.RLock()
        self.ids = itertools.count(1000)
        self.repos: dict[str, Repo] = {}
        self.installations: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.teams: dict[tuple[str, str], set[str]] = {}
        self.users: dict[str, int] = {}
        self.app_id: int | None = None
        self.app_slug = "mlgate"
        self.app_public_key: Any = None
        self.private_key: str | None = None  # the registered App's key (PEM), for clients under test
        self.installation_id: int | None = None  # the first installation created
        self.webhook_secret = ""
        self.webhook_url: str | None = None
        self.webhook_sink: Sink | None = None
        self.deliveries: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.problems: list[str] = []
        self.faults: list[Fault] = []
        self.slow_started = 0
        self.latency = 0.0  # seconds added to every API answer, as real GitHub takes (see set_latency)
        self.rate_limiting = True  # False: GitHub Enterprise Server with rate limiting disabled
        self.base_url = ""
        self.blob_host = "localhost" if host == "127.0.0.1" else host
        self._blob_key = secrets.token_bytes(16)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.manifests: dict[str, dict[str, Any]] = {}  # App manifest codes not yet converted
        # (repo, run id, environment) -> a deployment waiting on the App's protection rule
        self.protection_requests: dict[tuple[str, int, str], dict[str, Any]] = {}
        self.app = self._build_app()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Serve on a free loopback port in a daemon thread; returns the base URL."""
        if self._server is not None:
            return self.base_url
        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://{self.host}:{self.port}"
        # a short poll interval: stop() waits for the loop to notice, and every test stops one
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="github-sandbox", daemon=True)
        self._thread.start()
        if self.validate:
            openapi.warm()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ admin: setup

    def register_app(
        self, *, webhook_url: str | None = None, webhook_secret: str = "sandbox-secret",
        webhook_sink: Sink | None = None, app_id: int = 4242, private_key: str | None = None,
        slug: str = "mlgate",
    ) -> str:
        """Register the GitHub App (a fresh RSA key unless one is given); returns its private key PEM."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        pem = private_key or generate_private_key()
        self.app_public_key = load_pem_private_key(pem.encode(), password=None).public_key()
        self.app_id, self.app_slug, self.private_key = app_id, slug, pem
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.webhook_sink = webhook_sink
        return pem

    def set_webhook(self, url: str | None = None, sink: Sink | None = None, secret: str | None = None) -> None:
        """Where deliveries go: a URL (POSTed with requests) or a Python callable."""
        self.webhook_url, self.webhook_sink = url, sink
        if secret is not None:
            self.webhook_secret = secret

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
        base = self._repo(repo)
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
            head = self._repo(pr_head_repo)
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
            "action": "created", "installation": self._installation_json(inst_id),
            "repositories": [self._repo_brief(self.repos[f]) for f in repos], "requester": None,
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
            "action": "added", "installation": self._installation_json(installation_id),
            "repository_selection": "selected", "repositories_added": [self._repo_brief(self.repos[f]) for f in repos],
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
        self._repo(repo).collaborators[login] = permission

    def protect_branch(self, repo: str, branch: str, protected: bool = True) -> None:
        """Branch protection without required checks (GitHub then reports `protected: true`)."""
        r = self._repo(repo)
        with self.lock:
            (r.protected.add if protected else r.protected.discard)(branch)

    def add_team_member(self, org: str, team: str, login: str) -> None:
        self.teams.setdefault((org, team), set()).add(login)

    def remove_team_member(self, org: str, team: str, login: str) -> None:
        self.teams.get((org, team), set()).discard(login)

    def require_checks(self, repo: str, branch: str, contexts: list[str]) -> None:
        """Branch protection: these status checks are required on `branch`."""
        self._repo(repo).required_checks[branch] = list(contexts)

    def push(self, repo: str, branch: str, files: dict[str, str | bytes], *, delete: tuple[str, ...] = (),
             message: str = "Update", author: str = "alice") -> str:
        """Commit files on a branch (created from the default branch if new); returns the SHA.

        No webhook: mlgate does not listen to `push`. Use push_to_pull_request for a PR."""
        r = self._repo(repo)
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
        r = self._repo(repo)
        with self.lock:
            number = self._next_number(r)
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
        self._pr_event(r, pr, "opened", author)
        return self._pull_json(r, pr)

    def push_to_pull_request(self, repo: str, number: int, files: dict[str, str | bytes], *,
                             delete: tuple[str, ...] = (), message: str = "Update") -> str:
        """New commit on the PR's head branch (sends pull_request synchronize); returns the new SHA."""
        r = self._repo(repo)
        pr = self._pull(r, number)
        with self.lock:
            before = pr["head_sha"]
            sha = self._push_head(r, pr.get("head_repo") or repo, pr["head"], files, delete=delete, message=message,
                                  author=pr["author"])
            pr["head_sha"] = sha
            pr["changed"] = sorted(set(pr["changed"]) | set(files) | set(delete))
            pr["updated_at"] = now()
        self._pr_event(r, pr, "synchronize", pr["author"], before=before, after=sha)
        return sha

    def close_pull_request(self, repo: str, number: int, *, user: str | None = None) -> None:
        """Close without merging (sends pull_request closed, merged false)."""
        r = self._repo(repo)
        pr = self._pull(r, number)
        pr["state"], pr["closed_at"], pr["updated_at"] = "closed", now(), now()
        self._pr_event(r, pr, "closed", user or pr["author"])

    def merge(self, repo: str, number: int, *, user: str = "alice") -> str:
        """Merge the PR into its base (sends pull_request closed, merged true); returns the merge SHA."""
        r = self._repo(repo)
        pr = self._pull(r, number)
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
        self._pr_event(r, pr, "closed", user)
        return sha

    def reopen_pull_request(self, repo: str, number: int, *, user: str | None = None) -> None:
        r = self._repo(repo)
        pr = self._pull(r, number)
        if pr["merged"]:
            raise SandboxError(f"PR #{number} is merged and cannot be reopened")
        pr["state"], pr["closed_at"] = "open", None
        self._pr_event(r, pr, "reopened", user or pr["author"])

    def ready_for_review(self, repo: str, number: int) -> None:
        """A draft PR is marked ready (sends pull_request ready_for_review)."""
        r = self._repo(repo)
        pr = self._pull(r, number)
        pr["draft"] = False
        self._pr_event(r, pr, "ready_for_review", pr["author"])

    def convert_to_draft(self, repo: str, number: int) -> None:
        """An open PR goes back to draft (sends pull_request converted_to_draft)."""
        r = self._repo(repo)
        pr = self._pull(r, number)
        pr["draft"] = True
        self._pr_event(r, pr, "converted_to_draft", pr["author"])

    def change_base(self, repo: str, number: int, base: str, *, user: str | None = None) -> None:
        """The PR's base branch is edited (sends pull_request edited with changes.base.ref.from and sha.from)."""
        r = self._repo(repo)
        pr = self._pull(r, number)
        old_ref, old_sha = pr["base"], pr["base_sha"]
        pr["base"], pr["base_sha"], pr["updated_at"] = base, r.branches[base], now()
        self._pr_event(r, pr, "edited", user or pr["author"],
                       changes={"base": {"ref": {"from": old_ref}, "sha": {"from": old_sha}}})

    def merge_queue(self, repo: str, numbers: list[int], *, base: str = "main", batch: bool = False,
                    user: str = "alice") -> list[str]:
        """Queue PRs: one merge group per entry on top of the previous entry's commit (or, with `batch`,
        one group for all), each announced with merge_group checks_requested; returns the group SHAs."""
        from bot.sandbox import gates

        r = self._repo(repo)
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
        r = self._repo(repo)
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

        r = self._repo(repo)
        c = r.commits[head]
        n = int(c.message.rsplit("#", 1)[-1])
        self._deliver("merge_group", {"action": "destroyed", "reason": reason,
                                      "merge_group": gates.merge_group_payload(r, n, base, c.parents[0], head)},
                      r, "github")

    def request_deployment(self, repo: str, sha: str, *, environment: str = "production", ref: str = "main",
                           user: str = "alice", event: str = "push") -> int:
        """A workflow job targets `environment`, whose protection rule is this App: GitHub creates the
        deployment, holds the job, and sends deployment_protection_rule requested; returns the run id."""
        r = self._repo(repo)
        api = self._api(r)
        with self.lock:
            run_id, did = next(self.ids), next(self.ids)
            d = {"id": did, "node_id": f"DE_kwDO{did}", "url": f"{api}/deployments/{did}", "sha": sha, "ref": ref,
                 "task": "deploy", "payload": {}, "original_environment": environment, "environment": environment,
                 "description": None, "creator": self.user(user), "created_at": now(), "updated_at": now(),
                 "statuses_url": f"{api}/deployments/{did}/statuses", "repository_url": api,
                 "transient_environment": False, "production_environment": environment == "production"}
            r.deployments[did] = d
            self.protection_requests[(r.full_name, run_id, environment)] = {"state": "waiting", "sha": sha,
                                                                             "deployment": did}
        self._deliver("deployment_protection_rule", {
            "action": "requested", "environment": environment, "event": event,
            "deployment_callback_url": f"{api}/actions/runs/{run_id}/deployment_protection_rule",
            "deployment": self._deployment_json(r, d), "pull_requests": []}, r, user)
        return run_id

    def protection_answer(self, repo: str, run_id: int, environment: str = "production") -> dict[str, Any]:
        """What the App answered a deployment protection rule: state waiting|approved|rejected, comment."""
        return dict(self.protection_requests[(repo, run_id, environment)])

    def comment(self, repo: str, number: int, body: str, *, user: str = "alice") -> dict[str, Any]:
        """A user posts a PR comment (sends issue_comment created)."""
        r = self._repo(repo)
        self._pull(r, number)
        c = self._new_comment(r, number, body, user)
        self._comment_event(r, c, "created", user)
        return self._comment_json(r, c)

    def edit_comment(self, repo: str, comment_id: int, body: str, *, user: str | None = None) -> dict[str, Any]:
        """A comment's body changes (sends issue_comment edited with `changes.body.from`)."""
        r = self._repo(repo)
        c = r.comments[comment_id]
        old, c["body"], c["updated_at"] = c["body"], body, now()
        self._comment_event(r, c, "edited", user or c["user"], changes={"body": {"from": old}})
        return self._comment_json(r, c)

    def delete_comment(self, repo: str, comment_id: int, *, user: str | None = None) -> None:
        """A comment is deleted (sends issue_comment deleted)."""
        r = self._repo(repo)
        c = r.comments.pop(comment_id)
        self._comment_event(r, c, "deleted", user or c["user"])

    def review(self, repo: str, number: int, *, user: str, state: str = "APPROVED", sha: str | None = None,
               body: str = "") -> int:
        """Submit a review (APPROVED, CHANGES_REQUESTED, COMMENTED) on the head or a given SHA."""
        r = self._repo(repo)
        pr = self._pull(r, number)
        rid = next(self.ids)
        review = {"id": rid, "user": user, "state": state, "commit_id": sha or pr["head_sha"],
                  "submitted_at": now(), "body": body, "number": number}
        r.reviews.setdefault(number, []).append(review)
        self._deliver("pull_request_review", {"action": "submitted", "review": self._review_json(r, review),
                                              "pull_request": self._pull_json(r, pr)}, r, user)
        return rid

    def dismiss_review(self, repo: str, number: int, review_id: int, *, user: str | None = None) -> None:
        """Dismiss a review (sends pull_request_review dismissed)."""
        r = self._repo(repo)
        for rv in r.reviews.get(number, []):
            if rv["id"] == review_id:
                rv["state"] = "DISMISSED"
                self._deliver("pull_request_review", {"action": "dismissed", "review": self._review_json(r, rv),
                                                      "pull_request": self._pull_json(r, r.pulls[number])},
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
        r = self._repo(repo)
        pr = self._pull(r, number)
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
        r = self._repo(repo)
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
        r = self._repo(repo)
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
        self._deliver("workflow_run", {"action": "completed", "workflow_run": self._run_json(r, run),
                                       "workflow": self._workflow_json(r, run)}, r, run["author"])
        return run_id

    def rerequest_check_run(self, repo: str, check_run_id: int, *, user: str = "alice") -> None:
        """Someone presses "Re-run" on a check run (sends check_run rerequested)."""
        r = self._repo(repo)
        check = r.check_runs[check_run_id]
        self._deliver("check_run", {"action": "rerequested", "check_run": self._check_json(r, check)}, r, user)

    def request_check_suite(self, repo: str, sha: str, *, user: str | None = None) -> None:
        """GitHub made a check suite for new code at `sha` (sends check_suite requested). GitHub
        sends it on every push, to Apps that subscribe to `check_suite`; the stand-in only when
        a test calls this, so the other tests' deliveries stay as they were."""
        r = self._repo(repo)
        self._deliver("check_suite", {"action": "requested", "check_suite": self._suite_json(r, sha)}, r,
                      user or r.owner)

    def rerequest_check_suite(self, repo: str, sha: str, *, user: str = "alice") -> None:
        """Someone presses "Re-run all checks" on the App's suite at `sha` (check_suite rerequested)."""
        r = self._repo(repo)
        self._deliver("check_suite", {"action": "rerequested", "check_suite": self._suite_json(r, sha)}, r, user)

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
        r = self._repo(repo)
        return self._pull_json(r, self._pull(r, number))

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The PR's comments, oldest first, as the REST API returns them."""
        r = self._repo(repo)
        return [self._comment_json(r, c) for c in self.snapshot(r.comments) if c["issue"] == number]

    def check_runs(self, repo: str, sha: str, name: str | None = None) -> list[dict[str, Any]]:
        r = self._repo(repo)
        return [self._check_json(r, c) for c in self.snapshot(r.check_runs)
                if c["head_sha"] == sha and (name is None or c["name"] == name)]

    def statuses(self, repo: str, sha: str) -> list[dict[str, Any]]:
        r = self._repo(repo)
        return [self._status_json(r, s) for s in reversed(r.statuses.get(sha, []))]

    def labels(self, repo: str, number: int) -> list[str]:
        return list(self._repo(repo).labels.get(number, []))

    def reactions(self, repo: str, comment_id: int) -> list[str]:
        return [x["content"] for x in self._repo(repo).reactions.get(comment_id, [])]

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        r = self._repo(repo)
        return [self._review_json(r, rv) for rv in r.reviews.get(number, [])]

    def deployments(self, repo: str) -> list[dict[str, Any]]:
        """Deployments, oldest first, each with its `statuses` (oldest first)."""
        r = self._repo(repo)
        return [{**self._deployment_json(r, d),
                 "statuses": [self._deployment_status_json(r, s) for s in r.deployment_statuses.get(d["id"], [])]}
                for d in self.snapshot(r.deployments)]

    def reruns(self, repo: str) -> list[int]:
        """Workflow run ids that were re-run through the API."""
        return list(self._repo(repo).reruns)

    def dispatches(self, repo: str) -> list[dict[str, Any]]:
        """workflow_dispatch requests: {"workflow_id", "ref", "inputs"}."""
        return list(self._repo(repo).dispatches)

    def repository_dispatches(self, repo: str) -> list[dict[str, Any]]:
        """repository_dispatch requests: {"event_type", "client_payload"}."""
        return list(self._repo(repo).repository_dispatches)

    def issues(self, repo: str) -> list[dict[str, Any]]:
        """Plain issues (not pull requests) as GitHub returns them, with their comments' bodies."""
        r = self._repo(repo)
        return [{**self._plain_issue_json(r, i),
                 "comment_bodies": [c["body"] for c in self.snapshot(r.comments) if c["issue"] == i["number"]]}
                for i in self.snapshot(r.issues)]

    def file(self, repo: str, path: str, ref: str | None = None) -> bytes | None:
        r = self._repo(repo)
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
            self.faults.clear()
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
        if kind not in FAULT_KINDS:
            raise SandboxError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(method.upper(), re.compile(path_regex), kind, int(times), int(retry_after)))

    def snapshot(self, items: dict[Any, Any]) -> list[Any]:
        """The values of one of the state's dicts, taken under the lock (handlers run in threads)."""
        with self.lock:
            return list(items.values())

    def snapshot_items(self, items: dict[Any, Any]) -> list[tuple[Any, Any]]:
        with self.lock:
            return list(items.items())

    def set_latency(self, seconds: float) -> None:
        """Answer every API request after `seconds`, as GitHub does from far away (about 0.1-0.3 s).

        For sizing: a worker's throughput is bounded by its API calls times this latency."""
        if not 0 <= float(seconds) <= 30:
            raise SandboxError(f"latency must be between 0 and 30 seconds, got {seconds!r}")
        self.latency = float(seconds)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

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
        return self._deliver(event, payload, self._repo(repo) if repo else None, sender)

    def _deliver(self, event: str, ours: dict[str, Any], r: Repo | None, sender: str | None) -> int | None:
        full = r.full_name if r else "octo-org/octo-repo"
        base = webhooks.template(event, ours.get("action"), api_url=self.base_url or "http://sandbox", full_name=full)
        if r is not None:
            ours["repository"] = self._repo_json(r)
            inst = next((i for i, v in self.installations.items() if r.full_name in v["repos"]), None)
            if inst is not None:
                ours["installation"] = {"id": inst, "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{inst}"}
            if self._is_org(r.owner):
                ours["organization"] = self._org_json(r.owner)
        else:
            base.pop("repository", None)
        if sender is not None:
            ours["sender"] = self.user(sender)
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
        return record["status"]

    def _send(self, headers: dict[str, str], body: bytes) -> int | None:
        if self.webhook_sink is not None:
            return self.webhook_sink(dict(headers), body)
        if self.webhook_url:
            return requests.post(self.webhook_url, data=body, headers=headers, timeout=30).status_code
        return None

    def _pr_event(self, r: Repo, pr: dict[str, Any], action: str, sender: str, **extra: Any) -> None:
        self._deliver("pull_request", {"action": action, "number": pr["number"],
                                       "pull_request": self._pull_json(r, pr), **extra}, r, sender)

    def _comment_event(self, r: Repo, c: dict[str, Any], action: str, sender: str, **extra: Any) -> None:
        pr = r.pulls.get(c["issue"])
        issue = self._issue_json(r, pr) if pr else {"number": c["issue"]}
        self._deliver("issue_comment", {"action": action, "issue": issue, "comment": self._comment_json(r, c),
                                        **extra}, r, sender)

    # ------------------------------------------------------------ JSON shapes (GitHub's examples + state)

    def _example(self, name: str) -> Any:
        return json.loads(_example_text(name, self.base_url))

    def _repo(self, full: str) -> Repo:
        try:
            return self.repos[full]
        except KeyError:
            raise SandboxError(f"no repository {full} in the stand-in") from None

    def _pull(self, r: Repo, number: int) -> dict[str, Any]:
        try:
            return r.pulls[number]
        except KeyError:
            raise SandboxError(f"no PR #{number} in {r.full_name}") from None

    def _head_repo(self, r: Repo, pr: dict[str, Any]) -> Repo:
        """Where the PR's head branch lives: `r`, or the fork it was opened from."""
        return self.repos.get(pr.get("head_repo") or r.full_name, r)

    def _api(self, r: Repo) -> str:
        return f"{self.base_url}/repos/{r.full_name}"

    def _is_org(self, login: str) -> bool:
        """Installation accounts are organizations; everyone else is a person or a bot."""
        return any(v["account"] == login for v in self.installations.values())

    def user(self, login: str) -> dict[str, Any]:
        """GitHub's simple-user shape for `login` (ids stable per stand-in)."""
        uid = self.users.setdefault(login, 5000 + len(self.users))
        kind = "Bot" if login.endswith("[bot]") else "User"
        if self._is_org(login):
            kind = "Organization"
        u = f"{self.base_url}/users/{login}"
        return {"login": login, "id": uid, "node_id": f"MDQ6VXNlcj{uid}", "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
                "gravatar_id": "", "url": u, "html_url": f"https://github.com/{login}",
                "followers_url": f"{u}/followers", "following_url": f"{u}/following{{/other_user}}",
                "gists_url": f"{u}/gists{{/gist_id}}", "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
                "subscriptions_url": f"{u}/subscriptions", "organizations_url": f"{u}/orgs",
                "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
                "received_events_url": f"{u}/received_events", "type": kind, "site_admin": False,
                "user_view_type": "public"}

    def _org_json(self, login: str) -> dict[str, Any]:
        u = self.user(login)
        api = f"{self.base_url}/orgs/{login}"
        return {"login": login, "id": u["id"], "node_id": u["node_id"], "url": api, "repos_url": f"{api}/repos",
                "events_url": f"{api}/events", "hooks_url": f"{api}/hooks", "issues_url": f"{api}/issues",
                "members_url": f"{api}/members{{/member}}", "public_members_url": f"{api}/public_members{{/member}}",
                "avatar_url": u["avatar_url"], "description": None}

    def _repo_brief(self, r: Repo) -> dict[str, Any]:
        return {"id": r.id, "node_id": f"R_kgDO{r.id}", "name": r.name, "full_name": r.full_name, "private": True}

    def _repo_json(self, r: Repo) -> dict[str, Any]:
        data = self._example("full-repository-default-response")
        api = self._api(r)
        text = json.dumps(data).replace(f"{self.base_url}/repos/octocat/Hello-World", api).replace(
            "https://github.com/octocat/Hello-World", f"https://github.com/{r.full_name}").replace(
            "octocat/Hello-World", r.full_name)
        data = json.loads(text)
        for key in ("organization", "parent", "source", "template_repository", "license", "security_and_analysis",
                    "code_of_conduct"):
            data.pop(key, None)
        return webhooks.overlay(data, {
            "id": r.id, "node_id": f"R_kgDO{r.id}", "name": r.name, "full_name": r.full_name, "private": True,
            "owner": self.user(r.owner), "html_url": f"https://github.com/{r.full_name}", "url": api,
            "default_branch": r.default_branch, "fork": r.parent is not None, "visibility": "private",
            "description": f"{r.name} (GitHub stand-in)", "homepage": None, "topics": [],
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            "created_at": "2024-01-01T00:00:00Z", "updated_at": now(), "pushed_at": now(),
            "has_issues": True, "archived": False, "disabled": False, "language": "Python", "license": None,
        })

    def _pull_json(self, r: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        api = self._api(r)
        data = self._example("pull-request")

        def side(ref: str, sha: str, where: Repo = r) -> dict[str, Any]:
            return {"ref": ref, "sha": sha, "label": f"{where.owner}:{ref}", "user": self.user(where.owner),
                    "repo": self._repo_json(where)}

        files = self._pr_files(r, pr)
        ours = {
            "id": pr["id"], "node_id": f"PR_kwDO{pr['id']}", "number": n, "state": pr["state"], "title": pr["title"],
            "body": pr.get("body") or None, "user": self.user(pr["author"]), "draft": pr["draft"],
            "merged": pr["merged"], "locked": False, "active_lock_reason": None,
            "url": f"{api}/pulls/{n}", "html_url": f"https://github.com/{r.full_name}/pull/{n}",
            "diff_url": f"https://github.com/{r.full_name}/pull/{n}.diff",
            "patch_url": f"https://github.com/{r.full_name}/pull/{n}.patch",
            "issue_url": f"{api}/issues/{n}", "comments_url": f"{api}/issues/{n}/comments",
            "commits_url": f"{api}/pulls/{n}/commits", "review_comments_url": f"{api}/pulls/{n}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "statuses_url": f"{api}/statuses/{pr['head_sha']}",
            "head": side(pr["head"], pr["head_sha"], self._head_repo(r, pr)), "base": side(pr["base"], pr["base_sha"]),
            "merge_commit_sha": pr.get("merge_commit_sha"),
            "labels": [self._label_json(r, x) for x in r.labels.get(n, [])],
            "created_at": pr["created_at"], "updated_at": pr["updated_at"], "closed_at": pr["closed_at"],
            "merged_at": pr["merged_at"], "merged_by": self.user(pr["merged_by"]) if pr.get("merged_by") else None,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [], "milestone": None,
            "auto_merge": None, "author_association": "MEMBER", "mergeable": None if pr["merged"] else True,
            "rebaseable": None if pr["merged"] else True, "mergeable_state": "clean" if pr["state"] == "open" else "unknown",
            "comments": sum(1 for c in self.snapshot(r.comments) if c["issue"] == n), "review_comments": 0,
            "maintainer_can_modify": False, "commits": len(self._pr_commits(r, pr)),
            "additions": len(files), "deletions": 0, "changed_files": len(files),
            "_links": {k: {"href": v} for k, v in {
                "self": f"{api}/pulls/{n}", "html": f"https://github.com/{r.full_name}/pull/{n}",
                "issue": f"{api}/issues/{n}", "comments": f"{api}/issues/{n}/comments",
                "review_comments": f"{api}/pulls/{n}/comments", "review_comment": f"{api}/pulls/comments{{/number}}",
                "commits": f"{api}/pulls/{n}/commits", "statuses": f"{api}/statuses/{pr['head_sha']}"}.items()},
        }
        return webhooks.overlay(data, ours)

    def _pull_simple_json(self, r: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        full = self._pull_json(r, pr)
        for key in ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments",
                    "review_comments", "maintainer_can_modify", "commits", "additions", "deletions", "changed_files"):
            full.pop(key, None)
        return full

    def _issue_json(self, r: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        api = self._api(r)
        return {"url": f"{api}/issues/{n}", "repository_url": api, "labels_url": f"{api}/issues/{n}/labels{{/name}}",
                "comments_url": f"{api}/issues/{n}/comments", "events_url": f"{api}/issues/{n}/events",
                "html_url": f"https://github.com/{r.full_name}/pull/{n}", "id": pr["id"] + 1,
                "node_id": f"PR_kwDO{pr['id']}", "number": n, "title": pr["title"], "user": self.user(pr["author"]),
                "labels": [self._label_json(r, x) for x in r.labels.get(n, [])], "state": pr["state"],
                "locked": False, "assignee": None, "assignees": [], "milestone": None,
                "comments": sum(1 for c in self.snapshot(r.comments) if c["issue"] == n),
                "created_at": pr["created_at"], "updated_at": pr["updated_at"], "closed_at": pr["closed_at"],
                "author_association": "MEMBER", "active_lock_reason": None, "draft": pr["draft"],
                "pull_request": {"url": f"{api}/pulls/{n}", "html_url": f"https://github.com/{r.full_name}/pull/{n}",
                                 "diff_url": f"https://github.com/{r.full_name}/pull/{n}.diff",
                                 "patch_url": f"https://github.com/{r.full_name}/pull/{n}.patch",
                                 "merged_at": pr["merged_at"]},
                "body": pr.get("body") or None, "state_reason": None}

    def _next_number(self, r: Repo) -> int:
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        return max([0, *r.pulls, *r.issues, *(c["issue"] for c in self.snapshot(r.comments))]) + 1

    def _plain_issue_json(self, r: Repo, issue: dict[str, Any]) -> dict[str, Any]:
        """An issue that is not a pull request: no `pull_request` key, state_reason when closed."""
        n = issue["number"]
        api = self._api(r)
        return {"url": f"{api}/issues/{n}", "repository_url": api, "labels_url": f"{api}/issues/{n}/labels{{/name}}",
                "comments_url": f"{api}/issues/{n}/comments", "events_url": f"{api}/issues/{n}/events",
                "html_url": f"https://github.com/{r.full_name}/issues/{n}", "id": issue["id"],
                "node_id": f"I_kwDO{issue['id']}", "number": n, "title": issue["title"],
                "user": self.user(issue["author"]),
                "labels": [self._label_json(r, x) for x in r.labels.get(n, [])], "state": issue["state"],
                "locked": False, "assignee": None, "assignees": [], "milestone": None,
                "comments": sum(1 for c in self.snapshot(r.comments) if c["issue"] == n),
                "created_at": issue["created_at"], "updated_at": issue["updated_at"], "closed_at": issue["closed_at"],
                "author_association": "NONE", "active_lock_reason": None,
                "body": issue.get("body") or None, "state_reason": issue.get("state_reason")}

    def _pr_files(self, r: Repo, pr: dict[str, Any]) -> list[dict[str, Any]]:
        """The diff of the PR's head against the base it was opened from (the merge base)."""
        base, head = r.trees[pr["base_sha"]], r.trees[pr["head_sha"]]
        api = self._api(r)
        out = []
        for path in sorted(set(base) | set(head)):
            old, new = base.get(path), head.get(path)
            if old == new:
                continue
            status = "added" if old is None else "removed" if new is None else "modified"
            data = new if new is not None else old or b""
            lines = data.count(b"\n") or 1
            out.append({"sha": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), "filename": path,
                        "status": status, "additions": 0 if new is None else lines,
                        "deletions": 0 if old is None else (old.count(b"\n") or 1),
                        "changes": lines, "blob_url": f"https://github.com/{r.full_name}/blob/{pr['head_sha']}/{path}",
                        "raw_url": f"https://github.com/{r.full_name}/raw/{pr['head_sha']}/{path}",
                        "contents_url": f"{api}/contents/{path}?ref={pr['head_sha']}"})
        return out

    def _pr_commits(self, r: Repo, pr: dict[str, Any]) -> list[Commit]:
        out: list[Commit] = []
        sha: str | None = pr["head_sha"]
        while sha and sha != pr["base_sha"] and sha in r.commits and len(out) < 250:
            commit = r.commits[sha]
            out.append(commit)
            sha = commit.parents[-1] if len(commit.parents) > 1 else (commit.parents[0] if commit.parents else None)
        return list(reversed(out))

    def _commit_json(self, r: Repo, c: Commit) -> dict[str, Any]:
        api = self._api(r)
        person = {"name": c.author, "email": f"{c.author}@users.noreply.github.com", "date": c.date}
        return {"url": f"{api}/commits/{c.sha}", "sha": c.sha, "node_id": f"C_kwDO{c.sha[:12]}",
                "html_url": f"https://github.com/{r.full_name}/commit/{c.sha}",
                "comments_url": f"{api}/commits/{c.sha}/comments",
                "commit": {"url": f"{api}/git/commits/{c.sha}", "author": person, "committer": person,
                           "message": c.message, "comment_count": 0,
                           "tree": {"url": f"{api}/git/trees/{c.sha}", "sha": c.sha},
                           "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                            "payload": None, "verified_at": None}},
                "author": self.user(c.author), "committer": self.user(c.author),
                "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"https://github.com/{r.full_name}/commit/{p}"}
                            for p in c.parents]}

    def _new_comment(self, r: Repo, number: int, body: str, login: str) -> dict[str, Any]:
        with self.lock:
            cid = next(self.ids)
            c = {"id": cid, "issue": number, "body": body, "user": login, "created_at": now(), "updated_at": now()}
            r.comments[cid] = c
            return c

    def _reactions_summary(self, r: Repo, cid: int) -> dict[str, Any]:
        counts = Counter(x["content"] for x in r.reactions.get(cid, []))
        keys = {"+1": "+1", "-1": "-1", "laugh": "laugh", "confused": "confused", "heart": "heart",
                "hooray": "hooray", "eyes": "eyes", "rocket": "rocket"}
        return {"url": f"{self._api(r)}/issues/comments/{cid}/reactions", "total_count": sum(counts.values()),
                **{k: counts.get(v, 0) for k, v in keys.items()}}

    def _comment_json(self, r: Repo, c: dict[str, Any]) -> dict[str, Any]:
        data = self._example("issue-comment")
        api = self._api(r)
        return webhooks.overlay(data, {
            "id": c["id"], "node_id": f"IC_kwDO{c['id']}", "body": c["body"], "user": self.user(c["user"]),
            "url": f"{api}/issues/comments/{c['id']}",
            "html_url": f"https://github.com/{r.full_name}/pull/{c['issue']}#issuecomment-{c['id']}",
            "issue_url": f"{api}/issues/{c['issue']}", "created_at": c["created_at"], "updated_at": c["updated_at"],
            "author_association": "NONE" if c["user"].endswith("[bot]") else "MEMBER",
            "reactions": self._reactions_summary(r, c["id"]),
            "performed_via_github_app": None,
        })

    def _review_json(self, r: Repo, rv: dict[str, Any]) -> dict[str, Any]:
        data = self._example("pull-request-review-items")[0]
        n = rv["number"]
        html = f"https://github.com/{r.full_name}/pull/{n}#pullrequestreview-{rv['id']}"
        return webhooks.overlay(data, {
            "id": rv["id"], "node_id": f"PRR_kwDO{rv['id']}", "user": self.user(rv["user"]), "body": rv["body"],
            "state": rv["state"], "commit_id": rv["commit_id"], "submitted_at": rv["submitted_at"],
            "html_url": html, "pull_request_url": f"{self._api(r)}/pulls/{n}", "author_association": "MEMBER",
            "_links": {"html": {"href": html}, "pull_request": {"href": f"{self._api(r)}/pulls/{n}"}},
        })

    def _label_json(self, r: Repo, name: str) -> dict[str, Any]:
        return {"id": int(hashlib.sha1(name.encode()).hexdigest()[:8], 16), "node_id": f"LA_kwDO{name}",
                "url": f"{self._api(r)}/labels/{name}", "name": name, "description": None, "color": "ededed",
                "default": False}

    def _check_json(self, r: Repo, c: dict[str, Any]) -> dict[str, Any]:
        data = self._example("check-run")
        api = self._api(r)
        output = c["output"]
        return webhooks.overlay(data, {
            "id": c["id"], "node_id": f"CR_kwDO{c['id']}", "name": c["name"], "head_sha": c["head_sha"],
            "status": c["status"], "conclusion": c["conclusion"], "external_id": c.get("external_id") or "",
            "url": f"{api}/check-runs/{c['id']}", "html_url": f"https://github.com/{r.full_name}/runs/{c['id']}",
            "details_url": c.get("details_url") or f"https://github.com/{r.full_name}/runs/{c['id']}",
            "started_at": c["started_at"], "completed_at": c["completed_at"],
            "output": {"title": output.get("title"), "summary": output.get("summary"), "text": output.get("text"),
                       "annotations_count": len(output.get("annotations") or []),
                       "annotations_url": f"{api}/check-runs/{c['id']}/annotations"},
            "check_suite": {"id": c["id"] + 1, "node_id": f"CS_kwDO{c['id'] + 1}", "head_sha": c["head_sha"],
                            "head_branch": next((pr["head"] for pr in self.snapshot(r.pulls)
                                                 if pr["head_sha"] == c["head_sha"]), None),
                            "status": c["status"], "conclusion": c["conclusion"],
                            "url": f"{api}/check-suites/{c['id'] + 1}", "app": self._app_json()},
            "app": self._app_json(), "pull_requests": [
                {"url": f"{api}/pulls/{pr['number']}", "id": pr["id"], "number": pr["number"],
                 "head": {"ref": pr["head"], "sha": pr["head_sha"], "repo": {"id": r.id, "url": api, "name": r.name}},
                 "base": {"ref": pr["base"], "sha": pr["base_sha"], "repo": {"id": r.id, "url": api, "name": r.name}}}
                for pr in self._pulls_in_checks(r, c["head_sha"])],
            "actions": c.get("actions") or [],
        })

    def _suite_json(self, r: Repo, sha: str) -> dict[str, Any]:
        """The App's check suite at `sha`: one per App and commit, summing up its check runs."""
        api = self._api(r)
        runs = [c for c in self.snapshot(r.check_runs) if c["head_sha"] == sha]
        sid = int(hashlib.sha1(f"{r.full_name}@{sha}".encode()).hexdigest()[:8], 16)
        done = bool(runs) and all(c["status"] == "completed" for c in runs)
        conclusions = [c["conclusion"] for c in runs]
        worst = next((x for x in ("failure", "cancelled", "timed_out", "action_required", "neutral", "success")
                      if x in conclusions), None)
        head = next((pr for pr in self.snapshot(r.pulls) if pr["head_sha"] == sha), None)
        commit = r.commits.get(sha)
        who = {"name": commit.author if commit else r.owner, "email": f"{commit.author if commit else r.owner}@example.com"}
        return {
            "id": sid, "node_id": f"CS_kwDO{sid}", "head_sha": sha,
            "head_branch": head["head"] if head else next((b for b, at in r.branches.items() if at == sha), None),
            "status": "completed" if done else "queued", "conclusion": worst if done else None,
            "url": f"{api}/check-suites/{sid}", "before": commit.parents[0] if commit and commit.parents else None,
            "after": sha, "app": self._app_json(), "created_at": now(), "updated_at": now(),
            "latest_check_runs_count": len(runs), "check_runs_url": f"{api}/check-suites/{sid}/check-runs",
            "head_commit": {"id": sha, "tree_id": sha, "message": commit.message if commit else "",
                            "timestamp": commit.date if commit else now(), "author": who, "committer": who},
            "pull_requests": [
                {"url": f"{api}/pulls/{pr['number']}", "id": pr["id"], "number": pr["number"],
                 "head": {"ref": pr["head"], "sha": pr["head_sha"], "repo": {"id": r.id, "url": api, "name": r.name}},
                 "base": {"ref": pr["base"], "sha": pr["base_sha"], "repo": {"id": r.id, "url": api, "name": r.name}}}
                for pr in self._pulls_in_checks(r, sha)],
        }

    def _pulls_in_checks(self, r: Repo, sha: str) -> list[dict[str, Any]]:
        """The PRs GitHub lists in a check run's or check suite's `pull_requests`: open ones at
        `sha` whose head branch is in `r`. A fork's PR is never listed (the list is empty)."""
        return [pr for pr in self.snapshot(r.pulls) if pr["head_sha"] == sha and pr["state"] == "open"
                and (pr.get("head_repo") or r.full_name) == r.full_name]

    def _status_json(self, r: Repo, s: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self._api(r)}/statuses/{s['sha']}", "avatar_url": None, "id": s["id"],
                "node_id": f"SC_kwDO{s['id']}", "state": s["state"], "description": s.get("description"),
                "target_url": s.get("target_url"), "context": s["context"], "created_at": s["created_at"],
                "updated_at": s["created_at"], "creator": self.user(f"{self.app_slug}[bot]")}

    def _workflow_json(self, r: Repo, run: dict[str, Any]) -> dict[str, Any]:
        api = self._api(r)
        return {"id": run["workflow_id"], "node_id": f"W_kwDO{run['workflow_id']}", "name": run["name"],
                "path": run["path"], "state": "active", "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z", "url": f"{api}/actions/workflows/{run['workflow_id']}",
                "html_url": f"https://github.com/{r.full_name}/blob/{r.default_branch}/{run['path']}",
                "badge_url": f"https://github.com/{r.full_name}/workflows/{run['name']}/badge.svg"}

    def _run_json(self, r: Repo, run: dict[str, Any]) -> dict[str, Any]:
        data = self._example("workflow-run")
        api = self._api(r)
        rid = run["id"]
        pr = r.pulls.get(run["number"]) if run.get("number") else None
        head_repo = self.repos.get(run.get("head_repo") or r.full_name, r)
        # GitHub lists a PR only when the run's head branch is in this repository (not for forks)
        prs = [] if pr is None or head_repo is not r else [{
            "url": f"{api}/pulls/{pr['number']}", "id": pr["id"], "number": pr["number"],
            "head": {"ref": pr["head"], "sha": run["head_sha"], "repo": {"id": r.id, "url": api, "name": r.name}},
            "base": {"ref": pr["base"], "sha": pr["base_sha"], "repo": {"id": r.id, "url": api, "name": r.name}}}]
        commit = r.commits.get(run["head_sha"])
        head_commit = {"id": run["head_sha"], "tree_id": run["head_sha"], "message": commit.message if commit else "",
                       "timestamp": commit.date if commit else now(),
                       "author": {"name": run["author"], "email": f"{run['author']}@users.noreply.github.com"},
                       "committer": {"name": run["author"], "email": f"{run['author']}@users.noreply.github.com"}}
        return webhooks.overlay(data, {
            "id": rid, "name": run["name"], "node_id": f"WFR_kwDO{rid}", "head_branch": run["head_branch"],
            "head_sha": run["head_sha"], "path": run["path"],
            "display_title": run.get("display_title") or (pr["title"] if pr else run["name"]),
            "run_number": run["run_number"], "run_attempt": run["run_attempt"], "event": run["event"],
            "status": run["status"], "conclusion": run["conclusion"], "workflow_id": run["workflow_id"],
            "url": f"{api}/actions/runs/{rid}", "html_url": f"https://github.com/{r.full_name}/actions/runs/{rid}",
            "pull_requests": prs, "created_at": run["created_at"], "updated_at": run["updated_at"],
            "run_started_at": run["created_at"], "actor": self.user(run["author"]),
            "triggering_actor": self.user(run["author"]),
            "jobs_url": f"{api}/actions/runs/{rid}/jobs", "logs_url": f"{api}/actions/runs/{rid}/logs",
            "check_suite_url": f"{api}/check-suites/{rid}", "artifacts_url": f"{api}/actions/runs/{rid}/artifacts",
            "cancel_url": f"{api}/actions/runs/{rid}/cancel", "rerun_url": f"{api}/actions/runs/{rid}/rerun",
            "workflow_url": f"{api}/actions/workflows/{run['workflow_id']}", "previous_attempt_url": None,
            "head_commit": head_commit, "repository": self._repo_json(r), "head_repository": self._repo_json(head_repo),
            "referenced_workflows": [],
        })

    def _artifact_json(self, r: Repo, a: dict[str, Any]) -> dict[str, Any]:
        api = self._api(r)
        run = r.runs[a["run_id"]]
        expires = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"id": a["id"], "node_id": f"MDg6QXJ0aWZhY3Q{a['id']}", "name": a["name"],
                "size_in_bytes": len(a["data"]), "url": f"{api}/actions/artifacts/{a['id']}",
                "archive_download_url": f"{api}/actions/artifacts/{a['id']}/zip", "expired": False,
                "created_at": a["created_at"], "expires_at": expires, "updated_at": a["created_at"],
                "digest": "sha256:" + hashlib.sha256(a["data"]).hexdigest(),
                "workflow_run": {"id": run["id"], "repository_id": r.id,
                                 "head_repository_id": self.repos.get(run.get("head_repo") or r.full_name, r).id,
                                 "head_branch": run["head_branch"], "head_sha": run["head_sha"]}}

    def _reaction_json(self, x: dict[str, Any]) -> dict[str, Any]:
        return {"id": x["id"], "node_id": f"REA_lADO{x['id']}", "user": self.user(x["user"]),
                "content": x["content"], "created_at": x["created_at"]}

    def _blob_signature(self, full_name: str, aid: int, expires: int) -> str:
        return hmac.new(self._blob_key, f"{full_name}/{aid}/{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    @property
    def blob_url(self) -> str:
        """The artifact blob store: the same server under another host name, as on GitHub, so
        HTTP clients drop the Authorization header when they follow the 302."""
        return f"http://{self.blob_host}:{self.port}"

    def _deployment_json(self, r: Repo, d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not k.startswith("_")}

    def _deployment_status_json(self, r: Repo, s: dict[str, Any]) -> dict[str, Any]:
        return dict(s)

    def _app_json(self) -> dict[str, Any]:
        data = self._example("integration")
        return webhooks.overlay(data, {
            "id": self.app_id or 0, "slug": self.app_slug, "node_id": f"A_kwDO{self.app_id}",
            "client_id": f"Iv1.{self.app_id}", "name": self.app_slug, "owner": self.user("acme"),
            "description": "mlgate (GitHub stand-in)", "external_url": "https://mlgate.example",
            "html_url": f"https://github.com/apps/{self.app_slug}",
            "permissions": {"checks": "write", "contents": "read", "pull_requests": "write", "issues": "write",
                            "actions": "write", "deployments": "write", "members": "read", "metadata": "read",
                            "statuses": "write"},
            "events": ["check_run", "issue_comment", "pull_request", "pull_request_review", "workflow_run"],
            "installations_count": len(self.installations),
        })

    def _installation_json(self, inst: int) -> dict[str, Any]:
        v = self.installations[inst]
        data = self._example("installation")
        account = self.user(v["account"])
        return webhooks.overlay(data, {
            "id": inst, "account": account, "app_id": self.app_id, "app_slug": self.app_slug,
            "target_id": account["id"], "target_type": account["type"],
            "permissions": self._app_json()["permissions"], "events": self._app_json()["events"],
            "repository_selection": "selected",
            "access_tokens_url": f"{self.base_url}/app/installations/{inst}/access_tokens",
            "repositories_url": f"{self.base_url}/installation/repositories",
            "html_url": f"https://github.com/organizations/{v['account']}/settings/installations/{inst}",
            "created_at": v["created_at"], "updated_at": v["created_at"], "single_file_name": None,
            "suspended_at": None, "suspended_by": None,
        })

    # ------------------------------------------------------------ HTTP plumbing

    def _build_app(self) -> Flask:
        app = Flask("mlgate-github-sandbox")
        app.json.sort_keys = False  # type: ignore[attr-defined]
        box = self

        @app.before_request
        def _check() -> Response | None:
            path = request.path
            if path.startswith(("/_sandbox", "/_blob")) or path.endswith("/settings/apps/new"):
                return None  # the stand-in's own controls, and GitHub's web form for App manifests
            fault = box._take_fault(request.method, path)
            if fault is not None:
                return fault
            version = request.headers.get("X-GitHub-Api-Version")
            if version is not None and version not in API_VERSIONS:
                return _error(400, f"Unsupported API version {version[:40]!r}: use one of {', '.join(API_VERSIONS)}")
            if box.validate:
                problem = openapi.validate_request(request._get_current_object())  # type: ignore[attr-defined]
                if problem:
                    box.problems.append(f"{request.method} {request.full_path.rstrip('?')}: {problem}")
                    if openapi.is_not_found(problem):
                        return _error(404, "Not Found")
                    return _error(422, "Invalid request.\n\n" + problem, [{"resource": "Request", "code": "invalid",
                                                                         "message": problem[:500]}])
            template = openapi.template_for(request.method, path)
            if template == "/app-manifests/{code}/conversions":
                return None  # the one-time code is the credential
            if template in _JWT_TEMPLATES:
                return box._verify_app_jwt()
            who = box._token_owner()
            if who is None:
                return _error(401, "Bad credentials")
            m = re.match(r"^/repos/([^/]+/[^/]+)", path)
            if m and m.group(1) not in who["repos"]:
                return _error(404, "Not Found")
            if who.get("read_only") and request.method != "GET":
                return _error(403, "Resource not accessible by integration")
            return None

        @app.after_request
        def _log(resp: Response) -> Response:
            if request.path.startswith(("/_sandbox", "/_blob")):
                return resp
            template = openapi.template_for(request.method, request.path) or request.path
            with box.lock:
                box.calls.append(Call(request.method, request.path, resp.status_code, template, {
                    "Accept": request.headers.get("Accept", ""),
                    "X-GitHub-Api-Version": request.headers.get("X-GitHub-Api-Version", "")}))
                used = len(box.calls)
            if box.rate_limiting:
                resp.headers.setdefault("X-RateLimit-Limit", str(RATE_LIMIT))
                resp.headers.setdefault("X-RateLimit-Remaining", str(max(0, RATE_LIMIT - used)))
                resp.headers.setdefault("X-RateLimit-Reset", str(int(time.time()) + 3600))
                resp.headers.setdefault("X-RateLimit-Used", str(used))
                resp.headers.setdefault("X-RateLimit-Resource", "core")
            resp.headers.setdefault("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper())
            resp.headers.setdefault("X-GitHub-Api-Version-Selected", "2022-11-28")
            if box.validate_responses and 200 <= resp.status_code < 300 and resp.is_json:
                problem = openapi.validate_response(request._get_current_object(), resp)  # type: ignore[attr-defined]
                if problem:
                    box.problems.append(f"response to {request.method} {request.path}: {problem}")
            return resp

        @app.errorhandler(SandboxError)
        def _missing(exc: SandboxError) -> Response:
            return _error(404, "Not Found")

        @app.errorhandler(HTTPException)
        def _http(exc: HTTPException) -> Response:
            status = exc.code or 500
            if status in (404, 405) and not request.path.startswith("/_blob"):
                box.problems.append(f"{request.method} {request.path}: the stand-in does not implement this endpoint")
            return _error(status, "Not Found" if status == 404 else exc.name)

        self._routes(app)
        self._admin_routes(app)
        return app

    def _take_fault(self, method: str, path: str) -> Response | None:
        delay = 0.0
        with self.lock:
            for f in self.faults:
                if f.remaining > 0 and f.method == method and f.pattern.search(path):
                    f.remaining -= 1
                    if f.kind == "slow":
                        delay = f.retry_after
                        break
                    if f.kind == "429":
                        resp = _error(429, "You have exceeded a secondary rate limit.")
                        resp.headers["Retry-After"] = str(f.retry_after)
                    elif f.kind in ("secondary", "secondary_retry_after"):
                        # GitHub's secondary limits keep the primary quota's headers (not 0)
                        resp = _error(403, SECONDARY_LIMIT.format(id=uuid.uuid4().hex[:20].upper()))
                        if f.kind == "secondary_retry_after":
                            resp.headers["Retry-After"] = str(f.retry_after)
                    elif f.kind == "rate_limit":
                        resp = _error(403, "API rate limit exceeded for installation.")
                        resp.headers["X-RateLimit-Remaining"] = "0"
                        resp.headers["X-RateLimit-Reset"] = str(int(time.time()) + f.retry_after)
                    elif f.kind == "404":  # what GitHub answers for a repository the token cannot see
                        resp = _error(404, "Not Found")
                    else:
                        resp = _error(int(f.kind), "Server Error" if f.kind == "500" else "Bad Gateway"
                                      if f.kind == "502" else "Service Unavailable")
                    return resp  # logged by after_request like any answer
        if delay:
            self.slow_started += 1
            time.sleep(delay)
        if self.latency:
            time.sleep(self.latency)
        return None

    def _token_owner(self) -> dict[str, Any] | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            return None
        info = self.tokens.get(token.strip())
        if info is None or info["expires"] < time.time():
            return None
        if info["installation_id"] is not None:
            return {**info, "repos": self.installations[info["installation_id"]]["repos"]}
        return info

    def _verify_app_jwt(self) -> Response | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or self.app_public_key is None:
            return _error(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(auth[7:], self.app_public_key, algorithms=["RS256"],
                                options={"verify_aud": False, "require": ["iat", "exp", "iss"]}, leeway=60)
        except jwt.PyJWTError as exc:
            return _error(401, f"A JSON web token could not be decoded: {exc}")
        if str(claims.get("iss")) != str(self.app_id):
            return _error(401, "'Issuer' claim ('iss') must be an Integer")
        if int(claims["exp"]) - int(claims["iat"]) > 660:
            return _error(401, "'Expiration time' claim ('exp') is too far in the future")
        return None

    def _paginate(self, items: list[Any], wrap: str | None = None) -> Response:
        """GitHub's page/per_page pagination with a Link header that keeps the other query args."""
        per_page = max(1, min(int(request.args.get("per_page", 30)), 100))
        page = max(1, int(request.args.get("page", 1)))
        chunk = items[(page - 1) * per_page: page * per_page]
        resp = jsonify({"total_count": len(items), wrap: chunk} if wrap else chunk)
        last = max(1, -(-len(items) // per_page))
        args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}

        def link(p: int, rel: str) -> str:
            return f'<{self.base_url}{request.path}?{urlencode({**args, "per_page": per_page, "page": p})}>; rel="{rel}"'

        links = []
        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if links:
            resp.headers["Link"] = ", ".join(links)
        return resp

    def _routes(self, app: Flask) -> None:
        from bot.sandbox.routes import register

        register(self, app)
        from bot.sandbox import gates

        gates.register(self, app)

    def _admin_routes(self, app: Flask) -> None:
        from bot.sandbox.admin import register

        register(self, app)
