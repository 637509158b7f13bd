"""Deliveries (shape, signature, templates), the HTTP admin API, response shapes, call log."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests

from bot.sandbox import Sandbox, make_artifact_zip
from bot.sandbox import webhooks as wh
from tests.fixtures.webhooks import load, load_all

REPO = "acme/churn"


def _capture(box: Any) -> list[tuple[dict[str, str], dict[str, Any]]]:
    got: list[tuple[dict[str, str], dict[str, Any]]] = []

    def sink(headers: dict[str, str], body: bytes) -> int:
        assert wh.verify(box.webhook_secret, body, headers["X-Hub-Signature-256"])
        got.append((headers, json.loads(body)))
        return 202

    box.set_webhook(sink=sink)
    return got


def test_every_admin_change_sends_a_signed_delivery_shaped_like_githubs(github: Any) -> None:
    got = _capture(github)
    github.push(REPO, "main", {"train.py": "print(1)\n"})
    assert got == []  # mlgate does not listen to push
    pr = github.open_pull_request(REPO, {"data/a.csv": "a\n"}, draft=True)
    n = pr["number"]
    github.ready_for_review(REPO, n)
    sha = github.push_to_pull_request(REPO, n, {"data/b.csv": "b\n"})
    c = github.comment(REPO, n, "/status", user="bob")
    github.edit_comment(REPO, c["id"], "/help")
    github.delete_comment(REPO, c["id"])
    rid = github.review(REPO, n, user="carol")
    github.dismiss_review(REPO, n, rid)
    run_id = github.complete_workflow_run(REPO, n, artifact=make_artifact_zip({"r.json": b"{}"}))
    github.close_pull_request(REPO, n)
    github.reopen_pull_request(REPO, n)
    github.merge(REPO, n, user="dave")
    keys = [(h["X-GitHub-Event"], p.get("action")) for h, p in got]
    assert keys == [("pull_request", "opened"), ("pull_request", "ready_for_review"),
                    ("pull_request", "synchronize"), ("issue_comment", "created"), ("issue_comment", "edited"),
                    ("issue_comment", "deleted"), ("pull_request_review", "submitted"),
                    ("pull_request_review", "dismissed"), ("workflow_run", "completed"),
                    ("pull_request", "closed"), ("pull_request", "reopened"), ("pull_request", "closed")]
    for headers, payload in got:
        assert headers["Content-Type"] == "application/json" and len(headers["X-GitHub-Delivery"]) == 36
        assert payload["installation"] == {"id": github.installation_id, "node_id": payload["installation"]["node_id"]}
        assert payload["repository"]["full_name"] == REPO and payload["repository"]["owner"]["login"] == "acme"
        assert payload["organization"]["login"] == "acme"
        text = json.dumps(payload)
        assert "api.github.com" not in text and "Hello-World" not in text  # the template's own repo is gone
    by = {(h["X-GitHub-Event"], p.get("action")): p for h, p in got}
    sync = by[("pull_request", "synchronize")]
    assert sync["after"] == sha == sync["pull_request"]["head"]["sha"] and sync["before"] == pr["head"]["sha"]
    assert sync["pull_request"]["changed_files"] == 2 and sync["pull_request"]["draft"] is False
    assert sync["pull_request"]["merged_by"] is None and sync["pull_request"]["requested_reviewers"] == []
    created = by[("issue_comment", "created")]
    assert created["issue"]["number"] == n and created["issue"]["pull_request"]["url"].endswith(f"/pulls/{n}")
    assert created["comment"]["body"] == "/status" and created["sender"]["login"] == "bob"
    assert by[("issue_comment", "edited")]["changes"] == {"body": {"from": "/status"}}
    review = by[("pull_request_review", "submitted")]["review"]
    assert review["state"] == "APPROVED" and review["commit_id"] == sha and review["user"]["login"] == "carol"
    run = by[("workflow_run", "completed")]["workflow_run"]
    assert run["id"] == run_id and run["head_sha"] == sha and run["pull_requests"][0]["number"] == n
    assert run["url"] == f"{github.base_url}/repos/{REPO}/actions/runs/{run_id}"
    assert by[("workflow_run", "completed")]["workflow"]["path"] == ".github/workflows/mlgate.yml"
    merged = got[-1][1]["pull_request"]
    assert merged["merged"] is True and merged["merged_by"]["login"] == "dave" and merged["state"] == "closed"
    assert github.file(REPO, "data/b.csv", "main") == b"b\n"  # the merge moved main
    # a delivery's template is the real example: fields the stand-in never sets are there too
    example = load("pull_request", "opened-1")
    assert set(example["pull_request"]) <= set(by[("pull_request", "opened")]["pull_request"])


def test_installation_check_run_and_ping_deliveries(github_app_key: str) -> None:
    with Sandbox() as box:
        box.register_app(private_key=github_app_key, webhook_secret="s3cret")
        got = _capture(box)
        box.ping()
        inst = box.create_installation("acme", [REPO])
        box.add_repositories(inst, ["acme/other"])
        sha = box.open_pull_request(REPO, {"data/a.csv": "a\n"})["head"]["sha"]
        token = box.create_token(REPO)
        created = requests.post(f"{box.base_url}/repos/{REPO}/check-runs", json={"name": "mlgate/evaluation",
                                "head_sha": sha, "conclusion": "success"},
                                headers={"Authorization": f"token {token}"}, timeout=10).json()
        box.rerequest_check_run(REPO, created["id"])
        box.assert_no_invalid_requests()
    keys = [(h["X-GitHub-Event"], p.get("action")) for h, p in got]
    assert keys == [("ping", None), ("installation", "created"), ("installation_repositories", "added"),
                    ("pull_request", "opened"), ("check_run", "rerequested")]
    ping, installed, added = got[0][1], got[1][1], got[2][1]
    assert ping["hook"]["app_id"] == box.app_id and "repository" not in ping and "installation" not in ping
    assert installed["installation"]["id"] == inst and installed["installation"]["account"]["login"] == "acme"
    assert [r["full_name"] for r in installed["repositories"]] == [REPO]
    assert [r["full_name"] for r in added["repositories_added"]] == ["acme/other"]
    check = got[-1][1]["check_run"]
    assert check["id"] == created["id"] and check["head_sha"] == sha and check["check_suite"]["head_sha"] == sha
    assert check["pull_requests"][0]["head"]["sha"] == sha


def test_redelivery_keeps_the_delivery_id(github: Any) -> None:
    got = _capture(github)
    github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    github.redeliver()
    assert got[0][0]["X-GitHub-Delivery"] == got[1][0]["X-GitHub-Delivery"] and got[0][1] == got[1][1]
    assert github.deliveries[-1]["status"] == 202


def test_the_http_admin_api_drives_the_same_story(github: Any) -> None:
    got = _capture(github)

    def admin(name: str, /, **kwargs: Any) -> Any:
        r = requests.post(f"{github.base_url}/_sandbox/{name}", json=kwargs, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["result"]

    pr = admin("open_pull_request", repo=REPO, files={"data/a.csv": "a\n", "model.bin": {"b64": "AAEC"}})
    n = pr["number"]
    admin("set_permission", repo=REPO, login="bob", permission="maintain")
    admin("add_team_member", org="acme", team="ml-release", login="bob")
    admin("comment", repo=REPO, number=n, body="/promote", user="bob")
    data = make_artifact_zip({"mlgate-report.json": b"{}"})
    run_id = admin("complete_workflow_run", repo=REPO, number=n, artifact_b64=base64.b64encode(data).decode())
    assert github.repos[REPO].artifacts and github.repos[REPO].runs[run_id]["number"] == n
    assert admin("file", repo=REPO, path="model.bin", ref=pr["head"]["ref"]) == {"b64": "AAEC"}
    assert [c["body"] for c in admin("comments", repo=REPO, number=n)] == ["/promote"]
    admin("inject_fault", method="GET", path_regex="/pulls/", kind="502", times=1)
    assert len(github.faults) == 1
    assert [p["action"] for _, p in got] == ["opened", "created", "completed"]
    bad = requests.post(f"{github.base_url}/_sandbox/open_pull_request", json={"nope": 1}, timeout=10)
    assert bad.status_code == 400
    assert requests.post(f"{github.base_url}/_sandbox/__init__", json={}, timeout=10).status_code == 404
    log = requests.get(f"{github.base_url}/_sandbox/calls", timeout=10).json()
    assert log == {"calls": [], "counts": []}  # admin requests are not GitHub calls


def test_responses_match_githubs_schemas(github_app_key: str) -> None:
    """Every answer of a full PR story validates against the description's response schemas."""
    from tests.sandbox.test_pygithub import _gh

    with Sandbox(validate_responses=True) as box:
        box.register_app(private_key=github_app_key)
        box.create_installation("acme", [REPO])
        box.push(REPO, "main", {".github/mlgate.yml": "version: 1\n"})
        n = box.open_pull_request(REPO, {"data/a.csv": "a\n"})["number"]
        box.set_permission(REPO, "bob", "write")
        box.add_team_member("acme", "ml", "bob")
        box.require_checks(REPO, "main", ["mlgate/evaluation"])
        box.review(REPO, n, user="bob")
        run_id = box.complete_workflow_run(REPO, n, artifact=make_artifact_zip({"a": b"b"}))
        gh = _gh(box)
        repo = gh.get_repo(REPO)
        pr = repo.get_pull(n)
        list(pr.get_files()), list(pr.get_commits()), list(pr.get_reviews()), list(repo.get_pulls())
        repo.get_contents(".github/mlgate.yml", ref="main")
        comment = pr.create_issue_comment("hello")
        comment.edit("hello again")
        comment.create_reaction("eyes")
        list(comment.get_reactions()), list(pr.get_issue_comments())
        pr.add_to_labels("x")
        list(pr.get_labels())
        pr.remove_from_labels("x")
        check = repo.create_check_run(name="c", head_sha=pr.head.sha, status="in_progress")
        check.edit(conclusion="success", output={"title": "t", "summary": "s"})
        list(repo.get_commit(pr.head.sha).get_check_runs())
        repo.get_commit(pr.head.sha).create_status("pending", context="x")
        repo.get_commit(pr.head.sha).get_combined_status()
        gh.requester.requestJsonAndCheck("GET", f"{repo.url}/commits/{pr.head.sha}/statuses")
        repo.get_collaborator_permission("bob")
        repo.get_branch("main"), repo.get_git_ref("heads/main")
        run = repo.get_workflow_run(run_id)
        list(run.get_artifacts()), list(repo.get_workflow_runs(head_sha=pr.head.sha))
        d = repo.create_deployment(ref="main", environment="production", required_contexts=[], auto_merge=False)
        d.create_status("success")
        list(d.get_statuses()), list(repo.get_deployments())
        gh.get_rate_limit()
        req = gh.requester
        for url in (f"{box.base_url}/orgs/acme/teams/ml/memberships/bob",
                    f"{repo.url}/branches/main/protection/required_status_checks", f"{repo.url}/installation"):
            if url.endswith("/installation"):
                continue  # JWT only, covered by test_pygithub
            req.requestJsonAndCheck("GET", url)
        problems = list(box.problems)
    assert problems == [], "\n".join(problems)


def test_call_log_counts_per_template_and_resets(github: Any) -> None:
    n = github.open_pull_request(REPO, {"data/a.csv": "a\n"})["number"]
    token = github.create_token(REPO)
    auth = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        requests.get(f"{github.base_url}/repos/{REPO}/pulls/{n}", headers=auth, timeout=10)
    r = requests.get(f"{github.base_url}/repos/{REPO}/issues/{n}/comments?per_page=1", headers=auth, timeout=10)
    assert r.headers["X-RateLimit-Limit"] == "5000" and "X-RateLimit-Reset" in r.headers
    counts = github.call_counts()
    assert counts[("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")] == 3
    assert counts[("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")] == 1
    assert github.calls[0] == ("GET", f"/repos/{REPO}/pulls/{n}", 200)  # a plain 3-tuple compares equal
    github.reset()
    assert github.calls == [] and github.call_counts() == {}


def test_pagination_links_keep_the_query(github: Any) -> None:
    n = github.open_pull_request(REPO, {"data/a.csv": "a\n"})["number"]
    for i in range(5):
        github.comment(REPO, n, f"c{i}")
    auth = {"Authorization": f"token {github.create_token(REPO)}"}
    url: str | None = f"{github.base_url}/repos/{REPO}/issues/{n}/comments?per_page=2&since=2000-01-01T00:00:00Z"
    bodies = []
    while url:
        r = requests.get(url, headers=auth, timeout=10)
        bodies += [c["body"] for c in r.json()]
        url = r.links.get("next", {}).get("url")
        assert not url or ("since=" in url and url.startswith(github.base_url))
    assert bodies == [f"c{i}" for i in range(5)]


def test_unknown_endpoints_are_404_and_recorded(github: Any) -> None:
    auth = {"Authorization": f"token {github.create_token(REPO)}"}
    assert requests.get(f"{github.base_url}/repos/{REPO}/nonsense", headers=auth, timeout=10).status_code == 404
    assert requests.put(f"{github.base_url}/repos/{REPO}", headers=auth, timeout=10).status_code == 404
    assert len(github.problems) == 2
    github.problems.clear()


def test_fixtures_cover_the_handled_events_and_derived_ones_say_so() -> None:
    events = {e for e, _, _ in load_all()}
    assert events == {"ping", "pull_request", "pull_request_review", "issue_comment", "workflow_run", "check_run",
                      "check_suite", "installation", "installation_repositories", "merge_group",
                      "deployment_protection_rule"}
    actions = {(e, p.get("action")) for e, _, p in load_all()}
    for needed in [("pull_request", a) for a in ("opened", "synchronize", "reopened", "ready_for_review", "closed")] + [
            ("pull_request_review", "submitted"), ("pull_request_review", "dismissed"),
            ("issue_comment", "created"), ("issue_comment", "edited"), ("issue_comment", "deleted"),
            ("workflow_run", "completed"), ("check_run", "rerequested"), ("check_suite", "requested"),
            ("check_suite", "rerequested"), ("merge_group", "checks_requested"),
            ("pull_request", "converted_to_draft")]:
        assert needed in actions, needed
    derived = {(e, n) for e, n, p in load_all() if "_mlgate_fixture_note" in p}
    assert derived == {("issue_comment", "created-on-pr.json"), ("workflow_run", "completed-with-installation.json"),
                       ("deployment_protection_rule", "requested-from-schema.json")}
    on_pr = load("issue_comment", "created-on-pr")
    assert on_pr["issue"]["pull_request"] and on_pr["installation"]["id"]
    assert load("workflow_run", "completed-with-installation")["installation"]["id"]
    for rel in wh.TEMPLATES.values():
        assert (wh.FIXTURES_DIR / rel).exists(), rel
