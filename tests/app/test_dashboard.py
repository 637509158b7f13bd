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
    assert "churn-classifier" in html and ">4<" in html and "bob" in html
    assert "roc_auc 0.7782" in html  # the promoted candidate's metrics from its PR's evaluation
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
    from werkzeug.serving import make_server

    app, store = _app(tmp_path, TOKEN, dashboard_plain_http=True)  # a local server on plain HTTP, on purpose
    _seed(store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_browser_clicks_from_models_to_a_promotion_to_its_report(served: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.goto(f"{served}/dashboard")
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.click("text=churn-classifier")
        assert page.locator("text=promote").first.is_visible()
        page.click("text=acme/churn#7 >> nth=0")
        page.wait_for_selector("svg")
        assert "the gate failed" in page.content()
        page.screenshot(path=str(ARTIFACTS / "dashboard-report.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "dashboard-report.png").stat().st_size > 10_000
    shutil.copy(ARTIFACTS / "dashboard-report.png", ARTIFACTS / "dashboard-report-latest.png")


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
    assert "<td>production</td><td>4</td>" in rows[0] and "bob" in rows[0]
    assert "<td>challenger</td><td>6</td>" in rows[1] and "dave" in rows[1]
    promotion.audit(store, _release("rollback", "frank"), promotion.A_ROLLBACK, promotion.R_SUCCESS,
                    from_version="4", to_version="3")
    html = app.test_client().get("/dashboard", headers=BEARER).get_data(as_text=True)
    assert "<td>production</td><td>3</td>" in html and "frank" in html


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
