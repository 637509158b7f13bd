"""`mlgate init`: a starter config and the two trusted workflows, guessed from the holdout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bot.cli import main
from bot.config import load_config


def _repo(tmp_path: Path, label: str = "churned") -> Path:
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)],          # an id: never a segment
        "tenure": rng.integers(0, 72, n),
        "region": rng.choice(["EU", "US", "APAC"], n),
        "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        label: rng.integers(0, 2, n),
    })
    (tmp_path / "data").mkdir()
    frame.to_parquet(tmp_path / "data" / "holdout.parquet")
    (tmp_path / "train.py").write_text("# trains\n")
    return tmp_path


def test_init_writes_a_config_that_loads_and_the_two_workflows(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path)
    assert main(["init", "--dir", str(root), "--name", "churn"]) == 0
    cfg = load_config(root / ".github" / "mlgate.yml")
    (m,) = cfg.models
    assert (m.name, m.label, m.task, m.holdout) == ("churn", "churned", "binary", "data/holdout.parquet")
    assert m.segments == ["region", "plan"]
    assert cfg.evaluation.trust == "workflow_run"
    build = yaml.safe_load((root / ".github/workflows/mlgate-build.yml").read_text())
    evaluate = yaml.safe_load((root / ".github/workflows/mlgate-evaluate.yml").read_text())
    # yaml reads the key `on` as True
    assert build[True]["pull_request"]["paths"] == ["data/**", "train.py", ".github/mlgate.yml"]
    assert evaluate[True]["workflow_run"]["workflows"] == ["mlgate-build"]
    out = capsys.readouterr().out
    assert "models:/churn@production" in out and "branch protection" in out


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path)
    (root / ".github").mkdir()
    (root / ".github" / "mlgate.yml").write_text("mine\n")
    assert main(["init", "--dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert ".github/mlgate.yml already exists" in err and "--force" in err
    assert (root / ".github" / "mlgate.yml").read_text() == "mine\n"
    assert not (root / ".github" / "workflows").exists()  # nothing half-written
    assert main(["init", "--dir", str(root), "--force"]) == 0
    assert load_config(root / ".github" / "mlgate.yml").models[0].label == "churned"


def test_regression_gets_relative_loss_tolerances(tmp_path: Path) -> None:
    root = _repo(tmp_path, label="price")
    frame = pd.read_parquet(root / "data" / "holdout.parquet")
    frame["price"] = np.linspace(1e4, 9e4, len(frame))
    frame.to_parquet(root / "data" / "holdout.parquet")
    assert main(["init", "--dir", str(root), "--name", "p"]) == 0
    (m,) = load_config(root / ".github" / "mlgate.yml").models
    assert m.task == "regression" and m.label == "price"
    assert m.metrics["rmse"].max_drop_relative == pytest.approx(0.02)
    assert m.segment_policy.max_drop_relative == pytest.approx(0.05)


def test_no_holdout_says_what_to_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--dir", str(tmp_path)]) == 2
    assert "pass --holdout PATH" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_regression_config_counts_with_separators_and_shows_how_to_trust_tree_types(tmp_path: Path) -> None:
    """A newcomer's random forest is refused until evaluation.skops_trusted_types lists its tree type
    (issue #14, tried with a house-prices project): the config says so, and the line loads once uncommented."""
    rng = np.random.default_rng(1)
    n = 1500
    (tmp_path / "data").mkdir()
    pd.DataFrame({"sqft": rng.normal(1500, 300, n), "region": rng.choice(["n", "s"], n),
                  "price": rng.normal(2e5, 3e4, n).round(2)}).to_parquet(tmp_path / "data" / "holdout.parquet")
    assert main(["init", "--dir", str(tmp_path), "--name", "house-prices"]) == 0
    text = (tmp_path / ".github" / "mlgate.yml").read_text()
    assert "numbers with 1,500 distinct values" in text
    assert "# skops_trusted_types: [sklearn.tree._tree.Tree]" in text
    (tmp_path / ".github" / "mlgate.yml").write_text(text.replace("# skops_trusted_types", "skops_trusted_types"))
    cfg = load_config(tmp_path / ".github" / "mlgate.yml")
    assert list(cfg.evaluation.skops_trusted_types) == ["sklearn.tree._tree.Tree"]
