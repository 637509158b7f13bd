"""A tracking URI naming a local store that does not exist is refused, never created (#14)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bot.mlflow.connection import RegistryError, local_store_path

CONFIG = """\
version: 1
models:
  - name: churn
    task: binary
    holdout: holdout.csv
    label: churned
    metrics:
      roc_auc: {max_drop: 0.005}
"""


@pytest.mark.parametrize("scheme", ["sqlite", "file"])
def test_evaluate_refuses_a_missing_local_store_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str) -> None:
    """Before: MLflow created none.db ("Creating initial MLflow database tables") and the run was
    then missing from the empty store, though mlgate says it never creates a store."""
    from bot.cli import main

    (tmp_path / "mlgate.yml").write_text(CONFIG)
    pd.DataFrame({"x": [0.1, 0.9, 0.4, 0.6], "churned": [0, 1, 0, 1]}).to_csv(tmp_path / "holdout.csv", index=False)
    store = tmp_path / "stores" / ("none.db" if scheme == "sqlite" else "mlruns")
    uri = f"sqlite:///{store}" if scheme == "sqlite" else store.as_uri()
    code = main(["evaluate", "--config", str(tmp_path / "mlgate.yml"), "--tracking-uri", uri,
                 "--candidate", "runs:/0123456789abcdef0123456789abcdef/model", "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert not store.exists() and not (tmp_path / "stores").exists()
    assert not (tmp_path / "r.json").exists()
    lines = [ln for ln in err.splitlines() if ln.startswith("mlgate")]
    assert len(lines) == 1 and str(store) in lines[0] and "does not exist" in lines[0], err
    assert "Creating initial MLflow database tables" not in err


def test_an_existing_store_opens_and_a_store_may_still_be_created_where_mlgate_means_to(tmp_path: Path) -> None:
    from bot.mlflow import Registry

    path = tmp_path / "demo.db"
    Registry(f"sqlite:///{path}")  # the demo's store: created on purpose
    assert path.exists()
    Registry(f"sqlite:///{path}", existing=True)  # reading it: fine
    with pytest.raises(RegistryError, match="does not exist"):
        Registry(f"sqlite:///{tmp_path / 'other.db'}", existing=True)
    assert not (tmp_path / "other.db").exists()


def test_local_store_path_names_the_file_or_directory_and_nothing_for_servers() -> None:
    assert local_store_path("sqlite:////tmp/x/none.db") == "/tmp/x/none.db"
    assert local_store_path("sqlite:///rel.db") == "rel.db"
    assert local_store_path("sqlite:////tmp/a.db?mode=ro") == "/tmp/a.db"
    assert local_store_path("file:///tmp/ml%20runs") == "/tmp/ml runs"
    assert local_store_path("./mlruns") == "./mlruns"
    for remote in ("sqlite://", "sqlite:///:memory:", "http://h:5000", "https://u:p@h", "databricks",
                   "databricks-uc", "postgresql://u:p@h/db", "mysql+pymysql://h/db"):
        assert local_store_path(remote) is None, remote


@pytest.mark.parametrize("module", ["bot.cli_release", "bot.cli_monitor"])
def test_release_and_monitor_refuse_a_missing_store_too(
        module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """mlgate promote/rollback/status and mlgate monitor opened the store as given: a mistyped SQLite
    path became an empty store, and then a missing model."""
    import importlib

    store = tmp_path / "none.db"
    with pytest.raises(SystemExit) as exited:
        importlib.import_module(module)._registry(f"sqlite:///{store}")
    assert exited.value.code == 2 and not store.exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlgate: the MLflow store") and str(store) in err and "\n" not in err
