"""`mlgate evaluate --engine duckdb` and the key join, end to end through the CLI (issue #18)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main

pytest.importorskip("duckdb")

CONFIG = """version: 1
models:
  - name: churn
    task: binary
    holdout: holdout.parquet
    label: churned
    id: user_id
    segments: [region]
    metrics: {roc_auc: {max_drop: 0.5}, f1: {max_drop: 0.5}, log_loss: {max_drop: 0.5}}
"""


def project(tmp: Path, n: int = 400) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(7)
    ids = rng.permutation(n) + 1000
    y = (rng.random(n) < 0.4).astype(int)
    pd.DataFrame({"user_id": ids, "churned": y, "region": rng.choice(["a", "b", "c"], n)}).to_parquet(
        tmp / "holdout.parquet")
    preds = pd.DataFrame({"user_id": ids, "candidate": np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1),
                          "baseline": np.clip(0.2 * y + 0.8 * rng.random(n), 0, 1)})
    preds = preds.sample(frac=1.0, random_state=1)  # another order than the holdout: joined by key
    (tmp / ".github").mkdir()
    (tmp / ".github" / "mlgate.yml").write_text(CONFIG)
    return tmp, preds


def evaluate(root: Path, preds: Path, *extra: str) -> tuple[int, dict[str, object]]:
    out = root / f"report-{len(extra)}-{'-'.join(extra)}.json"
    code = main(["evaluate", "--config", str(root / ".github" / "mlgate.yml"), "--predictions", str(preds),
                 "--out", str(out), "--no-progress", *extra])
    return code, (json.loads(out.read_text()) if out.exists() else {})


def test_duckdb_engine_and_numpy_key_join_agree(tmp_path: Path) -> None:
    root, preds = project(tmp_path)
    preds.to_parquet(root / "scores.parquet")
    code_d, rep_d = evaluate(root, root / "scores.parquet", "--engine", "duckdb")
    code_n, rep_n = evaluate(root, root / "scores.parquet", "--engine", "numpy")
    assert code_d == code_n == 0
    md, mn = rep_d["models"][0], rep_n["models"][0]  # type: ignore[index]
    assert md["holdout"]["rows"] == mn["holdout"]["rows"] == 400
    for a, b in zip(md["metrics"] + [m for s in md["segments"] for m in s["metrics"]],
                    mn["metrics"] + [m for s in mn["segments"] for m in s["metrics"]], strict=True):
        for k in ("baseline", "candidate", "se", "ci_low"):
            assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("engine", ["duckdb", "numpy"])
@pytest.mark.parametrize("change,why", [("drop", "have no prediction"), ("dup", "duplicate id")])
def test_missing_or_duplicate_keys_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str,
                                         change: str, why: str) -> None:
    root, preds = project(tmp_path)
    preds = preds.iloc[1:] if change == "drop" else pd.concat([preds, preds.iloc[:2]])
    preds.to_parquet(root / "scores.parquet")
    code, _ = evaluate(root, root / "scores.parquet", "--engine", engine)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert why in err[-1] and err[-1].startswith("mlgate: error:")


def test_missing_column_and_unreadable_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, preds = project(tmp_path)
    preds.drop(columns=["baseline"]).rename(columns={"candidate": "score"}).to_parquet(root / "scores.parquet")
    code, _ = evaluate(root, root / "scores.parquet", "--engine", "duckdb", "--allow-missing-baseline")
    assert code == 2 and "'candidate' is not in the predictions" in capsys.readouterr().err
    (root / "bad.parquet").write_bytes(b"not parquet at all")
    code, _ = evaluate(root, root / "bad.parquet", "--engine", "duckdb")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("mlgate: error:")


def test_auto_engine_reads_a_glob_holdout(tmp_path: Path) -> None:
    """A holdout glob is not a single file numpy can load: `--engine auto` takes duckdb."""
    root, preds = project(tmp_path)
    (root / "parts").mkdir()
    frame = pd.read_parquet(root / "holdout.parquet")
    frame.iloc[:200].to_parquet(root / "parts" / "a.parquet")
    frame.iloc[200:].to_parquet(root / "parts" / "b.parquet")
    config = root / ".github" / "mlgate.yml"
    config.write_text(config.read_text().replace("holdout: holdout.parquet", "holdout: parts/*.parquet"))
    preds.to_parquet(root / "scores.parquet")
    code, rep = evaluate(root, root / "scores.parquet")
    model = rep["models"][0]  # type: ignore[index]
    assert code == 0 and model["holdout"]["rows"] == 400
    assert len(model["holdout"]["sha256"]) == 64
