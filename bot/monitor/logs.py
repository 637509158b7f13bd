"""The logged-traffic contract: one row per prediction, read with pyarrow and checked.

A log is a Parquet or CSV file, or a directory of them (Hive partitions such as
`date=2026-11-30/part-0.parquet` are pruned by the window before any row is read).
Columns: `request_id`, `timestamp`, `model`, `version` (the registry version or alias that
answered), `score` (binary: P(label = 1); regression: the prediction), the model's features,
and optionally the label (by default under the model's `label` name), which may also come
from a separate labels file joined by `request_id`. Every problem is one line that says
which file and column, and what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from bot.errors import InvalidInput

REQUIRED = ("request_id", "timestamp", "model", "version", "score")
MAX_FILES = 10_000  # a log directory with more files is refused rather than listed for minutes
_DATE_DIR = re.compile(r"^(?:date|dt|day)=(\d{4}-\d{2}-\d{2})$")


class LogError(InvalidInput):
    """A log that breaks the contract; the message is one line."""


@dataclass(frozen=True)
class Window:
    """[start, end): the time span one monitor run reads."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, days: int) -> Window:
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        return cls(end - timedelta(days=days), end)

    def previous(self) -> Window:
        return Window(self.start - (self.end - self.start), self.start)

    def label(self) -> str:
        return f"{self.start:%Y-%m-%d} to {(self.end - timedelta(seconds=1)):%Y-%m-%d}"


def is_glob(path: str | Path) -> bool:
    return any(ch in str(path) for ch in "*?[")


def _files(root: Path, window: Window | None) -> list[Path]:
    if is_glob(root):
        anchor = Path(root.anchor or ".")
        found = [p for p in sorted(anchor.glob(str(root.relative_to(anchor)) if root.is_absolute() else str(root)))
                 if p.is_file() and p.suffix.lower() in (".parquet", ".csv")]
        if not found:
            raise LogError(f"{root}: no Parquet or CSV file matches; set monitor.logs to the prediction log")
        return _cap(root, [p for p in found if window is None or _partition_overlaps(p, window)])
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise LogError(f"{root}: no such file or directory; set monitor.logs to the prediction log "
                       "(a Parquet/CSV file or a directory of them)")
    out: list[Path] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in (".parquet", ".csv"):
            continue
        if window is not None and not _partition_overlaps(path.relative_to(root), window):
            continue
        out.append(path)
        _cap(root, out)
    return out


def _cap(root: Path, files: list[Path]) -> list[Path]:
    if len(files) > MAX_FILES:
        raise LogError(f"{root}: more than {MAX_FILES:,} log files; partition by date and keep the window short")
    return files


def log_files(root: Path, window: Window | None) -> list[Path]:
    """The window's log files under `root` (a file, a directory or a glob), date partitions pruned."""
    return _files(root, window)


def _partition_overlaps(rel: Path, window: Window) -> bool:
    """False only for a date partition entirely outside the window (others are filtered by row)."""
    for part in rel.parts[:-1]:
        m = _DATE_DIR.match(part)
        if m:
            day = datetime.strptime(m.group(1), "%Y-%m-%d").replace(tzinfo=UTC)
            return window.start - timedelta(days=1) < day < window.end
    return True


def _read_one(path: Path, columns: list[str] | None) -> pa.Table:
    try:
        if path.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
                column_types={"request_id": pa.string(), "version": pa.string(), "model": pa.string()}))
        else:
            table = ds.dataset(path, format="parquet").to_table(columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogError(f"{path}: cannot be read as {path.suffix.lstrip('.') or 'Parquet'} "
                       f"({str(exc).splitlines()[0][:200]})") from None
    if columns is not None and path.suffix.lower() == ".csv":
        table = table.select([c for c in columns if c in table.column_names])
    return table


def _check_columns(path: Path, names: list[str], need: tuple[str, ...]) -> None:
    missing = [c for c in need if c not in names]
    if missing:
        raise LogError(f"{path}: missing column(s) {', '.join(missing)}; every logged prediction needs "
                       f"{', '.join(REQUIRED)} (see docs/monitoring.md)")


def _timestamps(path: Path, col: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_timestamp(col.type):
        return col.cast(pa.timestamp("us", tz="UTC")) if col.type.tz is None else col
    try:
        return pc.cast(col, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise LogError(f"{path}: column timestamp must hold timestamps (ISO 8601, UTC), "
                       f"got {col.type}") from None


def read_logs(
    root: str | Path, window: Window, *, model: str, features: list[str], label: str | None,
    max_rows: int = 50_000_000, keep: tuple[str, ...] = ("request_id", "timestamp"),
) -> pd.DataFrame:
    """The window's rows for one model: version, score, the features, the label and `keep`.

    Columns the model does not use are never read from Parquet; the contract's other columns
    are checked and dropped before pandas sees them. `max_rows` bounds memory.
    """
    want = [*REQUIRED, *features, *([label] if label else [])]
    keep_columns = keep
    tables: list[pa.Table] = []
    total = 0
    for path in _files(Path(root), window):
        schema_names = checked_columns(path, features)
        table = _read_one(path, [c for c in want if c in schema_names])
        ts = _timestamps(path, table.column("timestamp"))
        table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", ts)
        keep = pc.and_(
            pc.and_(pc.greater_equal(ts, pa.scalar(window.start, pa.timestamp("us", tz="UTC"))),
                    pc.less(ts, pa.scalar(window.end, pa.timestamp("us", tz="UTC")))),
            pc.equal(table.column("model").cast(pa.string()), model),
        )
        # the model name is known now, and the version has a handful of values: keep memory small
        if table.column("request_id").null_count:
            raise LogError(f"{path}: request_id is empty on some rows; every prediction needs the id its "
                           "label will be joined by")
        table = table.filter(keep).drop_columns(["model", *(c for c in ("request_id", "timestamp")
                                                             if c not in keep_columns)])
        version = table.column("version").cast(pa.string()).dictionary_encode()
        table = table.set_column(table.schema.get_field_index("version"), "version", version)
        total += table.num_rows
        if total > max_rows:
            raise LogError(f"{root}: more than {max_rows:,} rows for {model} in {window.label()}; "
                           "shorten monitor.window_days")
        if table.num_rows:
            tables.append(table)
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in want})
    try:
        table = pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()
    except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
        raise LogError(f"{root}: the log files disagree on a column's type ({str(exc).splitlines()[0][:200]}); "
                       "log every column with one type") from None
    del tables
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    pa.default_memory_pool().release_unused()  # the allocator keeps freed Arrow buffers otherwise: RSS
    _check_values(str(root), frame, label)
    frame["version"] = frame["version"].astype(str).astype("category")
    return frame


def checked_columns(path: Path, features: list[str]) -> list[str]:
    """The log file's column names, after checking it has the contract's columns and every feature
    (both readers, pandas and DuckDB, refuse a file the same way)."""
    names = _schema_names(path)
    _check_columns(path, names, REQUIRED)
    absent = [f for f in features if f not in names]
    if absent:
        raise LogError(f"{path}: missing feature column(s) {', '.join(absent[:10])}; log every feature "
                       "the model scored, under the reference file's column names")
    return names


def _schema_names(path: Path) -> list[str]:
    try:
        if path.suffix.lower() == ".csv":
            with path.open("r", encoding="utf-8", errors="replace") as fh:
                header = fh.readline(65536)
            return [h.strip().strip('"') for h in header.rstrip("\n").split(",")]
        return list(ds.dataset(path, format="parquet").schema.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LogError(f"{path}: cannot be read ({str(exc).splitlines()[0][:200]})") from None


def _check_values(where: str, frame: pd.DataFrame, label: str | None) -> None:
    score = frame["score"]
    if not pd.api.types.is_numeric_dtype(score):
        raise LogError(f"{where}: column score must be numeric (the model's P(label = 1) or prediction), "
                       f"got {score.dtype}")
    bad = int(np.count_nonzero(~np.isfinite(score.to_numpy(dtype=np.float64))))
    if bad:
        raise LogError(f"{where}: {bad:,} row(s) have an empty or non-finite score; log the score the "
                       "model returned for every request")


def join_labels(frame: pd.DataFrame, labels_path: str | Path, label: str) -> pd.DataFrame:
    """Labels that arrive later, joined by request id (the last label for an id wins)."""
    path = Path(labels_path)
    files = _files(path, None)
    parts = []
    for f in files:
        names = _schema_names(f)
        _check_columns(f, names, ("request_id", label))
        parts.append(_read_one(f, ["request_id", label]).to_pandas())
    if not parts:
        return frame
    labels = pd.concat(parts, ignore_index=True).drop_duplicates("request_id", keep="last")
    labels["request_id"] = labels["request_id"].astype(frame["request_id"].dtype, copy=False)
    out = frame.drop(columns=[label], errors="ignore").merge(labels, on="request_id", how="left")
    return out
