"""Reading tabular data files (Parquet, CSV, JSON lines) with errors a user can act on."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd  # imported when a table is read: the App's workers classify paths without it

READERS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "json"}


class DataFileError(InvalidInput):
    """A data file that cannot be read as a table."""


def is_tabular(path: str | Path) -> bool:
    return Path(path).suffix.lower() in READERS


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a data file from disk."""
    p = Path(path)
    if not is_tabular(p):
        raise DataFileError(f"unsupported file type {p.suffix or '(none)'}; use .parquet, .csv or .jsonl")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read {p}: {exc.strerror}") from None
    return read_table_bytes(data, p.suffix)


def read_table_bytes(data: bytes, suffix: str) -> pd.DataFrame:
    """Read a table from bytes (for files taken from git revisions)."""
    kind = READERS.get(suffix.lower())
    if kind is None:
        raise DataFileError(f"unsupported file type {suffix or '(none)'}; use .parquet, .csv or .jsonl")
    import pandas as pd

    buf = io.BytesIO(data)
    try:
        if kind == "parquet":
            return pd.read_parquet(buf)
        if kind == "csv":
            return pd.read_csv(buf)
        if kind == "jsonl":
            return pd.read_json(buf, lines=True)
        return pd.read_json(buf)
    except Exception as exc:  # parsers raise many types; all mean "not a valid file"
        raise DataFileError(f"not a valid {kind} file: {type(exc).__name__}: {str(exc)[:200]}") from None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
