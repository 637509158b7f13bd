"""The stand-in's GitHub-native gates behave as GitHub documents them (issue #16)."""

from __future__ import annotations

import json
from typing import Any

import requests

REPO = "acme/churn"


def _auth(github: Any) -> dict[str, str]:
    return {"Authorization": f"token {github.create_token(REPO)}", "Accept": "application/vnd.github+json"}


def test_compare_lists_what_a_merge_group_adds(github: Any) -> None:
    github.set_webhook(sink=lambda h, b: 202)
    a = github.open_pull_request(REPO, {"train.py": "x\n"})
    b = github.open_pull_request(REPO, {"src/m.py": "y\n"})
    base = github.repos[REPO].branches["main"]
    first, second = github.merge_queue(REPO, [a["number"], b["number"]])
    r = requests.get(f"{github.base_url}/repos/{REPO}/compare/{base}...{second}", headers=_auth(github), timeout=10)
    data = r.json()
    assert r.status_code == 200 and data["total_commits"] == len(data["commits"])
    shas = [c["sha"] for c in data["commits"]]
    assert {a["head"]["sha"], b["head"]["sha"], first, second} <= set(shas)
    assert sorted(f["filename"] for f in data["files"]) == ["src/m.py", "train.py"]
    # each entry's group starts at the previous entry's commit
    event = [d for d in github.deliveries if d["event"] == "merge_group"][-1]["payload"]["merge_group"]
    assert event["base_sha"] == first and event["head_ref"].endswith(f"/pr-{b['number']}-{first}")


def test_a_protection_rule_is_answered_once(github: Any) -> None:
    github.set_webhook(sink=lambda h, b: 202)
    sha = github.repos[REPO].branches["main"]
    run = github.request_deployment(REPO, sha)
    url = f"{github.base_url}/repos/{REPO}/actions/runs/{run}/deployment_protection_rule"
    body = {"environment_name": "production", "state": "rejected", "comment": "no"}
    assert requests.post(url, json=body, headers=_auth(github), timeout=10).status_code == 204
    assert requests.post(url, json={**body, "state": "approved"}, headers=_auth(github), timeout=10).status_code == 422
    assert github.protection_answer(REPO, run)["state"] == "rejected"


def test_a_manifest_code_converts_once(github: Any) -> None:
    manifest = {"name": "x", "url": "https://x.example", "redirect_url": "https://x.example/cb",
                "hook_attributes": {"url": "https://x.example/webhook"}}
    r = requests.post(f"{github.base_url}/settings/apps/new?state=s1", data={"manifest": json.dumps(manifest)},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith("https://x.example/cb?code=")
    code = r.headers["Location"].split("code=")[1].split("&")[0]
    assert "state=s1" in r.headers["Location"]
    first = requests.post(f"{github.base_url}/app-manifests/{code}/conversions", timeout=10)
    assert first.status_code == 201 and "BEGIN" in first.json()["pem"] and first.json()["webhook_secret"]
    assert requests.post(f"{github.base_url}/app-manifests/{code}/conversions", timeout=10).status_code == 404
    github.problems.clear()  # the second conversion's 404 is the point
