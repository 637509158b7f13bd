"""Reading the report out of a workflow artifact: untrusted bytes, strict limits.

The artifact comes from a PR's own workflow, which may run a fork's code, so it is treated
as hostile. Before a byte is decompressed the zip's size, member count, member names and
types, and declared sizes are checked (no zip bombs, no path traversal, no links); the one
member that is read, `mlgate-report.json` at the top level, is then streamed with a hard cap
(a forged size header cannot inflate it) and validated against the report schema.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from typing import Any

from bot import report as report_io
from bot.errors import InvalidInput

REPORT_NAME = "mlgate-report.json"
MAX_ZIP_BYTES = 10 * 1024 * 1024  # the artifact as downloaded
MAX_MEMBERS = 10
MAX_TOTAL_UNCOMPRESSED = 64 * 1024 * 1024  # what all members claim to expand to
MAX_REPORT_BYTES = min(report_io.MAX_REPORT_BYTES, 20 * 1024 * 1024)
MAX_RATIO = 200  # JSON compresses well, but not this well unless it is a bomb
_CHUNK = 64 * 1024


class ArtifactError(InvalidInput):
    """An artifact mlgate will not read; the message is the reason, fit for a check run.

    `provenance`: when the report is valid JSON but not a valid report, its `provenance` object
    if that part alone is valid, so the trusted evaluation's failure can still be shown on the
    pull request it names (mlgate then checks that run through the Actions API, as always)."""

    def __init__(self, message: str, provenance: dict[str, Any] | None = None):
        super().__init__(message)
        self.provenance = provenance


def _check_name(name: str) -> None:
    shown = repr(name[:100])
    if not name or "\x00" in name:
        raise ArtifactError(f"the artifact has an unsafe file name {shown}")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in norm.split("/"):
        raise ArtifactError(f"the artifact has an unsafe file name {shown}")


def _check_member(m: zipfile.ZipInfo) -> None:
    _check_name(m.filename)
    mode = m.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ArtifactError(f"the artifact has a symbolic link {m.filename[:100]!r}")
    kind = stat.S_IFMT(mode)  # zero when the writer recorded permissions only
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        raise ArtifactError(f"the artifact has a special file {m.filename[:100]!r}")
    if m.flag_bits & 0x1:
        raise ArtifactError(f"the artifact has an encrypted file {m.filename[:100]!r}")


def _read_report(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    if member.file_size > MAX_REPORT_BYTES:
        raise ArtifactError(f"{REPORT_NAME} is {member.file_size:,} bytes; the limit is {MAX_REPORT_BYTES:,}")
    if member.compress_size and member.file_size / member.compress_size > MAX_RATIO:
        raise ArtifactError(
            f"{REPORT_NAME} expands {member.file_size // member.compress_size:,}x: refused as a zip bomb")
    out = bytearray()
    with zf.open(member) as fh:  # the zipfile module stops at the declared size and checks the CRC
        while chunk := fh.read(_CHUNK):
            out += chunk
            if len(out) > MAX_REPORT_BYTES:
                raise ArtifactError(f"{REPORT_NAME} is larger than {MAX_REPORT_BYTES:,} bytes")
    return bytes(out)


def _provenance(raw: bytes) -> dict[str, Any] | None:
    """The `provenance` object of report text that failed validation, when it alone is valid."""
    import json

    import jsonschema

    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    prov = obj.get("provenance") if isinstance(obj, dict) else None
    if not isinstance(prov, dict):
        return None
    sub = report_io.schema()["properties"]["provenance"]
    return prov if jsonschema.Draft202012Validator(sub).is_valid(prov) else None


def extract_report(data: bytes) -> dict[str, Any]:
    """The validated report inside an artifact zip; ArtifactError says why not."""
    if len(data) > MAX_ZIP_BYTES:
        raise ArtifactError(f"the artifact is {len(data):,} bytes; the limit is {MAX_ZIP_BYTES:,}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise ArtifactError("the artifact is not a zip file") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ArtifactError(f"the artifact has {len(members)} files; at most {MAX_MEMBERS} are read")
        for m in members:
            _check_member(m)
        total = sum(m.file_size for m in members)
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise ArtifactError(f"the artifact expands to {total:,} bytes; the limit is {MAX_TOTAL_UNCOMPRESSED:,}")
        reports = [m for m in members if m.filename == REPORT_NAME]
        if not reports:
            raise ArtifactError(f"the artifact has no {REPORT_NAME} at its top level")
        if len(reports) > 1:
            raise ArtifactError(f"the artifact has {len(reports)} files named {REPORT_NAME}; which one is meant?")
        try:
            raw = _read_report(zf, reports[0])
        except ArtifactError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError, OSError) as exc:
            raise ArtifactError(f"{REPORT_NAME} could not be decompressed ({type(exc).__name__})") from None
    try:
        return report_io.loads(raw)
    except report_io.ReportError as exc:
        raise ArtifactError(str(exc), _provenance(raw)) from None
    except RecursionError:
        raise ArtifactError(f"{REPORT_NAME} nests too deeply to be a report") from None
