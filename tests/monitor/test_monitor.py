"""mlgate monitor end to end: seeded logs, a real MLflow registry, the GitHub stand-in in token mode."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from bot.cli import main
from bot.monitor import simulate
from tests.monitor.conftest import END, MODEL, Checkout

if TYPE_CHECKING:
    from bot.sandbox import Sandbox

REPO = "acme/churn"


def _monitor(box: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, *extra: str,
             until: str = END.isoformat()) -> int:
    monkeypatch.setenv("GITHUB_TOKEN", box.create_token(REPO))
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_API_URL", box.base_url)
    return main(["monitor", "--root", str(checkout.root), "--tracking-uri", checkout.uri, "--until", until, *extra])


def _issues(box: Sandbox) -> list[dict[str, Any]]:
    return box.issues(REPO)


def test_a_drifted_week_opens_one_issue_and_starts_the_retrain(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    checkout.week(simulate.Traffic(), seed=1, ending=END - timedelta(days=7))
    checkout.week(simulate.Traffic(shift=0.6), seed=2)
    assert _monitor(github, checkout, monkeypatch) == 1
    issues = _issues(github)
    assert len(issues) == 1
    issue = issues[0]
    assert issue["state"] == "open" and [x["name"] for x in issue["labels"]] == ["mlgate:monitor"]
    assert "a threshold is crossed" in issue["title"]
    body = issue["body"]
    assert "input drift" in body and "| tenure\\_months | numeric |" in body and "region=APAC" in body
    assert "prediction drift" in body.lower()
    assert github.dispatches(REPO) == [{"workflow_id": "retrain.yml", "ref": "main", "inputs": {
        "model": MODEL, "reason": github.dispatches(REPO)[0]["inputs"]["reason"],
        "window": "2026-11-23 to 2026-11-29"}}]
    assert "issue: opened" in capsys.readouterr().out


def test_a_rerun_updates_the_one_issue_and_does_not_retrain_again(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkout.week(simulate.Traffic(), seed=1, ending=END - timedelta(days=7))
    checkout.week(simulate.Traffic(shift=0.6), seed=2)
    assert _monitor(github, checkout, monkeypatch) == 1
    first = _issues(github)[0]
    assert _monitor(github, checkout, monkeypatch) == 1  # the same window again: nothing new to say
    assert _monitor(github, checkout, monkeypatch, until=(END + timedelta(days=1)).isoformat()) == 1
    issues = _issues(github)
    assert len(issues) == 1 and issues[0]["number"] == first["number"] and issues[0]["state"] == "open"
    # the trend holds one row per window, whatever the number of runs
    assert issues[0]["body"].count("| 2026-11-23 to 2026-11-29 |") == 1
    assert "| 2026-11-24 to 2026-11-30 |" in issues[0]["body"]
    assert len(github.dispatches(REPO)) == 1


def test_a_recovered_week_closes_the_issue(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkout.week(simulate.Traffic(), seed=1, ending=END - timedelta(days=7))
    checkout.week(simulate.Traffic(shift=0.6), seed=2)
    assert _monitor(github, checkout, monkeypatch) == 1
    checkout.week(simulate.Traffic(), seed=3, ending=END + timedelta(days=7))
    # the week after: the previous window (for prediction drift) is the drifted one, so compare
    # the recovered week with a healthy one by moving two weeks on
    checkout.week(simulate.Traffic(), seed=4, ending=END + timedelta(days=14))
    assert _monitor(github, checkout, monkeypatch, until=(END + timedelta(days=14)).isoformat()) == 0
    issues = _issues(github)
    assert len(issues) == 1 and issues[0]["state"] == "closed" and issues[0]["state_reason"] == "completed"
    assert "back within bounds" in issues[0]["title"]
    assert _monitor(github, checkout, monkeypatch, until=(END + timedelta(days=14)).isoformat()) == 0
    assert len(_issues(github)) == 1 and _issues(github)[0]["state"] == "closed"


def test_live_quality_drop_is_an_alert_with_its_interval(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """The same inputs, but the production model now scores much worse than it was promoted on."""
    checkout.week(simulate.Traffic(noise=2.5), seed=1, ending=END - timedelta(days=7))
    checkout.week(simulate.Traffic(noise=2.5), seed=2)
    out = tmp_path / "monitor.json"
    assert _monitor(github, checkout, monkeypatch, "--json", str(out)) == 1
    import json

    health = json.loads(out.read_text())["models"][0]
    overall = next(r for r in health["live"] if r["metric"] == "roc_auc" and r["segment"] == "all")
    assert overall["verdict"] == "regressed" and overall["live_high"] < overall["evaluated"] - 0.01
    assert not any(d["drifted"] for d in health["drift"])
    assert "live roc\\_auc is significantly below" in _issues(github)[0]["body"]


def test_a_healthy_week_opens_nothing(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch,
) -> None:
    checkout.week(simulate.Traffic(), seed=1, ending=END - timedelta(days=7))
    checkout.week(simulate.Traffic(), seed=2)
    assert _monitor(github, checkout, monkeypatch) == 0
    assert _issues(github) == [] and github.dispatches(REPO) == []


def test_no_logs_is_never_fine(github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch) -> None:
    (checkout.root / "logs" / "predictions").mkdir(parents=True)
    assert _monitor(github, checkout, monkeypatch) == 1
    issue = _issues(github)[0]
    assert "could not be checked" in issue["title"] and "no logged predictions" in issue["body"]
    assert github.dispatches(REPO) == []  # nothing to retrain on


def test_dry_run_changes_nothing(github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    checkout.week(simulate.Traffic(shift=0.6), seed=2)
    assert _monitor(github, checkout, monkeypatch, "--dry-run") == 1
    assert _issues(github) == [] and github.dispatches(REPO) == []
    assert "issue: would be opened" in capsys.readouterr().out


def test_a_humans_issue_with_the_marker_is_not_taken_over(
    github: Sandbox, checkout: Checkout, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.monitor.issues import marker

    checkout.week(simulate.Traffic(shift=0.6), seed=2)
    r = github.lookup_repo(REPO)
    r.issues[50] = {"number": 50, "id": 99, "title": "quoting", "body": marker(MODEL), "author": "mallory",
                    "state": "open", "state_reason": None, "created_at": "2026-11-01T00:00:00Z",
                    "updated_at": "2026-11-01T00:00:00Z", "closed_at": None}
    r.labels[50] = ["mlgate:monitor"]
    assert _monitor(github, checkout, monkeypatch) == 1
    issues = {i["number"]: i for i in _issues(github)}
    assert issues[50]["body"] == marker(MODEL) and len(issues) == 2


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda f: f.drop(columns=["request_id"]), "missing column(s) request_id"),
    (lambda f: f.drop(columns=["tenure_months"]), "missing feature column(s) tenure_months"),
    (lambda f: f.assign(score=float("nan")), "non-finite score"),
    (lambda f: f.assign(timestamp="yesterday"), "column timestamp must hold timestamps"),
])
def test_a_log_that_breaks_the_contract_gets_one_line(
    checkout: Checkout, capsys: pytest.CaptureFixture[str], mutate: Any, message: str,
) -> None:
    frame = simulate.window(simulate.Traffic(), seed=2, start=END - timedelta(days=7), days=7, rows_per_day=100)
    path = checkout.root / "logs" / "predictions" / "bad.parquet"
    path.parent.mkdir(parents=True)
    mutate(pd.DataFrame(frame)).to_parquet(path)
    code = main(["monitor", "--root", str(checkout.root), "--tracking-uri", checkout.uri,
                 "--until", END.isoformat(), "--no-issues"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_labels_arriving_later_are_joined_by_request_id(checkout: Checkout, tmp_path: Path) -> None:
    from bot.config import load_config
    from bot.monitor.run import run_monitor

    frame = simulate.window(simulate.Traffic(noise=2.5), seed=2, start=END - timedelta(days=7), days=7,
                            rows_per_day=2000)
    simulate.write_partitioned(frame.drop(columns=["churned"]), checkout.root / "logs" / "predictions")
    (checkout.root / "labels").mkdir()
    frame[["request_id", "churned"]].iloc[::2].to_csv(checkout.root / "labels" / "late.csv", index=False)
    config = load_config(checkout.root / ".github" / "mlgate.yml")
    config = config.model_copy(update={"monitor": config.monitor.model_copy(update={"labels": "labels"})})
    health = run_monitor(config, root=checkout.root, registry=checkout.registry, until=END)[0]
    assert health.labelled == 7000
    assert any(r.verdict == "regressed" and r.segment == "all" for r in health.live)
