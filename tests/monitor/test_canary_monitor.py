"""The monitor and a running canary: the live comparison is posted on the PR that started it (one
comment, edited in place), recorded in the store, and quoted by a later /promote.

The canary is started by bot.promotion (what /promote --canary runs), so the tags the monitor
reads are the ones the code writes. Real MLflow, real store, the GitHub stand-in."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot import promotion
from bot.cli import main
from bot.monitor import simulate
from bot.store import Store
from tests.monitor.conftest import END, MODEL, Checkout

if TYPE_CHECKING:
    from bot.sandbox import Sandbox

REPO = "acme/churn"


def _start_canary(box: Sandbox, checkout: Checkout, store: Store, share: float = 0.3) -> int:
    from bot.github_client import GitHubClient

    pr = box.open_pull_request(REPO, {"train.py": "C = 0.1\n"})
    gh = GitHubClient.from_token(box.create_token(REPO), REPO, box.base_url)
    release = promotion.Release(action="promote", model=MODEL, alias="challenger", actor="rel-owner",
                                delivery_id="d-canary", repo=REPO, pr=int(pr["number"]),
                                head_sha=pr["head"]["sha"], version="2", via="comment", canary=share)
    assert promotion.promote(store, lambda: checkout.registry, gh, release).status == "done"
    return int(pr["number"])


def _monitor(box: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, db: str, *extra: str,
             until: str = END.isoformat()) -> int:
    monkeypatch.setenv("GITHUB_TOKEN", box.create_token(REPO))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", box.base_url)
    return main(["monitor", "--root", str(checkout.root), "--tracking-uri", checkout.uri, "--until", until,
                 "--database-url", db, *extra])


def _ours(box: Sandbox, number: int) -> list[dict[str, object]]:
    return [c for c in box.comments(REPO, number) if "mlgate:canary-comparison" in str(c["body"])]


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mlgate.db'}"
    Store(url).migrate()
    return url


def test_the_monitor_posts_a_worse_canary_on_its_pr_once_and_edits_it_in_place(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, db: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Store(db)
    n = _start_canary(github, checkout, store)
    worse = simulate.Traffic(challenger="2", mode="shadow", share=0.3, worse=1.5)
    checkout.week(worse, seed=1, ending=END - timedelta(days=7), rows_per_day=3000)
    checkout.week(worse, seed=2, rows_per_day=3000)
    _monitor(github, checkout, monkeypatch, db)
    assert f"posted on {REPO}#{n}" in capsys.readouterr().out
    [comment] = _ours(github, n)
    body = str(comment["body"])
    assert "The challenger is worse" in body and "shadow traffic" in body and "`/rollback --canary`" in body
    assert "| roc_auc |" in body and "regressed" in body

    # a re-run over the same window: the same comment, not edited (nothing new to say)
    _monitor(github, checkout, monkeypatch, db)
    [again] = _ours(github, n)
    assert again["id"] == comment["id"] and again["body"] == body
    assert again["updated_at"] == comment["updated_at"]

    # a later window in which the challenger is as good: the same comment says so
    checkout.week(simulate.Traffic(challenger="2", mode="shadow", share=0.3), seed=3,
                  ending=END + timedelta(days=7), rows_per_day=3000)
    _monitor(github, checkout, monkeypatch, db, until=(END + timedelta(days=7)).isoformat())
    [later] = _ours(github, n)
    assert later["id"] == comment["id"] and "The challenger is not worse" in str(later["body"])
    assert "30% of traffic goes to the challenger" in str(later["body"])


def test_the_run_is_recorded_and_a_later_promote_quotes_the_comparison(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, db: str,
) -> None:
    from bot.monitor.state import latest, release_note

    store = Store(db)
    n = _start_canary(github, checkout, store, share=0.1)
    worse = simulate.Traffic(challenger="2", mode="split", share=0.3, worse=1.5)
    checkout.week(worse, seed=4, ending=END - timedelta(days=7), rows_per_day=3000)
    checkout.week(worse, seed=5, rows_per_day=3000)
    _monitor(github, checkout, monkeypatch, db)
    [view] = latest(store)
    assert (view.repo, view.model, view.window) == (REPO, MODEL, "2026-11-23 to 2026-11-29")
    assert view.state in ("ok", "alert") and view.summary["version"] == "1"
    c = view.comparison
    assert c is not None and c["verdict"] == "worse" and c["mode"] == "split" and c["share"] == 0.1
    assert (c["challenger"], c["champion"], c["repo"], c["pr"]) == ("2", "1", REPO, n)
    assert c["pr_url"] == f"https://github.com/{REPO}/pull/{n}"
    auc = next(r for r in c["rows"] if r["metric"] == "roc_auc")
    assert auc["verdict"] == "regressed" and auc["high"] < -0.01

    note = release_note(store, REPO, MODEL)
    assert note is not None and "version 2 against production" in note and "The challenger is worse" in note
    assert "<details open>" in note  # worse: shown open
    assert release_note(store, "acme/other", MODEL) is None  # another repository's run is not quoted
    # a run after the canary ended records no comparison: nothing is quoted any more
    checkout.registry.delete_alias(MODEL, "challenger")
    _monitor(github, checkout, monkeypatch, db, until=(END + timedelta(hours=1)).isoformat())
    assert release_note(store, REPO, MODEL) is None
    # the same window again replaces its row: one row per window
    assert len(store.monitor_runs(repo=REPO, model=MODEL)) == 2
    _monitor(github, checkout, monkeypatch, db, until=(END + timedelta(hours=1)).isoformat())
    assert len(store.monitor_runs(repo=REPO, model=MODEL)) == 2


def test_a_canary_from_another_repository_is_compared_but_not_posted(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, db: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkout.registry.set_alias(MODEL, "challenger", "2")
    checkout.registry.set_version_tags(MODEL, "2", {"mlgate.canary.share": "0.2", "mlgate.pr": "evil/other#1"})
    checkout.week(simulate.Traffic(challenger="2", mode="shadow", share=0.3), seed=6, rows_per_day=3000)
    _monitor(github, checkout, monkeypatch, db)
    assert "the canary was started on evil/other#1, not in acme/churn" in capsys.readouterr().out


def test_recording_needs_an_existing_store(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkout.week(simulate.Traffic(), seed=7, rows_per_day=500)
    missing = tmp_path / "nowhere.db"
    assert _monitor(github, checkout, monkeypatch, f"sqlite:///{missing}") == 2
    assert "there is no store at" in capsys.readouterr().err and not missing.exists()


def test_a_dry_run_posts_and_records_nothing(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, db: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Store(db)
    n = _start_canary(github, checkout, store)
    checkout.week(simulate.Traffic(challenger="2", mode="shadow", share=0.3), seed=8, rows_per_day=3000)
    _monitor(github, checkout, monkeypatch, db, "--dry-run")
    assert f"dry run: would be posted on {REPO}#{n}" in capsys.readouterr().out
    assert _ours(github, n) == [] and store.monitor_runs() == []


def test_recording_needs_the_repository(
    checkout: Checkout, monkeypatch: pytest.MonkeyPatch, db: str, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    checkout.week(simulate.Traffic(), seed=9, rows_per_day=500)
    code = main(["monitor", "--root", str(checkout.root), "--tracking-uri", checkout.uri, "--until", END.isoformat(),
                 "--no-issues", "--database-url", db])
    assert code == 2 and "pass --repo or set GITHUB_REPOSITORY" in capsys.readouterr().err
    assert main(["monitor", "--root", str(checkout.root), "--tracking-uri", checkout.uri, "--until",
                 END.isoformat(), "--no-issues", "--database-url", db, "--repo", REPO]) in (0, 1)
    [run] = Store(db).monitor_runs()
    assert run["repo"] == REPO and run["issue"] is None and run["comparison"] is None
