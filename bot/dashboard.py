"""The read-only dashboard: models and their releases, PR evaluations, reports, job health.

Server-rendered from the store (never from GitHub), so it answers quickly and shows no secret;
the one thing read from MLflow is each shown model's `@production`, the truth about what
runs (bot.dashboard_production: a deadline, one read per model, a 30 s cache, fail closed). It is off unless
`MLGATE_DASHBOARD_TOKEN` is set; readers send the token as a bearer token or log in once
with it. A login gets a signed, time-stamped cookie (never the token) that expires after
SESSION_SECONDS; it is Secure unless the operator runs the dashboard on plain HTTP on
purpose, and signing out clears it. Changing the token ends every session.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import math
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Blueprint, Response, abort, make_response, redirect, request
from itsdangerous import BadData, URLSafeTimedSerializer

from bot.dashboard_production import ALIAS, Production, ProductionVersions, compare
from bot.dashboard_production import registry_from_settings as _registry
from bot.settings import Settings
from bot.store import ReleaseRow, Store

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
    return bool(data == {"v": 1})


def blueprint(settings: Settings, store: Store) -> Blueprint:
    bp = Blueprint("dashboard", __name__)
    token = settings.dashboard_token
    secure_cookie = not settings.dashboard_plain_http

    def page(template: str, status: int = 200, **ctx: Any) -> Response:
        from bot.render import environment

        html = environment().get_template(f"dashboard/{template}").render(fmt_time=_fmt_time, **ctx)
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

    web = github_web(settings.github_api_url)
    links = ReportLinks(store, settings.mlflow_ui_url)
    production = ProductionVersions(_registry(settings))

    @bp.get("/dashboard")
    def home() -> Response:
        f = Filters.of(request.args)
        history = _history(store, f)
        watched = monitor_latest(store)
        known = [(name, points[-1].repo) for name, points in history.items()] + [(v.model, v.repo) for v in watched]
        models = [m for m in _released(store, known)
                  if f.keeps(m["repo"], m["name"], _latest_outcome(history, m["name"]))]
        found = production.read(m["name"] for m in models if m["alias"] == ALIAS)
        for m in models:
            if m["alias"] == ALIAS:
                m["production"] = _production(found[m["name"]], m if m["has_release"] else None)
                m["version"] = m["production"]["version"]
            agrees = m["production"]["state"] == "agrees" if m.get("production") else True
            m["metrics"] = _key_metrics(store, m) if agrees else "–"  # the promoted candidate's, if it runs
            m["spark"] = sparkline(history.get(m["name"], []))
        monitor = [v for v in watched if f.keeps(v.repo, v.model)]
        evaluations = _evaluations(store, f, history, 20, links)
        return page("home.html.j2", models=models, evaluations=evaluations, jobs=_job_health(store),
                    monitor=monitor, f=f, choices=_choices(store), web=web, mlflow_ui=settings.mlflow_ui_url)

    @bp.get("/dashboard/models/<name>")
    def model(name: str) -> Response:
        rows = list(store.audit_records(model=name))
        monitor = monitor_latest(store, model=name)
        points = _history(store, Filters(model=name), settings.mlflow_ui_url).get(name, [])
        if not rows and not monitor and not points:
            return page("not_found.html.j2", 404, what=f"model {name}")
        last = store.last_release(name, ALIAS)
        release = _release_view(last) if last else None
        current = _production(production.read([name])[name], release)
        return page("model.html.j2", name=name, rows=[_audit_view(r, web) for r in reversed(rows)],
                    production=current, release=release,
                    evals=_report_links(store, rows), monitor=monitor, points=points,
                    charts=metric_charts(points), web=web, mlflow_ui=settings.mlflow_ui_url)

    @bp.get("/dashboard/audit")
    def audit_log() -> Response:
        f = Filters.of(request.args)
        action = request.args.get("action") or None
        rows = [r for r in reversed(store.audit_records())
                if f.keeps(r["repo"], r["model"]) and (action is None or r["action"] == action)][:AUDIT_PAGE]
        return page("audit.html.j2", rows=[_audit_view(r, web) for r in rows], evals=_report_links(store, rows),
                    f=f, action=action, actions=sorted({r["action"] for r in store.audit_records()}),
                    choices=_choices(store), web=web, limit=AUDIT_PAGE)

    @bp.get("/dashboard/evaluations")
    def evaluations() -> Response:
        f = Filters.of(request.args)
        rows = _evaluations(store, f, _history(store, f) if f.model else {}, 200, links)
        return page("evaluations.html.j2", evaluations=rows, f=f, choices=_choices(store), web=web,
                    mlflow_ui=settings.mlflow_ui_url)

    @bp.get("/dashboard/jobs")
    def jobs() -> Response:
        return page("jobs.html.j2", jobs=_job_health(store), deliveries=store.recent_deliveries(100))

    @bp.get("/reports/<int:eval_id>")
    def report(eval_id: int) -> Response:
        from bot.render import render_html

        row = store.evaluation(eval_id)
        if row is None:
            return page("not_found.html.j2", 404, what=f"report {eval_id}")
        # the PR's link from the stored repository and number (what the App saw), not the report's
        resp = make_response(render_html(row["report"], stored_decision(row), mlflow_ui=settings.mlflow_ui_url,
                                         pr_url=pr_url(web, row["repo"], row["pr"])))
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    return bp


def stored_decision(row: Mapping[str, Any]) -> Decision:
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
    from bot.render import environment

    differs = environment().get_template("dashboard/stored_verdict_note.txt.j2").render(
        recomputed=recomputed.outcome if recomputed is not None else None).strip()
    base = recomputed or Decision(outcome="neutral", models=[], data_failures=0, drifted=0, data_changed=False,
                                  reasons=[])
    return dataclasses.replace(base, outcome=stored, reasons=[differs])


def _released(store: Store, known: Iterable[tuple[str, str | None]] = ()) -> list[dict[str, Any]]:
    """Each model and alias with the version its last successful promotion or rollback moved it to.

    The rows are the ones bot.promotion writes (result R_SUCCESS, the alias in the detail);
    production first, then other aliases (a canary's challenger). A model mlgate never released
    (in the audit rows, or one of `known`: (model, repository) pairs from evaluations and the
    monitor) has a production row with no release (`has_release` false).
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
                "canary": detail_of(row).get("canary") if row["to_version"] else None, "has_release": True}
    for name, repo in known:
        seen.setdefault(name, repo)
    for name, repo in seen.items():
        if (name, ALIAS) not in latest:
            latest[(name, ALIAS)] = {"name": name, "alias": ALIAS, "version": None, "at": None, "actor": None,
                                     "pr": None, "repo": repo, "action": None, "canary": None, "has_release": False}
    return sorted(latest.values(), key=lambda m: (m["name"], m["alias"] != "production", m["alias"]))


def _production(found: Production, release: Mapping[str, Any] | None) -> dict[str, Any]:
    """A model's production as the page shows it: the registry's version (None: none, or
    unknown with `problem`), how it stands against mlgate's last release (`state`,
    bot.dashboard_production.compare) and that release's version (`released`)."""
    released = release["version"] if release else None
    return {"version": found.version, "problem": found.problem, "released": released,
            "state": compare(found, released, release is not None)}


def _release_view(row: ReleaseRow) -> dict[str, Any]:
    return {"version": row.to_version, "at": row.at, "actor": row.actor, "pr": row.pr, "repo": row.repo,
            "action": row.action}


def _key_metrics(store: Store, model: dict[str, Any]) -> str:
    """The promoted candidate's headline metrics, from the evaluation of the PR that promoted it."""
    from bot.numbers import metric_format

    if not (model.get("repo") and model.get("pr")) or model.get("action") != "promote":
        return "–"
    ev = store.latest_evaluation(model["repo"], model["pr"])
    models = ev["report"].get("models") if ev else None
    for rm in models if isinstance(models, list) else []:
        if isinstance(rm, dict) and rm.get("name") == model["name"] and isinstance(rm.get("metrics"), list):
            shown = [f"{c['name']} {metric_format(str(c['name']), v).value(v)}" for c in rm["metrics"][:3]
                     if isinstance(c, dict) and (v := _number(c.get("candidate"))) is not None]
            return ", ".join(shown) or "–"
    return "–"


def _job_health(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in store.recent_deliveries(500):
        counts[d["status"]] = counts.get(d["status"], 0) + 1
    return counts


# ---------------------------------------------------------------- views: filters, history, monitor, audit

AUDIT_PAGE = 500  # newest audit rows on the audit page
HISTORY_EVALUATIONS = 60  # newest evaluations read for the metric history (each one's stored report)
VERDICTS = ("pass", "fail", "neutral")
_MAX_FILTER = 256


_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")


def pr_url(web: str, repo: object, pr: object) -> str | None:
    """The pull request's page on GitHub, from a stored `owner/name` and number; None for
    anything else (no link rather than a wrong one)."""
    if not (isinstance(repo, str) and _REPO.fullmatch(repo) and isinstance(pr, int) and not isinstance(pr, bool)
            and pr > 0):
        return None
    return f"{web}/{repo}/pull/{pr}"


def github_web(api_url: str) -> str:
    """GitHub's web address for the API the App talks to (github.com, or a GHES host)."""
    api = api_url.rstrip("/")
    if api == "https://api.github.com":
        return "https://github.com"
    return api.removesuffix("/api/v3")


@dataclass(frozen=True)
class Filters:
    """The home, evaluations and audit pages' filters (query parameters); empty: everything."""

    repo: str | None = None
    model: str | None = None
    verdict: str | None = None

    @classmethod
    def of(cls, args: Mapping[str, str]) -> Filters:
        def one(key: str) -> str | None:
            value = (args.get(key) or "").strip()
            return value[:_MAX_FILTER] or None

        return cls(one("repo"), one("model"), one("verdict"))

    def keeps(self, repo: str | None, model: str | None, outcome: str | None = None) -> bool:
        if self.repo is not None and repo != self.repo:
            return False
        if self.model is not None and model is not None and model != self.model:
            return False
        return not (self.verdict is not None and outcome is not None and outcome != self.verdict)

    @property
    def active(self) -> bool:
        return any((self.repo, self.model, self.verdict))


def _choices(store: Store) -> dict[str, list[str]]:
    """What the filters' drop-downs offer: the repositories and models the store knows."""
    repos: set[str] = set()
    models: set[str] = set()
    for row in store.audit_records():
        if row["repo"]:
            repos.add(row["repo"])
        if row["model"]:
            models.add(row["model"])
    for e in store.recent_evaluations(500):
        repos.add(e["repo"])
    for run in store.monitor_runs(limit=1000):
        repos.add(run["repo"])
        models.add(run["model"])
    return {"repo": sorted(repos), "model": sorted(models), "verdict": list(VERDICTS)}


@dataclass(frozen=True)
class Point:
    """One evaluation of one model: its headline (first gated) metric, candidate against production."""

    eval_id: int
    at: float
    repo: str
    pr: int
    sha: str
    metric: str
    candidate: float
    baseline: float | None
    outcome: str
    promoted: bool  # this PR head was promoted afterwards (an audit row says so)
    gated: tuple[tuple[str, float, float | None], ...] = ()  # every gated metric: (name, candidate, baseline)
    links: tuple[tuple[str, str], ...] = ()  # (what, URL) into the MLflow UI, with Settings.mlflow_ui_url

    def of(self, metric: str) -> Point | None:
        """This evaluation seen through another gated metric (None: not evaluated on it)."""
        found = next((g for g in self.gated if g[0] == metric), None)
        return None if found is None else dataclasses.replace(self, metric=metric, candidate=found[1],
                                                              baseline=found[2])


def _number(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _history(store: Store, f: Filters, mlflow_ui: str | None = None) -> dict[str, list[Point]]:
    """Each model's headline metric over the newest evaluations, oldest first; with `mlflow_ui`,
    each point links its evaluation run, its candidate's run and its baseline's version there
    (bot.render.links)."""
    from bot.promotion import A_PROMOTE, R_SUCCESS
    from bot.render.links import evaluation_run_url, model_links

    promoted = {(r["repo"], r["sha"]) for r in store.audit_records()
                if r["action"] == A_PROMOTE and r["result"] == R_SUCCESS and r["sha"]}
    out: dict[str, list[Point]] = {}
    for e in store.recent_evaluations(HISTORY_EVALUATIONS):
        if f.repo is not None and e["repo"] != f.repo:
            continue
        row = store.evaluation(int(e["id"]))
        models = row["report"].get("models") if row else None
        for rm in models if isinstance(models, list) else []:
            if not isinstance(rm, dict) or not isinstance(rm.get("name"), str):
                continue
            if f.model is not None and rm["name"] != f.model:
                continue
            informational = _informational(row["report"] if row else {}, rm["name"])
            gated = tuple((str(c["name"]), v, _number(c.get("baseline"))) for c in rm.get("metrics") or []
                          if isinstance(c, dict) and isinstance(c.get("name"), str)
                          and c["name"] not in informational and (v := _number(c.get("candidate"))) is not None)
            if not gated:
                continue
            name, candidate, baseline = gated[0]
            links = {"evaluation": evaluation_run_url(mlflow_ui, row["report"]) if row else None,
                     **model_links(mlflow_ui, rm)}
            out.setdefault(rm["name"], []).append(Point(
                int(e["id"]), float(e["created_at"]), e["repo"], int(e["pr"]), e["head_sha"], name,
                candidate, baseline, str(e["outcome"]), (e["repo"], e["head_sha"]) in promoted, gated,
                tuple((what, url) for what, url in links.items() if url)))
    return {name: sorted(points, key=lambda p: (p.at, p.eval_id)) for name, points in out.items()}


def _informational(report: Mapping[str, Any], model: str) -> set[str]:
    """The metrics the report's own policy marks informational for `model` (display only: an
    unreadable policy marks none)."""
    policy = report.get("policy")
    models = policy.get("models") if isinstance(policy, dict) else None
    for m in models if isinstance(models, list) else []:
        if isinstance(m, dict) and m.get("name") == model and isinstance(m.get("metrics"), dict):
            return {str(k) for k, v in m["metrics"].items() if isinstance(v, dict) and v.get("informational") is True}
    return set()


def metric_charts(points: list[Point], most: int = 4) -> list[tuple[str, Chart]]:
    """One chart per gated metric of the model's evaluations (the first `most`), in report order."""
    names = list(dict.fromkeys(g[0] for p in points for g in p.gated))[:most]
    out = []
    for name in names:
        chart = line_chart([q for p in points if (q := p.of(name)) is not None])
        if chart is not None:
            out.append((name, chart))
    return out


def _latest_outcome(history: dict[str, list[Point]], model: str) -> str:
    """The verdict of the model's newest evaluation ('none': never evaluated, so no verdict matches)."""
    points = history.get(model)
    return points[-1].outcome if points else "none"


def _evaluations(store: Store, f: Filters, history: dict[str, list[Point]], limit: int,
                 links: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None) -> list[dict[str, Any]]:
    """The newest evaluations the filters keep; a model filter keeps those whose report has that
    model (among the HISTORY_EVALUATIONS newest, whose reports are read). Each has `links`
    (ReportLinks: its MLflow UI links, none without the setting)."""
    ids = {p.eval_id for p in history.get(f.model, [])} if f.model is not None else None
    rows = [dict(e) for e in store.recent_evaluations(500)
            if f.keeps(e["repo"], None, e["outcome"]) and (ids is None or e["id"] in ids)][:limit]
    for e in rows:
        e["links"] = links(e) if links is not None else []
    return rows


class ReportLinks:
    """A stored evaluation's links into the MLflow UI (bot.render.links.report_links: its
    evaluation run, candidate runs and baseline versions), none without the setting.

    Finding them means reading the stored report (some milliseconds each, 200 on the
    evaluations page), and a stored evaluation never changes: so each is read once and the
    newest MAX are kept, keyed by the row's id and what identifies it (repository, PR, head,
    time), so a reused id cannot return another report's links."""

    MAX = 2000

    def __init__(self, store: Store, mlflow_ui: str | None) -> None:
        self.store, self.ui = store, mlflow_ui
        self._seen: OrderedDict[tuple[int, str, int, str, float], list[tuple[str, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, e: Mapping[str, Any]) -> list[tuple[str, str]]:
        from bot.render.links import report_links

        if not self.ui:
            return []
        key = (int(e["id"]), str(e["repo"]), int(e["pr"]), str(e["head_sha"]), float(e["created_at"]))
        with self._lock:
            found = self._seen.get(key)
        if found is None:
            stored = self.store.evaluation(key[0])
            found = report_links(self.ui, stored["report"]) if stored else []
            with self._lock:
                self._seen[key] = found
                while len(self._seen) > self.MAX:
                    self._seen.popitem(last=False)
        return list(found)


@dataclass(frozen=True)
class Chart:
    """Coordinates for an inline SVG line chart (the template draws it; no script, CSP-safe)."""

    width: int
    height: int
    candidate: str  # polyline points "x,y x,y"
    baseline: str
    marks: list[tuple[float, float, Point]]
    low: float
    high: float


def _chart(points: list[Point], width: int, height: int, pad: int) -> Chart | None:
    if not points:
        return None
    values = [p.candidate for p in points] + [p.baseline for p in points if p.baseline is not None]
    low, high = min(values), max(values)
    span = (high - low) or max(abs(high) * 0.01, 1e-6)
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return round(pad + (step * i if len(points) > 1 else (width - 2 * pad) / 2), 1)

    def y(v: float) -> float:
        return round(height - pad - (v - low) / span * (height - 2 * pad), 1)

    marks = [(x(i), y(p.candidate), p) for i, p in enumerate(points)]
    line = " ".join(f"{a},{b}" for a, b, _ in marks)
    base = " ".join(f"{x(i)},{y(p.baseline)}" for i, p in enumerate(points) if p.baseline is not None)
    return Chart(width, height, line, base, marks, low, high)


def sparkline(points: list[Point]) -> Chart | None:
    return _chart(points[-20:], 160, 34, 4)


def line_chart(points: list[Point]) -> Chart | None:
    return _chart(points, 760, 200, 32)


def monitor_latest(store: Store, *, model: str | None = None) -> list[Any]:
    """The newest monitor run per repository and model (bot.monitor.state.MonitorView)."""
    from bot.monitor.state import latest

    return list(latest(store, model=model))


def _words(value: object, key: str = "") -> str:
    """A detail value as text: lists joined, nested objects as `key: value` pairs, never JSON.
    A number under a metric's name reads as that metric does everywhere (bot.numbers); any
    other number as written, never an exponent."""
    from bot import numbers

    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if key in numbers.METRIC_DECIMALS:
            return numbers.metric_format(key, value).value(value)
        return numbers.plain_number(value)
    if isinstance(value, list):
        return ", ".join(_words(v, key) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_words(v, str(k))}" for k, v in value.items())
    return "" if value is None else str(value)


def detail_items(detail: str | None) -> list[tuple[str, str]]:
    """An audit row's detail as (label, text) pairs for a definition list; text that is not a
    JSON object is shown as one item, as written."""
    if not detail:
        return []
    try:
        data = json.loads(detail)
    except ValueError:
        return [("note", detail)]
    if not isinstance(data, dict):
        return [("note", _words(data))]
    return [(str(k).replace("_", " "), _words(v, str(k))) for k, v in data.items() if v not in (None, "", [], {})]


def _audit_view(row: Mapping[str, Any], web: str) -> dict[str, Any]:
    pr_url = f"{web}/{row['repo']}/pull/{row['pr']}" if row.get("repo") and row.get("pr") else None
    return {**row, "items": detail_items(row.get("detail")), "pr_url": pr_url}


def _report_links(store: Store, rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int], int]:
    """The newest stored evaluation of each PR the rows name: (repo, pr) -> evaluation id."""
    out: dict[tuple[str, int], int] = {}
    for r in rows:
        key = (r.get("repo"), r.get("pr"))
        if key[0] and key[1] and key not in out:
            e = store.latest_evaluation(str(key[0]), int(key[1]))
            if e:
                out[(str(key[0]), int(key[1]))] = int(e["id"])
    return out
