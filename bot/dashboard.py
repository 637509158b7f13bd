"""The read-only dashboard: models and their releases, PR evaluations, reports, job health.

Server-rendered from the store (never from GitHub, and from MLflow only through the audit
log's record of what moved), so it answers quickly and shows no secret. It is off unless
`MLGATE_DASHBOARD_TOKEN` is set; readers send the token as a bearer token or log in once
with it. A login gets a signed, time-stamped cookie (never the token) that expires after
SESSION_SECONDS; it is Secure unless the operator runs the dashboard on plain HTTP on
purpose, and signing out clears it. Changing the token ends every session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import posixpath
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, make_response, redirect, request
from itsdangerous import BadData, URLSafeTimedSerializer

from bot.settings import Settings
from bot.store import Store

if TYPE_CHECKING:
    from bot.gate import Decision

COOKIE = "mlgate_dashboard"
SESSION_SECONDS = 8 * 3600
HOME = "/dashboard"
MAX_NEXT = 1000  # characters of a login's return path
# the pages a login can return to: the dashboard's own and the report pages
_GUARDED = re.compile(r"/(dashboard(/[^/].*)?|reports/[0-9]{1,18})")
# anything a browser may drop or read as a separator: whitespace and control characters
# (browsers strip tab and newline from URLs, so "/\t/evil" is "//evil"), backslashes (read
# as "/"), and query or fragment markers (a return path is a path)
_NOT_IN_A_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f\\?#\u2028\u2029]")


def _fmt_time(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "–"


def same_site_path(target: str | None) -> str:
    """Where a login may send the browser: `target` if it is one of the dashboard's own pages
    (normalised and percent-encoded), else the dashboard's home.

    An open redirect needs a Location that a browser reads as another site: scheme-relative
    (`//evil`), absolute (`https:`), or one that becomes so once the browser drops a tab or
    turns a backslash into a slash. A path that starts with one "/" followed by a letter,
    has none of those characters and is re-encoded here cannot be any of them.
    """
    if not target or len(target) > MAX_NEXT or _NOT_IN_A_PATH.search(target):
        return HOME
    path = posixpath.normpath(target)  # "/dashboard/../x" is "/x"; a leading "//" stays and is refused
    if not _GUARDED.fullmatch(path):
        return HOME
    return quote(path, safe="/")


def _equal(given: str, expected: str) -> bool:
    """Constant-time comparison of any text (hmac.compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _sessions(token: str) -> URLSafeTimedSerializer:
    """Signs session cookies with a key derived from the token: a new token ends old sessions."""
    return URLSafeTimedSerializer(token, salt="mlgate-dashboard-session",
                                  signer_kwargs={"digest_method": hashlib.sha256})


def _valid_session(token: str, cookie: str) -> bool:
    try:
        data = _sessions(token).loads(cookie, max_age=SESSION_SECONDS)
    except BadData:  # bad signature, expired, or not ours at all
        return False
    return data == {"v": 1}


def blueprint(settings: Settings, store: Store) -> Blueprint:
    bp = Blueprint("dashboard", __name__)
    token = settings.dashboard_token
    secure_cookie = not settings.dashboard_plain_http

    def page(template: str, status: int = 200, **ctx: Any) -> Response:
        from bot.render import _env

        html = _env(True).get_template(f"dashboard/{template}").render(fmt_time=_fmt_time, **ctx)
        resp = make_response(html, status)
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def login_page(status: int, target: str, error: bool = False, expired: bool = False) -> Response:
        # a Secure cookie set over plain HTTP is dropped by the browser: say so instead of looping
        plain_http = secure_cookie and not request.is_secure
        return page("login.html.j2", status, next=same_site_path(target), error=error, expired=expired,
                    plain_http=plain_http)

    @bp.before_request
    def guard() -> Response | None:
        if not token:
            abort(404)  # the dashboard is off
        if request.endpoint in ("dashboard.login", "dashboard.logout"):
            return None
        auth = request.headers.get("Authorization", "")
        given = auth[7:] if auth.startswith("Bearer ") else None
        if given is not None and _equal(given, token):
            return None
        cookie = request.cookies.get(COOKIE, "")
        if cookie and _valid_session(token, cookie):
            return None
        return login_page(401, request.path, error=given is not None, expired=bool(cookie) and given is None)

    @bp.route("/dashboard/login", methods=["GET", "POST"])
    def login() -> Response:
        assert token
        if request.method != "POST":
            return login_page(200, request.args.get("next", HOME))
        target = same_site_path(request.form.get("next"))
        if secure_cookie and not request.is_secure:
            return login_page(400, target)
        if not _equal(request.form.get("token", ""), token):
            return login_page(401, target, error=True)
        resp = redirect(target)
        resp.set_cookie(COOKIE, _sessions(token).dumps({"v": 1}), max_age=SESSION_SECONDS, path="/",
                        httponly=True, samesite="Strict", secure=secure_cookie)
        return resp  # type: ignore[return-value]

    @bp.post("/dashboard/logout")
    def logout() -> Response:
        resp = redirect("/dashboard/login")
        resp.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=secure_cookie)
        return resp  # type: ignore[return-value]

    @bp.get("/dashboard")
    def home() -> Response:
        models = _released(store)
        for m in models:
            m["metrics"] = _key_metrics(store, m)
        return page("home.html.j2", models=models, evaluations=store.recent_evaluations(20), jobs=_job_health(store))

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
        from bot.render import render_html

        row = store.evaluation(eval_id)
        if row is None:
            return page("not_found.html.j2", 404, what=f"report {eval_id}")
        resp = make_response(render_html(row["report"], stored_decision(row)))
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp


def stored_decision(row: dict[str, Any]) -> Decision:
    """The gate's decision to show for a stored evaluation: the verdict the App stored.

    The App decided under the base branch's policy, which the store does not keep; the report
    carries the policy its CI run used, which the PR could have changed. So the verdict is the
    stored one, and the tables' per-metric verdicts come from the report's own policy only
    when that gives the same verdict; otherwise the page says that they may differ.
    """
    from pydantic import ValidationError

    from bot.config import Config
    from bot.gate import Decision, Outcome, decide

    outcomes: dict[str, Outcome] = {"pass": "pass", "fail": "fail", "neutral": "neutral"}
    stored = outcomes.get(str(row["outcome"]), "fail")  # unknown is never shown as a pass
    policy = row["report"].get("policy")
    try:
        models = Config.judging_report(policy)
        recomputed: Decision | None = decide(row["report"], models)
    except (ValidationError, AttributeError, KeyError, TypeError, ValueError):
        recomputed = None
    if recomputed is not None and recomputed.outcome == row["outcome"]:
        return recomputed
    from bot.render import _env

    differs = _env(False).get_template("dashboard/stored_verdict_note.txt.j2").render(
        recomputed=recomputed.outcome if recomputed is not None else None).strip()
    base = recomputed or Decision(outcome="neutral", models=[], data_failures=0, drifted=0, data_changed=False,
                                  reasons=[])
    return dataclasses.replace(base, outcome=stored, reasons=[differs])


def _released(store: Store) -> list[dict[str, Any]]:
    """Each model and alias with the version its last successful promotion or rollback moved it to.

    The rows are the ones bot.promotion writes (result R_SUCCESS, the alias in the detail);
    production first, then other aliases (a canary's challenger), then models never released.
    """
    from bot.promotion import A_PROMOTE, A_ROLLBACK, R_SUCCESS, detail_of

    latest: dict[tuple[str, str], dict[str, Any]] = {}
    seen: dict[str, str | None] = {}
    for row in store.audit_records():
        if not row["model"]:
            continue
        seen.setdefault(row["model"], row["repo"])
        if row["action"] in (A_PROMOTE, A_ROLLBACK) and row["result"] == R_SUCCESS:
            alias = str(detail_of(row).get("alias") or "production")
            latest[(row["model"], alias)] = {
                "name": row["model"], "alias": alias, "version": row["to_version"], "at": row["at"],
                "actor": row["actor"], "pr": row["pr"], "repo": row["repo"], "action": row["action"],
                "canary": detail_of(row).get("canary") if row["to_version"] else None}
    for name, repo in seen.items():
        if not any(model == name for model, _ in latest):
            latest[(name, "production")] = {"name": name, "alias": "production", "version": None, "at": None,
                                            "actor": None, "pr": None, "repo": repo, "action": None, "canary": None}
    return sorted(latest.values(), key=lambda m: (m["name"], m["alias"] != "production", m["alias"]))


def _key_metrics(store: Store, model: dict[str, Any]) -> str:
    """The promoted candidate's headline metrics, from the evaluation of the PR that promoted it."""
    if not (model.get("repo") and model.get("pr")) or model.get("action") != "promote":
        return "–"
    ev = store.latest_evaluation(model["repo"], model["pr"])
    if not ev:
        return "–"
    for rm in ev["report"].get("models", []):
        if rm.get("name") == model["name"]:
            shown = [f"{c['name']} {c['candidate']:.4g}" for c in rm.get("metrics", [])[:3]
                     if isinstance(c.get("candidate"), int | float) and not isinstance(c.get("candidate"), bool)]
            return ", ".join(shown) or "–"
    return "–"


def _job_health(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in store.recent_deliveries(500):
        counts[d["status"]] = counts.get(d["status"], 0) + 1
    return counts
