"""The GitHub client adapter: the only module that imports PyGithub.

It offers mlgate's own terms (changed files, read a file at a ref, upsert the sticky
comment, set a check run by name and SHA, labels, reactions, permissions, artifacts,
deployments) and hides PyGithub's defaults that hurt a bot: it does not sleep between
writes, retries reads on 5xx/429 honouring Retry-After, and never blindly retries a POST
that creates something (a retried create could post a duplicate comment).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from github import Auth, Github, GithubException, GithubIntegration
from urllib3.util.retry import Retry

DEFAULT_API = "https://api.github.com"
TOKEN_MARGIN = 300  # refresh installation tokens five minutes before they expire
MAX_WAIT = 60  # never sleep longer than this for a rate limit inside a job


class GitHubError(RuntimeError):
    """A GitHub call that failed; the message never contains a token."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RetryLater(GitHubError):
    """GitHub asked us to wait (rate limit, 429, 5xx): the job should be retried after `seconds`."""

    def __init__(self, message: str, seconds: float, status: int | None = None):
        super().__init__(message, status)
        self.seconds = seconds


@dataclass(frozen=True)
class PullInfo:
    number: int
    head_sha: str
    head_ref: str
    base_ref: str
    base_sha: str
    author: str
    state: str
    merged: bool
    draft: bool


def _retry() -> Retry:
    # reads and idempotent writes only: POST is excluded so a create is never repeated blindly
    return Retry(
        total=3,
        backoff_factor=0.2,
        status_forcelist=(500, 502, 503, 504, 429),
        allowed_methods=frozenset({"GET", "PATCH", "PUT", "DELETE", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def _github(token: str, api_url: str) -> Github:
    return Github(
        auth=Auth.Token(token),
        base_url=api_url.rstrip("/"),
        retry=_retry(),
        seconds_between_requests=0,
        seconds_between_writes=0,
        timeout=30,
        per_page=100,
    )


class _TokenCache:
    """Installation tokens, shared by the threads of one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[tuple[str, int, int], tuple[str, float]] = {}

    def get(self, api_url: str, app_id: int, installation_id: int, private_key: str) -> str:
        key = (api_url, app_id, installation_id)
        with self.lock:
            hit = self.tokens.get(key)
            if hit and hit[1] - TOKEN_MARGIN > time.time():
                return hit[0]
        integration = GithubIntegration(
            auth=Auth.AppAuth(app_id, private_key), base_url=api_url.rstrip("/"), retry=_retry(),
            seconds_between_requests=0, seconds_between_writes=0,
        )
        try:
            access = integration.get_access_token(installation_id)
        except (GithubException, requests.RequestException) as exc:
            raise _translate(exc, f"getting a token for installation {installation_id}") from None
        expires = access.expires_at.timestamp() if access.expires_at else time.time() + 3600
        with self.lock:
            self.tokens[key] = (access.token, expires)
        return access.token


TOKENS = _TokenCache()


def _translate(exc: BaseException, what: str) -> GitHubError:
    if isinstance(exc, GithubException):
        status = exc.status
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        message = (exc.data or {}).get("message") if isinstance(exc.data, dict) else None
        text = f"{what}: GitHub answered {status}" + (f" ({message})" if message else "")
        if status == 429 or (status == 403 and headers.get("x-ratelimit-remaining") == "0"):
            wait = float(headers.get("retry-after") or 0) or max(
                0.0, float(headers.get("x-ratelimit-reset", time.time() + 60)) - time.time()
            )
            return RetryLater(text, wait, status)
        if status is not None and status >= 500:
            return RetryLater(text, 5.0, status)
        return GitHubError(text, status)
    if isinstance(exc, requests.exceptions.RetryError):  # not a GithubException
        return RetryLater(f"{what}: GitHub kept failing after retries", 10.0)
    if isinstance(exc, requests.RequestException):
        return RetryLater(f"{what}: {type(exc).__name__}", 10.0)
    return GitHubError(f"{what}: {type(exc).__name__}")


class GitHubClient:
    """GitHub, bound to one repository, with one token."""

    def __init__(self, token: str, repo: str, api_url: str = DEFAULT_API, bot_login: str | None = None):
        self.repo_name = repo
        self.api_url = api_url.rstrip("/")
        self.gh = _github(token, self.api_url)
        self.repo = self.gh.get_repo(repo, lazy=True)
        self.repo_url = f"{self.api_url}/repos/{repo}"
        self.bot_login = bot_login

    @classmethod
    def for_installation(cls, settings: Any, installation_id: int, repo: str) -> GitHubClient:
        """A client with a fresh (cached) installation token, from the App's settings."""
        token = TOKENS.get(settings.github_api_url, int(settings.app_id), int(installation_id), settings.private_key)
        return cls(token, repo, settings.github_api_url)

    @classmethod
    def from_token(cls, token: str, repo: str, api_url: str = DEFAULT_API) -> GitHubClient:
        """A client for a plain token (the Action's token mode)."""
        return cls(token, repo, api_url)

    def _call(self, what: str, fn: Any) -> Any:
        for attempt in range(3):
            try:
                return fn()
            except (GithubException, requests.RequestException) as exc:
                err = _translate(exc, what)
                if isinstance(err, RetryLater) and err.seconds <= MAX_WAIT and attempt < 2 and err.status in (403, 429):
                    time.sleep(min(err.seconds, MAX_WAIT) + 0.05)
                    continue
                raise err from None
        raise GitHubError(f"{what}: gave up")  # pragma: no cover

    # ------------------------------------------------------------ reads

    def pull(self, number: int) -> PullInfo:
        def read() -> PullInfo:
            d = self.gh.requester.requestJsonAndCheck("GET", f"{self.repo_url}/pulls/{number}")[1]
            return PullInfo(int(d["number"]), d["head"]["sha"], d["head"]["ref"], d["base"]["ref"], d["base"]["sha"],
                            d["user"]["login"], d["state"], bool(d.get("merged")), bool(d.get("draft")))
        result: PullInfo = self._call(f"reading PR #{number}", read)
        return result

    def changed_files(self, number: int) -> list[str]:
        def files() -> list[str]:
            pr = self.repo.get_pull(number)
            return [f.filename for f in pr.get_files()]
        return list(self._call(f"listing the files of PR #{number}", files))

    def read_file(self, path: str, ref: str) -> str | None:
        def read() -> str | None:
            try:
                content = self.repo.get_contents(path, ref=ref)
            except GithubException as exc:
                if exc.status == 404:
                    return None
                raise
            if isinstance(content, list):
                return None
            return content.decoded_content.decode("utf-8")
        result: str | None = self._call(f"reading {path} at {ref[:12]}", read)
        return result

    def permission(self, login: str) -> str:
        """admin, maintain, write, triage, read or none."""
        def perm() -> str:
            try:
                data = self.gh.requester.requestJsonAndCheck(
                    "GET", f"{self.repo_url}/collaborators/{login}/permission"
                )[1]
            except GithubException as exc:
                if exc.status == 404:
                    return "none"
                raise
            return str(data.get("role_name") or data.get("permission") or "none")
        return str(self._call(f"reading {login}'s permission", perm))

    def team_member(self, org: str, team_slug: str, login: str) -> bool:
        def member() -> bool:
            try:
                data = self.gh.requester.requestJsonAndCheck(
                    "GET", f"{self.api_url}/orgs/{org}/teams/{team_slug}/memberships/{login}"
                )[1]
            except GithubException as exc:
                if exc.status == 404:
                    return False
                raise
            return data.get("state") == "active"
        return bool(self._call(f"checking {login} in {org}/{team_slug}", member))

    def reviews(self, number: int) -> list[dict[str, Any]]:
        def reviews() -> list[dict[str, Any]]:
            pr = self.repo.get_pull(number)
            return [{"user": r.user.login if r.user else None, "state": r.state, "commit_id": r.commit_id,
                     "id": r.id} for r in pr.get_reviews()]
        return list(self._call(f"listing reviews of PR #{number}", reviews))

    def required_checks(self, branch: str) -> list[str] | None:
        """Required status checks of a protected branch; None when it is not protected."""
        def checks() -> list[str] | None:
            try:
                data = self.gh.requester.requestJsonAndCheck(
                    "GET", f"{self.repo_url}/branches/{branch}/protection/required_status_checks"
                )[1]
            except GithubException as exc:
                if exc.status in (403, 404):
                    return None
                raise
            return list(data.get("contexts") or [])
        result: list[str] | None = self._call(f"reading branch protection of {branch}", checks)
        return result

    # ------------------------------------------------------------ comments

    def find_comment(self, number: int, marker: str) -> tuple[int, str] | None:
        """The first comment of the PR that carries the marker: (id, body)."""
        def find() -> tuple[int, str] | None:
            data = self.gh.requester.requestJsonAndCheck(
                "GET", f"{self.repo_url}/issues/{number}/comments", parameters={"per_page": 100}
            )[1]
            page = 1
            while True:
                for c in data:
                    if marker in (c.get("body") or ""):
                        return int(c["id"]), str(c["body"])
                if len(data) < 100:
                    return None
                page += 1
                data = self.gh.requester.requestJsonAndCheck(
                    "GET", f"{self.repo_url}/issues/{number}/comments", parameters={"per_page": 100, "page": page}
                )[1]
        result: tuple[int, str] | None = self._call(f"listing comments of PR #{number}", find)
        return result

    def create_comment(self, number: int, body: str) -> int:
        data = self._post(f"{self.repo_url}/issues/{number}/comments", {"body": body}, f"commenting on PR #{number}")
        return int(data["id"])

    def edit_comment(self, comment_id: int, body: str) -> None:
        self._call(
            f"editing comment {comment_id}",
            lambda: self.gh.requester.requestJsonAndCheck(
                "PATCH", f"{self.repo_url}/issues/comments/{comment_id}", input={"body": body}
            ),
        )

    def upsert_sticky_comment(self, number: int, body: str, marker: str, known_id: int | None = None) -> int:
        """Edit the PR's comment that carries the marker, or create it; returns its id."""
        if known_id is not None:
            try:
                self.edit_comment(known_id, body)
                return known_id
            except GitHubError as exc:
                if exc.status != 404:
                    raise
        found = self.find_comment(number, marker)
        if found is not None:
            if found[1] != body:
                self.edit_comment(found[0], body)
            return found[0]
        try:
            return self.create_comment(number, body)
        except RetryLater:
            # the create may have landed before the error: look again instead of posting twice
            found = self.find_comment(number, marker)
            if found is not None:
                self.edit_comment(found[0], body)
                return found[0]
            raise

    def add_reaction(self, comment_id: int, content: str) -> None:
        self._post(f"{self.repo_url}/issues/comments/{comment_id}/reactions", {"content": content},
                   f"reacting to comment {comment_id}")

    # ------------------------------------------------------------ labels

    def add_labels(self, number: int, labels: list[str]) -> None:
        if labels:
            self._post(f"{self.repo_url}/issues/{number}/labels", {"labels": labels}, f"labelling PR #{number}")

    def remove_label(self, number: int, label: str) -> None:
        try:
            self._call(
                f"unlabelling PR #{number}",
                lambda: self.gh.requester.requestJsonAndCheck("DELETE", f"{self.repo_url}/issues/{number}/labels/{label}"),
            )
        except GitHubError as exc:
            if exc.status != 404:
                raise

    # ------------------------------------------------------------ checks

    def find_check(self, sha: str, name: str) -> int | None:
        data = self._call(
            f"listing check runs of {sha[:12]}",
            lambda: self.gh.requester.requestJsonAndCheck(
                "GET", f"{self.repo_url}/commits/{sha}/check-runs", parameters={"check_name": name}
            )[1],
        )
        runs = data.get("check_runs") or []
        return int(runs[0]["id"]) if runs else None

    def set_check(
        self, sha: str, name: str, *, status: str, conclusion: str | None = None, title: str = "",
        summary: str = "", details_url: str | None = None, known_id: int | None = None, lookup: bool = True,
    ) -> int:
        """Create or update the check run `name` on `sha`; returns its id.

        With `lookup=False` the caller vouches that no such check exists unless `known_id`
        names it (the App keeps the ids it created), which saves one call per check.
        """
        body: dict[str, Any] = {"name": name, "status": status}
        if conclusion:
            body["conclusion"] = conclusion
            body["status"] = "completed"
        if title or summary:
            body["output"] = {"title": title[:255] or name, "summary": summary[:65535] or title or name}
        if details_url:
            body["details_url"] = details_url
        check_id = known_id or (self.find_check(sha, name) if lookup else None)
        if check_id is not None:
            self._call(
                f"updating check {name}",
                lambda: self.gh.requester.requestJsonAndCheck("PATCH", f"{self.repo_url}/check-runs/{check_id}", input=body),
            )
            return check_id
        try:
            data = self._post(f"{self.repo_url}/check-runs", {**body, "head_sha": sha}, f"creating check {name}")
        except RetryLater:
            found = self.find_check(sha, name)
            if found is None:
                raise
            return self.set_check(sha, name, status=status, conclusion=conclusion, title=title,
                                  summary=summary, details_url=details_url, known_id=found)
        return int(data["id"])

    # ------------------------------------------------------------ actions

    def workflow_run(self, run_id: int) -> dict[str, Any]:
        return dict(self._call(
            f"reading workflow run {run_id}",
            lambda: self.gh.requester.requestJsonAndCheck("GET", f"{self.repo_url}/actions/runs/{run_id}")[1],
        ))

    def download_artifact(self, run_id: int, name: str, max_bytes: int) -> bytes | None:
        """The artifact's zip bytes, or None when the run has no artifact of that name."""
        data = self._call(
            f"listing artifacts of run {run_id}",
            lambda: self.gh.requester.requestJsonAndCheck("GET", f"{self.repo_url}/actions/runs/{run_id}/artifacts")[1],
        )
        art = next((a for a in data.get("artifacts", []) if a.get("name") == name and not a.get("expired")), None)
        if art is None:
            return None
        if int(art.get("size_in_bytes") or 0) > max_bytes:
            raise GitHubError(f"artifact {name} is {art['size_in_bytes']} bytes; the limit is {max_bytes}")
        token = self.gh.requester.auth.token if self.gh.requester.auth else ""

        def fetch() -> bytes:
            url = f"{self.repo_url}/actions/artifacts/{art['id']}/zip"
            with requests.get(url, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=60,
                              allow_redirects=False) as first:
                if first.status_code != 302:
                    first.raise_for_status()
                    location = url
                else:
                    location = first.headers["Location"]
            # the blob URL is pre-signed: no Authorization header may follow it
            with requests.get(location, stream=True, timeout=60) as resp:
                resp.raise_for_status()
                chunks, size = [], 0
                for chunk in resp.iter_content(65536):
                    size += len(chunk)
                    if size > max_bytes:
                        raise GitHubError(f"artifact {name} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        return bytes(self._call(f"downloading artifact {name}", fetch))

    def rerun_workflow(self, run_id: int) -> None:
        self._post(f"{self.repo_url}/actions/runs/{run_id}/rerun", {}, f"re-running workflow run {run_id}")

    # ------------------------------------------------------------ deployments

    def create_deployment(self, ref: str, environment: str, description: str, payload: dict[str, Any]) -> int:
        data = self._post(
            f"{self.repo_url}/deployments",
            {"ref": ref, "environment": environment, "description": description[:140], "payload": payload,
             "auto_merge": False, "required_contexts": [], "production_environment": environment.endswith("@production")},
            f"recording deployment {environment}",
        )
        return int(data["id"])

    def create_deployment_status(self, deployment_id: int, state: str, description: str) -> None:
        self._post(f"{self.repo_url}/deployments/{deployment_id}/statuses",
                   {"state": state, "description": description[:140]}, f"recording deployment status {state}")

    # ------------------------------------------------------------ internals

    def _post(self, url: str, body: dict[str, Any], what: str) -> Any:
        """One POST, never retried here: the caller decides whether a retry could duplicate."""
        try:
            return self.gh.requester.requestJsonAndCheck("POST", url, input=body)[1]
        except (GithubException, requests.RequestException) as exc:
            raise _translate(exc, what) from None


def app_jwt(app_id: int, private_key: str) -> str:
    """A short-lived App JWT (for diagnostics such as `mlgate doctor`)."""
    now = int(time.time())
    return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": str(app_id)}, private_key, algorithm="RS256")
