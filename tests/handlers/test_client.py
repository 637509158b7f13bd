"""The GitHub client's retry, idempotency and caching rules, against the stand-in."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

from bot.github_client import MAX_WAIT, TOKENS, GitHubClient, GitHubError, RetryLater
from bot.plan import EVALUATION, INVALID_CONFIG_TITLE
from tests.handlers.conftest import REPO, Hub


def _client(github: Any) -> GitHubClient:
    settings = SimpleNamespace(github_api_url=github.base_url, app_id=github.app_id, private_key=github.private_key)
    return GitHubClient.for_installation(settings, github.installation_id, REPO)


def test_a_failed_create_is_not_repeated_blindly_but_looked_up(github: Any) -> None:
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    gh = _client(github)
    github.inject_fault("POST", r"/check-runs$", "502", times=1)
    with pytest.raises(RetryLater):
        gh.set_check(pr["head"]["sha"], EVALUATION, status="queued", title="t", summary="s")
    assert github.count_calls("POST", "/check-runs") == 1  # one POST, then a lookup by name
    assert github.count_calls("GET", "/check-runs") == 2  # (and the one before it)
    first = gh.set_check(pr["head"]["sha"], EVALUATION, status="queued", title="t", summary="s")
    again = gh.set_check(pr["head"]["sha"], EVALUATION, status="completed", conclusion="success", title="t")
    assert first == again and len(github.check_runs(REPO, pr["head"]["sha"])) == 1


def test_idempotent_posts_are_retried_in_place_on_5xx(github: Any) -> None:
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    gh = _client(github)
    github.inject_fault("POST", r"/labels$", "502", times=2)
    gh.add_labels(pr["number"], ["mlgate:data-change"])
    assert github.labels(REPO, pr["number"]) == ["mlgate:data-change"]


@pytest.mark.parametrize(("kind", "retry_after", "rate_limit", "seconds"), [
    ("429", 1, "secondary", 1),
    ("429", MAX_WAIT + 50, "secondary", MAX_WAIT + 50),
    ("secondary", 1, "secondary", 60),  # no Retry-After: GitHub asks for at least a minute
    ("secondary_retry_after", 1, "secondary", 1),  # the queue still waits a minute (bot.worker.retry_delay)
    ("rate_limit", 1, "primary", 1),  # until X-RateLimit-Reset
    ("rate_limit", MAX_WAIT + 50, "primary", MAX_WAIT + 50),
])
def test_every_rate_limit_goes_to_the_queue_with_one_request(
        github: Any, kind: str, retry_after: int, rate_limit: str, seconds: int) -> None:
    """Never retried in place: not a GET (urllib3 used to retry 429s), not a POST (it slept)."""
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    gh = _client(github)
    for method, path, call, before in (
        ("GET", r"/pulls/\d+$", lambda: gh.pull(pr["number"]), 0),
        ("POST", r"/issues/\d+/comments$", lambda: gh.create_comment(pr["number"], "x"), 0),
        ("POST", r"/labels$", lambda: gh.add_labels(pr["number"], ["x"]), 0),  # idempotent POSTs too
        # a rate-limited create was not processed: no lookup for it while GitHub asks for quiet
        ("POST", r"/check-runs$", lambda: gh.set_check(pr["head"]["sha"], "x", status="queued", lookup=False), 0),
        ("POST", r"/issues/\d+/comments$", lambda: gh.upsert_sticky_comment(pr["number"], "x", "<!-- m -->"),
         1),  # (after listing the comments)
    ):
        github.reset_calls()
        github.inject_fault(method, path, kind, times=1, retry_after=retry_after)
        with pytest.raises(RetryLater) as info:
            call()
        assert (info.value.rate_limit, info.value.status) == (rate_limit, 429 if kind == "429" else 403)
        assert info.value.seconds == pytest.approx(seconds, abs=2)
        assert len(github.calls) == before + 1 and github.calls[-1].status == info.value.status, github.calls
    assert github.comments(REPO, pr["number"]) == [] and github.labels(REPO, pr["number"]) == []


def test_many_changed_files_are_paged(github: Any) -> None:
    files: dict[str, str | bytes] = {f"data/part-{i:03}.csv": "a\n" for i in range(150)}
    pr = github.open_pull_request(REPO, files)
    gh = _client(github)
    github.reset_calls()
    assert sorted(gh.changed_files(pr["number"])) == sorted(files)
    assert github.count_calls("GET", "/files") == 2


def test_file_reads_are_cached_by_commit_sha_only(github: Any) -> None:
    sha = github.push(REPO, "main", {"a.txt": "one\n"})
    gh = _client(github)
    github.reset_calls()
    assert gh.read_file("a.txt", sha) == "one\n" and gh.read_file("a.txt", sha) == "one\n"
    assert gh.read_file("missing.txt", sha) is None and gh.read_file("missing.txt", sha) is None
    assert github.count_calls("GET", "/contents/") == 2
    github.push(REPO, "main", {"a.txt": "two\n"})
    assert gh.read_file("a.txt", "main") == "two\n"  # a branch moves: never cached
    assert gh.read_file("a.txt", "main") == "two\n"
    assert github.count_calls("GET", "/contents/") == 4


def test_a_config_that_is_not_text_fails_the_check(hub: Hub) -> None:
    hub.github.push(REPO, "main", {".github/mlgate.yml": b"\xff\xfe\x00v"})
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    check = hub.checks(pr["head"]["sha"])[EVALUATION]
    assert (check["conclusion"], check["output"]["title"]) == ("failure", INVALID_CONFIG_TITLE)
    assert "not UTF-8 text" in check["output"]["summary"]


def test_one_token_per_installation_under_concurrency_and_never_in_errors(github: Any) -> None:
    TOKENS.clear()
    github.reset_calls()
    clients: list[GitHubClient] = []
    threads = [threading.Thread(target=lambda: clients.append(_client(github))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(clients) == 8 and github.count_calls("POST", "/access_tokens") == 1
    token = next(iter(github.tokens))
    gh = clients[0]
    with pytest.raises(GitHubError) as info:
        gh.pull(999)
    assert info.value.status == 404
    for text in (str(info.value), repr(gh), repr(info.value)):
        assert token not in text and "ghs_" not in text


def test_token_mode_sleeps_out_a_rate_limit_within_its_budget(github: Any) -> None:
    """The Action's token mode runs in a CI step with no queue to defer to: its client waits as
    GitHub asks (Retry-After, the reset), and gives up once a wait would exceed its budget."""
    from bot.github_client import STEP_WAIT_BUDGET

    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    gh = GitHubClient.from_token(github.create_token(REPO), REPO, github.base_url)
    github.reset_calls()
    github.inject_fault("POST", r"/issues/\d+/comments$", "429", times=1, retry_after=1)
    gh.create_comment(pr["number"], "a rate-limited POST was not processed: it is sent again")
    github.inject_fault("GET", r"/pulls/\d+$", "secondary_retry_after", times=1, retry_after=1)
    assert gh.pull(pr["number"]).number == pr["number"]
    assert [c.status for c in github.calls] == [429, 201, 403, 200]
    github.inject_fault("GET", r"/pulls/\d+$", "429", times=1, retry_after=int(STEP_WAIT_BUDGET) + 1)
    with pytest.raises(RetryLater):
        gh.pull(pr["number"])
    assert len(github.comments(REPO, pr["number"])) == 1
