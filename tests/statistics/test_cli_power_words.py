"""`mlgate power` on a loss in the target's units: 'rise', and no scientific notation (#14 item 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main

CONFIG = """version: 1
models:
  - name: prices
    task: regression
    holdout: holdout.csv
    label: price
    metrics: {rmse: {max_drop: "1%"}}
"""


def test_an_rmse_in_dollars_rises_and_is_written_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: 'the smallest drop told from noise at 80% power is 1.59e+03 (se 570, ...)' for an RMSE."""
    rng = np.random.default_rng(7)
    price = 150_000 + 40_000 * rng.standard_normal(3_000)
    pd.DataFrame({"price": price}).to_csv(tmp_path / "holdout.csv", index=False)
    pd.DataFrame({"candidate": price + 20_000 * rng.standard_normal(3_000),
                  "baseline": price + 20_000 * rng.standard_normal(3_000)}).to_csv(tmp_path / "preds.csv", index=False)
    (tmp_path / "mlgate.yml").write_text(CONFIG)
    args = ["power", "--config", str(tmp_path / "mlgate.yml"), "--holdout", str(tmp_path / "holdout.csv"),
            "--predictions", str(tmp_path / "preds.csv"), "--metric", "rmse"]
    assert main([*args, "--drop", "25000"]) == 0
    out = capsys.readouterr().out
    assert "prices rmse: with 3,000 holdout rows the smallest rise told from noise at 80% power is " in out
    assert "To catch a true rise of 25,000 with 80% power the holdout needs about" in out
    assert "e+" not in out and "drop of" not in out
    assert main([*args, "--drop", "100"]) == 0
    assert "A rise of 100 is within max_drop (1% (" in capsys.readouterr().out
