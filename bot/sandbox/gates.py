"""GitHub's native gates in the stand-in: merge queues (merge groups and their webhooks, the
compare API that lists what a group adds), environments whose deployment protection rule is an
App (the deployment_protection_rule event and the run's callback), drafts and base changes,
and the App manifest flow (the web form GitHub shows, the redirect with a code, the conversion).

Modelled on GitHub's documented behaviour:
- a merge queue builds one commit per entry on top of the previous entry's commit (or one for a
  batch), on a branch gh-readonly-queue/<base>/pr-<n>-<entry base sha>, and sends
  merge_group checks_requested with that head and base;
- a job that targets an environment with a custom protection rule waits; GitHub sends
  deployment_protection_rule requested with a callback URL, and the App answers once with
  approved or rejected (a second answer is refused with 422, as a gate answered is closed);
- the manifest form is posted by the user's browser to /settings/apps/new (or an organization's),
  GitHub shows a confirmation (here: it is confirmed at once) and redirects to the manifest's
  redirect_url with ?code=...&state=...; POST /app-manifests/{code}/conversions (no auth)
  returns the App with its id, PEM key and webhook secret, once per code.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, redirect, request

from bot.sandbox.responses import error
from bot.sandbox.shapes import Shapes
from bot.sandbox.state import Commit, Repo, World, generate_private_key, new_sha, now

# manifests pending conversion: code -> manifest (one per stand-in, in World.manifests)


def ancestors(r: Repo, sha: str, limit: int = 10_000) -> list[str]:
    """`sha` and every commit reachable from it, nearest first."""
    seen: list[str] = []
    stack, known = [sha], set()
    while stack and len(seen) < limit:
        s = stack.pop(0)
        if s in known or s not in r.commits:
            continue
        known.add(s)
        seen.append(s)
        stack.extend(r.commits[s].parents)
    return seen


def build_merge_groups(world: World, r: Repo, numbers: list[int], base: str, batch: bool) -> list[tuple[int, str, str]]:
    """Commit the queue entries; (PR named by the entry's branch, entry base, group head) each."""
    out: list[tuple[int, str, str]] = []
    with world.lock:
        parent = r.branches[base]
        start = parent
        for n in numbers:
            pr = world.lookup_pull(r, n)
            head_tree = r.trees[pr["head_sha"]]
            tree = dict(r.trees[parent])
            for path in pr["changed"]:
                if path in head_tree:
                    tree[path] = head_tree[path]
                else:
                    tree.pop(path, None)
            sha = new_sha()
            r.trees[sha] = tree
            r.commits[sha] = Commit(sha, [parent, pr["head_sha"]], f"Merge pull request #{n}", "github", now(), tree)
            if not batch:
                out.append((n, parent, sha))
                r.branches[f"gh-readonly-queue/{base}/pr-{n}-{parent}"] = sha
            parent = sha
        if batch and numbers:
            out.append((numbers[-1], start, parent))
            r.branches[f"gh-readonly-queue/{base}/pr-{numbers[-1]}-{start}"] = parent
    return out


def merge_group_payload(r: Repo, n: int, base: str, entry_base: str, head: str) -> dict[str, Any]:
    c = r.commits[head]
    person = {"name": "GitHub", "email": "noreply@github.com"}
    return {"head_sha": head, "head_ref": f"refs/heads/gh-readonly-queue/{base}/pr-{n}-{entry_base}",
            "base_sha": entry_base, "base_ref": f"refs/heads/{base}",
            "head_commit": {"id": head, "tree_id": head, "message": c.message, "timestamp": c.date,
                            "author": person, "committer": person}}


def register(app: Flask, world: World, shapes: Shapes) -> None:
    """Attach the merge-queue compare, the deployment protection callback and the manifest flow."""

    @app.get("/repos/<owner>/<name>/compare/<path:basehead>")
    def compare(owner: str, name: str, basehead: str) -> Any:
        r = world.lookup_repo(f"{owner}/{name}")
        base_ref, sep, head_ref = basehead.partition("...")
        base, head = r.resolve(base_ref), r.resolve(head_ref)
        if not sep or base is None or head is None:
            return error(404, "Not Found")
        behind = set(ancestors(r, base))
        added = [s for s in ancestors(r, head) if s not in behind]
        added.reverse()
        old, new = r.trees[base], r.trees[head]
        api = shapes.api(r)
        files = [{"sha": new_sha(), "filename": p,
                  "status": "added" if p not in old else "removed" if p not in new else "modified",
                  "additions": 1, "deletions": 0, "changes": 1,
                  "blob_url": f"https://github.com/{r.full_name}/blob/{head}/{p}",
                  "raw_url": f"https://github.com/{r.full_name}/raw/{head}/{p}",
                  "contents_url": f"{api}/contents/{p}?ref={head}"}
                 for p in sorted(set(old) | set(new)) if old.get(p) != new.get(p)]
        ahead_of_head = set(ancestors(r, head))
        behind_by = len([s for s in behind if s not in ahead_of_head])
        return {"url": f"{api}/compare/{basehead}", "html_url": f"https://github.com/{r.full_name}/compare/{basehead}",
                "permalink_url": f"https://github.com/{r.full_name}/compare/{basehead}",
                "diff_url": f"https://github.com/{r.full_name}/compare/{basehead}.diff",
                "patch_url": f"https://github.com/{r.full_name}/compare/{basehead}.patch",
                "base_commit": shapes.commit_json(r, r.commits[base]),
                "merge_base_commit": shapes.commit_json(r, r.commits[base]),
                "status": "ahead" if not behind_by else "diverged", "ahead_by": len(added), "behind_by": behind_by,
                "total_commits": len(added), "commits": [shapes.commit_json(r, r.commits[s]) for s in added[:250]],
                "files": files[:300]}

    @app.post("/repos/<owner>/<name>/actions/runs/<int:run_id>/deployment_protection_rule")
    def review_custom_gate(owner: str, name: str, run_id: int) -> Any:
        r = world.lookup_repo(f"{owner}/{name}")
        data = request.get_json(silent=True) or {}
        gate = world.protection_requests.get((r.full_name, run_id, str(data.get("environment_name"))))
        if gate is None:
            return error(404, "Not Found")
        if gate["state"] != "waiting":
            return error(422, "This deployment protection rule has already been reviewed.")
        gate.update(state=str(data.get("state")), comment=str(data.get("comment") or ""), at=now())
        return Response(status=204)

    @app.post("/app-manifests/<code>/conversions")
    def manifest_conversion(code: str) -> Any:
        manifest = world.manifests.pop(code, None)
        if manifest is None:
            return error(404, "Not Found")
        pem = generate_private_key()
        secret = secrets.token_hex(20)
        world.register_app(webhook_secret=secret, private_key=pem, app_id=next(world.ids),
                         slug=str(manifest.get("name") or "mlgate").lower())
        hook = manifest.get("hook_attributes") or {}
        world.set_webhook(url=hook.get("url"))
        app_json = shapes.app_json()
        app_json.update(name=manifest.get("name"), description=manifest.get("description") or "",
                        external_url=manifest.get("url"), permissions=manifest.get("default_permissions") or {},
                        events=manifest.get("default_events") or [])
        return {**app_json, "client_id": f"Iv1.{secrets.token_hex(8)}", "client_secret": secrets.token_hex(20),
                "webhook_secret": secret, "pem": pem}, 201

    @app.post("/settings/apps/new")
    @app.post("/organizations/<org>/settings/apps/new")
    def new_app_form(org: str | None = None) -> Any:
        """The page a manifest form posts to; the user confirms (at once here) and is redirected."""
        try:
            manifest = json.loads(request.form.get("manifest") or "")
        except ValueError:
            return Response("Invalid manifest: not JSON", status=422)
        if not isinstance(manifest, dict) or not manifest.get("url") or not manifest.get("redirect_url"):
            return Response("Invalid manifest: url and redirect_url are required", status=422)
        code = secrets.token_hex(10)
        world.manifests[code] = manifest
        query = {"code": code, **({"state": request.args["state"]} if "state" in request.args else {})}
        return redirect(f"{manifest['redirect_url']}?{urlencode(query)}", code=302)
