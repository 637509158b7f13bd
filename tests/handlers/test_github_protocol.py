"""GitHub's protocol as the client must speak it: secondary rate limits, revoked installation
tokens, the versioned media type on every request, and GitHub Enterprise Server without rate
limiting (issues #11 and #12). All against the shared stand-in, which models each behaviour."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import requests

from bot.github_client import ACCEPT, API_VERSION, TOKENS, GitHubClient, GitHubError, RetryLater
from bot.plan import EVALUATION, NO_CONFIG_TITLE
from tests.handlers.conftest import REPO, Hub


def _client(github: Any) -> GitHubClient:
    settings = SimpleNamespace(github_api_url=github.base_url, app_id=github.app_id, private_key=github.private_key)
    return GitHubClient.for_installation(settings, github.installation_id, REPO)


def test_a_secondary_rate_limit_without_retry_after_goes_to_the_queue_for_a_minute(github: Any) -> None:
    """GitHub's documented 403 with no Retry-After and quota left: not a permission error, and
    not retried in place; the queue waits at least a minute (bot.worker.retry_delay)."""
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    gh = _client(github)
    github.reset_calls()
    github.inject_fault("GET", r"/pulls/\d+/files$", "secondary", times=1)
    with pytest.raises(RetryLater) as info:
        gh.changed_files(pr["number"])
    assert (info.value.status, info.value.rate_limit, info.value.seconds) == (403, "secondary", 60.0)
    assert github.count_calls("GET", "/files") == 1
    assert gh.changed_files(pr["number"]) == ["data/a.csv"]  # GitHub answers again: so does the client


def test_a_plain_403_is_still_an_answer_not_a_rate_limit(github: Any) -> None:
    token = github.create_token(REPO, read_only=True)
    gh = GitHubClient.from_token(token, REPO, github.base_url)
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    with pytest.raises(GitHubError) as info:
        gh.create_comment(pr["number"], "x")
    assert info.value.status == 403 and not isinstance(info.value, RetryLater)


def test_a_revoked_installation_token_is_dropped_and_renewed_once(github: Any) -> None:
    TOKENS.clear()
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    gh = _client(github)
    github.reset_calls()
    assert github.revoke_token(installation_id=github.installation_id) == 1
    assert gh.pull(pr["number"]).number == pr["number"]  # 401, a new token, the same request again
    assert [c.status for c in github.calls if "/pulls/" in c.path] == [401, 200]
    assert github.count_calls("POST", "/access_tokens") == 1
    _client(github).pull(pr["number"])  # the next job gets the new token from the cache
    assert github.count_calls("POST", "/access_tokens") == 1
    # a second 401 on the same client is GitHub's answer: no loop of renewals
    github.revoke_token(installation_id=github.installation_id)
    with pytest.raises(GitHubError) as info:
        gh.pull(pr["number"])
    assert info.value.status == 401 and github.count_calls("POST", "/access_tokens") == 1


def test_a_revoked_token_does_not_fail_the_installations_next_jobs(hub: Hub) -> None:
    TOKENS.clear()
    hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    hub.github.revoke_token(installation_id=hub.github.installation_id)
    pr = hub.github.open_pull_request(REPO, {"data/b.csv": "b\n"})
    hub.one()
    assert hub.checks(pr["head"]["sha"])[EVALUATION]["status"] != "completed"  # waiting for its evaluation


def test_every_request_sends_the_api_version_and_the_github_media_type(hub: Hub) -> None:
    TOKENS.clear()  # the token request too
    hub.github.reset_calls()
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    hub.github.comment(REPO, pr["number"], "/help")
    hub.one()
    assert hub.github.count_calls("POST", "/access_tokens") == 1 and len(hub.github.calls) > 5
    wrong = [(c.method, c.path, c.headers) for c in hub.github.calls
             if c.headers != {"Accept": ACCEPT, "X-GitHub-Api-Version": API_VERSION}]
    assert wrong == []


def test_the_artifact_download_sends_them_too(github: Any) -> None:
    from bot.sandbox import make_artifact_zip

    github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    run_id = github.complete_workflow_run(REPO, 1, artifact=make_artifact_zip({"r.json": b"{}"}))
    gh = _client(github)
    github.reset_calls()
    assert gh.download_artifact(run_id, "mlgate-report", 10_000_000)
    assert {(c.headers["Accept"], c.headers["X-GitHub-Api-Version"]) for c in github.calls} == {(ACCEPT, API_VERSION)}


def test_the_stand_in_refuses_an_api_version_github_does_not_serve(github: Any) -> None:
    resp = requests.get(f"{github.base_url}/repos/{REPO}", timeout=10,
                        headers={"X-GitHub-Api-Version": "1999-01-01", "Accept": ACCEPT})
    assert resp.status_code == 400 and "1999-01-01" in resp.json()["message"]


def test_enterprise_server_without_rate_limiting_reads_the_config(hub: Hub) -> None:
    """GHES with rate limiting off: no X-RateLimit-* headers and /rate_limit is 404. PyGithub's
    `rate_limiting` then called /rate_limit after every answer, and its 404 made the config read
    look like "no config": both checks went neutral on a configured repository."""
    hub.github.enterprise_server()
    token = hub.github.create_token(REPO)
    raw = requests.get(f"{hub.github.base_url}/rate_limit", timeout=10, headers={"Authorization": f"Bearer {token}"})
    assert raw.status_code == 404 and not [h for h in raw.headers if h.lower().startswith("x-ratelimit")]
    hub.cold()
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    checks = hub.checks(pr["head"]["sha"])
    assert checks[EVALUATION]["conclusion"] != "neutral"
    assert checks[EVALUATION]["output"]["title"] != NO_CONFIG_TITLE
    assert checks[EVALUATION]["status"] in ("queued", "in_progress")  # configured: waiting for its evaluation
    assert hub.github.count_calls("GET", "/rate_limit") == 1  # only this test's own request
    assert hub.github.labels(REPO, pr["number"]) == ["mlgate:data-change"]
