"""Report `mlgate-report.json` (schema version 1): validate, read and write it safely.

The report is untrusted input for the App: it is size-limited and validated against the
schema shipped in the package before anything reads it.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from bot.errors import InvalidInput

SCHEMA_VERSION = 1
MAX_REPORT_BYTES = 20 * 1024 * 1024


class ReportError(InvalidInput):
    """A report that is not valid: the message names the field and the problem."""


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of report version 1."""
    text = resources.files("bot").joinpath("schemas/report.v1.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema(), format_checker=cls.FORMAT_CHECKER)


def validate(report: Any) -> dict[str, Any]:
    """Return the report if it matches the schema; raise ReportError naming the first problem."""
    errors = sorted(_validator().iter_errors(report), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ReportError(f"report is invalid at {where}: {err.message[:300]}{more}")
    return report  # type: ignore[no-any-return]


def loads(data: bytes | str) -> dict[str, Any]:
    """Parse and validate report bytes from an untrusted source."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportError(f"report is {len(raw)} bytes; the limit is {MAX_REPORT_BYTES}")
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"report is not valid JSON: {exc}") from None
    return validate(obj)


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a report file."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ReportError(f"cannot read report {p}: {exc.strerror}") from None
    if size > MAX_REPORT_BYTES:
        raise ReportError(f"report {p} is {size} bytes; the limit is {MAX_REPORT_BYTES}")
    try:
        data = p.read_bytes()
    except OSError as exc:  # a directory, no permission
        raise ReportError(f"cannot read report {p}: {exc.strerror or exc}") from None
    return loads(data)


def write_atomic(path: str | Path, content: str | bytes, mode: int | None = None) -> None:
    """Write a file so that it appears complete or not at all.

    The file gets `mode`, or by default what open() gives (0666 less the umask, applied by the
    kernel: mkstemp's 0600 would surprise whoever reads a report a CI step wrote).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    tmp = p.parent / f".{p.name}.{secrets.token_hex(6)}"
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def dumps(report: dict[str, Any]) -> str:
    """The report file's text; the caller has validated the report (once is enough: 60 ms at 1M rows)."""
    return json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"
