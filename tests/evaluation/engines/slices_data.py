"""Holdouts with a planted bad slice for discovery on the engines (test_slices_sql.py, test_slices_spark.py).

Both models see the same latent signal with the same noise, except on `a = P and b = b3`
(about 3% of the rows), where the candidate's noise is far larger. The columns cover every
kind of predicate: strings with missing values and rare values (`c`), a numeric column with
NaN (`x`), an integer column with nulls read back as float by pandas (`k`), a boolean, and
an id the search must not slice by. Scores live in a separate table, shuffled: joined by id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bot.evaluation.discovery import Discovery, discover_models

PLANTED = {"a = P", "b = b3"}


def planted(task: str, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[Any] | None]:
    """(holdout with id `uid` and label `y`, predictions with `candidate[:class]`/`baseline[:class]`, classes)."""
    rng = np.random.default_rng(seed)
    a = rng.choice(np.array(list("PQRS")), n)
    b = rng.choice(np.array([f"b{i}" for i in range(8)]), n)
    weights = np.r_[np.full(6, 0.15), np.full(8, 0.1 / 8)]
    c = rng.choice(np.array([f"c{i}" for i in range(14)], dtype=object), n, p=weights / weights.sum())
    c[rng.random(n) < 0.04] = None
    x = np.round(rng.normal(size=n) * 10, 1)
    x[rng.random(n) < 0.05] = np.nan
    k = pd.array(rng.integers(0, 4, n), dtype="Int64")
    k[rng.random(n) < 0.03] = pd.NA
    flag = rng.random(n) < 0.3
    mask = (a == "P") & (b == "b3")
    latent = rng.normal(size=n) * 1.5
    noise = np.where(mask, 3.0, 0.5)
    ids = rng.permutation(n) * 7 + 11
    frame = pd.DataFrame({"uid": ids, "a": a, "b": b, "c": c, "x": x, "k": k, "flag": flag})
    classes: list[Any] | None = None
    if task == "binary":
        frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-latent))).astype(np.int64)
        preds = pd.DataFrame({"candidate": 1 / (1 + np.exp(-(latent + rng.normal(size=n) * noise))),
                              "baseline": 1 / (1 + np.exp(-(latent + rng.normal(size=n) * 0.5)))})
    elif task == "regression":
        frame["y"] = latent + rng.normal(size=n) * 0.3
        preds = pd.DataFrame({"candidate": latent + rng.normal(size=n) * noise,
                              "baseline": latent + rng.normal(size=n) * 0.5})
    else:
        classes = ["cat", "dog", "eel"]
        logits = np.stack([latent, -latent, 0.3 * latent], axis=1)
        y = np.argmax(logits + rng.gumbel(size=(n, 3)), axis=1)
        frame["y"] = np.array(classes)[y]

        def proba(scale: np.ndarray) -> np.ndarray:
            z = logits + rng.normal(size=(n, 3)) * scale[:, None]
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return np.asarray(e / e.sum(axis=1, keepdims=True))

        pc, pb = proba(noise), proba(np.full(n, 0.5))
        preds = pd.DataFrame({f"{who}:{cl}": p[:, i] for who, p in (("candidate", pc), ("baseline", pb))
                              for i, cl in enumerate(classes)})
    preds.insert(0, "uid", ids)
    return frame, preds.sample(frac=1.0, random_state=seed), classes


def write(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Parquet as a batch job writes it (no pandas metadata: an int column with nulls reads
    back as float), and the frame the numpy engine reads from it."""
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None), path)
    return pd.read_parquet(path)


def numpy_discovery(frame: pd.DataFrame, preds: pd.DataFrame, task: str, classes: list[Any] | None,
                    **settings: Any) -> Discovery:
    """The numpy path with the id split, as `mlgate evaluate --engine numpy` runs it."""
    joined = frame[["uid"]].merge(preds, on="uid", how="left")

    def scores(who: str) -> np.ndarray:
        cols = [f"{who}:{c}" for c in classes] if classes is not None else [who]
        return np.asarray(joined[cols] if task == "multiclass" else joined[cols[0]], dtype=np.float64)

    return discover_models(frame, task=task, label="y", candidate=scores("candidate"), baseline=scores("baseline"),
                           classes=classes, key=frame["uid"].to_numpy(), **settings)


def assert_same_report(a: object, b: object, path: str = "") -> None:
    """Two discovery reports equal: the same structure and text, numbers to 1e-9."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), path
        for key in a:
            assert_same_report(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: {a} != {b}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_report(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert isinstance(b, float | int), path
        assert abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b)), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
