"""The stand-in's in-memory state: plain records and `World`, the lookups over them. No HTTP
and no JSON shapes (shapes.py), so tests can look inside them."""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import secrets
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Sink = Callable[[dict[str, str], bytes], int]
"""A Python webhook receiver: (headers, body) -> HTTP status."""


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


def generate_private_key() -> str:
    """A fresh RSA private key (PEM, PKCS#8) for a test App."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class World:
    """Everything the stand-in's GitHub holds: repositories, installations, tokens, teams, the
    registered App and where its webhooks go, plus the request log. The REST routes read and
    change it through these lookups; the admin story (scenario.py) plays events on it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.base_url = ""
        self.blob_host = "localhost" if host == "127.0.0.1" else host
        self._blob_key = secrets.token_bytes(16)
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
        self.rate_limiting = True  # False: GitHub Enterprise Server with rate limiting disabled
        self.manifests: dict[str, dict[str, Any]] = {}  # App manifest codes not yet converted
        # (repo, run id, environment) -> a deployment waiting on the App's protection rule
        self.protection_requests: dict[tuple[str, int, str], dict[str, Any]] = {}

    # ------------------------------------------------------------ the App

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

    # ------------------------------------------------------------ lookups

    def lookup_repo(self, full: str) -> Repo:
        try:
            return self.repos[full]
        except KeyError:
            raise SandboxError(f"no repository {full} in the stand-in") from None

    def lookup_pull(self, r: Repo, number: int) -> dict[str, Any]:
        try:
            return r.pulls[number]
        except KeyError:
            raise SandboxError(f"no PR #{number} in {r.full_name}") from None

    def head_repo(self, r: Repo, pr: dict[str, Any]) -> Repo:
        """Where the PR's head branch lives: `r`, or the fork it was opened from."""
        return self.repos.get(pr.get("head_repo") or r.full_name, r)

    def is_org(self, login: str) -> bool:
        """Installation accounts are organizations; everyone else is a person or a bot."""
        return any(v["account"] == login for v in self.installations.values())

    def next_number(self, r: Repo) -> int:
        """Issues and pull requests share one sequence of numbers, as on GitHub."""
        return int(max([0, *r.pulls, *r.issues, *(c["issue"] for c in self.snapshot(r.comments))])) + 1

    def pr_commits(self, r: Repo, pr: dict[str, Any]) -> list[Commit]:
        """The PR's commits, oldest first (at most 250, as GitHub lists them)."""
        out: list[Commit] = []
        sha: str | None = pr["head_sha"]
        while sha and sha != pr["base_sha"] and sha in r.commits and len(out) < 250:
            commit = r.commits[sha]
            out.append(commit)
            sha = commit.parents[-1] if len(commit.parents) > 1 else (commit.parents[0] if commit.parents else None)
        return list(reversed(out))

    def new_comment(self, r: Repo, number: int, body: str, login: str) -> dict[str, Any]:
        with self.lock:
            cid = next(self.ids)
            c = {"id": cid, "issue": number, "body": body, "user": login, "created_at": now(), "updated_at": now()}
            r.comments[cid] = c
            return c

    def snapshot(self, items: dict[Any, Any]) -> list[Any]:
        """The values of one of the state's dicts, taken under the lock (handlers run in threads)."""
        with self.lock:
            return list(items.values())

    def snapshot_items(self, items: dict[Any, Any]) -> list[tuple[Any, Any]]:
        with self.lock:
            return list(items.items())

    # ------------------------------------------------------------ the artifact blob store

    def blob_signature(self, full_name: str, aid: int, expires: int) -> str:
        return hmac.new(self._blob_key, f"{full_name}/{aid}/{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    @property
    def blob_url(self) -> str:
        """The artifact blob store: the same server under another host name, as on GitHub, so
        HTTP clients drop the Authorization header when they follow the 302."""
        return f"http://{self.blob_host}:{self.port}"
