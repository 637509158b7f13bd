"""Segments: which rows belong to which slice of users, from the config's segment specs.

Categorical columns give one segment per value; numeric columns with bins give `[a, b)`
bins (the last one closed); missing values are their own `(missing)` segment; a cross of two
columns gives one segment per pair of values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot.config import BinnedSegment, CrossSegment, SegmentSpec

MISSING = "(missing)"
OUT_OF_RANGE = "(out of range)"
CROSS = " × "


class SegmentError(ValueError):
    """A segment spec that does not fit the data."""


@dataclass(frozen=True)
class Segment:
    column: str
    value: str
    index: np.ndarray  # row positions


def _fmt_edge(x: float) -> str:
    return f"{x:g}"


def _labels(frame: pd.DataFrame, spec: SegmentSpec) -> tuple[str, pd.Series, list[str]]:
    """Column title, a label per row, and the labels in display order."""
    if isinstance(spec, CrossSegment):
        a, b = spec.cross
        title_a, la, order_a = _labels(frame, a)
        title_b, lb, order_b = _labels(frame, b)
        labels = la.astype(str) + CROSS + lb.astype(str)
        order = [f"{x}{CROSS}{y}" for x in order_a for y in order_b]
        return f"{title_a}{CROSS}{title_b}", labels, order
    column = spec.column if isinstance(spec, BinnedSegment) else spec
    _require(frame, column)
    col = frame[column]
    if isinstance(spec, BinnedSegment):
        if not pd.api.types.is_numeric_dtype(col):
            raise SegmentError(
                f"segment column {column!r} has bins but is not numeric (dtype {col.dtype}); "
                "remove `bins` to use its values as segments"
            )
        edges = spec.bins
        names = [
            f"[{_fmt_edge(lo)}, {_fmt_edge(hi)}{']' if i == len(edges) - 2 else ')'}"
            for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
        ]
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        idx = np.searchsorted(edges, values, side="right") - 1
        idx = np.where(values == edges[-1], len(edges) - 2, idx)
        inside = (idx >= 0) & (idx < len(edges) - 1)
        labels = np.where(inside, np.array(names, dtype=object)[np.clip(idx, 0, len(names) - 1)], OUT_OF_RANGE)
        labels = np.where(np.isnan(values), MISSING, labels)
        return column, pd.Series(labels, index=frame.index), [*names, OUT_OF_RANGE, MISSING]
    missing = col.isna().to_numpy()
    text = col.astype(str).to_numpy(dtype=object)
    text[missing] = MISSING
    present = pd.unique(text[~missing])
    order = sorted(present.tolist(), key=str)
    return column, pd.Series(text, index=frame.index), [*order, MISSING]


def _require(frame: pd.DataFrame, column: str) -> None:
    if column not in frame.columns:
        available = ", ".join(map(str, list(frame.columns)[:30]))
        raise SegmentError(
            f"segment column {column!r} is not in the holdout; available columns: {available}"
        )


def build_segments(frame: pd.DataFrame, specs: list[SegmentSpec]) -> list[Segment]:
    """All non-empty segments, in config order, each value in display order."""
    out: list[Segment] = []
    for spec in specs:
        title, labels, order = _labels(frame, spec)
        codes, uniques = pd.factorize(labels.to_numpy(dtype=object), sort=False)
        members = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[members], np.arange(len(uniques) + 1))
        by_label = {str(uniques[i]): members[bounds[i]: bounds[i + 1]] for i in range(len(uniques))}
        rank = {v: i for i, v in enumerate(order)}
        for value in sorted(by_label, key=lambda v: (rank.get(v, len(rank)), v)):
            out.append(Segment(title, value, by_label[value]))
    return out
