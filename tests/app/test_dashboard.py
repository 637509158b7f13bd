"""The dashboard: off by default, token-protected sessions, 404 pages, the report page, and a real browser."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import promotion
from bot.app import create_app
from bot.config import load_config
from bot.dashboard import COOKIE, SESSION_SECONDS
from bot.gate import decide
from bot.queue import huey_for
from bot.settings import Settings, SettingsError
from bot.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOKEN = "dash-s3cret-token"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HTTPS = "https://mlgate.example.com"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _app(tmp: Path, token: str | None, **settings_kw: Any) -> tuple[Any, Store]:
    settings = Settings(webhook_secret="w", app_id=1, private_key="-----BEGIN PRIVATE KEY-----",
                        database_url=f"sqlite:///{tmp / 'db.sqlite'}", queue_url=f"sqlite:///{tmp / 'q.db'}",
                        dashboard_token=token, **settings_kw)
    store = Store(settings.database_url)
    store.migrate()  # the process's start; create_app takes the store as it is
    app = create_app(settings, store=store, queue=(huey_for(settings.queue_url), lambda _id: None))
    return app, store


def _release(action: promotion.Action, actor: str, alias: str = "production") -> promotion.Release:
    return promotion.Release(action=action, model="churn-classifier", alias=alias, actor=actor,
                             delivery_id=f"d-{actor}", repo="acme/churn", pr=7, head_sha="a" * 40)


def _seed(store: Store) -> int:
    """An evaluation and audit rows as the App writes them: the verdict under the base branch's
    policy, and promotion rows through the functions bot.promotion writes them with."""
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    store.set_pr_head("acme/churn", 7, "a" * 40, "b" * 40, "alice")
    verdict = decide(report, load_config(FIXTURES / "reports" / "mlgate.yml")).outcome
    eid = store.record_evaluation("acme/churn", 7, "a" * 40, 42, verdict, report)
    assert eid is not None
    promotion.audit(store, _release("promote", "bob"), promotion.A_PROMOTE, promotion.R_SUCCESS,
                    from_version="3", to_version="4")
    promotion.record_denied(store, actor="eve", command="rollback", why="needs maintain permission",
                            repo="acme/churn", pr=7, sha="a" * 40, model="churn-classifier", delivery_id="d2",
                            line="/rollback <img src=x onerror=alert(1)>")
    return eid


def _seed_history(store: Store) -> None:
    """Four evaluations of churn-classifier over three PRs (the first promoted, one failing), a
    release, a denied command, and two windows of mlgate monitor with a canary, all written by
    the functions the App and the monitor write them with."""
    from bot.monitor.canary import Canary
    from bot.monitor.checks import DriftRow, LiveRow, ModelHealth
    from bot.monitor.compare import ComparisonRow, LiveComparison
    from bot.monitor.issues import IssueOutcome
    from bot.monitor.state import Posted, record

    base = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    for pr, sha, auc, outcome in ((11, "1" * 40, 0.7912, "pass"), (12, "2" * 40, 0.7655, "fail"),
                                  (12, "3" * 40, 0.7958, "pass"), (13, "4" * 40, 0.8011, "neutral")):
        report = json.loads(json.dumps(base))
        report["models"][0]["metrics"][0]["candidate"] = auc
        store.set_pr_head("acme/churn", pr, sha, "b" * 40, "alice")
        store.record_evaluation("acme/churn", pr, sha, 100 + pr, outcome, report)
    release = promotion.Release(action="promote", model="churn-classifier", alias="production", actor="bob",
                                delivery_id="d-11", repo="acme/churn", pr=11, head_sha="1" * 40)
    promotion.audit(store, release, promotion.A_PROMOTE, promotion.R_SUCCESS, from_version="3", to_version="4")
    h = ModelHealth("churn-classifier", "4", "2026-11-16 to 2026-11-22", 1_400_000, 1_200_000)
    record(store, "acme/churn", h, None, None, web="https://github.com")
    h = ModelHealth("churn-classifier", "4", "2026-11-23 to 2026-11-29", 1_410_000, 1_210_000)
    h.drift = [DriftRow("tenure_months", "all", "numeric", 0.41, 1e-30, 1_410_000, True)]
    h.live = [LiveRow("roc_auc", "all", 1_210_000, 0.7912, 0.7801, 0.7790, 0.7812, -0.0111, "unchanged", True)]
    h.flag("alert", "input drift in 1 feature/segment pair(s): tenure_months")
    canary = Canary("churn-classifier", "challenger", "5", 0.1, "4", "acme/churn", 13)
    result = LiveComparison("churn-classifier", "4", "5", "shadow", h.window, 900_000, 90_000, rows=[
        ComparisonRow("roc_auc", "all", 90_000, 0.7801, 0.7712, -0.0089, -0.0121, -0.0057, "regressed", True)])
    record(store, "acme/churn", h, IssueOutcome("churn-classifier", "opened", 21), Posted(canary, result, 99),
           web="https://github.com")


def _with_cookie(app: Any, value: str) -> Any:
    """A new browser that holds `value` as the dashboard cookie."""
    client = app.test_client()
    client.set_cookie(COOKIE, value, domain="mlgate.example.com")
    return client


def _login(client: Any, token: str = TOKEN, next_: str = "/dashboard", **kw: Any) -> Any:
    kw.setdefault("base_url", HTTPS)
    return client.post("/dashboard/login", data={"token": token, "next": next_}, **kw)


def test_dashboard_is_off_without_a_token(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, None)
    c = app.test_client()
    assert c.get("/dashboard").status_code == 404
    assert c.get("/reports/1").status_code == 404


def test_token_is_required_and_checked(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    eid = _seed(store)
    c = app.test_client()
    assert c.get("/dashboard").status_code == 401
    assert c.get(f"/reports/{eid}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = c.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    html = ok.get_data(as_text=True)
    # no registry configured: the version is unknown, never the audit's guess (the registry's
    # version and the promoted candidate's metrics: tests/app/test_dashboard_production.py)
    assert "churn-classifier" in html and "production version unknown: no registry configured" in html
    assert "bob" in html and ">4<" not in html and "roc_auc 0.778," not in html
    assert TOKEN not in html
    # log in with the form: a cookie that is not the token
    resp = _login(c, next_="/dashboard/models/churn-classifier")
    assert resp.status_code == 302 and resp.headers["Location"] == "/dashboard/models/churn-classifier"
    assert TOKEN not in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    model = c.get("/dashboard/models/churn-classifier", base_url=HTTPS).get_data(as_text=True)
    assert "needs maintain permission" in model and f'href="/reports/{eid}"' in model
    assert "<img src=x" not in model and "&lt;img src=x onerror=alert(1)&gt;" in model  # the command line, escaped
    assert _login(c, token="nope", next_="//evil.example").status_code == 401


def test_missing_things_are_404_pages_not_stack_traces(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    c = app.test_client()
    h = {"Authorization": f"Bearer {TOKEN}"}
    for url in ("/dashboard/models/nope", "/reports/999"):
        r = c.get(url, headers=h)
        assert r.status_code == 404 and "Not found" in r.get_data(as_text=True)
        assert "Traceback" not in r.get_data(as_text=True)


def test_report_page_is_the_full_html_report(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    eid = _seed(store)
    r = app.test_client().get(f"/reports/{eid}", headers={"Authorization": f"Bearer {TOKEN}"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<svg" in html and "region = APAC" in html
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The dashboard on a local server, with a real MLflow registry whose @production is version 4,
    where _seed's promotion put it (the home page reads the version there)."""
    from mlflow import MlflowClient
    from werkzeug.serving import make_server

    from bot.mlflow import Registry

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = Registry(uri)
    experiment = reg.client.create_experiment("train", artifact_location=str(tmp_path / "artifacts"))
    for _ in range(4):
        reg.register(f"runs:/{reg.client.create_run(experiment).info.run_id}/model", "churn-classifier")
    MlflowClient(uri, uri).set_registered_model_alias("churn-classifier", "production", "4")
    app, store = _app(tmp_path, TOKEN, dashboard_plain_http=True,  # a local server on plain HTTP, on purpose
                      tracking_uri=uri)
    _seed(store)
    _seed_history(store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_browser_clicks_from_models_to_a_promotion_to_its_report(served: str) -> None:
    """Chromium signs in, reads the home page (production version, history, monitor, canary),
    opens the model, the audit log and a report. The screenshots are kept in test-artifacts/;
    UPDATE_SCREENSHOTS=1 also copies them to docs/img for docs/dashboard.md."""
    import os

    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    shots: list[Path] = []

    def shot(page: Any, name: str) -> None:
        path = ARTIFACTS / name
        page.screenshot(path=str(path), full_page=True)
        shots.append(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1180, "height": 900})
        page.goto(f"{served}/dashboard")
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_selector("svg.spark circle")
        for _ in range(30):  # a first read slower than the page's deadline goes on and fills the cache
            if not page.locator("text=did not answer in time").count():
                break
            page.wait_for_timeout(2000)
            page.reload()
        assert page.locator("svg.spark circle").count() == 5
        assert page.locator("td:text-is('4')").count() == 1  # the registry's @production, where bob put it
        assert page.locator("text=threshold crossed").first.is_visible()
        shot(page, "dashboard-home.png")
        page.select_option("select[name=verdict]", "fail")
        page.click("text=Filter")
        assert "verdict=fail" in page.url and page.locator("text=No models match").is_visible()
        page.click("text=clear")
        page.click("table a:text-is('churn-classifier') >> nth=0")
        page.wait_for_selector("svg.chart")
        shot(page, "dashboard-model.png")
        page.click("text=Audit log")
        page.wait_for_selector("dl")
        assert page.locator("dt:text-is('reason')").first.is_visible()
        shot(page, "dashboard-audit.png")
        page.click("text=report >> nth=-1")
        page.wait_for_selector("svg")
        assert "the gate failed" in page.content()
        shot(page, "dashboard-report.png")
        browser.close()
    for path in shots:
        assert path.stat().st_size > 10_000
    shutil.copy(ARTIFACTS / "dashboard-report.png", ARTIFACTS / "dashboard-report-latest.png")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        for path in shots[:3]:
            shutil.copy(path, DOCS_IMG / path.name)


# ---------------------------------------------------------------- sessions


@pytest.mark.parametrize("target", [
    "/\t/evil.example",  # browsers drop the tab: //evil.example
    "/\n/evil.example",
    "//evil.example",
    "/\\evil.example",  # browsers read the backslash as a slash
    "\\/evil.example",
    "https://evil.example/dashboard",
    "javascript:alert(1)",
    "/dashboard/../..//evil.example",
    "/dashboard\x00/x",
    "/dashboard?next=//evil.example",
    " /dashboard",
    "/dashboard/models/" + "x" * 2000,
])
def test_a_login_returns_only_to_the_dashboards_own_pages(tmp_path: Path, target: str) -> None:
    app, _ = _app(tmp_path, TOKEN)
    resp = _login(app.test_client(), next_=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/dashboard"
    # the login page does not echo it back either
    page = app.test_client().get("/dashboard/login", query_string={"next": target}, base_url=HTTPS)
    assert 'name="next" value="/dashboard"' in page.get_data(as_text=True)


@pytest.mark.parametrize(("target", "location"), [
    ("/dashboard/models/churn-classifier", "/dashboard/models/churn-classifier"),
    ("/dashboard/models/churn classifier é", "/dashboard/models/churn%20classifier%20%C3%A9"),
    ("/reports/12", "/reports/12"),
    ("/dashboard/jobs/../evaluations", "/dashboard/evaluations"),
])
def test_a_login_returns_to_the_page_that_asked_for_it(tmp_path: Path, target: str, location: str) -> None:
    app, _ = _app(tmp_path, TOKEN)
    assert _login(app.test_client(), next_=target).headers["Location"] == location


def test_the_session_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import itsdangerous.timed

    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    c = app.test_client()
    cookie = _login(c).headers["Set-Cookie"]
    assert f"Max-Age={SESSION_SECONDS}" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    assert _with_cookie(app, value).get("/dashboard", base_url=HTTPS).status_code == 200

    class Later:
        @staticmethod
        def time() -> float:
            import time

            return time.time() + SESSION_SECONDS + 60

    monkeypatch.setattr(itsdangerous.timed, "time", Later)
    late = _with_cookie(app, value).get("/dashboard", base_url=HTTPS)
    assert late.status_code == 401 and "Your session has ended" in late.get_data(as_text=True)


def test_a_cookie_signed_with_another_token_or_forged_is_refused(tmp_path: Path) -> None:
    import hashlib

    from bot.dashboard import _sessions

    app, _ = _app(tmp_path, TOKEN)
    for value in (_sessions("an-old-token").dumps({"v": 1}),
                  hashlib.sha256(f"mlgate-dashboard:{TOKEN}".encode()).hexdigest(),  # the old cookie
                  "x" * 40):
        assert _with_cookie(app, value).get("/dashboard", base_url=HTTPS).status_code == 401


def test_sign_out_clears_the_cookie(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    c = app.test_client()
    _login(c)
    home = c.get("/dashboard", base_url=HTTPS)
    assert home.status_code == 200 and 'action="/dashboard/logout"' in home.get_data(as_text=True)
    out = c.post("/dashboard/logout", base_url=HTTPS)
    assert out.status_code == 302 and out.headers["Location"] == "/dashboard/login"
    cleared = out.headers["Set-Cookie"]
    assert cleared.startswith(f"{COOKIE}=;") and "Max-Age=0" in cleared and "Secure" in cleared
    assert c.get("/dashboard", base_url=HTTPS).status_code == 401
    assert c.get("/dashboard/logout", base_url=HTTPS).status_code == 405  # a link cannot sign anyone out


def test_the_cookie_is_secure_and_a_plain_http_login_says_why_it_cannot_work(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, TOKEN)
    assert "Secure" in _login(app.test_client()).headers["Set-Cookie"]
    plain = _login(app.test_client(), base_url="http://mlgate.example.com")
    assert plain.status_code == 400 and "Set-Cookie" not in plain.headers
    assert "MLGATE_PROXY_HOPS" in plain.get_data(as_text=True)
    # without a proxy setting, anyone's X-Forwarded-Proto is ignored
    forged = _login(app.test_client(), base_url="http://mlgate.example.com",
                    headers={"X-Forwarded-Proto": "https"})
    assert forged.status_code == 400


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, TOKEN, proxy_hops=1)
    resp = _login(app.test_client(), base_url="http://10.0.0.5:8000", headers={"X-Forwarded-Proto": "https"})
    assert resp.status_code == 302 and "Secure" in resp.headers["Set-Cookie"]


def test_plain_http_is_an_explicit_local_choice(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, TOKEN, dashboard_plain_http=True)
    resp = _login(app.test_client(), base_url="http://127.0.0.1:8000")
    assert resp.status_code == 302 and "Secure" not in resp.headers["Set-Cookie"]


def test_the_proxy_and_plain_http_settings_are_read_at_start() -> None:
    from bot.sandbox import generate_private_key

    base = {"MLGATE_WEBHOOK_SECRET": "w", "MLGATE_APP_ID": "1", "MLGATE_PRIVATE_KEY": generate_private_key()}
    s = Settings.from_env(base)
    assert (s.proxy_hops, s.dashboard_plain_http) == (0, False)
    s = Settings.from_env({**base, "MLGATE_PROXY_HOPS": "1", "MLGATE_DASHBOARD_PLAIN_HTTP": "true"})
    assert (s.proxy_hops, s.dashboard_plain_http) == (1, True)
    for bad in ({"MLGATE_PROXY_HOPS": "yes"}, {"MLGATE_PROXY_HOPS": "²"}, {"MLGATE_DASHBOARD_PLAIN_HTTP": "maybe"}):
        with pytest.raises(SettingsError, match=next(iter(bad))):
            Settings.from_env({**base, **bad})


@pytest.mark.parametrize("given", ["été", "tökén", TOKEN + "é", "\u2028"])
def test_non_ascii_tokens_are_refused_not_errors(tmp_path: Path, given: str) -> None:
    app, _ = _app(tmp_path, TOKEN)
    c = app.test_client()
    assert c.get("/dashboard", headers={"Authorization": f"Bearer {given}".encode().decode("latin-1")},
                 base_url=HTTPS).status_code == 401
    assert _login(c, token=given).status_code == 401
    assert _login(c, next_=given).status_code == 302  # a non-ASCII next is just not a page of ours
    assert _with_cookie(app, given).get("/dashboard", base_url=HTTPS).status_code == 401


def test_a_non_ascii_dashboard_token_works(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, "jeton-été")
    c = app.test_client()
    assert _login(c, token="jeton-été").status_code == 302
    assert c.get("/dashboard", base_url=HTTPS).status_code == 200


# ---------------------------------------------------------------- what the pages say


def test_home_shows_the_version_the_last_successful_release_moved_the_alias_to(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)  # promote 3 -> 4 by bob
    promotion.audit(store, _release("promote", "carol"), promotion.A_PROMOTE, promotion.R_FAILED,
                    from_version="4", to_version="5")  # MLflow was down: the alias did not move
    promotion.audit(store, _release("promote", "dave", alias="challenger"), promotion.A_PROMOTE,
                    promotion.R_SUCCESS, from_version=None, to_version="6")
    html = app.test_client().get("/dashboard", headers=BEARER).get_data(as_text=True)
    rows = [r for r in html.split("<tr>") if "churn-classifier</a>" in r]
    assert len(rows) == 2
    # the production version itself comes from the registry (none here, so unknown); which release
    # counts is what says who moved it (tests/app/test_dashboard_production.py: with a registry)
    assert '<td>production</td><td><span class="unknown">production version unknown' in rows[0]
    assert "<td>bob</td>" in rows[0]
    assert "<td>challenger</td><td>6</td>" in rows[1] and "dave" in rows[1]
    promotion.audit(store, _release("rollback", "frank"), promotion.A_ROLLBACK, promotion.R_SUCCESS,
                    from_version="4", to_version="3")
    html = app.test_client().get("/dashboard", headers=BEARER).get_data(as_text=True)
    assert "<td>frank</td>" in _row_of(html, "production") and "<td>dave</td>" in _row_of(html, "challenger")


def _row_of(html: str, alias: str) -> str:
    return next(r for r in html.split("<tr>") if f"churn-classifier</a></td><td>{alias}" in r)


def test_the_report_page_shows_the_verdict_the_app_stored(tmp_path: Path) -> None:
    """A report whose own policy waves its regression through: the App gated it under the base
    branch's policy and stored a failure; the page must not say it passed."""
    app, store = _app(tmp_path, TOKEN)
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["policy"] = load_config(FIXTURES / "reports" / "mlgate.yml").to_policy()
    for m in report["policy"]["models"]:
        m["metrics"] = {k: {**v, "max_drop": 1.0} for k, v in m["metrics"].items()}
        m["segment_policy"]["max_drop"] = 1.0
    store.set_pr_head("acme/churn", 8, "c" * 40, "b" * 40, "mallory")
    verdict = decide(report, load_config(FIXTURES / "reports" / "mlgate.yml")).outcome
    assert verdict == "fail"
    eid = store.record_evaluation("acme/churn", 8, "c" * 40, 43, verdict, report)
    html = app.test_client().get(f"/reports/{eid}", headers=BEARER).get_data(as_text=True)
    assert "the gate failed" in html and "the gate passed" not in html
    assert "follow the policy this report carries, which gives &#39;pass&#39;" in html


def test_a_report_page_with_an_unreadable_policy_still_shows_the_stored_verdict(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["policy"] = {"version": 1, "models": "<b>not a list</b>"}
    store.set_pr_head("acme/churn", 9, "d" * 40, "b" * 40, "mallory")
    eid = store.record_evaluation("acme/churn", 9, "d" * 40, 44, "fail", report)
    r = app.test_client().get(f"/reports/{eid}", headers=BEARER)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "the gate failed" in html and "<b>not a list" not in html


# ---------------------------------------------------------------- golden pages

GOLDEN = Path(__file__).parent / "golden" / "dashboard"


def _check_golden(name: str, text: str) -> None:
    import os

    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run UPDATE_GOLDEN=1 pytest tests/app/test_dashboard.py"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


def test_sign_in_pages_golden(tmp_path: Path) -> None:
    app, _ = _app(tmp_path, TOKEN)
    pages = {
        "login.html": app.test_client().get("/dashboard/login?next=/dashboard/jobs", base_url=HTTPS),
        "login-wrong-token.html": _login(app.test_client(), token="nope"),
        "login-plain-http.html": _login(app.test_client(), base_url="http://mlgate.example.com"),
        "login-session-ended.html": _with_cookie(app, "expired.or.forged").get("/dashboard/models/m", base_url=HTTPS),
    }
    for name, resp in pages.items():
        _check_golden(name, resp.get_data(as_text=True))


def test_report_page_whose_policy_differs_golden(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["policy"] = load_config(FIXTURES / "reports" / "mlgate.yml").to_policy()
    for m in report["policy"]["models"]:
        m["metrics"] = {k: {**v, "max_drop": 1.0} for k, v in m["metrics"].items()}
        m["segment_policy"]["max_drop"] = 1.0
    store.set_pr_head("acme/churn", 8, "c" * 40, "b" * 40, "mallory")
    eid = store.record_evaluation("acme/churn", 8, "c" * 40, 43, "fail", report)
    _check_golden("report-policy-differs.html",
                  app.test_client().get(f"/reports/{eid}", headers=BEARER).get_data(as_text=True))


def test_a_report_from_another_mlgate_version_keeps_its_per_metric_verdicts(tmp_path: Path) -> None:
    # only the models' part of the embedded policy decides anything; a section this mlgate does
    # not know (or no longer accepts) used to make the page a 500
    app, store = _app(tmp_path, TOKEN)
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["policy"] = {**load_config(FIXTURES / "reports" / "mlgate.yml").to_policy(), "from_the_future": {"x": 1}}
    store.set_pr_head("acme/churn", 9, "d" * 40, "b" * 40, "alice")
    verdict = decide(report, load_config(FIXTURES / "reports" / "mlgate.yml")).outcome
    eid = store.record_evaluation("acme/churn", 9, "d" * 40, 44, verdict, report)
    r = app.test_client().get(f"/reports/{eid}", headers=BEARER)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "the gate failed" in html
    assert "cannot be read" not in html and "not in the base branch" not in html and "regressed" in html


# ---------------------------------------------------------------- history, filters, audit page, monitor (#14, #17)


def _home(app: Any, query: str = "") -> str:
    return str(app.test_client().get(f"/dashboard{query}", headers=BEARER).get_data(as_text=True))


def test_home_links_the_pr_and_draws_each_models_metric_history(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    _seed_history(store)
    html = _home(app)
    row = next(r for r in html.split("<tr>") if "churn-classifier</a></td><td>production" in r)
    assert "production version unknown" in row and "<td>4</td>" not in row and "bob" in row
    assert '<a href="https://github.com/acme/churn/pull/11">acme/churn#11</a>' in row
    # one dot per evaluation of the model, oldest first, coloured by verdict; promoted heads ringed
    dots = row.split("<circle")[1:]
    assert len(dots) == 5
    assert [d.split('class="')[1].split('"')[0] for d in dots] == [
        "fail promoted", "pass promoted", "fail", "pass", "neutral"]
    assert "acme/churn#12: roc_auc 0.765 (fail)" in row  # roc_auc's 3 decimals, as everywhere (bot.numbers)


def test_github_web_address_follows_the_api() -> None:
    from bot.dashboard import github_web

    assert github_web("https://api.github.com") == "https://github.com"
    assert github_web("https://ghe.example.com/api/v3/") == "https://ghe.example.com"


@pytest.mark.parametrize(("query", "shown", "hidden"), [
    ("?repo=acme/other", [], ["churn-classifier</a></td><td>production", "/reports/1\""]),
    ("?verdict=pass", ['href="/reports/2"', 'href="/reports/4"'], ['href="/reports/3"', 'href="/reports/5"']),
    ("?verdict=neutral", ["churn-classifier</a></td><td>production", 'href="/reports/5"'], ['href="/reports/2"']),
    ("?verdict=fail", ['href="/reports/3"'], ["churn-classifier</a></td><td>production"]),
    ("?model=another", [], ["churn-classifier</a></td><td>production", 'href="/reports/']),
    ("?model=churn-classifier&repo=acme/churn", ["churn-classifier</a></td><td>production", 'href="/reports/5"'], []),
])
def test_home_filters_by_repository_model_and_verdict(tmp_path: Path, query: str, shown: list[str],
                                                     hidden: list[str]) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    _seed_history(store)
    html = _home(app, query)
    for text in shown:
        assert text in html, text
    for text in hidden:
        assert text not in html, text


def test_a_filter_value_is_escaped_and_kept_in_the_form(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    html = _home(app, "?repo=%3Cscript%3Ex%3C/script%3E")
    assert "<script>x" not in html and "No models match these filters" in html


def test_the_audit_page_lists_every_record_with_readable_details(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    _seed_history(store)
    c = app.test_client()
    html = c.get("/dashboard/audit", headers=BEARER).get_data(as_text=True)
    assert html.count("<tr><td>") == 3  # two promotions and a denied command, newest first
    assert html.index("acme/churn#11") < html.index("needs maintain permission") < html.rindex(">bob<")
    # the detail column is a definition list, never the stored JSON
    assert '{"' not in html and "&#34;" not in html
    assert "<dt>reason</dt><dd>needs maintain permission</dd>" in html
    assert "<dt>line</dt><dd>/rollback &lt;img src=x onerror=alert(1)&gt;</dd>" in html
    assert "<dt>alias</dt><dd>production</dd>" in html and "<dt>dry run</dt><dd>no</dd>" in html
    assert '<a href="https://github.com/acme/churn/pull/7">acme/churn#7</a> · <a href="/reports/1">report</a>' in html
    denied = c.get("/dashboard/audit?action=denied", headers=BEARER).get_data(as_text=True)
    assert denied.count("<tr><td>") == 1 and "eve" in denied
    assert c.get("/dashboard/audit?repo=acme/other", headers=BEARER).get_data(as_text=True).count("<tr><td>") == 0


def test_detail_items_never_show_json() -> None:
    from bot.dashboard import detail_items

    assert detail_items('{"approvers": ["carol", "dan"], "reasons": ["APAC dropped"], "x": {"a": 1, "b": true}}') == [
        ("approvers", "carol, dan"), ("reasons", "APAC dropped"), ("x", "a: 1; b: yes")]
    assert detail_items("not json") == [("note", "not json")]
    assert detail_items(None) == []
    # numbers as bot.numbers writes them: a metric in its decimals, anything else without an exponent
    assert detail_items('{"metrics": {"roc_auc": 0.78421, "rmse": 15234.7}, "tolerance": 150000.0}') == [
        ("metrics", "roc_auc: 0.784; rmse: 15,235"), ("tolerance", "150,000")]


def test_home_and_model_page_show_the_monitors_latest_state_and_the_canary(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _seed(store)
    _seed_history(store)
    html = _home(app)
    section = html.split("<h2>Production monitor</h2>")[1].split("<h2>")[0]
    assert '<td class="alert">threshold crossed</td><td>2026-11-23 to 2026-11-29</td>' in section
    assert "input drift in 1 feature/segment pair(s): tenure_months" in section
    assert '<a href="https://github.com/acme/churn/issues/21">#21</a>' in section
    assert 'version 5 (10%): <span class="worse">worse</span>' in section
    assert '<a href="https://github.com/acme/churn/pull/13">acme/churn#13</a>' in section
    assert "2026-11-16 to 2026-11-22" not in section  # only the newest window per model
    page = app.test_client().get("/dashboard/models/churn-classifier", headers=BEARER).get_data(as_text=True)
    assert "threshold crossed" in page and '<span class="ok">2026-11-16 to 2026-11-22 ok</span>' in page
    # the metric history: a chart and a table, newest first, with the PR and its report
    # one chart per gated metric (roc_auc and f1; accuracy and log_loss are informational in its policy)
    assert [h.split("</h3>")[0] for h in page.split("<h3>")[1:]] == ["roc_auc", "f1"]
    assert page.count("<circle") == 10 and "Each gated metric of each evaluated candidate" in page
    table = page.split("<th>promoted</th>")[1]
    assert table.index("acme/churn#13") < table.index("acme/churn#11")
    # each metric in its own decimals (bot.numbers): roc_auc 0.791 here as in the comment, its delta one more
    assert '<td class="n">0.791</td><td class="n">+0.0070</td><td class="n">0.709</td><td class="n">-0.0081</td>' in table


def test_a_model_known_only_to_the_monitor_has_a_page(tmp_path: Path) -> None:
    from bot.monitor.checks import ModelHealth
    from bot.monitor.state import record

    app, store = _app(tmp_path, TOKEN)
    h = ModelHealth("fraud", None, "2026-11-23 to 2026-11-29", 0, 0)
    h.flag("unknown", "no logged predictions of fraud in 2026-11-23 to 2026-11-29")
    record(store, "acme/fraud", h, None, None, web="https://github.com")
    r = app.test_client().get("/dashboard/models/fraud", headers=BEARER)
    assert r.status_code == 200 and "could not be checked" in r.get_data(as_text=True)
    # listed on the home page too (every model the store knows), its production version unknown here
    assert "could not be checked" in _home(app) and "No models yet" not in _home(app)
    assert "fraud</a></td><td>production</td><td><span class=\"unknown\">" in _home(app)
