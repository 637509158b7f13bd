"""Canaries: /promote --canary points the challenger alias, compare-live judges it on logged traffic,
/rollback --canary clears it. Real MLflow, the real store, the GitHub stand-in."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot import promotion
from bot.cli import main
from bot.commands import Command, Reply, parse_line
from bot.monitor import simulate
from tests.monitor.conftest import END, MODEL, Checkout

if TYPE_CHECKING:
    from bot.sandbox import Sandbox


@pytest.mark.parametrize(("line", "share"), [
    ("/promote --canary 10%", 0.1), ("/promote --canary=5", 0.05), ("/promote churn --canary 12.5%", 0.125),
    ("/rollback --canary", 0.0),
])
def test_canary_flags_parse(line: str, share: float) -> None:
    cmd = parse_line(line)
    assert isinstance(cmd, Command) and cmd.canary == share


@pytest.mark.parametrize(("line", "kind"), [
    ("/promote --canary 0%", "bad_share"), ("/promote --canary 100%", "bad_share"),
    ("/promote --canary lots", "bad_share"), ("/promote --canary", "needs_value"),
    ("/promote --canary 10% --to staging", "canary_and_to"), ("/rollback --canary=10%", "no_arguments"),
    ("/promote --canary 5% --canary 6%", "twice"),
])
def test_bad_canary_flags_say_why(line: str, kind: str) -> None:
    reply = parse_line(line)
    assert isinstance(reply, Reply) and reply.problem is not None and reply.problem.kind == kind


def _cli(checkout: Checkout, db: str, *argv: str) -> int:
    return main([*argv, "--database-url", db, "--tracking-uri", checkout.uri, "--actor", "rel-owner"])


def test_cli_canary_points_the_challenger_and_rollback_clears_it(
    checkout: Checkout, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    db = f"sqlite:///{tmp_path / 'mlgate.db'}"
    from bot.store import Store

    Store(db).migrate()
    assert _cli(checkout, db, "promote", MODEL, "--version", "2", "--canary", "10%") == 0
    reg = checkout.registry
    assert reg.alias_version(MODEL, "challenger") == "2" and reg.alias_version(MODEL, "production") == "1"
    tags = reg.version_tags(MODEL, "2")
    assert tags["mlgate.canary.share"] == "0.1" and tags["mlgate.canary.champion"] == "1"
    assert "10% of traffic goes to" in capsys.readouterr().out
    assert _cli(checkout, db, "rollback", MODEL, "--canary") == 0
    assert reg.alias_version(MODEL, "challenger") is None and reg.alias_version(MODEL, "production") == "1"
    assert "canary of" in capsys.readouterr().out
    rows = Store(db).audit_records(model=MODEL)
    assert [(r["action"], r["result"], r["to_version"]) for r in rows] == [
        ("promote", "success", "2"), ("rollback", "success", None)]
    detail = json.loads(rows[0]["detail"] or "{}")
    assert detail["canary"] == 0.1 and detail["alias"] == "challenger"
    # nothing left to clear: said so, nothing changed
    assert _cli(checkout, db, "rollback", MODEL, "--canary") == 0
    assert "no canary running" in capsys.readouterr().out


def test_canary_records_a_deployment_to_model_at_canary(github: Sandbox, checkout: Checkout, tmp_path: Path) -> None:
    from bot.github_client import GitHubClient
    from bot.store import Store

    store = Store(f"sqlite:///{tmp_path / 'mlgate.db'}")
    store.migrate()
    gh = GitHubClient.from_token(github.create_token("acme/churn"), "acme/churn", github.base_url)
    sha = github.lookup_repo("acme/churn").branches["main"]
    release = promotion.Release(action="promote", model=MODEL, alias="challenger", actor="rel-owner",
                                delivery_id="d-1", repo="acme/churn", head_sha=sha, version="2", via="cli",
                                canary=0.25)
    out = promotion.promote(store, lambda: checkout.registry, gh, release)
    assert out.status == "done" and out.deployment_id is not None
    clear = promotion.Release(action="rollback", model=MODEL, alias="challenger", actor="rel-owner",
                              delivery_id="d-2", repo="acme/churn", head_sha=sha, via="cli", canary=0.0)
    assert promotion.rollback(store, lambda: checkout.registry, gh, clear).status == "done"
    deployments = github.deployments("acme/churn")
    assert [d["environment"] for d in deployments] == [f"model/{MODEL}@canary"] * 2
    assert deployments[0]["payload"]["traffic_share"] == 0.25
    assert [s["state"] for d in deployments for s in d["statuses"]] == ["success", "inactive"]
    assert checkout.registry.alias_version(MODEL, "challenger") is None


def _with_challenger(checkout: Checkout) -> None:
    checkout.registry.set_alias(MODEL, "challenger", "2")


@pytest.mark.parametrize("mode", ["shadow", "split"])
def test_compare_live_reports_a_worse_challenger_with_its_interval(
    checkout: Checkout, tmp_path: Path, mode: str,
) -> None:
    _with_challenger(checkout)
    traffic = simulate.Traffic(challenger="2", mode=mode, share=0.3, worse=1.5)
    checkout.week(traffic, seed=5, rows_per_day=3000)
    out = tmp_path / "compare.json"
    code = main(["compare-live", "--root", str(checkout.root), "--tracking-uri", checkout.uri,
                 "--until", END.isoformat(), "--json", str(out)])
    assert code == 1
    result = json.loads(out.read_text())
    assert result["mode"] == mode and result["champion"] == "1" and result["challenger"] == "2"
    auc = next(r for r in result["rows"] if r["metric"] == "roc_auc" and r["segment"] == "all")
    assert auc["verdict"] == "regressed"
    assert auc["ci_low"] < auc["delta"] < auc["ci_high"] < -0.01
    assert any(r["segment"].startswith("region=") for r in result["rows"])


@pytest.mark.parametrize("mode", ["shadow", "split"])
def test_compare_live_an_equal_challenger_is_not_called_worse(
    checkout: Checkout, tmp_path: Path, mode: str, capsys: pytest.CaptureFixture[str],
) -> None:
    _with_challenger(checkout)
    checkout.week(simulate.Traffic(challenger="2", mode=mode, share=0.3), seed=6, rows_per_day=3000)
    main(["compare-live", "--root", str(checkout.root), "--tracking-uri", checkout.uri,
          "--until", END.isoformat()])
    text = capsys.readouterr().out
    assert "shadow traffic" in text if mode == "shadow" else "split traffic" in text
    assert "regressed" not in text and "The challenger is worse" not in text


def test_shadow_intervals_are_narrower_than_split(checkout: Checkout) -> None:
    """Pairing removes the per-request noise both models share: the point of shadow traffic."""
    from bot.config import load_config
    from bot.monitor.compare import compare_live

    _with_challenger(checkout)
    config = load_config(checkout.root / ".github" / "mlgate.yml")
    widths: dict[str, float] = {}
    for i, mode in enumerate(("shadow", "split")):
        root = checkout.root / "logs" / "predictions"
        if root.exists():
            import shutil

            shutil.rmtree(root)
        traffic = simulate.Traffic(challenger="2", mode=mode, share=0.5, worse=0.3)
        checkout.week(traffic, seed=10 + i, rows_per_day=3000)
        result = compare_live(config, config.models[0], root=checkout.root, registry=checkout.registry, until=END)
        auc: Any = next(r for r in result.rows if r.metric == "roc_auc" and r.segment == "all")
        widths[mode] = auc.ci_high - auc.ci_low
    assert widths["shadow"] < 0.75 * widths["split"]


def test_no_challenger_alias_is_undecided(checkout: Checkout, capsys: pytest.CaptureFixture[str]) -> None:
    checkout.week(simulate.Traffic(), seed=7, ending=END - timedelta(days=0))
    assert main(["compare-live", "--root", str(checkout.root), "--tracking-uri", checkout.uri,
                 "--until", END.isoformat()]) == 1
    assert "/promote --canary" in capsys.readouterr().out
