"""bot.artifacts against hostile zips: every one is refused with a reason, none is inflated."""

from __future__ import annotations

import io
import json
import stat
import struct
import zipfile
from collections.abc import Sequence

import pytest

from bot.artifacts import MAX_ZIP_BYTES, ArtifactError, extract_report
from tests.handlers.conftest import FAILING


def _zip(members: Sequence[tuple[zipfile.ZipInfo | str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return buf.getvalue()


def _info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def test_a_good_artifact_gives_the_validated_report() -> None:
    report = extract_report(_zip([("mlgate-report.json", FAILING), ("report.html", b"<html>")]))
    assert report["schema_version"] == 1 and report["models"][0]["name"] == "churn-classifier"


def test_regular_file_modes_are_fine() -> None:
    assert extract_report(_zip([(_info("mlgate-report.json", stat.S_IFREG | 0o644), FAILING)]))


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"not a zip at all", "not a zip file"),
        (b"", "not a zip file"),
        (b"PK\x03\x04" + b"\0" * 100, "not a zip file"),
        (b"\0" * (100 * 1024 * 1024), f"the limit is {MAX_ZIP_BYTES:,}"),  # 100 MB
        (_zip([("../x", b"1"), ("mlgate-report.json", FAILING)]), "unsafe file name '../x'"),
        (_zip([("a/../../x", b"1"), ("mlgate-report.json", FAILING)]), "unsafe file name"),
        (_zip([("/etc/passwd", b"1"), ("mlgate-report.json", FAILING)]), "unsafe file name '/etc/passwd'"),
        (_zip([("C:\\x", b"1"), ("mlgate-report.json", FAILING)]), "unsafe file name"),
        (_zip([("..\\..\\x", b"1"), ("mlgate-report.json", FAILING)]), "unsafe file name"),
        (_zip([(_info("mlgate-report.json", stat.S_IFLNK | 0o777), b"/etc/passwd")]), "symbolic link"),
        (_zip([(_info("fifo", stat.S_IFIFO | 0o644), b""), ("mlgate-report.json", FAILING)]), "special file"),
        (_zip([(f"f{i}", b"x") for i in range(11)]), "has 11 files; at most 10"),
        (_zip([(f"f{i}", b"x") for i in range(5000)]), "has 5000 files"),
        (_zip([("other.json", b"{}")]), "no mlgate-report.json at its top level"),
        (_zip([("sub/mlgate-report.json", FAILING)]), "no mlgate-report.json at its top level"),
        (_zip([("mlgate-report.json", b'{"schema_version": 2}')]), "report is invalid"),
        (_zip([("mlgate-report.json", b"{not json")]), "not valid JSON"),
        (_zip([("mlgate-report.json", b"[" * 100_000 + b"]" * 100_000)], zipfile.ZIP_STORED), "nests too deeply"),
        (_zip([("mlgate-report.json", json.dumps({"schema_version": 1, "models": "x"}).encode())]), "report is invalid"),
    ],
)
def test_hostile_artifacts_are_refused_with_the_reason(data: bytes, needle: str) -> None:
    with pytest.raises(ArtifactError) as info:
        extract_report(data)
    assert needle in str(info.value)


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    bomb = _zip([("mlgate-report.json", b"{" + b" " * 15_000_000 + b"}")])
    assert len(bomb) < 100_000
    with pytest.raises(ArtifactError, match="zip bomb"):
        extract_report(bomb)


def test_a_member_declaring_a_huge_size_is_refused() -> None:
    big = _zip([("mlgate-report.json", b"0" * (21 * 1024 * 1024))])
    with pytest.raises(ArtifactError, match="bytes; the limit is"):
        extract_report(big)
    total = _zip([(f"f{i}", b"\0" * 8_000_000) for i in range(9)] + [("mlgate-report.json", FAILING)])
    with pytest.raises(ArtifactError, match="expands to"):
        extract_report(total)


def test_a_forged_size_header_cannot_inflate_more_than_it_declares() -> None:
    # a member that declares its real compressed size but a tiny uncompressed size: zipfile
    # stops at the declared size and the CRC check fails, so the read is bounded
    data = bytearray(_zip([("mlgate-report.json", b" " * 5_000_000 + FAILING)]))
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        data[at + offset: at + offset + 4] = struct.pack("<I", 1000)
    with pytest.raises(ArtifactError, match="could not be decompressed"):
        extract_report(bytes(data))


def test_encrypted_and_corrupt_members_are_refused() -> None:
    data = bytearray(_zip([("mlgate-report.json", FAILING)]))
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(sig)
        data[at + offset] |= 0x1  # the "encrypted" flag
    with pytest.raises(ArtifactError, match="encrypted"):
        extract_report(bytes(data))
    good = _zip([("mlgate-report.json", FAILING)])
    at = good.find(b"PK\x03\x04") + 30 + len("mlgate-report.json")
    corrupt = good[:at + 10] + bytes(b ^ 0xFF for b in good[at + 10: at + 40]) + good[at + 40:]
    with pytest.raises(ArtifactError):
        extract_report(corrupt)


def test_two_reports_of_the_same_name_are_ambiguous() -> None:
    with pytest.warns(UserWarning):
        data = _zip([("mlgate-report.json", FAILING), ("mlgate-report.json", b"{}")])
    with pytest.raises(ArtifactError, match="2 files named mlgate-report.json"):
        extract_report(data)

