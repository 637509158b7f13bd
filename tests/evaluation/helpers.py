"""Simulated holdouts shared by the engine tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BINARY = ["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "log_loss", "brier"]
MULTICLASS = ["accuracy", "macro_f1", "weighted_f1", "log_loss"]
REGRESSION = ["rmse", "mae", "r2"]


def scorer(y: np.ndarray, rng: np.random.Generator, signal: float = 1.0, noise: float = 1.0) -> np.ndarray:
    """P(y=1) of a noisy logistic scorer; the same (signal, noise) means the same quality."""
    return 1 / (1 + np.exp(-2 * (signal * y + rng.normal(0, noise, len(y)) - signal / 2)))


def binary_holdout(n: int, seed: int, ties: bool = False, regions: int = 3) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Labels, a region column and two independent scorers of equal quality (an A/A pair)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    c, b = scorer(y, rng), scorer(y, rng)
    if ties:
        c, b = np.round(c, 1), np.round(b, 2)
    names = ["EU", "NA", "APAC", "LATAM", "MEA"][:regions] if regions <= 5 else [f"r{i:02d}" for i in range(regions)]
    frame = pd.DataFrame({"y": y, "region": rng.choice(names, n), "age": rng.integers(0, 90, n)})
    return frame, c, b


def by_name(stats: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in stats}
