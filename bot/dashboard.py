"""The read-only dashboard: models and their releases, PR evaluations, reports, job health.

Server-rendered from the store (never from GitHub, and from MLflow only through the audit
log's record of what moved), so it answers quickly and shows no secret. It is off unless
`MLGATE_DASHBOARD_TOKEN` is set; readers send the token as a bearer token or log in once
with it (an HttpOnly cookie holds a hash of it, never the token).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, make_response, redirect, request

from bot.settings import Settings
from bot.store import Store

COOKIE = "mlgate_dashboard"


def _fmt_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "–"


def _cookie_value(token: str) -> str:
    return hashlib.sha256(f"mlgate-dashboard:{token}".encode()).hexdigest()


def blueprint(settings: Settings, store: Store) -> Blueprint:
    bp = Blueprint("dashboard", __name__)
    token = settings.dashboard_token

    def page(template: str, status: int = 200, **ctx: Any) -> Response:
        from bot.render import _env

        html = _env(True).get_template(f"dashboard/{template}").render(fmt_time=_fmt_time, **ctx)
        resp = make_response(html, status)
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @bp.before_request
    def guard() -> Response | None:
        if not token:
            abort(404)  # the dashboard is off
        if request.endpoint == "dashboard.login":
            return None
        auth = request.headers.get("Authorization", "")
        given = auth[7:] if auth.startswith("Bearer ") else None
        if given is not None and hmac.compare_digest(given, token):
            return None
        cookie = request.cookies.get(COOKIE, "")
        if cookie and hmac.compare_digest(cookie, _cookie_value(token)):
            return None
        return page("login.html.j2", 401, next=request.path, error=bool(given or cookie))

    @bp.route("/dashboard/login", methods=["GET", "POST"])
    def login() -> Response:
        assert token
        if request.method == "POST":
            given = request.form.get("token", "")
            target = request.form.get("next") or "/dashboard"
            if not target.startswith("/") or target.startswith("//"):
                target = "/dashboard"
            if hmac.compare_digest(given, token):
                resp = redirect(target)
                resp.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Strict",
                                secure=request.is_secure, max_age=8 * 3600)
                return resp  # type: ignore[return-value]
            return page("login.html.j2", 401, next=target, error=True)
        return page("login.html.j2", next=request.args.get("next", "/dashboard"), error=False)

    @bp.get("/dashboard")
    def home() -> Response:
        audit = store.audit_records()
        models: dict[str, dict[str, Any]] = {}
        for row in audit:
            if row["model"] and row["action"] in ("promote", "rollback") and row["result"] == "ok":
                models[row["model"]] = {"name": row["model"], "version": row["to_version"], "at": row["at"],
                                        "actor": row["actor"], "pr": row["pr"], "repo": row["repo"]}
        for row in audit:
            if row["model"]:
                models.setdefault(row["model"], {"name": row["model"], "version": None, "at": None,
                                                 "actor": None, "pr": None, "repo": row["repo"]})
        for m in models.values():
            m["metrics"] = _key_metrics(store, m)
        return page("home.html.j2", models=sorted(models.values(), key=lambda m: m["name"]),
                    evaluations=store.recent_evaluations(20), jobs=_job_health(store))

    @bp.get("/dashboard/models/<name>")
    def model(name: str) -> Response:
        rows = [r for r in store.audit_records(model=name)]
        if not rows:
            return page("not_found.html.j2", 404, what=f"model {name}")
        evals = {}
        for r in rows:
            if r["repo"] and r["pr"]:
                e = store.latest_evaluation(r["repo"], r["pr"])
                if e:
                    evals[(r["repo"], r["pr"])] = e["id"]
        return page("model.html.j2", name=name, rows=list(reversed(rows)), evals=evals)

    @bp.get("/dashboard/evaluations")
    def evaluations() -> Response:
        return page("evaluations.html.j2", evaluations=store.recent_evaluations(200))

    @bp.get("/dashboard/jobs")
    def jobs() -> Response:
        return page("jobs.html.j2", jobs=_job_health(store), deliveries=store.recent_deliveries(100))

    @bp.get("/reports/<int:eval_id>")
    def report(eval_id: int) -> Response:
        from bot.config import Config
        from bot.gate import decide
        from bot.render import render_html

        row = store.evaluation(eval_id)
        if row is None:
            return page("not_found.html.j2", 404, what=f"report {eval_id}")
        rep = row["report"]
        decision = decide(rep, Config.model_validate(rep["policy"]))
        resp = make_response(render_html(rep, decision))
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp


def _key_metrics(store: Store, model: dict[str, Any]) -> str:
    """The promoted candidate's headline metrics, from the evaluation of the PR that promoted it."""
    if not (model.get("repo") and model.get("pr")):
        return "–"
    ev = store.latest_evaluation(model["repo"], model["pr"])
    if not ev:
        return "–"
    for rm in ev["report"].get("models", []):
        if rm.get("name") == model["name"]:
            shown = [f"{c['name']} {c['candidate']:.4g}" for c in rm.get("metrics", [])[:3] if c.get("candidate") is not None]
            return ", ".join(shown) or "–"
    return "–"


def _job_health(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in store.recent_deliveries(500):
        counts[d["status"]] = counts.get(d["status"], 0) + 1
    return counts
