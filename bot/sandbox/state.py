"""The stand-in's in-memory state: plain records, no HTTP, so tests can look inside them."""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class SandboxError(RuntimeError):
    """Misuse of the stand-in by a test (unknown repo, PR or fault kind)."""


def now() -> str:
    """GitHub's timestamp format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_sha() -> str:
    """A fresh 40-hex commit SHA."""
    return secrets.token_hex(20)


@dataclass
class Commit:
    sha: str
    parents: list[str]
    message: str
    author: str
    date: str
    files: dict[str, bytes]  # the whole tree at this commit


@dataclass
class Repo:
    """One repository. `pulls`, `comments` and friends hold plain dicts keyed by number/id."""

    id: int
    owner: str
    name: str
    default_branch: str = "main"
    parent: str | None = None  # owner/name of the repository this one is a fork of
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head sha
    trees: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> files
    commits: dict[str, Commit] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha -> statuses, newest last
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    collaborators: dict[str, str] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reruns: list[int] = field(default_factory=list)
    dispatches: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # plain issues; they share numbers with pulls
    repository_dispatches: list[dict[str, Any]] = field(default_factory=list)  # {"event_type", "client_payload"}
    required_checks: dict[str, list[str]] = field(default_factory=dict)
    protected: set[str] = field(default_factory=set)  # branches protected without required checks

    def is_protected(self, branch: str) -> bool:
        """GitHub's `protected`: any protection rule, required checks or not."""
        return branch in self.protected or branch in self.required_checks

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def resolve(self, ref: str) -> str | None:
        """A branch name, `heads/<branch>`, `refs/heads/<branch>` or a SHA -> the commit SHA."""
        name = ref.removeprefix("refs/").removeprefix("heads/")
        if name in self.branches:
            return self.branches[name]
        return ref if ref in self.trees else None


@dataclass
class Fault:
    """The next `remaining` requests matching method+pattern get `kind` instead of an answer."""

    method: str
    pattern: re.Pattern[str]
    kind: str  # "502" | "500" | "503" | "504" | "404" | "429" | "rate_limit" | "secondary" | "secondary_retry_after" | "slow"
    remaining: int
    retry_after: int = 1


FAULT_KINDS = ("500", "502", "503", "504", "404", "429", "rate_limit", "secondary", "secondary_retry_after", "slow")


class Call(tuple[str, str, int]):
    """One request the stand-in answered: (method, path, status), plus `.template`, the OpenAPI
    path template it matched (e.g. /repos/{owner}/{repo}/pulls/{pull_number}), and `.headers`,
    the request's Accept and X-GitHub-Api-Version ("" when absent). Admin and blob requests are
    not counted. Compares equal to a plain 3-tuple."""

    template: str
    headers: dict[str, str]

    def __new__(cls, method: str, path: str, status: int, template: str,
                headers: dict[str, str] | None = None) -> Call:
        self = super().__new__(cls, (method, path, status))
        self.template = template
        self.headers = dict(headers or {})
        return self

    @property
    def method(self) -> str:
        return self[0]

    @property
    def path(self) -> str:
        return self[1]

    @property
    def status(self) -> int:
        return self[2]

    def _asdict(self) -> dict[str, Any]:
        return {"method": self[0], "path": self[1], "status": self[2], "template": self.template,
                "headers": self.headers}


def make_artifact_zip(files: dict[str, bytes]) -> bytes:
    """A zip as actions/upload-artifact makes it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
