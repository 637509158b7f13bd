"""The stand-in through PyGithub's own code (no mlgate adapter in between), App JWT first."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import requests
from github import Auth, Github, GithubException, GithubIntegration

from bot.sandbox import make_artifact_zip

REPO = "acme/churn"
FAST: dict[str, Any] = {"retry": None, "seconds_between_requests": 0, "seconds_between_writes": 0}


def _integration(box: Any) -> GithubIntegration:
    return GithubIntegration(auth=Auth.AppAuth(box.app_id, box.private_key), base_url=box.base_url, **FAST)


def _gh(box: Any) -> Github:
    token = _integration(box).get_access_token(box.installation_id)
    return Github(auth=Auth.Token(token.token), base_url=box.base_url, **FAST)


def test_app_jwt_gives_an_installation_token_that_expires(github: Any) -> None:
    integration = _integration(github)
    (inst,) = list(integration.get_installations())
    assert inst.id == github.installation_id
    assert integration.get_repo_installation("acme", "churn").id == github.installation_id
    token = integration.get_access_token(github.installation_id)
    assert token.token.startswith("ghs_") and token.expires_at is not None
    assert github.count_calls("POST", "/access_tokens") == 1
    # the token authorises the REST endpoints; an unknown one is refused
    assert Github(auth=Auth.Token(token.token), base_url=github.base_url, **FAST).get_repo(REPO).default_branch == "main"
    with pytest.raises(GithubException) as info:
        Github(auth=Auth.Token("ghs_forged"), base_url=github.base_url, **FAST).get_repo(REPO).id  # noqa: B018
    assert info.value.status == 401


def test_read_a_file_and_list_the_pr_files_across_pages(github: Any) -> None:
    github.push(REPO, "main", {".github/mlgate.yml": "version: 1\n", "data/old.csv": "x\n"})
    files: dict[str, str | bytes] = {f"data/part-{i:02d}.csv": f"a\n{i}\n" for i in range(35)}
    pr_json = github.open_pull_request(REPO, files, delete=("data/old.csv",))
    repo = _gh(github).get_repo(REPO)
    assert repo.get_contents(".github/mlgate.yml", ref="main").decoded_content == b"version: 1\n"  # type: ignore[union-attr]
    with pytest.raises(GithubException) as info:
        repo.get_contents("nope.yml", ref="main")
    assert info.value.status == 404
    pr = repo.get_pull(pr_json["number"])
    assert pr.head.sha == pr_json["head"]["sha"] and pr.base.ref == "main" and pr.user.login == "alice"
    listed = {f.filename: f.status for f in pr.get_files()}  # 36 files: two pages of 30
    assert len(listed) == 36 and listed["data/old.csv"] == "removed" and listed["data/part-07.csv"] == "added"
    assert github.call_counts()[("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files")] == 2
    assert [c.sha for c in pr.get_commits()] == [pr.head.sha]
    assert [p.number for p in repo.get_pulls(state="open", head=f"acme:{pr.head.ref}")] == [pr.number]


def test_comments_reactions_and_labels(github: Any) -> None:
    n = github.open_pull_request(REPO, {"data/a.csv": "a\n"})["number"]
    pr = _gh(github).get_repo(REPO).get_pull(n)
    comment = pr.create_issue_comment("first")
    comment.edit("second")
    comment.create_reaction("rocket")
    assert [c.body for c in pr.get_issue_comments()] == ["second"]
    assert github.comments(REPO, n)[0]["user"]["login"] == "mlgate[bot]"
    assert github.reactions(REPO, comment.id) == ["rocket"]
    pr.add_to_labels("mlgate:data-change", "mlgate:regression")
    pr.remove_from_labels("mlgate:regression")
    assert [x.name for x in pr.get_labels()] == ["mlgate:data-change"] == github.labels(REPO, n)


def test_check_runs_create_update_and_filter_by_name(github: Any) -> None:
    sha = github.open_pull_request(REPO, {"data/a.csv": "a\n"})["head"]["sha"]
    repo = _gh(github).get_repo(REPO)
    check = repo.create_check_run(name="mlgate/evaluation", head_sha=sha, status="queued")
    repo.create_check_run(name="mlgate/review", head_sha=sha, status="in_progress")
    check.edit(status="completed", conclusion="failure",
               output={"title": "Gate failed", "summary": "roc_auc regressed"})
    (found,) = repo.get_commit(sha).get_check_runs(check_name="mlgate/evaluation")
    assert (found.id, found.status, found.conclusion, found.output.title) == (check.id, "completed", "failure",
                                                                              "Gate failed")
    assert {c["name"] for c in github.check_runs(REPO, sha)} == {"mlgate/evaluation", "mlgate/review"}
    repo.get_commit(sha).create_status("success", context="ci/other", description="ok")
    assert repo.get_commit(sha).get_combined_status().state == "success"


def test_artifact_zip_download_follows_the_302_to_the_blob_store(github: Any) -> None:
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    data = make_artifact_zip({"mlgate-report.json": b'{"version": 1}'})
    run_id = github.complete_workflow_run(REPO, pr["number"], artifact=data)
    gh = _gh(github)
    run = gh.get_repo(REPO).get_workflow_run(run_id)
    assert (run.head_sha, run.conclusion, run.name) == (pr["head"]["sha"], "success", "mlgate")
    (artifact,) = run.get_artifacts()
    assert artifact.name == "mlgate-report" and artifact.size_in_bytes == len(data)
    status, headers, _ = gh.requester.requestJson("GET", artifact.archive_download_url)
    assert status == 302
    blob = requests.get(headers["location"], timeout=10)  # a signed URL: no token needed, none sent
    assert blob.status_code == 200 and blob.content == data
    assert zipfile.ZipFile(io.BytesIO(blob.content)).read("mlgate-report.json") == b'{"version": 1}'
    # requests drops the token when it follows the redirect to the blob store's other host name
    token = gh.requester.auth.token  # type: ignore[union-attr]
    followed = requests.get(artifact.archive_download_url, headers={"Authorization": f"token {token}"}, timeout=10)
    assert followed.status_code == 200 and followed.content == data
    # a forged or expired blob URL is refused
    assert requests.get(headers["location"].replace("sig=", "sig=0"), timeout=10).status_code == 403


def test_invalid_requests_get_422_and_are_recorded(github: Any) -> None:
    sha = github.open_pull_request(REPO, {"data/a.csv": "a\n"})["head"]["sha"]
    repo = _gh(github).get_repo(REPO)
    with pytest.raises(GithubException) as info:
        repo.create_check_run(name="mlgate/evaluation", head_sha=sha, status="bogus")
    assert info.value.status == 422 and "Invalid request" in info.value.data["message"]  # type: ignore[index]
    with pytest.raises(GithubException) as info:
        repo._requester.requestJsonAndCheck("POST", f"{repo.url}/issues/1/comments", input={"text": "no body"})
    assert info.value.status == 422
    with pytest.raises(GithubException) as info:
        repo._requester.requestJsonAndCheck("GET", f"{github.base_url}/repos/acme/churn/no-such-endpoint")
    assert info.value.status == 404
    assert len(github.problems) == 3, github.problems
    assert "'bogus' is not one of" in github.problems[0]
    assert "'body' is a required property" in github.problems[1]
    with pytest.raises(AssertionError, match="GitHub would reject"):
        github.assert_no_invalid_requests()
    github.problems.clear()  # this test made them on purpose


def test_502_three_times_then_success_through_urllib3_retry(github: Any) -> None:
    from urllib3.util import Retry

    n = github.open_pull_request(REPO, {"data/a.csv": "a\n"})["number"]
    token = _integration(github).get_access_token(github.installation_id).token
    retry = Retry(total=3, backoff_factor=0, status_forcelist=[502], allowed_methods=["GET"])
    gh = Github(auth=Auth.Token(token), base_url=github.base_url, retry=retry, seconds_between_requests=0,
                seconds_between_writes=0)
    github.inject_fault("GET", r"/pulls/\d+$", "502", times=3)
    assert gh.get_repo(REPO).get_pull(n).number == n
    statuses = [c.status for c in github.calls if c.template == "/repos/{owner}/{repo}/pulls/{pull_number}"]
    assert statuses == [502, 502, 502, 200]


def test_429_and_rate_limit_faults_carry_githubs_headers(github: Any) -> None:
    n = github.open_pull_request(REPO, {"data/a.csv": "a\n"})["number"]
    gh = _gh(github)
    url = f"{github.base_url}/repos/{REPO}/pulls/{n}"
    github.inject_fault("GET", r"/pulls/\d+$", "429", times=1, retry_after=7)
    status, headers, _ = gh.requester.requestJson("GET", url)
    assert status == 429 and headers["retry-after"] == "7"
    github.inject_fault("GET", r"/pulls/\d+$", "rate_limit", times=1, retry_after=30)
    status, headers, _ = gh.requester.requestJson("GET", url)
    assert status == 403 and headers["x-ratelimit-remaining"] == "0" and int(headers["x-ratelimit-reset"]) > 0
    status, headers, _ = gh.requester.requestJson("GET", url)
    assert status == 200 and int(headers["x-ratelimit-remaining"]) < 5000
    assert gh.get_rate_limit().resources.core.limit == 5000


def test_deployments_and_workflow_dispatch(github: Any) -> None:
    repo = _gh(github).get_repo(REPO)
    d = repo.create_deployment(ref="main", environment="production", description="churn-classifier v3",
                               payload={"model": "churn-classifier", "version": "3"}, auto_merge=False,
                               required_contexts=[])
    d.create_status("success", description="alias moved")
    (listed,) = repo.get_deployments(environment="production")
    assert listed.id == d.id and [s.state for s in listed.get_statuses()] == ["success"]
    assert github.deployments(REPO)[0]["statuses"][0]["state"] == "success"
    repo._requester.requestJsonAndCheck("POST", f"{repo.url}/actions/workflows/mlgate.yml/dispatches",
                                        input={"ref": "main", "inputs": {"pr": "1"}})
    assert github.dispatches(REPO) == [{"workflow_id": "mlgate.yml", "ref": "main", "inputs": {"pr": "1"}}]
