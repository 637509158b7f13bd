"""The GitHub stand-in, driven through the real PyGithub-based client adapter."""

from __future__ import annotations

import hashlib
import hmac
import json
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from bot.github_client import TOKENS, GitHubClient, GitHubError
from bot.sandbox.server import make_artifact_zip

MARKER = "<!-- mlgate:report -->"


def _client(github: Any) -> GitHubClient:
    settings = SimpleNamespace(github_api_url=github.base_url, app_id=github.app_id, private_key=github.private_key)
    return GitHubClient.for_installation(settings, github.installation_id, "acme/churn")


def test_app_jwt_to_installation_token_and_reads(github: Any) -> None:
    github.push("acme/churn", "main", {".github/mlgate.yml": "version: 1\n"})
    pr = github.open_pull_request("acme/churn", {"data/train.csv": "a\n1\n", "src/model.py": "x = 1\n"})
    gh = _client(github)
    assert gh.read_file(".github/mlgate.yml", pr["base"]["sha"]) == "version: 1\n"
    assert gh.read_file("nope.yml", pr["base"]["sha"]) is None
    assert sorted(gh.changed_files(pr["number"])) == ["data/train.csv", "src/model.py"]
    info = gh.pull(pr["number"])
    assert info.head_sha == pr["head"]["sha"] and info.author == "alice" and info.state == "open"
    # the token is cached: a second client asks for no new token
    before = github.count_calls("POST", "/access_tokens")
    _client(github)
    assert github.count_calls("POST", "/access_tokens") == before


def test_sticky_comment_is_created_once_then_edited(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    gh = _client(github)
    first = gh.upsert_sticky_comment(pr["number"], f"{MARKER}\none", MARKER)
    github.comment("acme/churn", pr["number"], "a human comment")
    second = gh.upsert_sticky_comment(pr["number"], f"{MARKER}\ntwo", MARKER)
    assert first == second
    bodies = [c["body"] for c in github.comments("acme/churn", pr["number"])]
    assert bodies == [f"{MARKER}\ntwo", "a human comment"]


def test_check_run_is_set_by_name_and_sha(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    sha = pr["head"]["sha"]
    gh = _client(github)
    a = gh.set_check(sha, "mlgate/evaluation", status="queued", title="Queued", summary="waiting")
    b = gh.set_check(sha, "mlgate/evaluation", status="completed", conclusion="failure", title="Gate failed", summary="x")
    assert a == b
    (run,) = github.check_runs("acme/churn", sha)
    assert (run["status"], run["conclusion"], run["output"]["title"]) == ("completed", "failure", "Gate failed")


def test_labels_reactions_permissions_teams(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    gh = _client(github)
    gh.add_labels(pr["number"], ["mlgate:data-change", "mlgate:regression"])
    gh.remove_label(pr["number"], "mlgate:regression")
    gh.remove_label(pr["number"], "never-there")  # idempotent
    assert github.labels("acme/churn", pr["number"]) == ["mlgate:data-change"]
    c = github.comment("acme/churn", pr["number"], "/promote", user="bob")
    gh.add_reaction(c["id"], "eyes")
    assert github.reactions("acme/churn", c["id"]) == ["eyes"]
    github.set_permission("acme/churn", "bob", "maintain")
    assert gh.permission("bob") == "maintain" and gh.permission("stranger") == "none"
    github.add_team_member("acme", "ml-release", "bob")
    assert gh.team_member("acme", "ml-release", "bob") and not gh.team_member("acme", "ml-release", "eve")


def test_artifact_download_follows_the_redirect_without_the_token(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    data = make_artifact_zip({"mlgate-report.json": b"{}"})
    run_id = github.complete_workflow_run("acme/churn", pr["number"], artifact=data)
    gh = _client(github)
    assert gh.download_artifact(run_id, "mlgate-report", 10_000_000) == data
    assert gh.download_artifact(run_id, "other", 10_000_000) is None
    with pytest.raises(GitHubError, match="limit"):
        gh.download_artifact(run_id, "mlgate-report", 10)


def test_invalid_requests_are_rejected_and_recorded(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    gh = _client(github)
    with pytest.raises(GitHubError) as info:
        gh.set_check(pr["head"]["sha"], "mlgate/evaluation", status="bogus")
    assert info.value.status == 422
    with pytest.raises(GitHubError):
        gh._post(f"{gh.repo.url}/issues/{pr['number']}/comments", {}, "a comment without body")
    assert len(github.problems) == 2
    assert "'bogus' is not one of" in github.problems[0]
    assert "'body' is a required property" in github.problems[1]
    github.problems.clear()  # this test made them on purpose


def test_unauthenticated_and_foreign_repo_requests(github: Any) -> None:
    r = requests.get(f"{github.base_url}/repos/acme/churn", timeout=10)
    assert r.status_code == 401
    token = github.create_token("acme/churn", read_only=True)
    r = requests.get(f"{github.base_url}/repos/acme/other", headers={"Authorization": f"token {token}"}, timeout=10)
    assert r.status_code == 404
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    ro = GitHubClient.from_token(token, "acme/churn", github.base_url)
    with pytest.raises(GitHubError) as info:
        ro.create_comment(pr["number"], "hello")
    assert info.value.status == 403


def test_faults_502_then_success_without_duplicates(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    gh = _client(github)
    gh.upsert_sticky_comment(pr["number"], f"{MARKER}\nv1", MARKER)
    github.inject_fault("PATCH", r"/issues/comments/", "502", times=2)
    gh.upsert_sticky_comment(pr["number"], f"{MARKER}\nv2", MARKER)  # PATCH is retried by the client
    assert [c["body"] for c in github.comments("acme/churn", pr["number"])] == [f"{MARKER}\nv2"]
    # a POST that fails is not retried blindly: the caller gets RetryLater and nothing is posted twice
    github.inject_fault("POST", r"/issues/\d+/comments$", "502", times=1)
    with pytest.raises(GitHubError):
        gh.create_comment(pr["number"], "x")
    assert len(github.comments("acme/churn", pr["number"])) == 1


def test_429_retry_after_is_honoured(github: Any) -> None:
    """The client hands each rate limit to the queue with GitHub's wait (never sleeps on it)."""
    from bot.github_client import RetryLater

    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    gh = _client(github)
    for kind, limit in (("429", "secondary"), ("rate_limit", "primary"), ("secondary_retry_after", "secondary")):
        github.inject_fault("GET", r"/pulls/\d+$", kind, times=1, retry_after=30)
        with pytest.raises(RetryLater) as info:
            gh.pull(pr["number"])
        assert info.value.rate_limit == limit and 28 <= info.value.seconds <= 30
        assert gh.pull(pr["number"]).number == pr["number"]


def test_webhooks_are_signed(github: Any) -> None:
    got: list[tuple[dict[str, str], bytes]] = []

    def sink(headers: dict[str, str], body: bytes) -> int:
        got.append((headers, body))
        return 202

    github.set_webhook(sink=sink)
    github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    headers, body = got[-1]
    expected = "sha256=" + hmac.new(github.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == expected
    payload = json.loads(body)
    assert headers["X-GitHub-Event"] == "pull_request" and payload["action"] == "opened"
    assert payload["installation"]["id"] == github.installation_id
    assert payload["repository"]["full_name"] == "acme/churn"


def test_bad_app_jwt_is_refused(github: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    TOKENS.tokens.clear()
    settings = SimpleNamespace(github_api_url=github.base_url, app_id=github.app_id, private_key=other)
    with pytest.raises(GitHubError) as info:
        GitHubClient.for_installation(settings, github.installation_id, "acme/churn")
    assert info.value.status == 401


def test_latency_delays_every_api_answer_and_is_set_through_the_admin_api(github: Any) -> None:
    import time

    from bot.sandbox.state import SandboxError

    with pytest.raises(SandboxError, match="between 0 and 30"):
        github.set_latency(-1)
    github.set_latency(0.4)
    url = f"{github.base_url}/repos/acme/churn/pulls"
    start = time.monotonic()
    assert requests.get(url, headers={"Authorization": f"token {github.create_token('acme/churn')}"},
                        timeout=10).status_code == 200
    assert time.monotonic() - start >= 0.4
    requests.post(f"{github.base_url}/_sandbox/set_latency", json={"seconds": 0}, timeout=10).raise_for_status()
    assert github.latency == 0
