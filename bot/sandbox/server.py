"""The GitHub stand-in: state, REST routes, admin methods, OpenAPI checks, faults, webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import itertools
import json
import re
import secrets
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

_PACKAGED_SPEC = Path(__file__).with_name("github-subset.json")
SPEC_PATH = _PACKAGED_SPEC if _PACKAGED_SPEC.exists() else (
    Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "openapi" / "github-subset.json"
)
Sink = Callable[[dict[str, str], bytes], int]


class SandboxError(RuntimeError):
    """Misuse of the stand-in by a test."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha() -> str:
    return secrets.token_hex(20)


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head sha
    trees: dict[str, dict[str, bytes]] = field(default_factory=dict)  # sha -> files
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reactions: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    collaborators: dict[str, str] = field(default_factory=dict)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reruns: list[int] = field(default_factory=list)
    required_checks: dict[str, list[str]] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    kind: str  # "502" | "429" | "rate_limit"
    remaining: int
    retry_after: int = 1


@cache
def _openapi() -> Any:
    from openapi_core import Config, OpenAPI

    return OpenAPI.from_dict(json.loads(SPEC_PATH.read_text()), config=Config(spec_validator_cls=None))


class Sandbox:
    """The stand-in. Start it, register an app, then drive it with the admin methods."""

    def __init__(self, port: int = 0, validate: bool = True):
        self.port = port
        self.validate = validate
        self.lock = threading.RLock()
        self.ids = itertools.count(1000)
        self.repos: dict[str, Repo] = {}
        self.installations: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.teams: dict[tuple[str, str], set[str]] = {}
        self.users: dict[str, int] = {}
        self.app_id: int | None = None
        self.app_public_key: Any = None
        self.webhook_secret = ""
        self.webhook_url: str | None = None
        self.webhook_sink: Sink | None = None
        self.deliveries: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, int]] = []
        self.problems: list[str] = []
        self.faults: list[Fault] = []
        self.slow_started = 0
        self.base_url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> str:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self._server.server_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        if self.validate:
            _openapi()
        return self.base_url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ admin: setup

    def register_app(
        self, *, webhook_url: str | None = None, webhook_secret: str = "sandbox-secret",
        webhook_sink: Sink | None = None, app_id: int = 4242,
    ) -> str:
        """Register the GitHub App; returns its private key (PEM)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app_id = app_id
        self.app_public_key = key.public_key()
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.webhook_sink = webhook_sink
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def set_webhook(self, url: str | None = None, sink: Sink | None = None) -> None:
        self.webhook_url, self.webhook_sink = url, sink

    def create_installation(self, account: str, repos: list[str]) -> int:
        with self.lock:
            inst_id = next(self.ids)
            self.installations[inst_id] = {"id": inst_id, "account": account, "repos": list(repos)}
            for full in repos:
                if full not in self.repos:
                    owner, name = full.split("/")
                    repo = Repo(next(self.ids), owner, name)
                    sha = _sha()
                    repo.trees[sha] = {}
                    repo.branches[repo.default_branch] = sha
                    self.repos[full] = repo
            return inst_id

    def create_token(self, repo: str, *, read_only: bool = False) -> str:
        """A workflow-style token (GITHUB_TOKEN) for one repository."""
        token = "ghs_" + secrets.token_hex(18)
        self.tokens[token] = {"installation_id": None, "repos": [repo], "read_only": read_only,
                              "expires": time.time() + 3600}
        return token

    def user(self, login: str) -> dict[str, Any]:
        uid = self.users.setdefault(login, 5000 + len(self.users))
        kind = "Bot" if login.endswith("[bot]") else "User"
        return {"login": login, "id": uid, "node_id": f"U_{uid}", "type": kind, "site_admin": False,
                "url": f"{self.base_url}/users/{login}", "html_url": f"https://github.com/{login}",
                "avatar_url": "https://avatars.example/u"}

    def set_permission(self, repo: str, login: str, permission: str) -> None:
        self._repo(repo).collaborators[login] = permission

    def add_team_member(self, org: str, team: str, login: str) -> None:
        self.teams.setdefault((org, team), set()).add(login)

    def require_checks(self, repo: str, branch: str, contexts: list[str]) -> None:
        self._repo(repo).required_checks[branch] = list(contexts)

    def push(self, repo: str, branch: str, files: dict[str, str | bytes], *, delete: tuple[str, ...] = ()) -> str:
        """Commit files on a branch (created from the default branch if new); returns the SHA."""
        r = self._repo(repo)
        with self.lock:
            parent = r.branches.get(branch) or r.branches[r.default_branch]
            tree = dict(r.trees[parent])
            for path, content in files.items():
                tree[path] = content.encode() if isinstance(content, str) else content
            for path in delete:
                tree.pop(path, None)
            sha = _sha()
            r.trees[sha] = tree
            r.branches[branch] = sha
            return sha

    # ------------------------------------------------------------ admin: PR story

    def open_pull_request(
        self, repo: str, files: dict[str, str | bytes], *, author: str = "alice", base: str = "main",
        head: str | None = None, title: str = "Retrain the model", draft: bool = False,
    ) -> dict[str, Any]:
        r = self._repo(repo)
        with self.lock:
            number = max([0, *r.pulls]) + 1
            head = head or f"pr-{number}"
            base_sha = r.branches[base]
            head_sha = self.push(repo, head, files)
            pr = {"number": number, "title": title, "author": author, "base": base, "head": head,
                  "base_sha": base_sha, "head_sha": head_sha, "state": "open", "merged": False,
                  "draft": draft, "id": next(self.ids), "changed": sorted(files)}
            r.pulls[number] = pr
        self.send_webhook("pull_request", {"action": "opened", "number": number,
                                           "pull_request": self._pull_json(r, pr)}, repo, author)
        return self._pull_json(r, pr)

    def push_to_pull_request(self, repo: str, number: int, files: dict[str, str | bytes]) -> str:
        r = self._repo(repo)
        pr = r.pulls[number]
        with self.lock:
            sha = self.push(repo, pr["head"], files)
            pr["head_sha"] = sha
            pr["changed"] = sorted(set(pr["changed"]) | set(files))
        self.send_webhook("pull_request", {"action": "synchronize", "number": number, "before": "0" * 40,
                                           "after": sha, "pull_request": self._pull_json(r, pr)}, repo, pr["author"])
        return sha

    def comment(self, repo: str, number: int, body: str, *, user: str = "alice") -> dict[str, Any]:
        """A user posts a PR comment (sends issue_comment.created)."""
        r = self._repo(repo)
        c = self._new_comment(r, number, body, user)
        pr = r.pulls[number]
        issue = {"number": number, "title": pr["title"], "state": pr["state"], "user": self.user(pr["author"]),
                 "pull_request": {"url": f"{self._api(r)}/pulls/{number}"}, "id": pr["id"] + 1,
                 "url": f"{self._api(r)}/issues/{number}"}
        self.send_webhook("issue_comment", {"action": "created", "issue": issue, "comment": self._comment_json(r, c)},
                          repo, user)
        return self._comment_json(r, c)

    def review(self, repo: str, number: int, *, user: str, state: str = "APPROVED", sha: str | None = None) -> int:
        r = self._repo(repo)
        pr = r.pulls[number]
        rid = next(self.ids)
        review = {"id": rid, "user": self.user(user), "state": state, "commit_id": sha or pr["head_sha"],
                  "submitted_at": _now(), "body": "", "node_id": f"R_{rid}",
                  "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-{rid}",
                  "pull_request_url": f"{self._api(r)}/pulls/{number}", "author_association": "MEMBER",
                  "_links": {"html": {"href": "x"}, "pull_request": {"href": "x"}}}
        r.reviews.setdefault(number, []).append(review)
        self.send_webhook("pull_request_review", {"action": "submitted", "review": review,
                                                  "pull_request": self._pull_json(r, pr)}, repo, user)
        return rid

    def dismiss_review(self, repo: str, number: int, review_id: int) -> None:
        r = self._repo(repo)
        for rv in r.reviews.get(number, []):
            if rv["id"] == review_id:
                rv["state"] = "DISMISSED"
                self.send_webhook("pull_request_review", {"action": "dismissed", "review": rv,
                                                          "pull_request": self._pull_json(r, r.pulls[number])},
                                  repo, rv["user"]["login"])

    def complete_workflow_run(
        self, repo: str, number: int, *, artifact: bytes | None = None, name: str = "mlgate",
        artifact_name: str = "mlgate-report", conclusion: str = "success", head_sha: str | None = None,
    ) -> int:
        """The PR's evaluation workflow finished, optionally with an artifact zip."""
        r = self._repo(repo)
        pr = r.pulls[number]
        run_id = next(self.ids)
        sha = head_sha or pr["head_sha"]
        run = {"id": run_id, "name": name, "head_sha": sha, "head_branch": pr["head"], "status": "completed",
               "conclusion": conclusion, "event": "pull_request", "run_number": 1, "run_attempt": 1,
               "path": ".github/workflows/mlgate.yml", "workflow_id": 77,
               "pull_requests": [{"number": number, "id": pr["id"], "url": f"{self._api(r)}/pulls/{number}",
                                  "head": {"ref": pr["head"], "sha": sha, "repo": {"id": r.id, "name": r.name, "url": self._api(r)}},
                                  "base": {"ref": pr["base"], "sha": pr["base_sha"], "repo": {"id": r.id, "name": r.name, "url": self._api(r)}}}]}
        r.runs[run_id] = run
        if artifact is not None:
            aid = next(self.ids)
            r.artifacts[aid] = {"id": aid, "name": artifact_name, "run_id": run_id, "data": artifact}
        self.send_webhook("workflow_run", {"action": "completed", "workflow_run": self._run_json(r, run),
                                           "workflow": {"id": 77, "name": name, "path": run["path"]}}, repo, pr["author"])
        return run_id

    def merge(self, repo: str, number: int, *, user: str = "alice") -> None:
        r = self._repo(repo)
        pr = r.pulls[number]
        pr["state"], pr["merged"] = "closed", True
        r.branches[pr["base"]] = pr["head_sha"]
        self.send_webhook("pull_request", {"action": "closed", "number": number,
                                           "pull_request": self._pull_json(r, pr)}, repo, user)

    # ------------------------------------------------------------ admin: inspection

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        r = self._repo(repo)
        return [self._comment_json(r, c) for c in r.comments.values() if c["issue"] == number]

    def check_runs(self, repo: str, sha: str) -> list[dict[str, Any]]:
        r = self._repo(repo)
        return [self._check_json(r, c) for c in r.check_runs.values() if c["head_sha"] == sha]

    def labels(self, repo: str, number: int) -> list[str]:
        return list(self._repo(repo).labels.get(number, []))

    def reactions(self, repo: str, comment_id: int) -> list[str]:
        return [x["content"] for x in self._repo(repo).reactions.get(comment_id, [])]

    def deployments(self, repo: str) -> list[dict[str, Any]]:
        r = self._repo(repo)
        return [{**d, "statuses": r.deployment_statuses.get(d["id"], [])} for d in r.deployments.values()]

    def reruns(self, repo: str) -> list[int]:
        return list(self._repo(repo).reruns)

    def count_calls(self, method: str | None = None, contains: str = "") -> int:
        return sum(1 for m, p, _ in self.calls if (method is None or m == method) and contains in p)

    def reset_calls(self) -> None:
        self.calls.clear()

    def assert_no_invalid_requests(self) -> None:
        if self.problems:
            raise AssertionError("the GitHub stand-in got requests GitHub would reject:\n" + "\n".join(self.problems))

    def inject_fault(self, method: str, path_regex: str, kind: str, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` matching requests answer 502, 429 (Retry-After) or 403 rate limit,
        or ("slow") are answered normally after `retry_after` seconds."""
        if kind not in ("502", "429", "rate_limit", "slow"):
            raise SandboxError(f"unknown fault {kind}")
        self.faults.append(Fault(method.upper(), re.compile(path_regex), kind, times, retry_after))

    # ------------------------------------------------------------ webhooks

    def send_webhook(self, event: str, payload: dict[str, Any], repo: str, sender: str) -> int | None:
        r = self._repo(repo)
        inst = next((i for i, v in self.installations.items() if repo in v["repos"]), None)
        payload = {**payload, "repository": self._repo_json(r), "sender": self.user(sender)}
        if inst is not None:
            payload["installation"] = {"id": inst, "node_id": f"I_{inst}"}
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": "1",
            "X-Hub-Signature-256": "sha256=" + hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
        }
        self.deliveries.append({"event": event, "delivery": delivery, "payload": payload, "headers": headers})
        if self.webhook_sink is not None:
            return self.webhook_sink(headers, body)
        if self.webhook_url:
            return requests.post(self.webhook_url, data=body, headers=headers, timeout=30).status_code
        return None

    def redeliver(self, index: int = -1) -> int | None:
        d = self.deliveries[index]
        body = json.dumps(d["payload"]).encode()
        if self.webhook_sink is not None:
            return self.webhook_sink(d["headers"], body)
        if self.webhook_url:
            return requests.post(self.webhook_url, data=body, headers=d["headers"], timeout=30).status_code
        return None

    # ------------------------------------------------------------ JSON shapes

    def _repo(self, full: str) -> Repo:
        try:
            return self.repos[full]
        except KeyError:
            raise SandboxError(f"no repository {full} in the stand-in") from None

    def _api(self, r: Repo) -> str:
        return f"{self.base_url}/repos/{r.full_name}"

    def _repo_json(self, r: Repo) -> dict[str, Any]:
        owner = self.user(r.owner)
        owner["type"] = "Organization"
        return {"id": r.id, "node_id": f"R_{r.id}", "name": r.name, "full_name": r.full_name, "private": True,
                "owner": owner, "html_url": f"https://github.com/{r.full_name}", "url": self._api(r),
                "default_branch": r.default_branch, "fork": False}

    def _pull_json(self, r: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        side = lambda ref, sha: {"ref": ref, "sha": sha, "label": f"{r.owner}:{ref}", "user": self.user(r.owner),  # noqa: E731
                                 "repo": self._repo_json(r)}
        return {"id": pr["id"], "node_id": f"PR_{pr['id']}", "number": n, "state": pr["state"], "title": pr["title"],
                "body": "", "user": self.user(pr["author"]), "draft": pr["draft"], "merged": pr["merged"],
                "url": f"{self._api(r)}/pulls/{n}", "html_url": f"https://github.com/{r.full_name}/pull/{n}",
                "issue_url": f"{self._api(r)}/issues/{n}", "comments_url": f"{self._api(r)}/issues/{n}/comments",
                "head": side(pr["head"], pr["head_sha"]), "base": side(pr["base"], pr["base_sha"]),
                "merge_commit_sha": pr["head_sha"] if pr["merged"] else None, "labels": [
                    {"name": x} for x in r.labels.get(n, [])], "created_at": _now(), "updated_at": _now()}

    def _new_comment(self, r: Repo, number: int, body: str, login: str) -> dict[str, Any]:
        with self.lock:
            cid = next(self.ids)
            c = {"id": cid, "issue": number, "body": body, "user": login, "created_at": _now(), "updated_at": _now()}
            r.comments[cid] = c
            return c

    def _comment_json(self, r: Repo, c: dict[str, Any]) -> dict[str, Any]:
        return {"id": c["id"], "node_id": f"IC_{c['id']}", "body": c["body"], "user": self.user(c["user"]),
                "url": f"{self._api(r)}/issues/comments/{c['id']}",
                "html_url": f"https://github.com/{r.full_name}/pull/{c['issue']}#issuecomment-{c['id']}",
                "issue_url": f"{self._api(r)}/issues/{c['issue']}", "created_at": c["created_at"],
                "updated_at": c["updated_at"], "author_association": "MEMBER"}

    def _check_json(self, r: Repo, c: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in c.items() if not k.startswith("_")}, "url": f"{self._api(r)}/check-runs/{c['id']}",
                "html_url": f"https://github.com/{r.full_name}/runs/{c['id']}", "node_id": f"CR_{c['id']}",
                "app": {"id": self.app_id, "slug": "mlgate", "name": "mlgate"}}

    def _run_json(self, r: Repo, run: dict[str, Any]) -> dict[str, Any]:
        return {**run, "url": f"{self._api(r)}/actions/runs/{run['id']}", "node_id": f"WR_{run['id']}",
                "html_url": f"https://github.com/{r.full_name}/actions/runs/{run['id']}",
                "artifacts_url": f"{self._api(r)}/actions/runs/{run['id']}/artifacts",
                "repository": self._repo_json(r), "head_repository": self._repo_json(r),
                "created_at": _now(), "updated_at": _now()}

    # ------------------------------------------------------------ HTTP

    def _build_app(self) -> Flask:
        app = Flask("mlgate-github-sandbox")
        box = self

        @app.before_request
        def _check() -> Response | None:
            path = request.path
            if path.startswith("/_sandbox") or path.startswith("/_blob"):
                return None
            fault = box._take_fault(request.method, path)
            if fault is not None:
                return fault
            if box.validate:
                problem = box._validate_request()
                if problem:
                    box.problems.append(problem)
                    return _error(422 if "not found" not in problem.lower() else 404, problem)
            if path not in ("/app", "/app/installations") and not path.startswith("/app/installations/"):
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
            if not request.path.startswith("/_"):
                box.calls.append((request.method, request.path, resp.status_code))
            resp.headers.setdefault("X-RateLimit-Limit", "5000")
            resp.headers.setdefault("X-RateLimit-Remaining", str(max(0, 5000 - len(box.calls))))
            resp.headers.setdefault("X-RateLimit-Reset", str(int(time.time()) + 3600))
            return resp

        self._routes(app)
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
                    if f.kind == "502":
                        return _error(502, "Server Error")
                    if f.kind == "429":
                        resp = _error(429, "Too Many Requests")
                        resp.headers["Retry-After"] = str(f.retry_after)
                        return resp
                    resp = _error(403, "API rate limit exceeded for installation.")
                    resp.headers["X-RateLimit-Remaining"] = "0"
                    resp.headers["X-RateLimit-Reset"] = str(int(time.time()) + f.retry_after)
                    return resp
        if delay:
            self.slow_started += 1
            time.sleep(delay)
        return None

    def _validate_request(self) -> str | None:
        from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest

        req = request._get_current_object()  # type: ignore[attr-defined]
        m = re.match(r"^(/repos/[^/]+/[^/]+/contents/)(.+)$", req.path)
        if m:  # GitHub's {path} holds slashes; the description's template does not match them
            environ = dict(req.environ)
            environ["PATH_INFO"] = m.group(1) + m.group(2).replace("/", "%2F")
            from werkzeug.wrappers import Request as WRequest

            req = WRequest(environ)
            req.get_data(cache=True)
        try:
            _openapi().validate_request(WerkzeugOpenAPIRequest(req))
        except Exception as exc:
            cause = exc.__cause__
            details = "; ".join(str(e).splitlines()[0] for e in getattr(cause, "schema_errors", []) or [])
            return f"{request.method} {request.full_path.rstrip('?')}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]} {details[:300]}".strip()
        return None

    def _token_owner(self) -> dict[str, Any] | None:
        auth = request.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        info = self.tokens.get(token)
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
            claims = jwt.decode(auth[7:], self.app_public_key, algorithms=["RS256"], options={"verify_aud": False})
        except jwt.PyJWTError as exc:
            return _error(401, f"A JSON web token could not be decoded: {exc}")
        if str(claims.get("iss")) != str(self.app_id):
            return _error(401, "'Issuer' claim ('iss') must be an Integer")
        return None

    def _routes(self, app: Flask) -> None:  # noqa: C901 - one table of endpoints
        box = self

        def repo(owner: str, name: str) -> Repo:
            return box._repo(f"{owner}/{name}")

        def paginate(items: list[Any]) -> Response:
            per_page = min(int(request.args.get("per_page", 30)), 100)
            page = int(request.args.get("page", 1))
            chunk = items[(page - 1) * per_page: page * per_page]
            resp = jsonify(chunk)
            last = max(1, -(-len(items) // per_page))
            links = []
            base = request.base_url
            if page < last:
                links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
                links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
            if links:
                resp.headers["Link"] = ", ".join(links)
            return resp

        @app.get("/app")
        def get_app() -> Any:
            if (err := box._verify_app_jwt()) is not None:
                return err
            return {"id": box.app_id, "slug": "mlgate", "name": "mlgate", "node_id": "A_1",
                    "owner": box.user("acme"), "description": "", "external_url": "https://mlgate.example",
                    "html_url": "https://github.com/apps/mlgate", "created_at": _now(), "updated_at": _now(),
                    "permissions": {"checks": "write"}, "events": ["pull_request"]}

        @app.get("/app/installations")
        def list_installations() -> Any:
            if (err := box._verify_app_jwt()) is not None:
                return err
            return jsonify([box._installation_json(i) for i in box.installations])

        @app.post("/app/installations/<int:inst>/access_tokens")
        def access_token(inst: int) -> Any:
            if (err := box._verify_app_jwt()) is not None:
                return err
            if inst not in box.installations:
                return _error(404, "Not Found")
            token = "ghs_" + secrets.token_hex(18)
            expires = datetime.now(UTC) + timedelta(hours=1)
            box.tokens[token] = {"installation_id": inst, "read_only": False, "expires": expires.timestamp(),
                                 "repos": box.installations[inst]["repos"]}
            return {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "permissions": {"checks": "write", "pull_requests": "write"},
                    "repository_selection": "selected"}, 201

        @app.get("/repos/<owner>/<name>/installation")
        def repo_installation(owner: str, name: str) -> Any:
            full = f"{owner}/{name}"
            for i, v in box.installations.items():
                if full in v["repos"]:
                    return box._installation_json(i)
            return _error(404, "Not Found")

        @app.get("/repos/<owner>/<name>")
        def get_repo(owner: str, name: str) -> Any:
            return box._repo_json(repo(owner, name))

        @app.get("/repos/<owner>/<name>/pulls/<int:n>")
        def get_pull(owner: str, name: str, n: int) -> Any:
            r = repo(owner, name)
            if n not in r.pulls:
                return _error(404, "Not Found")
            return box._pull_json(r, r.pulls[n])

        @app.get("/repos/<owner>/<name>/pulls/<int:n>/files")
        def pull_files(owner: str, name: str, n: int) -> Any:
            r = repo(owner, name)
            pr = r.pulls[n]
            files = [{"sha": _sha(), "filename": f, "status": "modified", "additions": 1, "deletions": 0,
                      "changes": 1, "blob_url": "x", "raw_url": "x", "contents_url": "x"} for f in pr["changed"]]
            return paginate(files)

        @app.get("/repos/<owner>/<name>/pulls/<int:n>/reviews")
        def pull_reviews(owner: str, name: str, n: int) -> Any:
            return paginate(repo(owner, name).reviews.get(n, []))

        @app.get("/repos/<owner>/<name>/contents/<path:path>")
        def contents(owner: str, name: str, path: str) -> Any:
            r = repo(owner, name)
            ref = request.args.get("ref") or r.default_branch
            sha = r.branches.get(ref, ref)
            tree = r.trees.get(sha)
            if tree is None:
                return _error(404, f"No commit found for the ref {ref}")
            if path not in tree:
                return _error(404, "Not Found")
            data = tree[path]
            return {"type": "file", "encoding": "base64", "size": len(data), "name": path.rsplit("/", 1)[-1],
                    "path": path, "content": base64.b64encode(data).decode(), "sha": hashlib.sha1(data).hexdigest(),
                    "url": f"{box._api(r)}/contents/{path}", "git_url": None, "html_url": None, "download_url": None,
                    "_links": {"self": f"{box._api(r)}/contents/{path}", "git": None, "html": None}}

        @app.route("/repos/<owner>/<name>/issues/<int:n>/comments", methods=["GET", "POST"])
        def issue_comments(owner: str, name: str, n: int) -> Any:
            r = repo(owner, name)
            if request.method == "POST":
                c = box._new_comment(r, n, request.get_json()["body"], "mlgate[bot]")
                return box._comment_json(r, c), 201
            return paginate([box._comment_json(r, c) for c in r.comments.values() if c["issue"] == n])

        @app.route("/repos/<owner>/<name>/issues/comments/<int:cid>", methods=["GET", "PATCH"])
        def one_comment(owner: str, name: str, cid: int) -> Any:
            r = repo(owner, name)
            c = r.comments.get(cid)
            if c is None:
                return _error(404, "Not Found")
            if request.method == "PATCH":
                c["body"] = request.get_json()["body"]
                c["updated_at"] = _now()
            return box._comment_json(r, c)

        @app.post("/repos/<owner>/<name>/issues/comments/<int:cid>/reactions")
        def react(owner: str, name: str, cid: int) -> Any:
            r = repo(owner, name)
            content = request.get_json()["content"]
            rid = next(box.ids)
            r.reactions.setdefault(cid, []).append({"id": rid, "content": content})
            return {"id": rid, "node_id": f"RE_{rid}", "content": content, "user": box.user("mlgate[bot]"),
                    "created_at": _now()}, 201

        @app.route("/repos/<owner>/<name>/issues/<int:n>/labels", methods=["GET", "POST"])
        def labels(owner: str, name: str, n: int) -> Any:
            r = repo(owner, name)
            if request.method == "POST":
                body = request.get_json()
                names = body["labels"] if isinstance(body, dict) else body
                current = r.labels.setdefault(n, [])
                current.extend(x if isinstance(x, str) else x["name"] for x in names if x not in current)
            return jsonify([box._label_json(x) for x in r.labels.get(n, [])])

        @app.delete("/repos/<owner>/<name>/issues/<int:n>/labels/<label>")
        def delete_label(owner: str, name: str, n: int, label: str) -> Any:
            r = repo(owner, name)
            if label not in r.labels.get(n, []):
                return _error(404, "Label does not exist")
            r.labels[n].remove(label)
            return jsonify([box._label_json(x) for x in r.labels[n]])

        @app.post("/repos/<owner>/<name>/check-runs")
        def create_check(owner: str, name: str) -> Any:
            r = repo(owner, name)
            body = request.get_json()
            cid = next(box.ids)
            run = {"id": cid, "name": body["name"], "head_sha": body["head_sha"],
                   "status": body.get("status", "queued"), "conclusion": body.get("conclusion"),
                   "output": {"title": None, "summary": None, "text": None, **(body.get("output") or {})},
                   "details_url": body.get("details_url"), "external_id": body.get("external_id"),
                   "started_at": _now(), "completed_at": _now() if body.get("conclusion") else None}
            r.check_runs[cid] = run
            return box._check_json(r, run), 201

        @app.route("/repos/<owner>/<name>/check-runs/<int:cid>", methods=["GET", "PATCH"])
        def one_check(owner: str, name: str, cid: int) -> Any:
            r = repo(owner, name)
            run = r.check_runs.get(cid)
            if run is None:
                return _error(404, "Not Found")
            if request.method == "PATCH":
                body = request.get_json()
                for k in ("name", "status", "conclusion", "details_url", "external_id"):
                    if k in body:
                        run[k] = body[k]
                if body.get("conclusion"):
                    run["status"], run["completed_at"] = "completed", _now()
                if "output" in body:
                    run["output"] = {**run["output"], **body["output"]}
            return box._check_json(r, run)

        @app.get("/repos/<owner>/<name>/commits/<ref>/check-runs")
        def list_checks(owner: str, name: str, ref: str) -> Any:
            r = repo(owner, name)
            sha = r.branches.get(ref, ref)
            runs = [box._check_json(r, c) for c in r.check_runs.values() if c["head_sha"] == sha
                    and (not request.args.get("check_name") or c["name"] == request.args["check_name"])]
            return {"total_count": len(runs), "check_runs": runs}

        @app.get("/repos/<owner>/<name>/collaborators/<user>/permission")
        def permission(owner: str, name: str, user: str) -> Any:
            perm = repo(owner, name).collaborators.get(user)
            if perm is None:
                return _error(404, f"{user} is not a user")
            legacy = {"maintain": "write", "triage": "read"}.get(perm, perm)
            return {"permission": legacy, "role_name": perm, "user": box.user(user)}

        @app.get("/orgs/<org>/teams/<team>/memberships/<user>")
        def membership(org: str, team: str, user: str) -> Any:
            if user not in box.teams.get((org, team), set()):
                return _error(404, "Not Found")
            return {"url": f"{box.base_url}/orgs/{org}/teams/{team}/memberships/{user}", "role": "member",
                    "state": "active"}

        @app.get("/repos/<owner>/<name>/actions/runs/<int:run_id>")
        def get_run(owner: str, name: str, run_id: int) -> Any:
            r = repo(owner, name)
            if run_id not in r.runs:
                return _error(404, "Not Found")
            return box._run_json(r, r.runs[run_id])

        @app.get("/repos/<owner>/<name>/actions/runs/<int:run_id>/artifacts")
        def run_artifacts(owner: str, name: str, run_id: int) -> Any:
            r = repo(owner, name)
            arts = [{"id": a["id"], "node_id": f"MDg_{a['id']}", "name": a["name"], "size_in_bytes": len(a["data"]),
                     "url": f"{box._api(r)}/actions/artifacts/{a['id']}",
                     "archive_download_url": f"{box._api(r)}/actions/artifacts/{a['id']}/zip",
                     "expired": False, "created_at": _now(), "expires_at": _now(), "updated_at": _now(),
                     "workflow_run": {"id": run_id}} for a in r.artifacts.values() if a["run_id"] == run_id]
            return {"total_count": len(arts), "artifacts": arts}

        @app.get("/repos/<owner>/<name>/actions/artifacts/<int:aid>/<fmt>")
        def artifact_zip(owner: str, name: str, aid: int, fmt: str) -> Any:
            r = repo(owner, name)
            if aid not in r.artifacts:
                return _error(404, "Not Found")
            return Response(status=302, headers={"Location": f"{box.base_url}/_blob/{r.full_name}/{aid}"})

        @app.get("/_blob/<owner>/<name>/<int:aid>")
        def blob(owner: str, name: str, aid: int) -> Any:
            return Response(repo(owner, name).artifacts[aid]["data"], mimetype="application/zip")

        @app.post("/repos/<owner>/<name>/actions/runs/<int:run_id>/rerun")
        def rerun(owner: str, name: str, run_id: int) -> Any:
            r = repo(owner, name)
            if run_id not in r.runs:
                return _error(404, "Not Found")
            r.reruns.append(run_id)
            return {}, 201

        @app.route("/repos/<owner>/<name>/deployments", methods=["GET", "POST"])
        def deployments(owner: str, name: str) -> Any:
            r = repo(owner, name)
            if request.method == "POST":
                body = request.get_json()
                did = next(box.ids)
                d = {"id": did, "ref": body["ref"], "sha": r.branches.get(body["ref"], body["ref"]),
                     "environment": body.get("environment", "production"), "task": body.get("task", "deploy"),
                     "payload": body.get("payload", {}), "description": body.get("description"),
                     "creator": box.user("mlgate[bot]"), "created_at": _now(), "updated_at": _now(),
                     "url": f"{box._api(r)}/deployments/{did}", "node_id": f"DE_{did}",
                     "statuses_url": f"{box._api(r)}/deployments/{did}/statuses", "repository_url": box._api(r),
                     "original_environment": body.get("environment", "production")}
                r.deployments[did] = d
                return d, 201
            return jsonify(list(r.deployments.values()))

        @app.route("/repos/<owner>/<name>/deployments/<int:did>/statuses", methods=["GET", "POST"])
        def deployment_statuses(owner: str, name: str, did: int) -> Any:
            r = repo(owner, name)
            if did not in r.deployments:
                return _error(404, "Not Found")
            if request.method == "POST":
                body = request.get_json()
                sid = next(box.ids)
                s = {"id": sid, "state": body["state"], "description": body.get("description", ""),
                     "environment": r.deployments[did]["environment"], "creator": box.user("mlgate[bot]"),
                     "url": f"{box._api(r)}/deployments/{did}/statuses/{sid}", "node_id": f"DS_{sid}",
                     "deployment_url": f"{box._api(r)}/deployments/{did}", "repository_url": box._api(r),
                     "created_at": _now(), "updated_at": _now(), "target_url": body.get("target_url", "")}
                r.deployment_statuses.setdefault(did, []).append(s)
                return s, 201
            return jsonify(r.deployment_statuses.get(did, []))

        @app.get("/repos/<owner>/<name>/branches/<branch>/protection/required_status_checks")
        def required_checks(owner: str, name: str, branch: str) -> Any:
            r = repo(owner, name)
            if branch not in r.required_checks:
                return _error(404, "Branch not protected")
            return {"strict": False, "contexts": r.required_checks[branch],
                    "checks": [{"context": c, "app_id": None} for c in r.required_checks[branch]]}

        @app.get("/rate_limit")
        def rate_limit() -> Any:
            core = {"limit": 5000, "remaining": max(0, 5000 - len(box.calls)), "reset": int(time.time()) + 3600, "used": len(box.calls)}
            return {"resources": {"core": core}, "rate": core}

    def _installation_json(self, inst: int) -> dict[str, Any]:
        v = self.installations[inst]
        account = self.user(v["account"])
        return {"id": inst, "account": account, "app_id": self.app_id, "target_id": account["id"],
                "target_type": "Organization", "permissions": {"checks": "write"}, "events": ["pull_request"],
                "repository_selection": "selected", "access_tokens_url": f"{self.base_url}/app/installations/{inst}/access_tokens",
                "repositories_url": f"{self.base_url}/installation/repositories", "html_url": "https://github.com/x",
                "created_at": _now(), "updated_at": _now(), "single_file_name": None, "app_slug": "mlgate"}

    def _label_json(self, name: str) -> dict[str, Any]:
        return {"id": abs(hash(name)) % 10**8, "node_id": "L", "name": name, "color": "ededed", "default": False,
                "description": None, "url": f"{self.base_url}/labels/{name}"}


def _error(status: int, message: str) -> Response:
    resp = jsonify({"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)})
    resp.status_code = status
    return resp


def make_artifact_zip(files: dict[str, bytes]) -> bytes:
    """A zip as actions/upload-artifact makes it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
