"""Segments: which rows belong to which slice of users, from the config's segment specs.

Each spec is a *partition* of the rows: every row lands in exactly one segment, because
missing values get their own `(missing)` segment and values outside the configured bins get
`(out of range)`. Working with integer codes per partition (not per-segment row lists) lets
the paired statistics handle all segments of a column with one sort and a few bincounts.

- a categorical column: one segment per value (`str(value)`), sorted by text;
- `{column: c, bins: [0, 6, 24, 60]}`: `[0, 6)`, `[6, 24)`, `[24, 60]` (last bin closed);
- `{cross: [a, b]}`: column `"a × b"`, values `"x × y"`; a crossed column that is also
  configured with bins is crossed by its bins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bot import numbers
from bot.errors import InvalidInput

if TYPE_CHECKING:  # specs are read by attribute, so the engine does not import pydantic
    from bot.config import SegmentSpec

MISSING = "(missing)"
OUT_OF_RANGE = "(out of range)"
CROSS = " × "


class SegmentError(InvalidInput):
    """A segment spec that does not fit the data."""


@dataclass(frozen=True)
class Partition:
    """One segment column: a label per segment and the segment code of every row."""

    column: str
    values: list[str]  # display order; code i is values[i]
    codes: np.ndarray  # int64, one code per row, 0 <= code < len(values)

    @property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.values))


def _fmt_edge(x: float) -> str:
    return numbers.edge(x)  # 1,000,000, not 1e+06


def _require(frame: pd.DataFrame, column: str) -> None:
    if column not in frame.columns:
        available = ", ".join(map(str, list(frame.columns)[:30]))
        more = f" (and {len(frame.columns) - 30} more)" if len(frame.columns) > 30 else ""
        raise SegmentError(
            f"segment column {column!r} is not in the holdout; available columns: {available}{more}. "
            "Fix `segments` in the model's config or add the column to the holdout"
        )


@dataclass(frozen=True)
class _Bins:
    column: str
    bins: list[float]


@dataclass(frozen=True)
class _Cross:
    cross: list[str]


def _spec(spec: Any) -> str | _Bins | _Cross:
    """A config spec (str, BinnedSegment, CrossSegment) or its dict form, normalised."""
    if isinstance(spec, str):
        return spec
    def get(key: str) -> Any:
        return spec.get(key) if isinstance(spec, dict) else getattr(spec, key, None)

    if get("cross") is not None:
        cross = list(get("cross"))
        if len(cross) != 2:
            raise SegmentError(f"a cross segment names exactly two columns, got {cross}")
        return _Cross([str(c) for c in cross])
    if get("column") is not None and get("bins") is not None:
        return _Bins(str(get("column")), [float(b) for b in get("bins")])
    raise SegmentError(
        f"segment spec {spec!r} is not a column name, {{column: NAME, bins: [...]}} or {{cross: [A, B]}}"
    )


def _binned(frame: pd.DataFrame, spec: _Bins) -> tuple[str, np.ndarray, list[str]]:
    column = spec.column
    _require(frame, column)
    col = frame[column]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise SegmentError(
            f"segment column {column!r} has bins but is not numeric (dtype {col.dtype}); "
            "remove `bins` to use its values as segments"
        )
    edges = np.asarray(spec.bins, dtype=np.float64)
    nb = len(edges) - 1
    names = [
        f"[{_fmt_edge(lo)}, {_fmt_edge(hi)}{']' if i == nb - 1 else ')'}"
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]
    values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    idx = np.searchsorted(edges, values, side="right") - 1
    idx[values == edges[-1]] = nb - 1
    idx[(idx < 0) | (idx >= nb)] = nb
    idx[np.isnan(values)] = nb + 1
    return column, idx.astype(np.int64), [*names, OUT_OF_RANGE, MISSING]


def _categorical(frame: pd.DataFrame, column: str) -> tuple[str, np.ndarray, list[str]]:
    _require(frame, column)
    codes, uniques = pd.factorize(frame[column], sort=False, use_na_sentinel=True)
    texts = [str(u) for u in uniques]
    # values that print the same (1 and "1" in an object column) are one segment
    order = sorted(set(texts))
    rank = {t: i for i, t in enumerate(order)}
    remap = np.array([rank[t] for t in texts] + [len(order)], dtype=np.int64)
    return column, remap[codes], [*order, MISSING]  # code -1 (missing) -> remap[-1]


def _raw(frame: pd.DataFrame, spec: str | _Bins | _Cross, bins: dict[str, _Bins]) -> tuple[str, np.ndarray, list[str]]:
    """Title, a code per row and labels in display order (some labels may be unused)."""
    if isinstance(spec, _Cross):
        a, b = spec.cross
        ta, ca, la = _raw(frame, bins.get(a, a), bins)
        tb, cb, lb = _raw(frame, bins.get(b, b), bins)
        labels = [f"{x}{CROSS}{y}" for x in la for y in lb]
        return f"{ta}{CROSS}{tb}", ca * len(lb) + cb, labels
    if isinstance(spec, _Bins):
        return _binned(frame, spec)
    return _categorical(frame, spec)


def build_partitions(frame: pd.DataFrame, specs: list[SegmentSpec]) -> list[Partition]:
    """One partition per spec, in config order, keeping only the segments that have rows."""
    normal = [_spec(s) for s in specs]
    bins = {s.column: s for s in normal if isinstance(s, _Bins)}
    out: list[Partition] = []
    for spec in normal:
        title, codes, labels = _raw(frame, spec, bins)
        used = np.flatnonzero(np.bincount(codes, minlength=len(labels)))
        remap = np.full(len(labels), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        out.append(Partition(title, [labels[i] for i in used], remap[codes]))
    return out
