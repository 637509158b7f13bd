"""`mlgate prune`: finished old deliveries go; work in progress, evaluations and the audit log stay."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.cli import main
from bot.store import Store, deliveries, files

DAY = 86400.0


def _age(store: Store, delivery_id: str, days: float) -> None:
    with store.engine.begin() as c:
        c.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
            updated_at=time.time() - days * DAY, received_at=time.time() - days * DAY))


def test_prune_deletes_only_finished_deliveries_past_the_age(store_url: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(store_url)
    store.migrate()
    for delivery_id, status, days in [("old-done", "done", 40), ("old-failed", "failed", 31),
                                      ("old-queued", "queued", 40), ("new-done", "done", 2)]:
        store.record_delivery(delivery_id, "pull_request", "opened", "acme/churn", 1, b"{}")
        if status != "queued":
            store.mark_delivery(delivery_id, status)
        _age(store, delivery_id, days)
    eval_id = store.record_evaluation("acme/churn", 7, "a" * 40, 1, "pass", {"schema_version": 1})
    store.record_audit(actor="wes", action="promote", result="success")
    store.remember_file("acme/churn", ".github/mlgate.yml", "b" * 40, "version: 1\n")
    with store.engine.begin() as c:
        c.execute(update(files).values(read_at=time.time() - 60 * DAY))

    assert main(["prune", "--database-url", store_url, "--dry-run"]) == 0
    assert "would delete 2 finished deliveries and 1 cached files older than 30 days" in capsys.readouterr().out
    assert len(store.recent_deliveries()) == 4

    assert main(["prune", "--database-url", store_url]) == 0
    assert "deleted 2 finished deliveries" in capsys.readouterr().out
    assert sorted(d["id"] for d in store.recent_deliveries()) == ["new-done", "old-queued"]
    assert store.evaluation(eval_id) is not None
    assert [r["actor"] for r in store.audit_records()] == ["wes"]
    assert store.file_at("acme/churn", ".github/mlgate.yml", "b" * 40) == (False, None)
    # a quiet repository's last delivery stays: it names the App installation that covers it
    store.record_delivery("quiet", "pull_request", "closed", "acme/quiet", 42, b"{}")
    store.mark_delivery("quiet", "done")
    _age(store, "quiet", 400)
    assert main(["prune", "--database-url", store_url]) == 0
    assert "deleted 0 finished deliveries" in capsys.readouterr().out
    assert store.installation_for("acme/quiet") == 42
    # a pruned delivery id is new again: that is why the minimum age outlasts GitHub's redelivery window
    assert store.record_delivery("old-done", "pull_request", "opened", "acme/churn", 1, b"{}") is True
    store.engine.dispose()


def test_prune_refuses_an_age_inside_githubs_redelivery_window(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    Store(f"sqlite:///{tmp_path / 'mlgate.db'}").migrate()
    assert main(["prune", "--database-url", f"sqlite:///{tmp_path / 'mlgate.db'}", "--older-than", "1"]) == 2
    assert "--older-than must be at least 3 days" in capsys.readouterr().err


def test_prune_names_a_missing_store_instead_of_creating_one(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--database-url", f"sqlite:///{tmp_path / 'nope.db'}"]) == 2
    assert "there is no store at" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()


def test_operator_commands_default_to_the_apps_store_in_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from bot.settings import database_url_from_env

    monkeypatch.delenv("MLGATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("MLGATE_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)
    store = Store(database_url_from_env())  # where the App puts it
    store.migrate()
    store.record_delivery("old", "pull_request", "opened", "acme/churn", 1, b"{}")
    store.mark_delivery("old", "done")
    _age(store, "old", 40)
    store.record_delivery("new", "pull_request", "synchronize", "acme/churn", 1, b"{}")
    assert main(["prune"]) == 0
    assert "deleted 1 finished deliveries" in capsys.readouterr().out
    assert [d["id"] for d in store.recent_deliveries()] == ["new"]


def test_operator_commands_refuse_a_missing_store_instead_of_starting_an_empty_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("MLGATE_DATABASE_URL", raising=False)
    monkeypatch.setenv("MLGATE_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(SystemExit) as exit_:
        main(["audit"])
    assert exit_.value.code == 2
    assert re.search(r"there is no store at .*elsewhere/mlgate.db; pass --database-url", capsys.readouterr().err)
    assert not (tmp_path / "elsewhere").exists()


def test_operator_commands_neither_fill_an_empty_database_nor_migrate_the_apps_store(
        store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import inspect, text

    if store_url.startswith("sqlite"):
        Path(store_url.removeprefix("sqlite:///")).write_bytes(b"")  # an empty file, e.g. a typo'd touch
    assert main(["prune", "--dry-run", "--database-url", store_url]) == 2
    assert "there is no mlgate store at" in capsys.readouterr().err
    for argv in (["audit"], ["status"]):
        assert _exits(argv, store_url) == 2
        assert "there is no mlgate store at" in capsys.readouterr().err
    if store_url.startswith("sqlite"):  # not even turned into an (empty) database
        assert Path(store_url.removeprefix("sqlite:///")).stat().st_size == 0
    store = Store(store_url)
    assert inspect(store.engine).get_table_names() == []  # nothing was created

    store.migrate()
    with store.engine.begin() as c:  # the App runs an older mlgate than the operator's
        c.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert _exits(["audit"], store_url) == 2
    err = capsys.readouterr().err
    assert "has schema 0001 and this mlgate has schema" in err and "the mlgate version the App runs" in err
    assert store.stored_revision() == "0001"  # left as the App has it
    store.engine.dispose()


def _exits(argv: list[str], store_url: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--database-url", store_url])
    return int(exit_.value.code or 0)
