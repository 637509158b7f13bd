"""The REST endpoints the App and the action call, over the stand-in's state.

Requests reach these only after the faults, the OpenAPI check and authentication in
server.py, so the handlers trust the shape of their input. They read and change the state
through `World`'s lookups and answer with `Shapes`; nothing here imports the server.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, jsonify, request

from bot.sandbox.responses import RATE_LIMIT, error, paginate
from bot.sandbox.shapes import Shapes
from bot.sandbox.state import Repo, World, now

MAX_PR_FILES = 3000  # GET /pulls/{n}/files: "Responses include a maximum of 3000 files"


def register(app: Flask, world: World, shapes: Shapes) -> None:  # noqa: C901 - one table of endpoints
    """Attach every GitHub endpoint the stand-in serves to `app`."""

    def repo(owner: str, name: str) -> Repo:
        return world.lookup_repo(f"{owner}/{name}")

    def page(items: list[Any], wrap: str | None = None) -> Response:
        return paginate(items, world.base_url, wrap)

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    # ---------------------------------------------------------------- GitHub App

    @app.get("/app")
    def get_app() -> Any:
        return shapes.app_json()

    @app.get("/app/installations")
    def list_installations() -> Any:
        return page([shapes.installation_json(i) for i in world.installations])

    @app.post("/app/installations/<int:inst>/access_tokens")
    def access_token(inst: int) -> Any:
        if inst not in world.installations:
            return error(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        expires = datetime.now(UTC) + timedelta(hours=1)
        repos = world.installations[inst]["repos"]
        wanted = body().get("repositories")
        if wanted:
            repos = [f for f in repos if f.split("/")[1] in wanted]
        world.tokens[token] = {"installation_id": inst, "read_only": False, "expires": expires.timestamp(),
                             "repos": repos}
        return {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": shapes.app_json()["permissions"], "repository_selection": "selected"}, 201

    @app.get("/repos/<owner>/<name>/installation")
    def repo_installation(owner: str, name: str) -> Any:
        full = f"{owner}/{name}"
        for i, v in world.snapshot_items(world.installations):
            if full in v["repos"]:
                return shapes.installation_json(i)
        return error(404, "Not Found")

    # ---------------------------------------------------------------- repos, refs, commits, contents

    @app.get("/repos/<owner>/<name>")
    def get_repo(owner: str, name: str) -> Any:
        return shapes.repo_json(repo(owner, name))

    @app.get("/repos/<owner>/<name>/branches/<path:branch>")
    def get_branch(owner: str, name: str, branch: str) -> Any:
        r = repo(owner, name)
        if branch not in r.branches:
            return error(404, "Branch not found")
        sha = r.branches[branch]
        api = shapes.api(r)
        return {"name": branch, "commit": shapes.commit_json(r, r.commits[sha]),
                "_links": {"self": f"{api}/branches/{branch}", "html": f"https://github.com/{r.full_name}/tree/{branch}"},
                "protected": r.is_protected(branch), "protection_url": f"{api}/branches/{branch}/protection",
                "protection": {"enabled": r.is_protected(branch), "required_status_checks": {
                    "enforcement_level": "non_admins" if branch in r.required_checks else "off",
                    "contexts": r.required_checks.get(branch, []), "checks": []}}}

    @app.get("/repos/<owner>/<name>/branches/<path:branch>/protection/required_status_checks")
    def required_checks(owner: str, name: str, branch: str) -> Any:
        r = repo(owner, name)
        if branch not in r.required_checks:
            return error(404, "Branch not protected")
        api = shapes.api(r)
        return {"url": f"{api}/branches/{branch}/protection/required_status_checks", "strict": False,
                "contexts": r.required_checks[branch],
                "contexts_url": f"{api}/branches/{branch}/protection/required_status_checks/contexts",
                "checks": [{"context": c, "app_id": None} for c in r.required_checks[branch]]}

    @app.get("/repos/<owner>/<name>/git/ref/<path:ref>")
    def git_ref(owner: str, name: str, ref: str) -> Any:
        r = repo(owner, name)
        branch = ref.removeprefix("heads/")
        if not ref.startswith("heads/") or branch not in r.branches:
            return error(404, "Not Found")
        api = shapes.api(r)
        sha = r.branches[branch]
        return {"ref": f"refs/{ref}", "node_id": f"REF_kwDO{r.id}", "url": f"{api}/git/refs/{ref}",
                "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"}}

    @app.get("/repos/<owner>/<name>/commits/<ref>")
    def get_commit(owner: str, name: str, ref: str) -> Any:
        r = repo(owner, name)
        sha = r.resolve(ref)
        if sha is None or sha not in r.commits:
            return error(422, f"No commit found for SHA: {ref}")
        c = r.commits[sha]
        data = shapes.commit_json(r, c)
        parent = r.trees[c.parents[0]] if c.parents else {}
        files = [{"sha": hashlib.sha1(c.files.get(p, b"")).hexdigest(), "filename": p,
                  "status": "added" if p not in parent else "removed" if p not in c.files else "modified",
                  "additions": 1, "deletions": 0, "changes": 1,
                  "blob_url": f"https://github.com/{r.full_name}/blob/{sha}/{p}",
                  "raw_url": f"https://github.com/{r.full_name}/raw/{sha}/{p}",
                  "contents_url": f"{shapes.api(r)}/contents/{p}?ref={sha}"}
                 for p in sorted(set(parent) | set(c.files)) if parent.get(p) != c.files.get(p)]
        return {**data, "files": files, "stats": {"additions": len(files), "deletions": 0, "total": len(files)}}

    @app.get("/repos/<owner>/<name>/contents/<path:path>")
    def contents(owner: str, name: str, path: str) -> Any:
        r = repo(owner, name)
        ref = request.args.get("ref") or r.default_branch
        sha = r.resolve(ref)
        if sha is None:
            return error(404, f"No commit found for the ref {ref}")
        tree = r.trees[sha]
        if path not in tree:
            return error(404, "Not Found")
        data = tree[path]
        api = shapes.api(r)
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        encoded = base64.encodebytes(data).decode()  # GitHub wraps the base64 at 60 columns
        html = f"https://github.com/{r.full_name}/blob/{ref}/{path}"
        return {"type": "file", "encoding": "base64", "size": len(data), "name": path.rsplit("/", 1)[-1],
                "path": path, "content": encoded, "sha": blob, "url": f"{api}/contents/{path}?ref={ref}",
                "git_url": f"{api}/git/blobs/{blob}", "html_url": html,
                "download_url": f"https://raw.githubusercontent.com/{r.full_name}/{ref}/{path}",
                "_links": {"self": f"{api}/contents/{path}?ref={ref}", "git": f"{api}/git/blobs/{blob}", "html": html}}

    # ---------------------------------------------------------------- pulls

    @app.get("/repos/<owner>/<name>/pulls")
    def list_pulls(owner: str, name: str) -> Any:
        r = repo(owner, name)
        state = request.args.get("state", "open")
        head = request.args.get("head")
        base = request.args.get("base")
        out = []
        # GitHub's default order is newest created first; sort=updated orders by the last change
        order = "updated_at" if request.args.get("sort") == "updated" else "created_at"
        pulls = sorted(world.snapshot(r.pulls), key=lambda p: (p[order], p["number"]),
                       reverse=request.args.get("direction", "desc") == "desc")
        for pr in pulls:
            if state != "all" and pr["state"] != state:
                continue
            if head and head not in (pr["head"], f"{world.head_repo(r, pr).owner}:{pr['head']}"):
                continue
            if base and base != pr["base"]:
                continue
            out.append(shapes.pull_simple_json(r, pr))
        return page(out)

    @app.get("/repos/<owner>/<name>/pulls/<int:n>")
    def get_pull(owner: str, name: str, n: int) -> Any:
        r = repo(owner, name)
        return shapes.pull_json(r, world.lookup_pull(r, n))

    @app.get("/repos/<owner>/<name>/pulls/<int:n>/files")
    def pull_files(owner: str, name: str, n: int) -> Any:
        r = repo(owner, name)
        # GitHub lists at most 3000 files of a PR; its `changed_files` still counts them all
        return page(shapes.pr_files(r, world.lookup_pull(r, n))[:MAX_PR_FILES])

    @app.get("/repos/<owner>/<name>/pulls/<int:n>/commits")
    def pull_commits(owner: str, name: str, n: int) -> Any:
        r = repo(owner, name)
        return page([shapes.commit_json(r, c) for c in world.pr_commits(r, world.lookup_pull(r, n))])

    @app.get("/repos/<owner>/<name>/pulls/<int:n>/reviews")
    def pull_reviews(owner: str, name: str, n: int) -> Any:
        r = repo(owner, name)
        world.lookup_pull(r, n)
        return page([shapes.review_json(r, rv) for rv in r.reviews.get(n, [])])

    # ---------------------------------------------------------------- issue comments, reactions, labels

    @app.route("/repos/<owner>/<name>/issues/<int:n>/comments", methods=["GET", "POST"])
    def issue_comments(owner: str, name: str, n: int) -> Any:
        r = repo(owner, name)
        if n not in r.pulls and n not in r.issues:
            return error(404, "Not Found")
        if request.method == "POST":
            c = world.new_comment(r, n, body()["body"], f"{world.app_slug}[bot]")
            return shapes.comment_json(r, c), 201
        since = request.args.get("since")
        items = [c for c in world.snapshot(r.comments) if c["issue"] == n and (not since or c["updated_at"] >= since)]
        return page([shapes.comment_json(r, c) for c in items])

    @app.route("/repos/<owner>/<name>/issues/comments/<int:cid>", methods=["GET", "PATCH", "DELETE"])
    def one_comment(owner: str, name: str, cid: int) -> Any:
        r = repo(owner, name)
        c = r.comments.get(cid)
        if c is None:
            return error(404, "Not Found")
        if request.method != "GET" and c["user"] != f"{world.app_slug}[bot]":
            # an installation token edits and deletes only the App's own comments, as on GitHub
            return error(403, "Resource not accessible by integration")
        if request.method == "DELETE":
            r.comments.pop(cid)
            return Response(status=204)
        if request.method == "PATCH":
            with world.lock:
                c["body"] = body()["body"]
                c["updated_at"] = now()
        return shapes.comment_json(r, c)

    @app.route("/repos/<owner>/<name>/issues/comments/<int:cid>/reactions", methods=["GET", "POST"])
    def reactions(owner: str, name: str, cid: int) -> Any:
        r = repo(owner, name)
        if cid not in r.comments:
            return error(404, "Not Found")
        if request.method == "GET":
            wanted = request.args.get("content")
            return page([shapes.reaction_json(x) for x in r.reactions.get(cid, [])
                                  if not wanted or x["content"] == wanted])
        content = body()["content"]
        login = f"{world.app_slug}[bot]"
        for x in r.reactions.get(cid, []):
            if x["content"] == content and x["user"] == login:
                return shapes.reaction_json(x), 200  # GitHub: 200 when the reaction already exists
        with world.lock:
            x = {"id": next(world.ids), "content": content, "user": login, "created_at": now()}
            r.reactions.setdefault(cid, []).append(x)
        return shapes.reaction_json(x), 201

    @app.route("/repos/<owner>/<name>/issues/<int:n>/labels", methods=["GET", "POST"])
    def labels(owner: str, name: str, n: int) -> Any:
        r = repo(owner, name)
        if n not in r.pulls and n not in r.issues:
            return error(404, "Not Found")
        if request.method == "POST":
            data = request.get_json(silent=True)
            names = data.get("labels", []) if isinstance(data, dict) else data or []
            with world.lock:
                current = r.labels.setdefault(n, [])
                for x in names:
                    label = x if isinstance(x, str) else x["name"]
                    if label not in current:
                        current.append(label)
        return jsonify([shapes.label_json(r, x) for x in r.labels.get(n, [])])

    @app.delete("/repos/<owner>/<name>/issues/<int:n>/labels/<label>")
    def delete_label(owner: str, name: str, n: int, label: str) -> Any:
        r = repo(owner, name)
        if label not in r.labels.get(n, []):
            return error(404, "Label does not exist")
        with world.lock:
            r.labels[n].remove(label)
        return jsonify([shapes.label_json(r, x) for x in r.labels[n]])

    # ---------------------------------------------------------------- issues (plain issues, as the monitor uses them)

    @app.route("/repos/<owner>/<name>/issues", methods=["GET", "POST"])
    def issues(owner: str, name: str) -> Any:
        r = repo(owner, name)
        if request.method == "POST":
            data = body()
            with world.lock:
                number = world.next_number(r)
                issue = {"number": number, "id": next(world.ids), "title": data["title"], "body": data.get("body"),
                         "author": f"{world.app_slug}[bot]", "state": "open", "state_reason": None,
                         "created_at": now(), "updated_at": now(), "closed_at": None}
                r.issues[number] = issue
                r.labels[number] = [x if isinstance(x, str) else x["name"] for x in data.get("labels") or []]
            return shapes.plain_issue_json(r, issue), 201
        # GitHub lists pull requests here too (each with a `pull_request` key); newest first
        state = request.args.get("state", "open")
        wanted = [x for x in (request.args.get("labels") or "").split(",") if x]
        found = [(i["number"], shapes.plain_issue_json(r, i)) for i in world.snapshot(r.issues)]
        found += [(p["number"], shapes.issue_json(r, p)) for p in world.snapshot(r.pulls)]
        items = [j for _, j in sorted(found, key=lambda t: -t[0])
                 if (state == "all" or j["state"] == state)
                 and all(x in {lab["name"] for lab in j["labels"]} for x in wanted)]
        return page(items)

    @app.route("/repos/<owner>/<name>/issues/<int:n>", methods=["GET", "PATCH"])
    def one_issue(owner: str, name: str, n: int) -> Any:
        r = repo(owner, name)
        if n in r.pulls:
            return shapes.issue_json(r, r.pulls[n])  # only read here: the monitor never edits a PR as an issue
        issue = r.issues.get(n)
        if issue is None:
            return error(404, "Not Found")
        if request.method == "PATCH":
            data = body()
            with world.lock:
                for key in ("title", "body"):
                    if key in data:
                        issue[key] = data[key]
                if "labels" in data:
                    r.labels[n] = [x if isinstance(x, str) else x["name"] for x in data["labels"] or []]
                if data.get("state") in ("open", "closed") and data["state"] != issue["state"]:
                    issue["state"] = data["state"]
                    issue["closed_at"] = now() if data["state"] == "closed" else None
                    issue["state_reason"] = (data.get("state_reason") or "completed") if data["state"] == "closed" \
                        else "reopened"
                issue["updated_at"] = now()
        return shapes.plain_issue_json(r, issue)

    @app.post("/repos/<owner>/<name>/dispatches")
    def repository_dispatch(owner: str, name: str) -> Any:
        r = repo(owner, name)
        data = body()
        with world.lock:
            r.repository_dispatches.append({"event_type": data["event_type"],
                                            "client_payload": data.get("client_payload") or {}})
        return Response(status=204)

    # ---------------------------------------------------------------- check runs and statuses

    @app.post("/repos/<owner>/<name>/check-runs")
    def create_check(owner: str, name: str) -> Any:
        r = repo(owner, name)
        data = body()
        conclusion = data.get("conclusion")
        status = "completed" if conclusion else data.get("status", "queued")
        with world.lock:
            cid = next(world.ids)
            run = {"id": cid, "name": data["name"], "head_sha": data["head_sha"], "status": status,
                   "conclusion": conclusion, "output": {"title": None, "summary": None, "text": None,
                                                        **(data.get("output") or {})},
                   "details_url": data.get("details_url"), "external_id": data.get("external_id"),
                   "actions": data.get("actions") or [],
                   "started_at": data.get("started_at") or now(),
                   "completed_at": data.get("completed_at") or (now() if status == "completed" else None)}
            r.check_runs[cid] = run
        return shapes.check_json(r, run), 201

    @app.route("/repos/<owner>/<name>/check-runs/<int:cid>", methods=["GET", "PATCH"])
    def one_check(owner: str, name: str, cid: int) -> Any:
        r = repo(owner, name)
        run = r.check_runs.get(cid)
        if run is None:
            return error(404, "Not Found")
        if request.method == "PATCH":
            data = body()
            if run["status"] == "completed" and data.get("status") in ("queued", "in_progress") \
                    and not data.get("conclusion"):
                # GitHub keeps a completed run completed (and its conclusion with it): a check
                # that must wait again needs a new run, which then is the newest of its name
                return error(422, "A completed check run cannot return to queued or in_progress; "
                                   "create a new check run")
            with world.lock:
                for k in ("name", "status", "conclusion", "details_url", "external_id", "actions"):
                    if k in data:
                        run[k] = data[k]
                if data.get("conclusion"):
                    run["status"] = "completed"
                if run["status"] == "completed" and not run["completed_at"]:
                    run["completed_at"] = data.get("completed_at") or now()
                if "output" in data:
                    run["output"] = {**run["output"], **data["output"]}
        return shapes.check_json(r, run)

    @app.get("/repos/<owner>/<name>/commits/<ref>/check-runs")
    def list_checks(owner: str, name: str, ref: str) -> Any:
        r = repo(owner, name)
        sha = r.resolve(ref) or ref
        wanted, status = request.args.get("check_name"), request.args.get("status")
        runs = [c for c in world.snapshot(r.check_runs) if c["head_sha"] == sha
                and (not wanted or c["name"] == wanted) and (not status or c["status"] == status)]
        if request.args.get("filter", "latest") == "latest":  # the newest run per name
            newest: dict[str, dict[str, Any]] = {}
            for c in runs:
                newest[c["name"]] = c
            runs = sorted(newest.values(), key=lambda c: c["id"])
        return page([shapes.check_json(r, c) for c in reversed(runs)], wrap="check_runs")

    @app.post("/repos/<owner>/<name>/statuses/<sha>")
    def create_status(owner: str, name: str, sha: str) -> Any:
        r = repo(owner, name)
        data = body()
        with world.lock:
            s = {"id": next(world.ids), "sha": sha, "state": data["state"], "context": data.get("context", "default"),
                 "description": data.get("description"), "target_url": data.get("target_url"), "created_at": now()}
            r.statuses.setdefault(sha, []).append(s)
        return shapes.status_json(r, s), 201

    @app.get("/repos/<owner>/<name>/commits/<ref>/statuses")
    def list_statuses(owner: str, name: str, ref: str) -> Any:
        r = repo(owner, name)
        return page([shapes.status_json(r, s) for s in reversed(r.statuses.get(r.resolve(ref) or ref, []))])

    @app.get("/repos/<owner>/<name>/commits/<ref>/status")
    def combined_status(owner: str, name: str, ref: str) -> Any:
        r = repo(owner, name)
        sha = r.resolve(ref) or ref
        latest: dict[str, dict[str, Any]] = {}
        for s in r.statuses.get(sha, []):
            latest[s["context"]] = s
        states = {s["state"] for s in latest.values()}
        state = "failure" if states & {"failure", "error"} else "pending" if "pending" in states or not states \
            else "success"
        api = shapes.api(r)
        return {"state": state, "statuses": [shapes.status_json(r, s) for s in latest.values()], "sha": sha,
                "total_count": len(latest), "repository": shapes.repo_json(r),
                "commit_url": f"{api}/commits/{sha}", "url": f"{api}/commits/{sha}/status"}

    # ---------------------------------------------------------------- permissions

    @app.get("/repos/<owner>/<name>/collaborators/<user>/permission")
    def permission(owner: str, name: str, user: str) -> Any:
        perm = repo(owner, name).collaborators.get(user)
        if perm is None:
            return error(404, f"{user} is not a user")
        legacy = {"maintain": "write", "triage": "read"}.get(perm, perm)
        person = shapes.user(user)
        person["permissions"] = {"admin": perm == "admin", "maintain": perm in ("maintain", "admin"),
                                 "push": perm in ("write", "maintain", "admin"),
                                 "triage": perm != "read", "pull": True}
        person["role_name"] = perm
        return {"permission": legacy, "role_name": perm, "user": person}

    @app.get("/orgs/<org>/teams/<team>/memberships/<user>")
    def membership(org: str, team: str, user: str) -> Any:
        if user not in world.teams.get((org, team), set()):
            return error(404, "Not Found")
        return {"url": f"{world.base_url}/orgs/{org}/teams/{team}/memberships/{user}", "role": "member",
                "state": "active"}

    # ---------------------------------------------------------------- actions

    @app.get("/repos/<owner>/<name>/actions/runs")
    def list_runs(owner: str, name: str) -> Any:
        r = repo(owner, name)
        args = request.args
        runs = [run for run in sorted(world.snapshot(r.runs), key=lambda x: -x["id"])
                if all(not args.get(k) or str(run[k]) == args[k] for k in ("head_sha", "event", "status"))
                and (not args.get("branch") or run["head_branch"] == args["branch"])]
        return page([shapes.run_json(r, run) for run in runs], wrap="workflow_runs")

    @app.get("/repos/<owner>/<name>/actions/runs/<int:run_id>")
    def get_run(owner: str, name: str, run_id: int) -> Any:
        r = repo(owner, name)
        if run_id not in r.runs:
            return error(404, "Not Found")
        return shapes.run_json(r, r.runs[run_id])

    @app.get("/repos/<owner>/<name>/actions/runs/<int:run_id>/artifacts")
    def run_artifacts(owner: str, name: str, run_id: int) -> Any:
        r = repo(owner, name)
        if run_id not in r.runs:
            return error(404, "Not Found")
        wanted = request.args.get("name")
        arts = [shapes.artifact_json(r, a) for a in world.snapshot(r.artifacts)
                if a["run_id"] == run_id and (not wanted or a["name"] == wanted)]
        return page(arts, wrap="artifacts")

    @app.get("/repos/<owner>/<name>/actions/artifacts/<int:aid>")
    def get_artifact(owner: str, name: str, aid: int) -> Any:
        r = repo(owner, name)
        if aid not in r.artifacts:
            return error(404, "Not Found")
        return shapes.artifact_json(r, r.artifacts[aid])

    @app.get("/repos/<owner>/<name>/actions/artifacts/<int:aid>/<fmt>")
    def artifact_zip(owner: str, name: str, aid: int, fmt: str) -> Any:
        r = repo(owner, name)
        if aid not in r.artifacts:
            return error(404, "Not Found")
        # GitHub answers 302 to a short-lived signed blob URL on another host; so does the stand-in.
        expires = int(time.time()) + 60
        sig = world.blob_signature(r.full_name, aid, expires)
        return Response(status=302, headers={
            "Location": f"{world.blob_url}/_blob/{r.full_name}/{aid}?se={expires}&sig={sig}"})

    @app.get("/_blob/<owner>/<name>/<int:aid>")
    def blob(owner: str, name: str, aid: int) -> Any:
        r = repo(owner, name)
        expires = int(request.args.get("se", "0"))
        if expires < time.time() or request.args.get("sig") != world.blob_signature(r.full_name, aid, expires):
            return Response("AuthenticationFailed", status=403)
        if "Authorization" in request.headers:
            # The blob store is another host: a client that sends it the GitHub token leaks the
            # token, and the store refuses a second auth mechanism.
            world.problems.append(f"GET {request.path}: the GitHub token was sent to the artifact blob store")
            return Response("InvalidAuthenticationInfo", status=400)
        return Response(r.artifacts[aid]["data"], mimetype="application/zip")

    @app.post("/repos/<owner>/<name>/actions/runs/<int:run_id>/rerun")
    def rerun(owner: str, name: str, run_id: int) -> Any:
        r = repo(owner, name)
        if run_id not in r.runs:
            return error(404, "Not Found")
        with world.lock:
            r.reruns.append(run_id)
        return {}, 201

    @app.post("/repos/<owner>/<name>/actions/workflows/<workflow_id>/dispatches")
    def dispatch(owner: str, name: str, workflow_id: str) -> Any:
        r = repo(owner, name)
        data = body()
        if r.resolve(data["ref"]) is None:
            return error(422, f"No ref found for: {data['ref']}")
        with world.lock:
            r.dispatches.append({"workflow_id": workflow_id, "ref": data["ref"], "inputs": data.get("inputs") or {}})
        if data.get("return_run_details"):
            return {"workflow_run_id": next(world.ids), "run_url": f"{shapes.api(r)}/actions/runs/0",
                    "html_url": f"https://github.com/{r.full_name}/actions"}, 200
        return Response(status=204)

    # ---------------------------------------------------------------- deployments

    @app.route("/repos/<owner>/<name>/deployments", methods=["GET", "POST"])
    def deployments(owner: str, name: str) -> Any:
        r = repo(owner, name)
        if request.method == "POST":
            data = body()
            sha = r.resolve(data["ref"])
            if sha is None:
                return error(422, f"No ref found for: {data['ref']}")
            api = shapes.api(r)
            environment = data.get("environment", "production")
            with world.lock:
                did = next(world.ids)
                d = {"id": did, "node_id": f"DE_kwDO{did}", "url": f"{api}/deployments/{did}", "sha": sha,
                     "ref": data["ref"], "task": data.get("task", "deploy"), "payload": data.get("payload", {}),
                     "original_environment": environment, "environment": environment,
                     "description": data.get("description"), "creator": shapes.user(f"{world.app_slug}[bot]"),
                     "created_at": now(), "updated_at": now(), "statuses_url": f"{api}/deployments/{did}/statuses",
                     "repository_url": api, "transient_environment": bool(data.get("transient_environment")),
                     "production_environment": bool(data.get("production_environment", environment == "production"))}
                r.deployments[did] = d
            return shapes.deployment_json(r, d), 201
        args = request.args
        items = [shapes.deployment_json(r, d) for d in sorted(world.snapshot(r.deployments), key=lambda d: -d["id"])
                 if all(not args.get(k) or str(d[k]) == args[k] for k in ("sha", "ref", "task", "environment"))]
        return page(items)

    @app.get("/repos/<owner>/<name>/deployments/<int:did>")
    def one_deployment(owner: str, name: str, did: int) -> Any:
        r = repo(owner, name)
        if did not in r.deployments:
            return error(404, "Not Found")
        return shapes.deployment_json(r, r.deployments[did])

    @app.route("/repos/<owner>/<name>/deployments/<int:did>/statuses", methods=["GET", "POST"])
    def deployment_statuses(owner: str, name: str, did: int) -> Any:
        r = repo(owner, name)
        if did not in r.deployments:
            return error(404, "Not Found")
        if request.method == "POST":
            data = body()
            api = shapes.api(r)
            with world.lock:
                sid = next(world.ids)
                s = {"id": sid, "node_id": f"DES_kwDO{sid}", "state": data["state"],
                     "description": data.get("description", ""), "creator": shapes.user(f"{world.app_slug}[bot]"),
                     "environment": data.get("environment") or r.deployments[did]["environment"],
                     "url": f"{api}/deployments/{did}/statuses/{sid}", "deployment_url": f"{api}/deployments/{did}",
                     "repository_url": api, "created_at": now(), "updated_at": now(),
                     "target_url": data.get("target_url", ""), "log_url": data.get("log_url", ""),
                     "environment_url": data.get("environment_url", "")}
                r.deployment_statuses.setdefault(did, []).append(s)
            return shapes.deployment_status_json(r, s), 201
        return page([shapes.deployment_status_json(r, s)
                              for s in reversed(r.deployment_statuses.get(did, []))])

    # ---------------------------------------------------------------- rate limit

    @app.get("/rate_limit")
    def rate_limit() -> Any:
        if not world.rate_limiting:  # GitHub Enterprise Server with rate limiting disabled
            return error(404, "Not Found")
        used = len(world.calls)
        reset = int(time.time()) + 3600
        core = {"limit": RATE_LIMIT, "remaining": max(0, RATE_LIMIT - used), "reset": reset, "used": used}
        other = {"limit": 30, "remaining": 30, "reset": reset, "used": 0}
        return {"resources": {"core": core, "search": other, "graphql": {**core, "used": 0,
                                                                           "remaining": RATE_LIMIT}},
                "rate": core}
