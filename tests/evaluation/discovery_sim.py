"""Simulated holdouts for slice discovery (tests/evaluation/test_discovery.py, tests/benchmarks).

Both models score `sigmoid(latent + own noise)` with the same noise level, so they are of equal
quality everywhere, except on a planted slice `a = P and b = b3` (4 x 8 values: about 3% of the
rows) where the candidate's own noise is much larger: its AUC there is about 0.15 lower.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PLANTED = {"a = P", "b = b3"}
PLANTED_NOISE = 3.0  # the candidate's noise on the planted slice: AUC about 0.15 below the baseline's


def holdout(seed: int, n: int = 20_000, planted: bool = True) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frame with label `y`, labels, candidate P(y=1), baseline P(y=1), planted-slice mask)."""
    rng = np.random.default_rng(seed)
    a = rng.choice(np.array(list("PQRS")), n)
    b = rng.choice(np.array([f"b{i}" for i in range(8)]), n)
    weights = np.r_[np.full(6, 0.15), np.full(6, 0.1 / 6)]
    c = rng.choice(np.array([f"c{i}" for i in range(12)]), n, p=weights / weights.sum())
    x = rng.normal(size=n)
    w = rng.exponential(size=n)
    w[rng.random(n) < 0.05] = np.nan  # some rows miss a feature
    latent = rng.normal(size=n) * 1.5
    y = (rng.random(n) < 1 / (1 + np.exp(-latent))).astype(np.int64)
    base = 1 / (1 + np.exp(-(latent + rng.normal(size=n) * 0.5)))
    own = rng.normal(size=n) * 0.5
    mask = (a == "P") & (b == "b3")
    if planted:
        own = np.where(mask, rng.normal(size=n) * PLANTED_NOISE, own)
    cand = 1 / (1 + np.exp(-(latent + own)))
    frame = pd.DataFrame({"id": np.arange(n), "a": a, "b": b, "c": c, "x": x, "w": w, "y": y})
    return frame, y, cand, base, mask
