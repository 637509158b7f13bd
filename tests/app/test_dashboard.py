"""The dashboard: off by default, token-protected, 404 pages, the report page, and a real browser."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from bot.queue import huey_for
from bot.settings import Settings
from bot.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOKEN = "dash-s3cret-token"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _app(tmp: Path, token: str | None) -> tuple[Any, Store]:
    settings = Settings(webhook_secret="w", app_id=1, private_key="-----BEGIN PRIVATE KEY-----",
                        database_url=f"sqlite:///{tmp / 'db.sqlite'}", queue_url=f"sqlite:///{tmp / 'q.db'}",
                        dashboard_token=token)
    store = Store(settings.database_url)
    app = create_app(settings, store=store, queue=(huey_for(settings.queue_url), lambda _id: None))
    return app, store


def _seed(store: Store) -> int:
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    store.set_pr_head("acme/churn", 7, "a" * 40, "b" * 40, "alice")
    eid = store.record_evaluation("acme/churn", 7, "a" * 40, 42, "fail", report)
    assert eid is not None
    store.record_audit(actor="bob", action="promote", result="ok", repo="acme/churn", model="churn-classifier",
                       from_version="3", to_version="4", pr=7, sha="a" * 40, delivery_id="d1")
    store.record_audit(actor="eve", action="rollback", result="denied", repo="acme/churn", model="churn-classifier",
                       pr=7, detail="needs maintain permission")
    return eid


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
    resp = c.post("/dashboard/login", data={"token": TOKEN, "next": "/dashboard/models/churn-classifier"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard/models/churn-classifier")
    assert TOKEN not in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    model = c.get("/dashboard/models/churn-classifier").get_data(as_text=True)
    assert "needs maintain permission" in model and f'href="/reports/{eid}"' in model
    assert c.post("/dashboard/login", data={"token": "nope", "next": "//evil.example"}).status_code == 401


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

    app, store = _app(tmp_path, TOKEN)
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
