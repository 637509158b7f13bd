"""#10: the sticky comment is the App's own. Another bot's comment that carries the hidden marker
(quoted, or planted) is never the App's to edit: GitHub answers 403 to that edit, and before this
the job failed on it. The App's login is `<slug>[bot]`, its slug read once from GET /app."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.github_client import GitHubClient, GitHubError

MARKER = "<!-- mlgate:report -->"


def _client(github: Any) -> GitHubClient:
    settings = SimpleNamespace(github_api_url=github.base_url, app_id=github.app_id, private_key=github.private_key)
    return GitHubClient.for_installation(settings, github.installation_id, "acme/churn")


def test_a_foreign_bots_comment_with_the_marker_is_left_alone_and_the_app_writes_its_own(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    planted = f"{MARKER}\nnot mlgate's report"
    github.comment("acme/churn", pr["number"], planted, user="other-ci[bot]")
    gh = _client(github)
    first = gh.upsert_sticky_comment(pr["number"], f"{MARKER}\none", MARKER)
    second = gh.upsert_sticky_comment(pr["number"], f"{MARKER}\ntwo", MARKER)
    assert first == second
    comments = github.comments("acme/churn", pr["number"])
    assert [(c["user"]["login"], c["body"]) for c in comments] == [
        ("other-ci[bot]", planted), ("mlgate[bot]", f"{MARKER}\ntwo")]
    assert gh.bot_login == "mlgate[bot]"  # the stand-in's App slug, as GET /app names it


def test_the_stand_in_refuses_an_edit_of_another_bots_comment_as_github_does(github: Any) -> None:
    pr = github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    other = github.comment("acme/churn", pr["number"], f"{MARKER}\nx", user="other-ci[bot]")
    with pytest.raises(GitHubError) as info:
        _client(github).edit_comment(int(other["id"]), "overwritten")
    assert info.value.status == 403
    assert [c["body"] for c in github.comments("acme/churn", pr["number"])] == [f"{MARKER}\nx"]


def test_the_apps_slug_is_asked_once(github: Any) -> None:
    before = github.count_calls("GET", "/app")
    _client(github)
    _client(github)
    assert github.count_calls("GET", "/app") - before == 1
