"""Drift of each feature between a reference frame and the current data.

Numeric columns: PSI over the reference's deciles plus the two-sample Kolmogorov-Smirnov
test. Categorical columns: PSI over categories plus a chi-square test of the 2 x k table.
A column drifts when its PSI exceeds the threshold or its p-value falls below it.
"""

from __future__ import annotations

import math
from pathlib import Path
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
        results.append(_row(file, col, numeric, vals, p, psi_threshold, p_threshold))
    return results


def _row(file: str | None, col: object, numeric: bool, vals: dict[str, Any], p: float | None,
         psi_threshold: float, p_threshold: float) -> dict[str, Any]:
    """One column's drift row, as the report writes it (NaN as null); the same for both readers."""
    return {
        "file": file,
        "column": str(col),
        "kind": "numeric" if numeric else "categorical",
        **{k: (None if v is None or math.isnan(v) else v) for k, v in vals.items()},
        "drifted": bool((vals["psi"] or 0) > psi_threshold or (p is not None and p < p_threshold)),
    }


def compute_drift_sql(
    reference: pd.DataFrame,
    current: list[str],
    *,
    psi_threshold: float = 0.2,
    p_threshold: float = 0.01,
    exclude: list[str] | None = None,
    file: str | None = None,
    memory: str | None = None,
) -> list[dict[str, Any]]:
    """`compute_drift` with the current data in Parquet files, globs or directories that DuckDB
    aggregates out of core (issue #18): the bins' counts and the categories' counts come from
    SQL, the KS statistic from the current values sorted by DuckDB and streamed (exact, as
    `bot.monitor.ks`), so the results are `compute_drift`'s. The reference is a frame."""
    from bot.datachecks import DataCheckError
    from bot.evaluation import EvaluationError
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine
    from bot.evaluation.engines.profile_sql import bin_index, is_value, real

    try:
        engine = DuckDBEngine(memory=memory)
    except EvaluationError as exc:
        raise DataCheckError(str(exc)) from None
    try:
        files = []
        for path in current:
            if "://" not in path and Path(path).is_dir():
                path = str(Path(path) / "**" / "*.parquet")
            files.append("'" + path.replace("'", "''") + "'")
        engine.query(f"CREATE OR REPLACE TEMPORARY VIEW mlgate_current AS SELECT * FROM read_parquet("
                     f"[{', '.join(files)}], union_by_name = true)")
        types = {str(r[0]): str(r[1]).upper() for r in engine.query("DESCRIBE SELECT * FROM mlgate_current")}
        q = engine.dialect.q
        skip = set(exclude or [])
        results: list[dict[str, Any]] = []
        for col in [c for c in reference.columns if c in types and c not in skip]:
            ref = reference[col].dropna()
            kind = types[col]
            c = q(str(col))
            float_kind = kind in ("FLOAT", "DOUBLE") or kind.startswith("DECIMAL")
            present = f"({c} IS NOT NULL" + (f" AND NOT isnan({c}))" if float_kind else ")")
            n_cur = int(engine.query(f"SELECT COUNT(*) FROM mlgate_current WHERE {present}")[0][0])  # type: ignore[call-overload]
            if len(ref) == 0 or n_cur == 0:
                continue
            numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
            vals: dict[str, float | None]
            if numeric:
                if not (_sql_numeric(kind)):
                    raise DataCheckError(f"data file {file}: column {col} is numeric in the reference but {kind.lower()} "
                                         "in the data; fix the data or use --engine numpy")
                vals = _numeric_sql(engine, ref.to_numpy(dtype=float), real(c), is_value(real(c)), n_cur,
                                    bin_index, engine.dialect)
                p = vals.get("ks_p_value")
            else:
                if kind == "VARCHAR":
                    text = c
                elif kind == "BOOLEAN":
                    text = f"CASE WHEN {c} THEN 'True' ELSE 'False' END"
                else:
                    raise DataCheckError(f"data file {file}: column {col} is text in the reference but {kind.lower()} "
                                         "in the data; fix the data or use --engine numpy")
                r = ref.astype(str).value_counts()
                counts = {str(v): float(n) for v, n in engine.query(  # type: ignore[arg-type]
                    f"SELECT {text}, COUNT(*) FROM mlgate_current WHERE {present} GROUP BY 1")}
                cats = sorted(set(r.index) | set(counts))
                e = r.reindex(cats, fill_value=0).to_numpy(dtype=float)
                a = np.array([counts.get(k, 0.0) for k in cats])
                vals = {"psi": psi(e, a), "chi2_statistic": None, "chi2_p_value": None}
                if len(cats) >= 2:
                    chi2, pv, _, _ = stats.chi2_contingency(np.vstack([e, a]))
                    vals["chi2_statistic"], vals["chi2_p_value"] = float(chi2), float(pv)
                p = vals.get("chi2_p_value")
            results.append(_row(file, col, numeric, vals, p, psi_threshold, p_threshold))
        return results
    except EvaluationError as exc:
        raise DataCheckError(f"data file {file}: {exc}") from None
    finally:
        engine.close()


def _sql_numeric(kind: str) -> bool:
    return kind in ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE") or kind.startswith("DECIMAL")


def _numeric_sql(engine: Any, ref: np.ndarray, value: str, present: str, n_cur: int, bin_index: Any,
                 dialect: Any) -> dict[str, float | None]:
    """`_numeric` with the current values in DuckDB (view mlgate_current)."""
    from bot.monitor.ks import MAX_EXACT, extremes_from_counts, p_value_from_extremes, sorted_slots

    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)))
    if len(edges) < 2:
        edges = np.array([ref.min() - 0.5, ref.min() + 0.5])
    inner = edges[1:-1]
    e = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(edges) - 1)
    a = np.zeros(len(edges) - 1)
    for b, n in engine.query(f"SELECT {bin_index(value, list(inner), dialect)}, COUNT(*) FROM mlgate_current "
                             f"WHERE {present} GROUP BY 1"):
        a[int(b)] += float(n)
    sql = f"SELECT {value} AS v FROM mlgate_current WHERE {present}"
    if max(len(ref), n_cur) <= MAX_EXACT:
        cur = engine.con.sql(sql).to_arrow_table().column(0).to_numpy()
        ks = stats.ks_2samp(ref, cur)
        statistic, pvalue = float(ks.statistic), float(ks.pvalue)
    else:
        u, rc = np.unique(ref, return_counts=True)
        acc = np.zeros(2 * len(u) + 1, dtype=np.int64)
        for batch in engine.con.sql(sql + " ORDER BY v").to_arrow_reader(1 << 20):
            acc += sorted_slots(u, batch.column(0).to_numpy(zero_copy_only=False))
        dmax, dmin = extremes_from_counts(rc, acc)
        statistic = max(float(np.clip(-dmin, 0, 1)), dmax)
        pvalue = p_value_from_extremes(len(ref), n_cur, dmax, dmin)
    return {"psi": psi(e.astype(float), a), "ks_statistic": statistic, "ks_p_value": pvalue}
