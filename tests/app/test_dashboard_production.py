"""The dashboard's production version comes from the MLflow registry (#14 item 6).

`@production` is the truth: a model registered outside mlgate (the quickstart's first version)
is listed with its version; an alias moved outside mlgate shows the registry's version, marked;
a registry that cannot be read says so and shows no version (fail closed), and no credential.
The registry is a real MLflow SQLite store; rows are written by Store.record_evaluation and
bot.promotion, as the App writes them.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import promotion
from bot.config import load_config
from bot.dashboard_production import Production, ProductionVersions
from bot.gate import decide
from bot.store import Store
from tests.app.test_dashboard import BEARER, FIXTURES, TOKEN, _app

MODEL = "churn-classifier"
REPO = "acme/churn"


@pytest.fixture(scope="module")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its schema migrated once (migrating costs seconds)."""
    from bot.mlflow import Registry

    root = tmp_path_factory.mktemp("mlflow-template")
    Registry(f"sqlite:///{root / 'mlflow.db'}")
    return root / "mlflow.db"


@pytest.fixture
def registry(tmp_path: Path, mlflow_template: Path) -> Iterator[Any]:
    """A registry with versions 1, 2 and 3 of the model and @production at 1, set outside
    mlgate (as the quickstart and the demo register their first model)."""
    from bot.mlflow import Registry

    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    reg = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = reg.client.create_experiment("train", artifact_location=str(tmp_path / "artifacts"))
    for _ in range(3):
        run = reg.client.create_run(experiment)
        reg.register(f"runs:/{run.info.run_id}/model", MODEL)
    reg.client.set_registered_model_alias(MODEL, "production", "1")  # MLflow's own client: not mlgate
    yield reg


def _evaluate(store: Store, pr: int = 7, sha: str = "a" * 40, model: str = MODEL) -> int:
    """An evaluation as the App stores it: the verdict under the base branch's policy."""
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["models"][0]["name"] = model
    store.set_pr_head(REPO, pr, sha, "b" * 40, "alice")
    verdict = decide(report, load_config(FIXTURES / "reports" / "mlgate.yml")).outcome
    eid = store.record_evaluation(REPO, pr, sha, 42, verdict, report)
    assert eid is not None
    return eid


def _page(app: Any, url: str) -> str:
    """The page once the registry answered: the first view of a process may have to wait for
    mlflow's import and say 'did not answer in time'; the read goes on and fills the cache."""
    deadline = time.monotonic() + 120
    while True:
        resp = app.test_client().get(url, headers=BEARER)
        assert resp.status_code == 200
        html = str(resp.get_data(as_text=True))
        if "did not answer in time" not in html or time.monotonic() > deadline:
            return html
        time.sleep(0.2)


def _row(html: str, alias: str = "production") -> str:
    rows = [r for r in html.split("<tr>") if f"{MODEL}</a></td><td>{alias}" in r]
    assert len(rows) == 1, rows
    return rows[0]


def test_a_model_with_only_evaluations_shows_its_externally_registered_production(tmp_path: Path,
                                                                                 registry: Any) -> None:
    app, store = _app(tmp_path, TOKEN, tracking_uri=registry.tracking_uri)
    _evaluate(store)  # no promotion, no audit row: mlgate never moved the alias
    _evaluate(store, 8, "c" * 40, model="fraud-detector")  # evaluated, never registered
    html = _page(app, "/dashboard")
    assert "No models yet" not in html
    row = _row(html)
    assert '<td>1 <span class="muted">(set outside mlgate)</span></td>' in row
    missing = next(r for r in html.split("<tr>") if "fraud-detector</a></td><td>production" in r)
    assert '<td><span class="muted">none: the registry has no such model or no @production alias</span></td>' in missing
    assert "<td>–</td><td>–</td><td>–</td>" in row  # mlgate never moved it: no when, who, PR
    page = _page(app, f"/dashboard/models/{MODEL}")
    assert ("Production (the registry's @production): 1 <span class=\"muted\">(set outside mlgate)</span>. "
            '<span class="muted">mlgate has never moved it.</span>') in page


def test_a_release_by_mlgate_agrees_with_the_registry_and_an_alias_moved_outside_is_marked(
        tmp_path: Path, registry: Any) -> None:
    app, store = _app(tmp_path, TOKEN, tracking_uri=registry.tracking_uri)
    _evaluate(store)
    release = promotion.Release(action="promote", model=MODEL, alias="production", actor="bob",
                                delivery_id="d-1", repo=REPO, pr=7, version="2", via="cli")
    assert promotion.promote(store, lambda: registry, None, release).status == "done"
    # a promotion that failed (MLflow was down) moved nothing and does not count
    promotion.audit(store, promotion.Release(action="promote", model=MODEL, alias="production", actor="carol",
                                             delivery_id="d-2", repo=REPO, pr=8),
                    promotion.A_PROMOTE, promotion.R_FAILED, from_version="2", to_version="3")
    row = _row(_page(app, "/dashboard"))
    assert "<td>2</td><td>roc_auc 0.778," in row and "<td>bob</td>" in row and "carol" not in row
    assert '<a href="https://github.com/acme/churn/pull/7">acme/churn#7</a>' in row

    registry.client.set_registered_model_alias(MODEL, "production", "3")  # outside mlgate
    # this process keeps the registry's answer for up to 30 s: one read per model, not one per view
    assert "<td>2</td>" in _row(_page(app, "/dashboard"))
    fresh, _ = _app(tmp_path, TOKEN, tracking_uri=registry.tracking_uri)  # another process: reads again
    row = _row(_page(fresh, "/dashboard"))
    assert ('<td><span class="alert">3: moved outside mlgate</span> '
            '<span class="muted">(mlgate last set version 2)</span></td>') in row
    assert "</td><td>–</td><td><svg" in row  # key metrics: the promoted candidate's are not production's now
    assert "<td>bob</td>" in row  # the audit still says who moved it last, and when
    page = _page(fresh, f"/dashboard/models/{MODEL}")
    assert '<span class="alert">3: moved outside mlgate</span>' in page
    assert "mlgate last moved it to version 2 (promote by bob," in page

    registry.client.delete_registered_model_alias(MODEL, "production")  # deleted outside mlgate
    third, _ = _app(tmp_path, TOKEN, tracking_uri=registry.tracking_uri)
    assert '<span class="alert">none: moved outside mlgate</span>' in _row(_page(third, "/dashboard"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_registry_is_said_and_no_version_is_guessed(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    port = _closed_port()
    uri = f"http://dash-user:s3cr3t-pw@127.0.0.1:{port}"
    app, store = _app(tmp_path, TOKEN, tracking_uri=uri)
    _evaluate(store)
    promotion.audit(store, promotion.Release(action="promote", model=MODEL, alias="production", actor="bob",
                                             delivery_id="d-1", repo=REPO, pr=7),
                    promotion.A_PROMOTE, promotion.R_SUCCESS, from_version="3", to_version="4")
    html = _page(app, "/dashboard")
    row = _row(html)
    assert ('<td><span class="unknown">production version unknown: registry not reachable</span></td>'
            "<td>–</td>") in row  # no version, and not the promoted candidate's metrics either
    assert "<td>4</td>" not in row
    page = _page(app, f"/dashboard/models/{MODEL}")
    assert "production version unknown: registry not reachable" in page
    assert "churn-classifier@production cannot be read" in caplog.text  # the cause goes to the log,
    for text in (html, page, caplog.text):  # without the password
        assert "s3cr3t-pw" not in text and "Traceback" not in text
    assert f"127.0.0.1:{port}" not in html + page


def test_a_local_store_that_does_not_exist_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "mlflow-typo.db"  # its directory exists: MLflow would create the file
    app, store = _app(tmp_path, TOKEN, tracking_uri=f"sqlite:///{missing}")
    _evaluate(store)
    assert "production version unknown: registry not reachable" in _row(_page(app, "/dashboard"))
    assert not missing.exists()


def test_without_a_registry_the_page_says_it_is_not_configured(tmp_path: Path) -> None:
    app, store = _app(tmp_path, TOKEN)
    _evaluate(store)
    row = _row(_page(app, "/dashboard"))
    assert "production version unknown: no registry configured (MLFLOW_TRACKING_URI is not set for the App)" in row
    assert not (tmp_path / "mlflow.db").exists() and not Path("mlflow.db").exists()


# ---------------------------------------------------------------- the bound on registry reads


class Counting:
    """The real registry, counting alias reads and optionally holding them until released."""

    def __init__(self, registry: Any, hold: threading.Event | None = None) -> None:
        self.registry, self.hold, self.reads = registry, hold, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.registry, name)

    def alias_version(self, name: str, alias: str) -> str | None:
        self.reads += 1
        if self.hold is not None:
            self.hold.wait(30)
        return self.registry.alias_version(name, alias)  # type: ignore[no-any-return]


def test_one_read_per_model_then_the_cache_for_its_ttl(registry: Any) -> None:
    now = [0.0]
    counting = Counting(registry)
    versions = ProductionVersions(lambda: counting, ttl=30.0, clock=lambda: now[0])  # type: ignore[arg-type,return-value]
    assert versions.read([MODEL, MODEL, "nope"]) == {MODEL: Production("1"), "nope": Production(None)}
    assert counting.reads == 2
    registry.client.set_registered_model_alias(MODEL, "production", "2")
    now[0] = 29.0
    assert versions.read([MODEL])[MODEL] == Production("1") and counting.reads == 2
    now[0] = 31.0
    assert versions.read([MODEL])[MODEL] == Production("2") and counting.reads == 3


def test_a_slow_registry_costs_a_page_at_most_the_timeout_and_is_read_once(registry: Any) -> None:
    hold = threading.Event()
    counting = Counting(registry, hold)
    versions = ProductionVersions(lambda: counting, timeout=0.3)  # type: ignore[arg-type,return-value]
    started = time.monotonic()
    assert versions.read([MODEL]) == {MODEL: Production(problem="timeout")}
    assert versions.read([MODEL]) == {MODEL: Production(problem="timeout")}  # the same read, still going
    assert time.monotonic() - started < 3 and counting.reads == 1
    hold.set()
    deadline = time.monotonic() + 10
    while versions.read([MODEL])[MODEL].problem == "timeout" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert versions.read([MODEL]) == {MODEL: Production("1")} and counting.reads == 1
