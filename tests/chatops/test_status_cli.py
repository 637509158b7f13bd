"""/status, /evaluate, /help through the stand-in; the operator CLI on the same use cases."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from typing import Any

from bot.cli import main
from tests.chatops.conftest import MODEL, REPO, World


def test_status_evaluate_and_help(world: World) -> None:
    n = world.open_pr()["number"]
    c = world.comment(n, "/evaluate", user="alice")
    assert "knows no evaluation run" in world.reply(c["id"])
    world.evaluate(n, kind="passing")
    world.github.require_checks(REPO, "main", ["mlgate/evaluation"])
    c = world.comment(n, "thanks!\n/status\n/evaluate\n/help", user="ria")
    status = world.reply(c["id"])  # one comment, one command, one reply
    assert "| `mlgate/evaluation` | ✅ success |" in status and "| churn-classifier | production | 1 |" in status
    assert "does not require `mlgate/review`" in status
    assert "`/evaluate`, `/help` did nothing" in status
    assert world.reactions(c["id"]) == ["eyes", "rocket"]
    c = world.comment(n, "/evaluate", user="ria")
    assert "It needs the PR author, or triage permission or higher" in world.reply(c["id"])  # ria is not the author
    assert world.reactions(c["id"]) == ["eyes", "confused"]
    c = world.comment(n, "/evaluate", user="alice")
    assert "Re-running the evaluation workflow" in world.reply(c["id"])
    assert len(world.github.reruns(REPO)) == 1
    assert world.check(world.head(n), "mlgate/evaluation")["status"] == "queued"


def _cli(*argv: str) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(list(argv))
    return code, buf.getvalue()


def test_operator_cli_promote_rollback_status_audit(world: World) -> None:
    common = ["--database-url", world.store.url, "--tracking-uri", world.tracking_uri]
    uri = world.candidate()
    code, out = _cli("promote", MODEL, "--candidate", uri, "--dry-run", "--actor", "ops", *common)
    assert code == 0 and "would move from version 1 to a new version" in out and world.alias() == "1"
    code, out = _cli("promote", MODEL, "--candidate", uri, "--actor", "ops", *common)
    assert code == 0 and "promoted: version 1 → version 2" in out and world.alias() == "2"
    assert world.registry.version_tags(MODEL, "2")["mlgate.via"] == "cli"
    code, out = _cli("rollback", MODEL, "--actor", "ops", *common)
    assert code == 0 and "rolled back: version 2 → version 1" in out and world.alias() == "1"
    code, out = _cli("rollback", MODEL, "--to", "9", "--actor", "ops", *common)
    assert code == 1 and "has no version 9" in out
    code, out = _cli("status", MODEL, *common)
    assert code == 0 and "churn-classifier@production: version 1" in out and "rollback 2 -> 1  by ops" in out
    world.production("2")  # moved behind mlgate's back
    code, out = _cli("status", MODEL, *common)
    assert code == 1 and "moved outside mlgate" in out
    code, out = _cli("audit", "--model", MODEL, "--format", "json", "--database-url", world.store.url)
    rows = json.loads(out)
    assert [(r["action"], r["result"]) for r in rows] == [("promote", "success"), ("rollback", "success"),
                                                          ("rollback", "refused")]
    assert rows[0]["actor"] == "ops" and rows[0]["time"].endswith("+00:00")
    assert [r["alias"] for r in rows] == ["production"] * 3
    assert json.loads(rows[2]["detail"])["code"] == "version_not_found"
    code, out = _cli("audit", "--database-url", world.store.url)
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert len(parsed) == 3 and parsed[1]["from_version"] == "2" and parsed[1]["to_version"] == "1"


def test_cli_promote_of_a_pr_applies_its_gates(world: World) -> None:
    n = world.open_pr()["number"]
    world.evaluate(n, kind="failing")
    code, out = _cli("promote", MODEL, "--repo", REPO, "--pr", str(n), "--actor", "ops",
                     "--database-url", world.store.url, "--tracking-uri", world.tracking_uri)
    assert code == 1 and "was refused" in out and "mlgate/evaluation is failure" in out
    assert world.alias() == "1"


def test_cli_promote_of_a_pr_records_the_github_deployment_as_the_app(world: World, monkeypatch: Any,
                                                                       capsys: Any) -> None:
    n = world.open_pr()["number"]
    world.evaluate(n, kind="passing")
    common = ["--repo", REPO, "--pr", str(n), "--actor", "ops", "--database-url", world.store.url,
              "--tracking-uri", world.tracking_uri]
    # without the App's credentials the release still happens, and says what it did not do
    for var in ("MLGATE_APP_ID", "MLGATE_PRIVATE_KEY", "MLGATE_PRIVATE_KEY_PATH"):
        monkeypatch.delenv(var, raising=False)
    code, out = _cli("promote", MODEL, *common)
    assert code == 0 and "promoted: version 1 → version 2" in out
    assert "no GitHub deployment will be recorded: MLGATE_APP_ID and MLGATE_PRIVATE_KEY" in capsys.readouterr().err
    assert world.github.deployments(REPO) == []

    # with them, and the installation the App's store knows, it records one like /rollback in the PR would
    monkeypatch.setenv("MLGATE_APP_ID", str(world.github.app_id))
    monkeypatch.setenv("MLGATE_PRIVATE_KEY", world.github.private_key)
    monkeypatch.setenv("MLGATE_GITHUB_API_URL", world.github.base_url)
    code, out = _cli("rollback", MODEL, *common)
    assert code == 0 and "rolled back" in out
    assert "Undo with mlgate rollback churn-classifier --to 2." in out  # the CLI's own syntax, not /rollback
    assert "the store knows no App installation for acme/churn" in capsys.readouterr().err
    world.store.set_installation(world.github.installation_id, "acme", [REPO])
    code, out = _cli("rollback", MODEL, "--to", "2", *common)
    assert code == 0 and "rolled back: version 1 → version 2" in out, out
    [dep] = world.github.deployments(REPO)
    assert dep["environment"] == f"model/{MODEL}@production" and dep["ref"] == world.head(n)
    assert [s["state"] for s in dep["statuses"]] == ["success"]
    assert "ops" in dep["description"]


def _usage_exit(*argv: str) -> int:
    import pytest

    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return int(exit_.value.code or 0)


def test_cli_input_errors_are_refused_before_the_registry_or_the_audit_log(world: World, capsys: Any,
                                                                           monkeypatch: Any) -> None:
    db = ["--database-url", world.store.url, "--tracking-uri", world.tracking_uri]
    before = len(world.store.audit_records())
    # bad numbers and names: argparse usage errors, exit 2
    assert _usage_exit("promote", MODEL, "--version", "abc", *db) == 2
    assert "takes a model version number such as 3 (or v3), got 'abc'" in capsys.readouterr().err
    assert _usage_exit("rollback", MODEL, "--to", "v2x", "--dry-run", *db) == 2
    assert _usage_exit("promote", MODEL, "--version", "2", "--alias", "latest", *db) == 2
    assert "not a version like v1 or latest" in capsys.readouterr().err
    assert _usage_exit("promote", MODEL, "--pr", "7", *db) == 2
    assert "--pr needs --repo OWNER/NAME" in capsys.readouterr().err
    # a model name with a typo: named, with the closest one, and nothing recorded
    assert main(["rollback", "churn-clasifier", *db]) == 2
    assert "registered model 'churn-clasifier' does not exist in the registry" in (err := capsys.readouterr().err)
    assert "did you mean 'churn-classifier'?" in err
    assert main(["status", "churn-clasifier", *db]) == 2
    assert "did you mean 'churn-classifier'?" in capsys.readouterr().err
    # no registry given: an error, not a new empty MLflow store in the current directory
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert _usage_exit("rollback", MODEL, "--database-url", world.store.url) == 2
    assert "set MLFLOW_TRACKING_URI or pass --tracking-uri" in capsys.readouterr().err
    assert len(world.store.audit_records()) == before

    # v3 means 3, as in the chat command; a dry run that fails writes no audit row either
    code, out = _cli("promote", MODEL, "--version", "v1", "--dry-run", *db)
    assert code == 0 and "already points at version 1" in out
    from bot.mlflow import RegistryError

    monkeypatch.setattr(world.registry.__class__, "alias_version",  # what the adapter raises for any failure
                        lambda *_: (_ for _ in ()).throw(RegistryError("MLflow is down")))
    code, out = _cli("rollback", MODEL, "--to", "1", "--dry-run", *db)
    assert code == 1 and "MLflow is down" in out
    assert len(world.store.audit_records()) == before


def test_status_says_a_check_waiting_for_an_approval_is_in_progress(world: World) -> None:
    n = world.open_pr()["number"]
    world.evaluate(n, kind="failing")  # a regression: mlgate/review waits for an approval (no conclusion yet)
    assert world.check(world.head(n), "mlgate/review")["status"] == "in_progress"
    status = world.reply(world.comment(n, "/status", user="ria")["id"])
    assert "| `mlgate/review` | ⏳ in progress |" in status  # it said 'not reported'
    assert "| `mlgate/evaluation` | ❌ failure |" in status
