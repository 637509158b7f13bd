"""Profile aggregates in SQL: the count tables behind drift and data checks (issue #18).

The monitor (`bot.monitor.scan`) and the data checks on DuckDB (`bot.datachecks.run_checks_sql`,
`bot.drift.compute_drift_sql`) ask for small tables (rows per segment and bin, per category)
and compute their statistics from them with the same numpy code as the in-memory path, so the
results are the same. `ks_extremes_sql` is the portable (window-sum) form of the exact KS
counts, for engines without a sorted stream (Spark); DuckDB streams its sort instead.

The SQL is a subset DuckDB and Spark SQL both accept (subqueries, `CASE`, `GROUP BY`,
window sums with `ROWS` frames, `isnan`); identifiers and literals go through the engines'
`Dialect` (`bot.evaluation.engines.sql`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.evaluation.engines.sql import Dialect

__all__ = ["bin_index", "count_table_sql", "is_value", "ks_extremes_sql", "lookup", "real"]


def real(expr: str) -> str:
    """A column as DOUBLE (integers and booleans included)."""
    return f"CAST({expr} AS DOUBLE)"


def is_value(expr: str) -> str:
    """True for a number that is not missing and not NaN (infinities count, as in numpy)."""
    return f"({expr} IS NOT NULL AND NOT isnan({expr}))"


def bin_index(expr: str, inner: Sequence[float], dialect: Dialect) -> str:
    """numpy's searchsorted(inner, x, side="right") for a non-NaN DOUBLE `expr`: how many of the
    sorted `inner` edges are <= x (0 for none)."""
    if len(inner) == 0:
        return "0"
    return " + ".join(f"CASE WHEN {expr} >= {dialect.literal(float(e))} THEN 1 ELSE 0 END" for e in inner)


def lookup(exprs: Sequence[str], table: dict[tuple[object, ...], int], dialect: Dialect) -> str:
    """CASE mapping each tuple of values of `exprs` to its code in `table` (NULL matches None); -1 else."""
    if not table:
        return "-1"
    whens = []
    for key, code in table.items():
        conds = [f"{e} IS NULL" if v is None else f"{e} = {dialect.literal(v)}" for e, v in zip(exprs, key, strict=True)]
        whens.append(f"WHEN {' AND '.join(conds)} THEN {int(code)}")
    return f"CASE {' '.join(whens)} ELSE -1 END"


def count_table_sql(source: str, group: str, value: str, where: str = "TRUE") -> str:
    """(g, value, rows) for every group code g >= 0 and value of the rows of `source` that pass `where`."""
    return (f"SELECT g, b, COUNT(*) FROM (SELECT {group} AS g, {value} AS b FROM {source} WHERE {where}) t "
            "WHERE g >= 0 GROUP BY g, b")


def ks_extremes_sql(ref_sql: str, cur_sql: str) -> str:
    """Per group g present on both sides: rows of each side, and the max and min of
    F_ref(v) - F_cur(v) over every distinct value v of either side (where scipy's ks_2samp
    evaluates the two empirical CDFs). `ref_sql` and `cur_sql` select (g, v) with v a
    non-NaN DOUBLE: a sorted merge by window sums, exact, nothing binned."""
    frame = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    diff = "CAST(cr AS DOUBLE) / CAST(tr AS DOUBLE) - CAST(cc AS DOUBLE) / CAST(tc AS DOUBLE)"
    return (
        f"WITH r AS (SELECT g, v, COUNT(*) AS nr FROM ({ref_sql}) a GROUP BY g, v), "
        f"c AS (SELECT g, v, COUNT(*) AS nc FROM ({cur_sql}) b GROUP BY g, v), "
        "u AS (SELECT g, v, SUM(nr) AS nr, SUM(nc) AS nc FROM (SELECT g, v, nr, 0 AS nc FROM r "
        "UNION ALL SELECT g, v, 0 AS nr, nc FROM c) t GROUP BY g, v), "
        f"w AS (SELECT g, SUM(nr) OVER (PARTITION BY g ORDER BY v {frame}) AS cr, "
        f"SUM(nc) OVER (PARTITION BY g ORDER BY v {frame}) AS cc, "
        "SUM(nr) OVER (PARTITION BY g) AS tr, SUM(nc) OVER (PARTITION BY g) AS tc FROM u) "
        f"SELECT g, MAX(tr), MAX(tc), MAX({diff}), MIN({diff}) FROM w WHERE tr > 0 AND tc > 0 GROUP BY g"
    )
