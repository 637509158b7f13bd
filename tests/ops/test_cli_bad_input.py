"""Operator commands given bad paths and numbers: one line that says what to do, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Store
from tests.render.cases import REPORTS


@pytest.fixture
def store_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mlgate.db'}"
    Store(url).migrate()
    return url


@pytest.mark.parametrize("where", ["a directory", "under a file"])
def test_audit_to_a_path_it_cannot_write(store_file: str, tmp_path: Path, where: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plain").write_text("x")
    target = tmp_path if where == "a directory" else tmp_path / "plain" / "a.csv"
    assert main(["audit", "--database-url", store_file, "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlgate audit: cannot write {target}: ") and "Traceback" not in err
    assert (tmp_path / "plain").read_text() == "x"


def test_audit_to_a_file_writes_it_whole_and_says_so(store_file: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "exports" / "audit.json"
    assert main(["audit", "--database-url", store_file, "--format", "json", "-o", str(out)]) == 0
    assert out.read_text() == "[]\n" and "wrote 0 records" in capsys.readouterr().err


def test_render_of_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(tmp_path)]) == 2
    assert "cannot read report" in capsys.readouterr().err


def test_evaluate_into_a_directory_stops_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = REPORTS / "mlgate.yml"
    assert main(["evaluate", "--config", str(config), "--predictions", "nope.parquet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path} is a directory; give a file path" in err
    assert "nope.parquet" not in err  # the output was checked first, before the inputs were read
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("argv", "says"), [
    (["worker", "--stale-after", "-5"], "--stale-after: must be between 0 and 86400 seconds"),
    (["worker", "--workers", "0"], "--workers: must be at least 1"),
    (["serve", "--port", "99999"], "--port: must be a TCP port from 1 to 65535"),
])
def test_numbers_that_cannot_work_are_usage_errors(argv: list[str], says: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and says in capsys.readouterr().err
