"""The GitHub client adapter: the only module that imports PyGithub.

It offers mlgate's own terms (changed files, read a file at a ref, upsert the sticky
comment, set a check run by name and SHA, labels, reactions, permissions, artifacts,
deployments) and hides PyGithub's defaults that hurt a bot: it does not sleep between
writes, retries reads on 5xx honouring Retry-After, never blindly retries a POST that
creates something (a retried create could post a duplicate comment), never sleeps on a
rate limit (RetryLater hands it to the queue), never calls /rate_limit (GitHub Enterprise
Server without rate limiting answers it 404), renews a revoked installation token once,
and sends GitHub's versioned media type on every request.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException, GithubIntegration, RateLimitExceededException
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from bot.errors import AdapterError
from bot.ports import JSONObject, Review

DEFAULT_API = "https://api.github.com"
TOKEN_MARGIN = 300  # refresh installation tokens five minutes before they expire
MAX_WAIT = 10  # urllib3 sleeps at most this long on a 5xx's Retry-After; longer waits go to the queue
API_VERSION = "2022-11-28"  # X-GitHub-Api-Version on every request
ACCEPT = "application/vnd.github+json"  # GitHub's recommended media type (requests would send */*)
SECONDARY_WAIT = 60.0  # GitHub: after a secondary rate limit without Retry-After, wait at least a minute
STEP_WAIT_BUDGET = 300.0  # token mode (a CI step, no queue): rate-limit waits slept in place, at most this in all
MAX_FILES = 3000  # GitHub lists at most 3000 files of a pull request
SHA = re.compile(r"^[0-9a-f]{40}$")


class GitHubError(AdapterError):
    """A GitHub call that failed; the message never contains a token."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RetryLater(GitHubError):
    """GitHub asked us to wait (rate limit, 429, 5xx): the job should be retried after `seconds`.

    `rate_limit` is "primary" (the hourly quota is spent: `seconds` until it resets),
    "secondary" (GitHub's abuse limits: `seconds` is Retry-After or the one-minute floor,
    and the queue backs off exponentially from there) or None (5xx, network).
    """

    def __init__(self, message: str, seconds: float, status: int | None = None, *,
                 rate_limit: str | None = None):
        super().__init__(message, status)
        self.seconds = seconds
        self.rate_limit = rate_limit


class ArtifactUnavailable(GitHubError):
    """The artifact exists but mlgate will not fetch it (too large, expired): not worth a retry."""


class NotText(GitHubError):
    """A file that is not UTF-8 text (a config must be)."""


@dataclass(frozen=True)
class RunInfo:
    """A workflow run as the Actions API reports it, in the terms that decide whether its report
    counts (bot.trust): which workflow file ran, for which event, on which branch and commit, and
    where that commit lives (`head_repository`: the fork for a fork's pull request)."""

    id: int
    path: str  # the workflow file, e.g. .github/workflows/mlgate-evaluate.yml (its `name` is not checked)
    event: str  # pull_request, workflow_run, push, ...
    head_branch: str
    head_sha: str
    repository: str  # owner/name the run belongs to
    head_repository: str  # owner/name the head commit comes from
    head_owner: str  # login owning head_repository
    conclusion: str | None
    html_url: str | None
    pull_requests: tuple[int, ...]  # PRs of this repository whose head branch is in this repository
    # the run's title: the workflow file's `run-name:` when it sets one (the trusted evaluation's
    # names the run that triggered it, from the default branch's file, so no PR chose it)
    display_title: str = ""



@dataclass(frozen=True)
class CompareInfo:
    """What one commit adds to another (GitHub's compare API)."""

    commits: list[str]
    files: list[str]
    complete: bool


@dataclass(frozen=True)
class PullInfo:
    """The facts about a pull request that handlers need, in mlgate's terms."""

    number: int
    head_sha: str
    head_ref: str
    base_ref: str
    base_sha: str
    author: str
    state: str
    merged: bool
    draft: bool
    changed_files: int | None = None  # GitHub's count, which may exceed the files it lists


@dataclass(frozen=True)
class BranchInfo:
    """A branch as GitHub reports it now: its head commit and whether it is protected."""

    name: str
    sha: str
    protected: bool


class _BoundedRetry(Retry):
    """Retries that honour Retry-After, but give up (and let the queue back off) when asked to
    wait longer than MAX_WAIT: a worker thread must not sleep for minutes."""

    # urllib3 retries any 413/429/503 carrying Retry-After, status_forcelist or not: a 429 is a
    # rate limit, which goes to the queue instead (RetryLater)
    RETRY_AFTER_STATUS_CODES = frozenset({503})

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> Self:
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > MAX_WAIT:
                raise MaxRetryError(_pool, url or "", ResponseError(f"Retry-After {wait:.0f} s"))
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _retry() -> Retry:
    # reads and idempotent writes only: POST is excluded so a create is never repeated blindly.
    # No 429: a rate limit is never retried in place (GitHub asks for a minute or more; the
    # queue waits without holding a worker thread)
    return _BoundedRetry(
        total=3,
        backoff_factor=0.2,
        status_forcelist=(500, 502, 503, 504),
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
        api_version=API_VERSION,
    )


class _TokenCache:
    """Installation tokens, shared by the threads of one process (one fetch per installation
    at a time, so a burst of jobs does not mint a burst of tokens)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.key_locks: dict[tuple[str, int, int], threading.Lock] = {}
        self.tokens: dict[tuple[str, int, int], tuple[str, float]] = {}
        self.slugs: dict[tuple[str, int], str] = {}  # the App's slug (GET /app), asked once per process

    def _fresh(self, key: tuple[str, int, int]) -> str | None:
        hit = self.tokens.get(key)
        return hit[0] if hit and hit[1] - TOKEN_MARGIN > time.time() else None

    def get(self, api_url: str, app_id: int, installation_id: int, private_key: str) -> str:
        key = (api_url, app_id, installation_id)
        with self.lock:
            token = self._fresh(key)
            if token:
                return token
            key_lock = self.key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self.lock:
                token = self._fresh(key)
            if token:
                return token
            try:  # not get_access_token(): it sends a preview media type instead of ACCEPT
                data = _integration(api_url, app_id, private_key).requester.requestJsonAndCheck(
                    "POST", f"/app/installations/{int(installation_id)}/access_tokens",
                    headers={"Accept": ACCEPT}, input={"permissions": {}})[1]
            except (GithubException, requests.RequestException) as exc:
                raise _translate(exc, f"getting a token for installation {installation_id}") from None
            token = str(data["token"])
            try:
                expires = datetime.fromisoformat(str(data["expires_at"])).timestamp()
            except (KeyError, ValueError):
                expires = time.time() + 3600
            with self.lock:
                self.tokens[key] = (token, expires)
            return token

    def renew(self, api_url: str, app_id: int, installation_id: int, private_key: str, stale: str) -> str:
        """A new token after GitHub refused `stale` (401: revoked or suspended). Only `stale` is
        dropped, so threads that saw the same 401 share one new token instead of minting one each."""
        key = (api_url, app_id, installation_id)
        with self.lock:
            hit = self.tokens.get(key)
            if hit and hit[0] == stale:
                del self.tokens[key]
        return self.get(api_url, app_id, installation_id, private_key)

    def bot_login(self, api_url: str, app_id: int, private_key: str) -> str:
        """The login the App's comments carry, `<slug>[bot]`: its slug read once from GET /app
        with the App's JWT (the slug is fixed when the App is created)."""
        key = (api_url, app_id)
        with self.lock:
            slug = self.slugs.get(key)
        if slug is None:
            from bot.metrics import metrics

            calls = metrics().github_calls
            try:
                data = _integration(api_url, app_id, private_key).requester.requestJsonAndCheck(
                    "GET", "/app", headers={"Accept": ACCEPT})[1]
            except GithubException as exc:
                calls.labels(method="GET", status=str(exc.status)).inc()
                raise _translate(exc, "reading the App (GET /app)") from None
            except requests.RequestException as exc:
                calls.labels(method="GET", status="error").inc()
                raise _translate(exc, "reading the App (GET /app)") from None
            calls.labels(method="GET", status="ok").inc()  # /metrics counts every call to GitHub
            slug = str(data.get("slug") or "")
            if not slug:
                raise GitHubError("reading the App (GET /app): GitHub named no slug")
            with self.lock:
                self.slugs[key] = slug
        return f"{slug}[bot]"

    def clear(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.slugs.clear()


TOKENS = _TokenCache()


def _integration(api_url: str, app_id: int, private_key: str) -> GithubIntegration:
    """PyGithub's client for the App itself (its JWT), for GET /app and installation tokens."""
    return GithubIntegration(
        auth=Auth.AppAuth(app_id, private_key), base_url=api_url.rstrip("/"), retry=_retry(),
        seconds_between_requests=0, seconds_between_writes=0, api_version=API_VERSION,
    )


class _ContentCache:
    """File contents by commit SHA: immutable, so a hit is always right. Saves the config
    read when the evaluation finishes on a worker that saw the pull request event."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple[str, str, str, str], str | None] = OrderedDict()

    def get(self, key: tuple[str, str, str, str]) -> tuple[bool, str | None]:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return True, self.items[key]
        return False, None

    def put(self, key: tuple[str, str, str, str], value: str | None) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


CONTENTS = _ContentCache()


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _rate_limit(status: int | None, headers: dict[str, str], flagged: bool = False) -> tuple[str, float] | None:
    """("primary" | "secondary", seconds GitHub asks us to wait), or None when the answer is not a
    rate limit. GitHub's rules: a 403 or 429; Retry-After wins; X-RateLimit-Remaining 0 means the
    quota is spent until X-RateLimit-Reset; otherwise (a secondary limit) wait at least a minute.
    `flagged`: PyGithub classified the 403 as a rate limit (a secondary one may carry no header)."""
    if status not in (403, 429):
        return None
    retry_after = _seconds(headers.get("retry-after"))
    if headers.get("x-ratelimit-remaining") == "0":
        reset = _seconds(headers.get("x-ratelimit-reset"))
        wait = retry_after if retry_after is not None else (reset - time.time() if reset else SECONDARY_WAIT)
        return "primary", max(0.0, wait)
    if status == 429 or retry_after is not None or flagged:
        return "secondary", retry_after if retry_after is not None else SECONDARY_WAIT
    return None


def _translate(exc: BaseException, what: str) -> GitHubError:
    """GithubException and requests' errors (RetryError is not a GithubException) in mlgate's
    terms: RetryLater for what time may fix (rate limits, 5xx, network), GitHubError otherwise."""
    if isinstance(exc, GithubException):
        status = exc.status
        headers = {k.lower(): str(v) for k, v in (exc.headers or {}).items()}
        message = (exc.data or {}).get("message") if isinstance(exc.data, dict) else None
        text = f"{what}: GitHub answered {status}" + (f" ({str(message)[:200]})" if message else "")
        limit = _rate_limit(status, headers, isinstance(exc, RateLimitExceededException))
        if limit is not None:
            return RetryLater(text, limit[1], status, rate_limit=limit[0])
        if status is not None and status >= 500:
            return RetryLater(text, 5.0, status)
        return GitHubError(text, status)
    if isinstance(exc, requests.exceptions.RetryError):
        return RetryLater(f"{what}: GitHub kept failing after retries", 10.0)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        text = f"{what}: GitHub answered {status}"
        limit = _rate_limit(status, {k.lower(): v for k, v in exc.response.headers.items()})
        if limit is not None:
            return RetryLater(text, limit[1], status, rate_limit=limit[0])
        return RetryLater(text, 5.0, status) if status >= 500 else GitHubError(text, status)
    if isinstance(exc, requests.RequestException):
        return RetryLater(f"{what}: {type(exc).__name__}", 10.0)
    return GitHubError(f"{what}: {type(exc).__name__}")


def _is_ours(comment: dict[str, Any], bot_login: str | None) -> bool:
    user = comment.get("user") or {}
    if bot_login:
        return bool(user.get("login") == bot_login)
    return user.get("type") == "Bot"


class GitHubClient:
    """GitHub, bound to one repository, with one token."""

    def __init__(self, token: str, repo: str, api_url: str = DEFAULT_API, bot_login: str | None = None):
        self.repo_name = repo
        self.api_url = api_url.rstrip("/")
        self.gh = _github(token, self.api_url)
        self.repo = self.gh.get_repo(repo, lazy=True)
        self.repo_url = f"{self.api_url}/repos/{repo}"
        # sticky comments are looked up among this login's comments (any Bot's when unknown):
        # a human quoting the marker must never have their comment overwritten
        self.bot_login = bot_login
        self._token = token
        # installation clients: how to get a new token once GitHub answers 401 to this one
        self._renew: Callable[[str], str] | None = None
        # seconds of rate-limit waits this client may sleep itself (0: hand them to the queue)
        self._wait_budget = 0.0

    @classmethod
    def for_installation(cls, settings: Any, installation_id: int, repo: str) -> GitHubClient:
        """A client with a fresh (cached) installation token, from the App's settings."""
        api_url, app_id, key = settings.github_api_url, int(settings.app_id), settings.private_key
        token = TOKENS.get(api_url, app_id, int(installation_id), key)
        # sticky comments are the App's own: another bot's comment with the marker is not (#10)
        client = cls(token, repo, api_url, bot_login=TOKENS.bot_login(api_url, app_id, key))
        client._renew = lambda stale: TOKENS.renew(api_url, app_id, int(installation_id), key, stale)
        return client

    @classmethod
    def from_token(cls, token: str, repo: str, api_url: str = DEFAULT_API) -> GitHubClient:
        """A client for a plain token (the Action's token mode). A CI step has no queue to defer
        to, so this client sleeps out rate limits as GitHub asks, up to STEP_WAIT_BUDGET in all."""
        client = cls(token, repo, api_url)
        client._wait_budget = STEP_WAIT_BUDGET
        return client

    def __repr__(self) -> str:  # never the token
        return f"GitHubClient({self.repo_name!r}, {self.api_url!r})"

    def _request(self, verb: str, url: str, *, parameters: dict[str, Any] | None = None,
                 body: Any = None) -> Any:
        """Every API call mlgate makes goes through here, so /metrics counts each one.

        A 401 on an installation token (revoked, or the installation suspended and restored)
        drops that token from the cache and repeats the request once with a new one; without
        this every job of the installation would fail until the cached token expired."""
        try:
            return self._send(verb, url, parameters, body)
        except GithubException as exc:
            if exc.status != 401 or self._renew is None:
                raise
        renew, self._renew = self._renew, None  # once per client: a second 401 is an answer
        self._use_token(renew(self._token))
        return self._send(verb, url, parameters, body)


    def _get_or_none(self, url: str, *, parameters: dict[str, Any] | None = None) -> Any | None:
        """GET that answers None for GitHub's clean 404 ("no such thing"); any other error raises."""
        try:
            return self._request("GET", url, parameters=parameters)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
    def _use_token(self, token: str) -> None:
        self._token = token
        self.gh = _github(token, self.api_url)
        self.repo = self.gh.get_repo(self.repo_name, lazy=True)

    def _send(self, verb: str, url: str, parameters: dict[str, Any] | None, body: Any) -> Any:
        from bot.metrics import metrics

        m = metrics()
        try:
            data = self.gh.requester.requestJsonAndCheck(verb, url, parameters=parameters, input=body,
                                                         headers={"Accept": ACCEPT})[1]
        except GithubException as exc:
            m.github_calls.labels(method=verb, status=str(exc.status)).inc()
            raise
        except requests.RequestException:
            m.github_calls.labels(method=verb, status="error").inc()
            raise
        m.github_calls.labels(method=verb, status="ok").inc()
        # the requester's own record of the last answer's headers: Github.rate_limiting would
        # call GET /rate_limit when they are absent, which GitHub Enterprise Server without
        # rate limiting answers 404 (and that 404 would look like the read's own answer)
        remaining = self.gh.requester.rate_limiting[0]
        if remaining >= 0:
            m.github_rate_remaining.set(remaining)
        return data

    def _call(self, what: str, fn: Any) -> Any:
        """Run a read or an idempotent write. 5xx and short Retry-Afters were already retried by
        urllib3; a rate limit is never waited out in a worker thread: RetryLater hands it to the queue."""
        while True:
            try:
                return fn()
            except (GithubException, requests.RequestException) as exc:
                err = _translate(exc, what)
                if not self._waited(err):
                    raise err from None

    def _waited(self, err: GitHubError) -> bool:
        """Token mode only: sleep out a rate limit while the budget lasts; True to send again."""
        if not isinstance(err, RetryLater) or err.rate_limit is None:
            return False
        wait = max(err.seconds, 1.0)
        if wait > self._wait_budget:
            return False
        self._wait_budget -= wait
        time.sleep(wait)
        return True

    # ------------------------------------------------------------ reads

    def pull(self, number: int) -> PullInfo:
        """The pull request as GitHub sees it now (its current head, not the event's)."""
        def read() -> PullInfo:
            d = self._request("GET", f"{self.repo_url}/pulls/{number}")
            return PullInfo(int(d["number"]), d["head"]["sha"], d["head"]["ref"], d["base"]["ref"], d["base"]["sha"],
                            d["user"]["login"], d["state"], bool(d.get("merged")), bool(d.get("draft")),
                            int(d["changed_files"]) if isinstance(d.get("changed_files"), int) else None)
        result: PullInfo = self._call(f"reading PR #{number}", read)
        return result

    def changed_files(self, number: int) -> list[str]:
        """Paths the pull request changes (renames give the new path), one call per 100 files."""
        files: list[str] = []
        page = 1
        while len(files) < MAX_FILES:
            data = self._call(f"listing the files of PR #{number}", lambda p=page: self._request(
                "GET", f"{self.repo_url}/pulls/{number}/files", parameters={"per_page": 100, "page": p}))
            files += [str(f["filename"]) for f in data]
            if len(data) < 100:
                break
            page += 1
        return files

    def default_branch(self) -> str:
        """The repository's default branch, as GitHub reports it now."""
        def read() -> str:
            return str(self._request("GET", self.repo_url)["default_branch"])
        return str(self._call("reading the repository", read))

    def branch(self, name: str) -> BranchInfo:
        """A branch's head commit and protection; GitHubError (status 404) when it does not exist."""
        def read() -> BranchInfo:
            d = self._request("GET", f"{self.repo_url}/branches/{quote(name, safe='/')}")
            return BranchInfo(str(d["name"]), str(d["commit"]["sha"]), bool(d.get("protected")))
        result: BranchInfo = self._call(f"reading the branch {name}", read)
        return result

    def read_file(self, path: str, ref: str) -> str | None:
        """A text file at a ref, None when it does not exist there. Cached when ref is a SHA."""
        key = (self.api_url, self.repo_name, path, ref)
        cacheable = bool(SHA.match(ref))
        if cacheable:
            hit, value = CONTENTS.get(key)
            if hit:
                return value

        def read() -> bytes | None:
            content = self._get_or_none(f"{self.repo_url}/contents/{quote(path, safe='/')}",
                                        parameters={"ref": ref})
            if not isinstance(content, dict) or content.get("type") != "file":
                return None
            return base64.b64decode(content.get("content") or "")

        raw: bytes | None = self._call(f"reading {path} at {ref[:12]}", read)
        try:
            text = raw.decode("utf-8") if raw is not None else None
        except UnicodeDecodeError:
            raise NotText(f"{path} at {ref[:12]} is not UTF-8 text") from None
        if cacheable:
            CONTENTS.put(key, text)
        return text

    def permission(self, login: str) -> str:
        """admin, maintain, write, triage, read or none."""
        def perm() -> str:
            data = self._get_or_none(f"{self.repo_url}/collaborators/{login}/permission")
            if data is None:
                return "none"
            return str(data.get("role_name") or data.get("permission") or "none")
        return str(self._call(f"reading {login}'s permission", perm))

    def team_member(self, org: str, team_slug: str, login: str) -> bool:
        """An active member of @org/team_slug (pending invitations do not count)."""
        def member() -> bool:
            data = self._get_or_none(f"{self.api_url}/orgs/{org}/teams/{team_slug}/memberships/{login}")
            return data is not None and data.get("state") == "active"
        return bool(self._call(f"checking {login} in {org}/{team_slug}", member))

    def reviews(self, number: int) -> list[Review]:
        """Every review of the PR: user, state, commit_id, id (oldest first)."""
        def reviews() -> list[Review]:
            out: list[Review] = []
            page = 1
            while True:
                data = self._request("GET", f"{self.repo_url}/pulls/{number}/reviews",
                                     parameters={"per_page": 100, "page": page})
                out += [Review(user=(r.get("user") or {}).get("login"), state=r.get("state"),
                               commit_id=r.get("commit_id"), id=r.get("id")) for r in data]
                if len(data) < 100:
                    return out
                page += 1
        return list(self._call(f"listing reviews of PR #{number}", reviews))

    def required_checks(self, branch: str) -> list[str] | None:
        """Required status checks of a protected branch; None when it is not protected
        (or the token may not read protection)."""
        def checks() -> list[str] | None:
            try:
                data = self._request("GET", f"{self.repo_url}/branches/{branch}/protection/required_status_checks")
            except GithubException as exc:
                if exc.status in (403, 404):
                    return None
                raise
            return list(data.get("contexts") or [])
        result: list[str] | None = self._call(f"reading branch protection of {branch}", checks)
        return result

    def pulls_for_branch(self, head_owner: str, branch: str) -> list[PullInfo]:
        """Open PRs whose head is `head_owner:branch` (how a fork's workflow run finds its PR:
        GitHub leaves `workflow_run.pull_requests` empty for forks)."""
        def read() -> list[PullInfo]:
            data = self._request("GET", f"{self.repo_url}/pulls",
                                 parameters={"head": f"{head_owner}:{branch}", "state": "open", "per_page": 100})
            return [PullInfo(int(d["number"]), d["head"]["sha"], d["head"]["ref"], d["base"]["ref"],
                             d["base"]["sha"], d["user"]["login"], d["state"], bool(d.get("merged")),
                             bool(d.get("draft"))) for d in data]
        return list(self._call(f"finding the PR of {head_owner}:{branch}", read))

    def open_pulls_at(self, sha: str, limit: int = 100) -> list[PullInfo]:
        """Open PRs whose head commit is `sha`, among the `limit` most recently updated (one call).

        How a check event about a fork's head finds its PR: GitHub sends `pull_requests` empty
        for fork heads, and `commits/{sha}/pulls` does not list fork PRs reliably. A PR whose
        head was just pushed is among the most recently updated.
        """
        def read() -> list[PullInfo]:
            data = self._request("GET", f"{self.repo_url}/pulls", parameters={
                "state": "open", "sort": "updated", "direction": "desc", "per_page": min(limit, 100)})
            return [PullInfo(int(d["number"]), d["head"]["sha"], d["head"]["ref"], d["base"]["ref"],
                             d["base"]["sha"], d["user"]["login"], d["state"], bool(d.get("merged")),
                             bool(d.get("draft"))) for d in data if d.get("head", {}).get("sha") == sha]
        return list(self._call(f"finding the open PRs at {sha[:12]}", read))

    # ------------------------------------------------------------ comments

    def find_comment(self, number: int, marker: str) -> tuple[int, str] | None:
        """The bot's first comment on the PR that carries the marker: (id, body)."""
        def find() -> tuple[int, str] | None:
            page = 1
            while True:
                data = self._request("GET", f"{self.repo_url}/issues/{number}/comments",
                                     parameters={"per_page": 100, "page": page})
                for c in data:
                    if marker in (c.get("body") or "") and _is_ours(c, self.bot_login):
                        return int(c["id"]), str(c["body"])
                if len(data) < 100:
                    return None
                page += 1
        result: tuple[int, str] | None = self._call(f"listing comments of PR #{number}", find)
        return result

    def create_comment(self, number: int, body: str) -> int:
        """Post a new comment (not retried: see upsert_sticky_comment for the safe way)."""
        data = self._post(f"{self.repo_url}/issues/{number}/comments", {"body": body}, f"commenting on PR #{number}")
        return int(data["id"])

    def edit_comment(self, comment_id: int, body: str) -> None:
        self._call(f"editing comment {comment_id}",
                   lambda: self._request("PATCH", f"{self.repo_url}/issues/comments/{comment_id}", body={"body": body}))

    def upsert_sticky_comment(self, number: int, body: str, marker: str, known_id: int | None = None) -> int:
        """Edit the bot's PR comment that carries the marker, or create it; returns its id.

        `known_id` (kept by the store) saves the listing. When the create fails with a 5xx the
        comment may have been posted anyway, so the comments are listed again before the error
        goes back to the queue: a retried job then edits instead of posting a duplicate.
        """
        if known_id is not None:
            try:
                self.edit_comment(known_id, body)
                return known_id
            except GitHubError as exc:
                if exc.status not in (404, 410):  # deleted by someone: find or post it again
                    raise
        found = self.find_comment(number, marker)
        if found is not None:
            if found[1] != body:
                self.edit_comment(found[0], body)
            return found[0]
        try:
            return self.create_comment(number, body)
        except RetryLater as exc:
            if exc.rate_limit:  # GitHub did not process it, and wants no more requests for now
                raise
            found = self.find_comment(number, marker)
            if found is not None:
                if found[1] != body:
                    self.edit_comment(found[0], body)
                return found[0]
            raise

    def add_reaction(self, comment_id: int, content: str) -> None:
        """React to a comment; GitHub answers 200 for a reaction that exists, so a retry is safe."""
        self._post(f"{self.repo_url}/issues/comments/{comment_id}/reactions", {"content": content},
                   f"reacting to comment {comment_id}", idempotent=True)

    # ------------------------------------------------------------ labels

    def add_labels(self, number: int, labels: list[str]) -> None:
        """Add labels (adding a present label is a no-op on GitHub, so retries are safe)."""
        if labels:
            self._post(f"{self.repo_url}/issues/{number}/labels", {"labels": labels}, f"labelling PR #{number}",
                       idempotent=True)

    def remove_label(self, number: int, label: str) -> None:
        """Remove a label; a label that is not there is fine."""
        from urllib.parse import quote

        try:
            self._call(f"unlabelling PR #{number}",
                       lambda: self._request("DELETE", f"{self.repo_url}/issues/{number}/labels/{quote(label, safe='')}"))
        except GitHubError as exc:
            if exc.status != 404:
                raise

    # ------------------------------------------------------------ checks

    def find_check(self, sha: str, name: str) -> int | None:
        """The newest check run called `name` on `sha`."""
        data = self._call(
            f"listing check runs of {sha[:12]}",
            lambda: self._request("GET", f"{self.repo_url}/commits/{sha}/check-runs",
                                  parameters={"check_name": name, "filter": "latest"}),
        )
        runs = data.get("check_runs") or []
        return int(runs[0]["id"]) if runs else None

    def set_check(
        self, sha: str, name: str, *, status: str, conclusion: str | None = None, title: str = "",
        summary: str = "", details_url: str | None = None, known_id: int | None = None, lookup: bool = True,
        replacing: int | None = None,
    ) -> int:
        """Create or update the check run `name` on `sha`; returns its id.

        With `lookup=False` the caller vouches that no such check exists unless `known_id`
        names it (the App keeps the ids it created), which saves one call per check. A create
        that fails with a 5xx is looked up by name before the error goes back to the queue;
        `replacing` names a completed run the new one supersedes, which that lookup must not
        adopt (the create did not land if the newest run is still the old one).
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
            try:
                self._call(f"updating check {name}",
                           lambda: self._request("PATCH", f"{self.repo_url}/check-runs/{check_id}", body=body))
                return check_id
            except GitHubError as exc:
                if exc.status != 404 or known_id is None:
                    raise
                # the remembered id is gone (another App's repo copy, a deleted run): create it
        try:
            data = self._post(f"{self.repo_url}/check-runs", {**body, "head_sha": sha}, f"creating check {name}")
        except RetryLater as exc:
            if exc.rate_limit:  # GitHub did not process it, and wants no more requests for now
                raise
            found = self.find_check(sha, name)
            if found is None or found == replacing:
                raise
            return self.set_check(sha, name, status=status, conclusion=conclusion, title=title,
                                  summary=summary, details_url=details_url, known_id=found)
        return int(data["id"])

    # ------------------------------------------------------------ actions

    def run_info(self, run_id: int) -> RunInfo | None:
        """A workflow run of this repository from the Actions API (never from a payload); None when
        the repository has no such run."""
        def read() -> RunInfo | None:
            d = self._get_or_none(f"{self.repo_url}/actions/runs/{int(run_id)}")
            if d is None:
                return None
            repo, head = d.get("repository") or {}, d.get("head_repository") or {}
            own = repo.get("id")
            prs = tuple(int(p["number"]) for p in d.get("pull_requests") or []
                        if ((p.get("base") or {}).get("repo") or {}).get("id") == own
                        and ((p.get("head") or {}).get("repo") or {}).get("id") == own)
            return RunInfo(int(d["id"]), str(d.get("path") or ""), str(d.get("event") or ""),
                           str(d.get("head_branch") or ""), str(d.get("head_sha") or ""),
                           str(repo.get("full_name") or ""), str(head.get("full_name") or ""),
                           str((head.get("owner") or {}).get("login") or ""), d.get("conclusion"),
                           d.get("html_url"), prs, str(d.get("display_title") or "")[:1000])
        result: RunInfo | None = self._call(f"reading workflow run {run_id}", read)
        return result

    def has_artifact(self, run_id: int, name: str) -> bool:
        """Whether the run uploaded an artifact called `name` (one call, nothing downloaded)."""
        data = self._call(
            f"listing artifacts of run {run_id}",
            lambda: self._request("GET", f"{self.repo_url}/actions/runs/{int(run_id)}/artifacts",
                                  parameters={"name": name, "per_page": 100}),
        )
        return any(a.get("name") == name for a in data.get("artifacts", []))

    def download_artifact(self, run_id: int, name: str, max_bytes: int) -> bytes | None:
        """The artifact's zip bytes, or None when the run has no artifact of that name.

        Raises ArtifactUnavailable when it is expired or larger than `max_bytes` (declared or
        streamed): such an artifact will not get better by retrying.
        """
        data = self._call(
            f"listing artifacts of run {run_id}",
            lambda: self._request("GET", f"{self.repo_url}/actions/runs/{run_id}/artifacts",
                                  parameters={"name": name, "per_page": 100}),
        )
        matches = [a for a in data.get("artifacts", []) if a.get("name") == name]
        if not matches:
            return None
        art = matches[0]
        if art.get("expired"):
            raise ArtifactUnavailable(f"the `{name}` artifact of run {run_id} has expired")
        if int(art.get("size_in_bytes") or 0) > max_bytes:
            raise ArtifactUnavailable(f"the `{name}` artifact is {int(art['size_in_bytes']):,} bytes; "
                                      f"the limit is {max_bytes:,}")
        auth = self.gh.requester.auth
        token = getattr(auth, "token", "") if auth is not None else ""

        def fetch() -> bytes:
            url = f"{self.repo_url}/actions/artifacts/{int(art['id'])}/zip"
            headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT, "X-GitHub-Api-Version": API_VERSION}
            with requests.get(url, headers=headers, stream=True, timeout=60, allow_redirects=False) as first:
                if first.status_code in (301, 302, 303, 307, 308):
                    location = first.headers["Location"]
                else:
                    first.raise_for_status()
                    return _read_capped(first, name, max_bytes)
            # the blob URL is pre-signed: no Authorization header may follow it
            with requests.get(location, stream=True, timeout=60) as resp:
                resp.raise_for_status()
                return _read_capped(resp, name, max_bytes)
        return bytes(self._call(f"downloading artifact {name}", fetch))

    def rerun_workflow(self, run_id: int) -> None:
        """Re-run a workflow run (GitHub refuses while it still runs: that is a GitHubError)."""
        self._post(f"{self.repo_url}/actions/runs/{run_id}/rerun", {}, f"re-running workflow run {run_id}")

    # ------------------------------------------------------------ deployments

    def create_deployment(self, ref: str, environment: str, description: str, payload: JSONObject) -> int:
        """Record a GitHub Deployment (not retried on 5xx: a duplicate would be a second record)."""
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

    # ------------------------------------------------------------ merge queues and protected environments

    def compare(self, base: str, head: str) -> CompareInfo:
        """The commits `head` adds to `base` and the files it changes (GitHub lists at most 250
        commits and 300 files in one answer; `complete` says whether these are all of them)."""
        def read() -> CompareInfo:
            d = self._request("GET", f"{self.repo_url}/compare/{quote(base, safe='')}...{quote(head, safe='')}")
            commits = [str(c["sha"]) for c in d.get("commits") or []]
            files = [str(f["filename"]) for f in d.get("files") or []]
            total = d.get("total_commits")
            complete = (isinstance(total, int) and total == len(commits) and len(commits) < 250
                        and len(files) < 300)
            return CompareInfo(commits, files, complete)
        result: CompareInfo = self._call(f"comparing {base[:12]}...{head[:12]}", read)
        return result

    def review_deployment(self, run_id: int, environment: str, state: str, comment: str) -> None:
        """Answer a deployment protection rule through the run's callback (approved or rejected).
        Idempotent on GitHub's side: a second answer to a gate already answered is refused, not doubled."""
        self._post(f"{self.repo_url}/actions/runs/{int(run_id)}/deployment_protection_rule",
                   {"environment_name": environment, "state": state, "comment": comment[:1024]},
                   f"answering the deployment protection rule of run {run_id}", idempotent=True)

    # ------------------------------------------------------------ issues and dispatches (the monitor)

    def issues_with_label(self, label: str, state: str = "all", limit: int = 300) -> list[dict[str, Any]]:
        """Plain issues (never pull requests) carrying `label`, newest first, at most `limit`."""
        def read() -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            page = 1
            while len(out) < limit:
                data = self._request("GET", f"{self.repo_url}/issues", parameters={
                    "labels": label, "state": state, "per_page": 100, "page": page})
                out += [d for d in data if "pull_request" not in d]
                if len(data) < 100:
                    break
                page += 1
            return out[:limit]
        result: list[dict[str, Any]] = self._call(f"listing issues labelled {label}", read)
        return result

    def create_issue(self, title: str, body: str, labels: list[str]) -> int:
        """Open an issue (not retried on 5xx: a blind retry could open two; the monitor's next run
        lists the issues first and finds one that was opened anyway)."""
        data = self._post(f"{self.repo_url}/issues", {"title": title, "body": body, "labels": labels},
                          "opening an issue")
        return int(data["number"])

    def update_issue(self, number: int, *, title: str | None = None, body: str | None = None,
                     state: str | None = None, state_reason: str | None = None) -> None:
        """Edit an issue's title, body or state (a PATCH is idempotent)."""
        fields: dict[str, Any] = {k: v for k, v in (("title", title), ("body", body), ("state", state),
                                                   ("state_reason", state_reason)) if v is not None}
        self._call(f"updating issue #{number}",
                   lambda: self._request("PATCH", f"{self.repo_url}/issues/{number}", body=fields))

    def dispatch_workflow(self, workflow: str, ref: str, inputs: dict[str, str]) -> None:
        """workflow_dispatch (not retried: a second run would retrain twice)."""
        self._post(f"{self.repo_url}/actions/workflows/{workflow}/dispatches", {"ref": ref, "inputs": inputs},
                   f"dispatching workflow {workflow}")

    def repository_dispatch(self, event_type: str, payload: dict[str, Any]) -> None:
        """repository_dispatch (not retried: a second event would retrain twice)."""
        self._post(f"{self.repo_url}/dispatches", {"event_type": event_type, "client_payload": payload},
                   f"sending repository_dispatch {event_type}")

    # ------------------------------------------------------------ internals

    def _post(self, url: str, body: dict[str, Any], what: str, *, idempotent: bool = False) -> Any:
        """One POST. A 5xx is retried only when `idempotent` (otherwise the caller decides: a
        blind retry of a create could duplicate it); a rate-limited POST was not processed,
        and RetryLater hands it to the queue, which runs the (idempotent) job again later."""
        for attempt in range(3):
            try:
                return self._request("POST", url, body=body)
            except (GithubException, requests.RequestException) as exc:
                err = _translate(exc, what)
                last = attempt == 2
                if not last and self._waited(err):
                    continue
                if (isinstance(err, RetryLater) and not last and err.rate_limit is None and idempotent
                        and err.status is not None and err.status >= 500):
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise err from None
        raise GitHubError(f"{what}: gave up")  # pragma: no cover


def _read_capped(resp: requests.Response, name: str, max_bytes: int) -> bytes:
    chunks, size = [], 0
    for chunk in resp.iter_content(65536):
        size += len(chunk)
        if size > max_bytes:
            raise ArtifactUnavailable(f"the `{name}` artifact is larger than {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

