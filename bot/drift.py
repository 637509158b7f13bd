"""Drift of each feature between a reference frame and the current data.

Numeric columns: PSI over the reference's deciles plus the two-sample Kolmogorov-Smirnov
test. Categorical columns: PSI over categories plus a chi-square test of the 2 x k table.
A column drifts when its PSI exceeds the threshold or its p-value falls below it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

BINS = 10
EPS = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two frequency vectors over the same bins."""
    e = expected / max(expected.sum(), 1)
    a = actual / max(actual.sum(), 1)
    e = np.clip(e, EPS, None)
    a = np.clip(a, EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric(ref: np.ndarray, cur: np.ndarray) -> dict[str, float | None]:
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)))
    if len(edges) < 2:
        edges = np.array([ref.min() - 0.5, ref.min() + 0.5])
    inner = edges[1:-1]
    e = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(edges) - 1)
    a = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(edges) - 1)
    ks = stats.ks_2samp(ref, cur)
    return {"psi": psi(e.astype(float), a.astype(float)), "ks_statistic": float(ks.statistic),
            "ks_p_value": float(ks.pvalue)}


def _categorical(ref: pd.Series, cur: pd.Series) -> dict[str, float | None]:
    r = ref.astype(str).value_counts()
    c = cur.astype(str).value_counts()
    cats = sorted(set(r.index) | set(c.index))
    e = r.reindex(cats, fill_value=0).to_numpy(dtype=float)
    a = c.reindex(cats, fill_value=0).to_numpy(dtype=float)
    out: dict[str, float | None] = {"psi": psi(e, a), "chi2_statistic": None, "chi2_p_value": None}
    if len(cats) >= 2:
        chi2, p, _, _ = stats.chi2_contingency(np.vstack([e, a]))
        out["chi2_statistic"], out["chi2_p_value"] = float(chi2), float(p)
    return out


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    psi_threshold: float = 0.2,
    p_threshold: float = 0.01,
    exclude: list[str] | None = None,
    file: str | None = None,
) -> list[dict[str, Any]]:
    """One drift result per column shared by both frames (minus `exclude`)."""
    skip = set(exclude or [])
    results: list[dict[str, Any]] = []
    for col in [c for c in reference.columns if c in current.columns and c not in skip]:
        ref, cur = reference[col].dropna(), current[col].dropna()
        if len(ref) == 0 or len(cur) == 0:
            continue
        numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
        if numeric:
            vals = _numeric(ref.to_numpy(dtype=float), cur.to_numpy(dtype=float))
            p = vals.get("ks_p_value")
        else:
            vals = _categorical(ref, cur)
            p = vals.get("chi2_p_value")
        drifted = bool((vals["psi"] or 0) > psi_threshold or (p is not None and p < p_threshold))
        results.append({
            "file": file,
            "column": str(col),
            "kind": "numeric" if numeric else "categorical",
            **{k: (None if v is None or math.isnan(v) else v) for k, v in vals.items()},
            "drifted": drifted,
        })
    return results
