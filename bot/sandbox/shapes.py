"""GitHub's JSON shapes of the stand-in's state: every REST answer and webhook payload body.

Each shape starts from GitHub's own example in the OpenAPI description (`example`) and carries
the state on top; every URL in it is built from the stand-in's base URL (PyGithub refuses to
follow URLs on another host). Read-only: nothing here changes the state.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from bot.sandbox import openapi, webhooks
from bot.sandbox.state import Commit, Repo, World, now


@lru_cache(maxsize=256)
def _example_text(name: str, base_url: str) -> str:
    return json.dumps(openapi.example(name)).replace("https://api.github.com", base_url)


class Shapes:
    """The JSON shapes over one `World`."""

    def __init__(self, world: World) -> None:
        self.world = world

    def example(self, name: str) -> Any:
        return json.loads(_example_text(name, self.world.base_url))

    def api(self, r: Repo) -> str:
        return f"{self.world.base_url}/repos/{r.full_name}"

    def user(self, login: str) -> dict[str, Any]:
        """GitHub's simple-user shape for `login` (ids stable per stand-in)."""
        uid = self.world.users.setdefault(login, 5000 + len(self.world.users))
        kind = "Bot" if login.endswith("[bot]") else "User"
        if self.world.is_org(login):
            kind = "Organization"
        u = f"{self.world.base_url}/users/{login}"
        return {"login": login, "id": uid, "node_id": f"MDQ6VXNlcj{uid}", "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
                "gravatar_id": "", "url": u, "html_url": f"https://github.com/{login}",
                "followers_url": f"{u}/followers", "following_url": f"{u}/following{{/other_user}}",
                "gists_url": f"{u}/gists{{/gist_id}}", "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
                "subscriptions_url": f"{u}/subscriptions", "organizations_url": f"{u}/orgs",
                "repos_url": f"{u}/repos", "events_url": f"{u}/events{{/privacy}}",
                "received_events_url": f"{u}/received_events", "type": kind, "site_admin": False,
                "user_view_type": "public"}

    def org_json(self, login: str) -> dict[str, Any]:
        u = self.user(login)
        api = f"{self.world.base_url}/orgs/{login}"
        return {"login": login, "id": u["id"], "node_id": u["node_id"], "url": api, "repos_url": f"{api}/repos",
                "events_url": f"{api}/events", "hooks_url": f"{api}/hooks", "issues_url": f"{api}/issues",
                "members_url": f"{api}/members{{/member}}", "public_members_url": f"{api}/public_members{{/member}}",
                "avatar_url": u["avatar_url"], "description": None}

    def repo_brief(self, r: Repo) -> dict[str, Any]:
        return {"id": r.id, "node_id": f"R_kgDO{r.id}", "name": r.name, "full_name": r.full_name, "private": True}

    def repo_json(self, r: Repo) -> dict[str, Any]:
        data = self.example("full-repository-default-response")
        api = self.api(r)
        text = json.dumps(data).replace(f"{self.world.base_url}/repos/octocat/Hello-World", api).replace(
            "https://github.com/octocat/Hello-World", f"https://github.com/{r.full_name}").replace(
            "octocat/Hello-World", r.full_name)
        data = json.loads(text)
        for key in ("organization", "parent", "source", "template_repository", "license", "security_and_analysis",
                    "code_of_conduct"):
            data.pop(key, None)
        return webhooks.overlay_object(data, {
            "id": r.id, "node_id": f"R_kgDO{r.id}", "name": r.name, "full_name": r.full_name, "private": True,
            "owner": self.user(r.owner), "html_url": f"https://github.com/{r.full_name}", "url": api,
            "default_branch": r.default_branch, "fork": r.parent is not None, "visibility": "private",
            "description": f"{r.name} (GitHub stand-in)", "homepage": None, "topics": [],
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            "created_at": "2024-01-01T00:00:00Z", "updated_at": now(), "pushed_at": now(),
            "has_issues": True, "archived": False, "disabled": False, "language": "Python", "license": None,
        })

    def pull_json(self, r: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        api = self.api(r)
        data = self.example("pull-request")

        def side(ref: str, sha: str, where: Repo = r) -> dict[str, Any]:
            return {"ref": ref, "sha": sha, "label": f"{where.owner}:{ref}", "user": self.user(where.owner),
                    "repo": self.repo_json(where)}

        files = self.pr_files(r, pr)
        ours = {
            "id": pr["id"], "node_id": f"PR_kwDO{pr['id']}", "number": n, "state": pr["state"], "title": pr["title"],
            "body": pr.get("body") or None, "user": self.user(pr["author"]), "draft": pr["draft"],
            "merged": pr["merged"], "locked": False, "active_lock_reason": None,
            "url": f"{api}/pulls/{n}", "html_url": f"https://github.com/{r.full_name}/pull/{n}",
            "diff_url": f"https://github.com/{r.full_name}/pull/{n}.diff",
            "patch_url": f"https://github.com/{r.full_name}/pull/{n}.patch",
            "issue_url": f"{api}/issues/{n}", "comments_url": f"{api}/issues/{n}/comments",
            "commits_url": f"{api}/pulls/{n}/commits", "review_comments_url": f"{api}/pulls/{n}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "statuses_url": f"{api}/statuses/{pr['head_sha']}",
            "head": side(pr["head"], pr["head_sha"], self.world.head_repo(r, pr)), "base": side(pr["base"], pr["base_sha"]),
            "merge_commit_sha": pr.get("merge_commit_sha"),
            "labels": [self.label_json(r, x) for x in r.labels.get(n, [])],
            "created_at": pr["created_at"], "updated_at": pr["updated_at"], "closed_at": pr["closed_at"],
            "merged_at": pr["merged_at"], "merged_by": self.user(pr["merged_by"]) if pr.get("merged_by") else None,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [], "milestone": None,
            "auto_merge": None, "author_association": "MEMBER", "mergeable": None if pr["merged"] else True,
            "rebaseable": None if pr["merged"] else True, "mergeable_state": "clean" if pr["state"] == "open" else "unknown",
            "comments": sum(1 for c in self.world.snapshot(r.comments) if c["issue"] == n), "review_comments": 0,
            "maintainer_can_modify": False, "commits": len(self.world.pr_commits(r, pr)),
            "additions": len(files), "deletions": 0, "changed_files": len(files),
            "_links": {k: {"href": v} for k, v in {
                "self": f"{api}/pulls/{n}", "html": f"https://github.com/{r.full_name}/pull/{n}",
                "issue": f"{api}/issues/{n}", "comments": f"{api}/issues/{n}/comments",
                "review_comments": f"{api}/pulls/{n}/comments", "review_comment": f"{api}/pulls/comments{{/number}}",
                "commits": f"{api}/pulls/{n}/commits", "statuses": f"{api}/statuses/{pr['head_sha']}"}.items()},
        }
        return webhooks.overlay_object(data, ours)

    def pull_simple_json(self, r: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        full = self.pull_json(r, pr)
        for key in ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by", "comments",
                    "review_comments", "maintainer_can_modify", "commits", "additions", "deletions", "changed_files"):
            full.pop(key, None)
        return full

    def issue_json(self, r: Repo, pr: dict[str, Any]) -> dict[str, Any]:
        n = pr["number"]
        api = self.api(r)
        return {"url": f"{api}/issues/{n}", "repository_url": api, "labels_url": f"{api}/issues/{n}/labels{{/name}}",
                "comments_url": f"{api}/issues/{n}/comments", "events_url": f"{api}/issues/{n}/events",
                "html_url": f"https://github.com/{r.full_name}/pull/{n}", "id": pr["id"] + 1,
                "node_id": f"PR_kwDO{pr['id']}", "number": n, "title": pr["title"], "user": self.user(pr["author"]),
                "labels": [self.label_json(r, x) for x in r.labels.get(n, [])], "state": pr["state"],
                "locked": False, "assignee": None, "assignees": [], "milestone": None,
                "comments": sum(1 for c in self.world.snapshot(r.comments) if c["issue"] == n),
                "created_at": pr["created_at"], "updated_at": pr["updated_at"], "closed_at": pr["closed_at"],
                "author_association": "MEMBER", "active_lock_reason": None, "draft": pr["draft"],
                "pull_request": {"url": f"{api}/pulls/{n}", "html_url": f"https://github.com/{r.full_name}/pull/{n}",
                                 "diff_url": f"https://github.com/{r.full_name}/pull/{n}.diff",
                                 "patch_url": f"https://github.com/{r.full_name}/pull/{n}.patch",
                                 "merged_at": pr["merged_at"]},
                "body": pr.get("body") or None, "state_reason": None}

    def plain_issue_json(self, r: Repo, issue: dict[str, Any]) -> dict[str, Any]:
        """An issue that is not a pull request: no `pull_request` key, state_reason when closed."""
        n = issue["number"]
        api = self.api(r)
        return {"url": f"{api}/issues/{n}", "repository_url": api, "labels_url": f"{api}/issues/{n}/labels{{/name}}",
                "comments_url": f"{api}/issues/{n}/comments", "events_url": f"{api}/issues/{n}/events",
                "html_url": f"https://github.com/{r.full_name}/issues/{n}", "id": issue["id"],
                "node_id": f"I_kwDO{issue['id']}", "number": n, "title": issue["title"],
                "user": self.user(issue["author"]),
                "labels": [self.label_json(r, x) for x in r.labels.get(n, [])], "state": issue["state"],
                "locked": False, "assignee": None, "assignees": [], "milestone": None,
                "comments": sum(1 for c in self.world.snapshot(r.comments) if c["issue"] == n),
                "created_at": issue["created_at"], "updated_at": issue["updated_at"], "closed_at": issue["closed_at"],
                "author_association": "NONE", "active_lock_reason": None,
                "body": issue.get("body") or None, "state_reason": issue.get("state_reason")}

    def pr_files(self, r: Repo, pr: dict[str, Any]) -> list[dict[str, Any]]:
        """The diff of the PR's head against the base it was opened from (the merge base)."""
        base, head = r.trees[pr["base_sha"]], r.trees[pr["head_sha"]]
        api = self.api(r)
        out = []
        for path in sorted(set(base) | set(head)):
            old, new = base.get(path), head.get(path)
            if old == new:
                continue
            status = "added" if old is None else "removed" if new is None else "modified"
            data = new if new is not None else old or b""
            lines = data.count(b"\n") or 1
            out.append({"sha": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), "filename": path,
                        "status": status, "additions": 0 if new is None else lines,
                        "deletions": 0 if old is None else (old.count(b"\n") or 1),
                        "changes": lines, "blob_url": f"https://github.com/{r.full_name}/blob/{pr['head_sha']}/{path}",
                        "raw_url": f"https://github.com/{r.full_name}/raw/{pr['head_sha']}/{path}",
                        "contents_url": f"{api}/contents/{path}?ref={pr['head_sha']}"})
        return out

    def commit_json(self, r: Repo, c: Commit) -> dict[str, Any]:
        api = self.api(r)
        person = {"name": c.author, "email": f"{c.author}@users.noreply.github.com", "date": c.date}
        return {"url": f"{api}/commits/{c.sha}", "sha": c.sha, "node_id": f"C_kwDO{c.sha[:12]}",
                "html_url": f"https://github.com/{r.full_name}/commit/{c.sha}",
                "comments_url": f"{api}/commits/{c.sha}/comments",
                "commit": {"url": f"{api}/git/commits/{c.sha}", "author": person, "committer": person,
                           "message": c.message, "comment_count": 0,
                           "tree": {"url": f"{api}/git/trees/{c.sha}", "sha": c.sha},
                           "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                            "payload": None, "verified_at": None}},
                "author": self.user(c.author), "committer": self.user(c.author),
                "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"https://github.com/{r.full_name}/commit/{p}"}
                            for p in c.parents]}

    def reactions_summary(self, r: Repo, cid: int) -> dict[str, Any]:
        counts = Counter(x["content"] for x in r.reactions.get(cid, []))
        keys = {"+1": "+1", "-1": "-1", "laugh": "laugh", "confused": "confused", "heart": "heart",
                "hooray": "hooray", "eyes": "eyes", "rocket": "rocket"}
        return {"url": f"{self.api(r)}/issues/comments/{cid}/reactions", "total_count": sum(counts.values()),
                **{k: counts.get(v, 0) for k, v in keys.items()}}

    def comment_json(self, r: Repo, c: dict[str, Any]) -> dict[str, Any]:
        data = self.example("issue-comment")
        api = self.api(r)
        return webhooks.overlay_object(data, {
            "id": c["id"], "node_id": f"IC_kwDO{c['id']}", "body": c["body"], "user": self.user(c["user"]),
            "url": f"{api}/issues/comments/{c['id']}",
            "html_url": f"https://github.com/{r.full_name}/pull/{c['issue']}#issuecomment-{c['id']}",
            "issue_url": f"{api}/issues/{c['issue']}", "created_at": c["created_at"], "updated_at": c["updated_at"],
            "author_association": "NONE" if c["user"].endswith("[bot]") else "MEMBER",
            "reactions": self.reactions_summary(r, c["id"]),
            "performed_via_github_app": None,
        })

    def review_json(self, r: Repo, rv: dict[str, Any]) -> dict[str, Any]:
        data = self.example("pull-request-review-items")[0]
        n = rv["number"]
        html = f"https://github.com/{r.full_name}/pull/{n}#pullrequestreview-{rv['id']}"
        return webhooks.overlay_object(data, {
            "id": rv["id"], "node_id": f"PRR_kwDO{rv['id']}", "user": self.user(rv["user"]), "body": rv["body"],
            "state": rv["state"], "commit_id": rv["commit_id"], "submitted_at": rv["submitted_at"],
            "html_url": html, "pull_request_url": f"{self.api(r)}/pulls/{n}", "author_association": "MEMBER",
            "_links": {"html": {"href": html}, "pull_request": {"href": f"{self.api(r)}/pulls/{n}"}},
        })

    def label_json(self, r: Repo, name: str) -> dict[str, Any]:
        return {"id": int(hashlib.sha1(name.encode()).hexdigest()[:8], 16), "node_id": f"LA_kwDO{name}",
                "url": f"{self.api(r)}/labels/{name}", "name": name, "description": None, "color": "ededed",
                "default": False}

    def check_json(self, r: Repo, c: dict[str, Any]) -> dict[str, Any]:
        data = self.example("check-run")
        api = self.api(r)
        output = c["output"]
        return webhooks.overlay_object(data, {
            "id": c["id"], "node_id": f"CR_kwDO{c['id']}", "name": c["name"], "head_sha": c["head_sha"],
            "status": c["status"], "conclusion": c["conclusion"], "external_id": c.get("external_id") or "",
            "url": f"{api}/check-runs/{c['id']}", "html_url": f"https://github.com/{r.full_name}/runs/{c['id']}",
            "details_url": c.get("details_url") or f"https://github.com/{r.full_name}/runs/{c['id']}",
            "started_at": c["started_at"], "completed_at": c["completed_at"],
            "output": {"title": output.get("title"), "summary": output.get("summary"), "text": output.get("text"),
                       "annotations_count": len(output.get("annotations") or []),
                       "annotations_url": f"{api}/check-runs/{c['id']}/annotations"},
            "check_suite": {"id": c["id"] + 1, "node_id": f"CS_kwDO{c['id'] + 1}", "head_sha": c["head_sha"],
                            "head_branch": next((pr["head"] for pr in self.world.snapshot(r.pulls)
                                                 if pr["head_sha"] == c["head_sha"]), None),
                            "status": c["status"], "conclusion": c["conclusion"],
                            "url": f"{api}/check-suites/{c['id'] + 1}", "app": self.app_json()},
            "app": self.app_json(), "pull_requests": [
                {"url": f"{api}/pulls/{pr['number']}", "id": pr["id"], "number": pr["number"],
                 "head": {"ref": pr["head"], "sha": pr["head_sha"], "repo": {"id": r.id, "url": api, "name": r.name}},
                 "base": {"ref": pr["base"], "sha": pr["base_sha"], "repo": {"id": r.id, "url": api, "name": r.name}}}
                for pr in self.pulls_in_checks(r, c["head_sha"])],
            "actions": c.get("actions") or [],
        })

    def suite_json(self, r: Repo, sha: str) -> dict[str, Any]:
        """The App's check suite at `sha`: one per App and commit, summing up its check runs."""
        api = self.api(r)
        runs = [c for c in self.world.snapshot(r.check_runs) if c["head_sha"] == sha]
        sid = int(hashlib.sha1(f"{r.full_name}@{sha}".encode()).hexdigest()[:8], 16)
        done = bool(runs) and all(c["status"] == "completed" for c in runs)
        conclusions = [c["conclusion"] for c in runs]
        worst = next((x for x in ("failure", "cancelled", "timed_out", "action_required", "neutral", "success")
                      if x in conclusions), None)
        head = next((pr for pr in self.world.snapshot(r.pulls) if pr["head_sha"] == sha), None)
        commit = r.commits.get(sha)
        who = {"name": commit.author if commit else r.owner, "email": f"{commit.author if commit else r.owner}@example.com"}
        return {
            "id": sid, "node_id": f"CS_kwDO{sid}", "head_sha": sha,
            "head_branch": head["head"] if head else next((b for b, at in r.branches.items() if at == sha), None),
            "status": "completed" if done else "queued", "conclusion": worst if done else None,
            "url": f"{api}/check-suites/{sid}", "before": commit.parents[0] if commit and commit.parents else None,
            "after": sha, "app": self.app_json(), "created_at": now(), "updated_at": now(),
            "latest_check_runs_count": len(runs), "check_runs_url": f"{api}/check-suites/{sid}/check-runs",
            "head_commit": {"id": sha, "tree_id": sha, "message": commit.message if commit else "",
                            "timestamp": commit.date if commit else now(), "author": who, "committer": who},
            "pull_requests": [
                {"url": f"{api}/pulls/{pr['number']}", "id": pr["id"], "number": pr["number"],
                 "head": {"ref": pr["head"], "sha": pr["head_sha"], "repo": {"id": r.id, "url": api, "name": r.name}},
                 "base": {"ref": pr["base"], "sha": pr["base_sha"], "repo": {"id": r.id, "url": api, "name": r.name}}}
                for pr in self.pulls_in_checks(r, sha)],
        }

    def pulls_in_checks(self, r: Repo, sha: str) -> list[dict[str, Any]]:
        """The PRs GitHub lists in a check run's or check suite's `pull_requests`: open ones at
        `sha` whose head branch is in `r`. A fork's PR is never listed (the list is empty)."""
        return [pr for pr in self.world.snapshot(r.pulls) if pr["head_sha"] == sha and pr["state"] == "open"
                and (pr.get("head_repo") or r.full_name) == r.full_name]

    def status_json(self, r: Repo, s: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self.api(r)}/statuses/{s['sha']}", "avatar_url": None, "id": s["id"],
                "node_id": f"SC_kwDO{s['id']}", "state": s["state"], "description": s.get("description"),
                "target_url": s.get("target_url"), "context": s["context"], "created_at": s["created_at"],
                "updated_at": s["created_at"], "creator": self.user(f"{self.world.app_slug}[bot]")}

    def workflow_json(self, r: Repo, run: dict[str, Any]) -> dict[str, Any]:
        api = self.api(r)
        return {"id": run["workflow_id"], "node_id": f"W_kwDO{run['workflow_id']}", "name": run["name"],
                "path": run["path"], "state": "active", "created_at": "2024-01-01T00:00:00Z",
                "updated_at": "2024-01-01T00:00:00Z", "url": f"{api}/actions/workflows/{run['workflow_id']}",
                "html_url": f"https://github.com/{r.full_name}/blob/{r.default_branch}/{run['path']}",
                "badge_url": f"https://github.com/{r.full_name}/workflows/{run['name']}/badge.svg"}

    def run_json(self, r: Repo, run: dict[str, Any]) -> dict[str, Any]:
        data = self.example("workflow-run")
        api = self.api(r)
        rid = run["id"]
        pr = r.pulls.get(run["number"]) if run.get("number") else None
        head_repo = self.world.repos.get(run.get("head_repo") or r.full_name, r)
        # GitHub lists a PR only when the run's head branch is in this repository (not for forks)
        prs = [] if pr is None or head_repo is not r else [{
            "url": f"{api}/pulls/{pr['number']}", "id": pr["id"], "number": pr["number"],
            "head": {"ref": pr["head"], "sha": run["head_sha"], "repo": {"id": r.id, "url": api, "name": r.name}},
            "base": {"ref": pr["base"], "sha": pr["base_sha"], "repo": {"id": r.id, "url": api, "name": r.name}}}]
        commit = r.commits.get(run["head_sha"])
        head_commit = {"id": run["head_sha"], "tree_id": run["head_sha"], "message": commit.message if commit else "",
                       "timestamp": commit.date if commit else now(),
                       "author": {"name": run["author"], "email": f"{run['author']}@users.noreply.github.com"},
                       "committer": {"name": run["author"], "email": f"{run['author']}@users.noreply.github.com"}}
        return webhooks.overlay_object(data, {
            "id": rid, "name": run["name"], "node_id": f"WFR_kwDO{rid}", "head_branch": run["head_branch"],
            "head_sha": run["head_sha"], "path": run["path"],
            "display_title": run.get("display_title") or (pr["title"] if pr else run["name"]),
            "run_number": run["run_number"], "run_attempt": run["run_attempt"], "event": run["event"],
            "status": run["status"], "conclusion": run["conclusion"], "workflow_id": run["workflow_id"],
            "url": f"{api}/actions/runs/{rid}", "html_url": f"https://github.com/{r.full_name}/actions/runs/{rid}",
            "pull_requests": prs, "created_at": run["created_at"], "updated_at": run["updated_at"],
            "run_started_at": run["created_at"], "actor": self.user(run["author"]),
            "triggering_actor": self.user(run["author"]),
            "jobs_url": f"{api}/actions/runs/{rid}/jobs", "logs_url": f"{api}/actions/runs/{rid}/logs",
            "check_suite_url": f"{api}/check-suites/{rid}", "artifacts_url": f"{api}/actions/runs/{rid}/artifacts",
            "cancel_url": f"{api}/actions/runs/{rid}/cancel", "rerun_url": f"{api}/actions/runs/{rid}/rerun",
            "workflow_url": f"{api}/actions/workflows/{run['workflow_id']}", "previous_attempt_url": None,
            "head_commit": head_commit, "repository": self.repo_json(r), "head_repository": self.repo_json(head_repo),
            "referenced_workflows": [],
        })

    def artifact_json(self, r: Repo, a: dict[str, Any]) -> dict[str, Any]:
        api = self.api(r)
        run = r.runs[a["run_id"]]
        expires = (datetime.now(UTC) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"id": a["id"], "node_id": f"MDg6QXJ0aWZhY3Q{a['id']}", "name": a["name"],
                "size_in_bytes": len(a["data"]), "url": f"{api}/actions/artifacts/{a['id']}",
                "archive_download_url": f"{api}/actions/artifacts/{a['id']}/zip", "expired": False,
                "created_at": a["created_at"], "expires_at": expires, "updated_at": a["created_at"],
                "digest": "sha256:" + hashlib.sha256(a["data"]).hexdigest(),
                "workflow_run": {"id": run["id"], "repository_id": r.id,
                                 "head_repository_id": self.world.repos.get(run.get("head_repo") or r.full_name, r).id,
                                 "head_branch": run["head_branch"], "head_sha": run["head_sha"]}}

    def reaction_json(self, x: dict[str, Any]) -> dict[str, Any]:
        return {"id": x["id"], "node_id": f"REA_lADO{x['id']}", "user": self.user(x["user"]),
                "content": x["content"], "created_at": x["created_at"]}

    def deployment_json(self, r: Repo, d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if not k.startswith("_")}

    def deployment_status_json(self, r: Repo, s: dict[str, Any]) -> dict[str, Any]:
        return dict(s)

    def app_json(self) -> dict[str, Any]:
        data = self.example("integration")
        return webhooks.overlay_object(data, {
            "id": self.world.app_id or 0, "slug": self.world.app_slug, "node_id": f"A_kwDO{self.world.app_id}",
            "client_id": f"Iv1.{self.world.app_id}", "name": self.world.app_slug, "owner": self.user("acme"),
            "description": "mlgate (GitHub stand-in)", "external_url": "https://mlgate.example",
            "html_url": f"https://github.com/apps/{self.world.app_slug}",
            "permissions": {"checks": "write", "contents": "read", "pull_requests": "write", "issues": "write",
                            "actions": "write", "deployments": "write", "members": "read", "metadata": "read",
                            "statuses": "write"},
            "events": ["check_run", "issue_comment", "pull_request", "pull_request_review", "workflow_run"],
            "installations_count": len(self.world.installations),
        })

    def installation_json(self, inst: int) -> dict[str, Any]:
        v = self.world.installations[inst]
        data = self.example("installation")
        account = self.user(v["account"])
        return webhooks.overlay_object(data, {
            "id": inst, "account": account, "app_id": self.world.app_id, "app_slug": self.world.app_slug,
            "target_id": account["id"], "target_type": account["type"],
            "permissions": self.app_json()["permissions"], "events": self.app_json()["events"],
            "repository_selection": "selected",
            "access_tokens_url": f"{self.world.base_url}/app/installations/{inst}/access_tokens",
            "repositories_url": f"{self.world.base_url}/installation/repositories",
            "html_url": f"https://github.com/organizations/{v['account']}/settings/installations/{inst}",
            "created_at": v["created_at"], "updated_at": v["created_at"], "single_file_name": None,
            "suspended_at": None, "suspended_by": None,
        })
