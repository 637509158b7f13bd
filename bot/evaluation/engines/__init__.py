"""Evaluation engines: where the paired comparison's aggregates are computed (issue #18).

Every engine takes the same request and returns the same `ComparisonResult` (the same
`Stat` objects, equal to the numpy engine's to 1e-9, ties included):

- `numpy`: today's in-memory engine (`bot.evaluation.compare_models`); the default for
  data that fits.
- `duckdb`: embedded and out of core; reads Parquet files, globs and hive-partitioned
  directories (local or remote through DuckDB's readers) or an in-memory frame, and
  runs the SQL of `bot.evaluation.engines.sql` with a memory limit.
- `spark`: the same SQL through `spark.sql` on the SparkSession of the environment
  (see /work/notes/engine-interface.md and docs/scale.md).

An engine is a `Engine`: `compare(holdout, request, progress)`. SQL engines subclass
`SqlEngine` (bot.evaluation.engines.sql) and implement four small methods: register a
table source as a named view, describe its columns, run a query into a pandas frame, and
map their own exceptions to `EvaluationError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.errors import MlgateError

if TYPE_CHECKING:
    import pandas as pd

    from bot.config import SegmentSpec
    from bot.evaluation import ComparisonResult

__all__ = [
    "ENGINES",
    "Engine",
    "EngineUnavailable",
    "Progress",
    "Request",
    "TableSource",
]

ENGINES = ("numpy", "duckdb", "spark")


class EngineUnavailable(MlgateError, RuntimeError):
    """The engine asked for is not installed or has no session (one line: cause and fix)."""


@dataclass(frozen=True)
class TableSource:
    """Where rows come from: an in-memory frame, or Parquet paths.

    `parquet` holds files, globs (`data/part-*.parquet`) or directories (read recursively,
    hive partitions `key=value/` become columns); local paths or URLs the engine's readers
    support (`s3://…`, `gs://…`, `https://…`). Exactly one of `frame` and `parquet` is set.
    """

    frame: pd.DataFrame | None = None
    parquet: tuple[str, ...] = ()
    name: str = ""  # for messages: the path as the user wrote it

    def __post_init__(self) -> None:
        if (self.frame is None) == (not self.parquet):
            raise ValueError("a TableSource is either a frame or Parquet paths")

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, name: str = "holdout") -> TableSource:
        return cls(frame=frame, name=name)

    @classmethod
    def of_parquet(cls, *paths: str, name: str | None = None) -> TableSource:
        return cls(parquet=tuple(paths), name=name or ", ".join(paths))


@dataclass(frozen=True)
class Request:
    """What to compute; the engine-independent half of `compare_models`' arguments.

    Score columns name columns of the rows (the holdout, or `predictions` joined by `key`):
    binary P(y=1) and regression predictions in one column; multiclass one probability
    column per class, in `classes` order. `baseline=None`: the candidate's values only.
    `classes=None` for multiclass: the sorted distinct labels (as the numpy engine does).
    With `predictions`, its score columns are joined to the holdout by `key` (every holdout
    key exactly once in each table, else `EvaluationError`); without it the score columns
    are read from the holdout itself.
    """

    task: str
    label: str
    candidate: tuple[str, ...]
    baseline: tuple[str, ...] | None
    metrics: tuple[str, ...]
    segments: tuple[SegmentSpec, ...] = ()
    confidence: float = 0.95
    classes: tuple[object, ...] | None = None
    key: str | None = None
    predictions: TableSource | None = None
    resamples: int = 0  # recorded only: every interval is analytic
    seed: int = 0


Progress = Callable[[str, float], None]
"""Progress callback: (step description, fraction of the whole evaluation done 0..1)."""


@runtime_checkable
class Engine(Protocol):
    """An evaluation engine: the same request in, the same `ComparisonResult` out."""

    name: str

    def compare(self, holdout: TableSource, request: Request,
                progress: Progress | None = None) -> ComparisonResult:
        """Every requested metric overall and per segment; raises `EvaluationError` with a
        one-line cause and fix for anything the user must change (missing column,
        unreadable file, out of memory, duplicate or missing keys)."""
        ...

    def close(self) -> None:
        """Release what the engine holds (a connection); the engine is not used afterwards."""
        ...
