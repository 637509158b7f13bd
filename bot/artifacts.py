"""Reading the report out of a workflow artifact: untrusted bytes, strict limits.

The zip's size, member count, member names and uncompressed size are limited before a byte
is decompressed (no zip bombs, no path traversal); the one member must be
`mlgate-report.json`, which is then validated against the report schema.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from bot import report as report_io

REPORT_NAME = "mlgate-report.json"
MAX_ZIP_BYTES = 10 * 1024 * 1024
MAX_MEMBERS = 10
MAX_RATIO = 200


class ArtifactError(ValueError):
    """An artifact mlgate will not read, with the reason."""


def extract_report(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_ZIP_BYTES:
        raise ArtifactError(f"the artifact is {len(data):,} bytes; the limit is {MAX_ZIP_BYTES:,}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ArtifactError("the artifact is not a zip file") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ArtifactError(f"the artifact has {len(members)} files; at most {MAX_MEMBERS} are read")
        for m in members:
            name = m.filename
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name:
                raise ArtifactError(f"the artifact has an unsafe file name {name[:100]!r}")
            if (m.external_attr >> 16) & 0o170000 == 0o120000:
                raise ArtifactError(f"the artifact has a symbolic link {name[:100]!r}")
        report = next((m for m in members if m.filename == REPORT_NAME), None)
        if report is None:
            raise ArtifactError(f"the artifact has no {REPORT_NAME} at its top level")
        if report.file_size > report_io.MAX_REPORT_BYTES:
            raise ArtifactError(f"{REPORT_NAME} is {report.file_size:,} bytes; the limit is {report_io.MAX_REPORT_BYTES:,}")
        if report.compress_size and report.file_size / report.compress_size > MAX_RATIO:
            raise ArtifactError(f"{REPORT_NAME} expands {report.file_size // report.compress_size}x: refused as a zip bomb")
        with zf.open(report) as fh:
            raw = fh.read(report_io.MAX_REPORT_BYTES + 1)
    if len(raw) > report_io.MAX_REPORT_BYTES:
        raise ArtifactError(f"{REPORT_NAME} is larger than {report_io.MAX_REPORT_BYTES:,} bytes")
    try:
        return report_io.loads(raw)
    except report_io.ReportError as exc:
        raise ArtifactError(str(exc)) from None
