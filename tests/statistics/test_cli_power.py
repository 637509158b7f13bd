"""`mlgate power`: rows needed for a drop, from measured standard errors; bad input says what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from tests.statistics.simulate import holdout

CONFIG = """version: 1
models:
  - name: churn
    task: binary
    holdout: holdout.csv
    label: y
    segments: [segment]
    metrics: {roc_auc: {max_drop: 0.005}, f1: {max_drop: 0.01}}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    h = holdout(np.random.default_rng(4))
    h.frame.to_csv(tmp_path / "holdout.csv", index=False)
    pd.DataFrame({"candidate": h.candidate, "baseline": h.baseline}).to_csv(tmp_path / "preds.csv", index=False)
    (tmp_path / "mlgate.yml").write_text(CONFIG)
    return tmp_path


def _power(files: Path, *extra: str) -> list[str]:
    return ["power", "--config", str(files / "mlgate.yml"), "--holdout", str(files / "holdout.csv"), *extra]


def test_rows_needed_for_a_drop(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_power(files, "--predictions", str(files / "preds.csv"), "--metric", "roc_auc", "--drop", "0.02")) == 0
    out = capsys.readouterr().out
    assert "churn roc_auc: with 10,000 holdout rows the smallest drop told from noise at 80% power is" in out
    assert "To catch a true drop of 0.02 with 80% power the holdout needs about" in out
    # a drop inside max_drop is tolerated by design
    assert main(_power(files, "--predictions", str(files / "preds.csv"), "--metric", "roc_auc", "--drop", "0.004")) == 0
    assert "within max_drop" in capsys.readouterr().out


def test_bad_input_says_what_to_do(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_power(files, "--predictions", str(files / "preds.csv"), "--metric", "brier", "--drop", "0.02")) == 2
    assert "is not a gating metric of churn; choose from roc_auc, f1" in capsys.readouterr().err
    assert main(_power(files, "--predictions", str(files / "nope.csv"), "--metric", "f1", "--drop", "0.02")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_evaluate_reports_the_advisor_and_warns(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: equal candidates came out inconclusive most of the time and nothing said why."""
    import json

    (files / ".github").mkdir()
    (files / ".github" / "mlgate.yml").write_text(CONFIG)
    out = files / "report.json"
    code = main(["evaluate", "--config", str(files / ".github" / "mlgate.yml"), "--predictions",
                 str(files / "preds.csv"), "--out", str(out), "--no-progress"])
    assert code in (0, 1)
    power = json.loads(out.read_text())["models"][0]["power"]
    assert [p["metric"] for p in power if p["column"] is None] == ["roc_auc", "f1"]
    assert all(p["metric"] == "roc_auc" for p in power if p["column"] is not None)
    err = capsys.readouterr().err
    assert "mlgate: warning: churn: with 10,000 rows a 0.005 drop in roc_auc cannot be told from noise" in err
    assert "gated segments" in err and err.count("drop in roc_auc on segment=") <= 1  # grouped, not one per segment
