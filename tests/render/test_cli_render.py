"""`mlgate render REPORT`: every format, the embedded policy or --config, and bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import render
from bot.cli import main
from tests.render.cases import HERE, REPORTS


def test_comment_to_file_uses_the_embedded_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "comment.md"
    code = main(["render", str(REPORTS / "failing.json"), "--format", "comment", "--out", str(out),
                 "--report-url", "https://mlgate.example.com/r/1"])
    assert code == 0 and capsys.readouterr().out == ""
    text = out.read_text()
    assert text.count(render.MARKER) == 1 and render.HEADLINE["fail"] in text
    assert "[full report](https://mlgate.example.com/r/1)" in text.lower()
    assert not list(out.parent.glob(".comment.md.*"))  # atomic write leaves no temp file


@pytest.mark.parametrize(("fmt", "needle"), [
    ("terminal", "THE GATE FAILED"),
    ("summary", "# Gate failed: "),
    ("html", "<!doctype html>"),
])
def test_formats_to_stdout(fmt: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(REPORTS / "failing.json"), "--format", fmt]) == 0
    assert needle in capsys.readouterr().out


def test_config_overrides_the_embedded_policy(capsys: pytest.CaptureFixture[str]) -> None:
    # the multi report judged by the churn policy: its models are unknown there, so not gated
    assert main(["render", str(HERE / "multi.json"), "--config", str(REPORTS / "mlgate.yml")]) == 0
    out = capsys.readouterr().out
    assert "plan-recommender: not in the base branch's config" in out


def _bad(tmp_path: Path, content: str) -> str:
    p = tmp_path / "report.json"
    p.write_text(content)
    return str(p)


@pytest.mark.parametrize(("content", "cause"), [
    (None, "cannot read report"),
    ("{not json", "not valid JSON"),
    ('{"schema_version": 1}', "report is invalid"),
])
def test_unreadable_or_invalid_report_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              content: str | None, cause: str) -> None:
    path = str(tmp_path / "missing.json") if content is None else _bad(tmp_path, content)
    assert main(["render", path, "--format", "comment", "--out", str(tmp_path / "c.md")]) == 2
    err = capsys.readouterr().err
    assert cause in err and err.startswith("mlgate: error: ") and err.count("\n") == 1
    assert not (tmp_path / "c.md").exists()


def test_invalid_embedded_policy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = json.loads((REPORTS / "passing.json").read_text())
    report["policy"]["models"][0]["metrics"] = {"roc_auc": {"max_drop": "high"}}
    assert main(["render", _bad(tmp_path, json.dumps(report))]) == 2
    err = capsys.readouterr().err
    assert "embedded policy is not a valid config" in err and "pass --config" in err and err.count("\n") == 1


def test_bad_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "mlgate.yml"
    cfg.write_text("version: 1\nmodels: []\n")
    assert main(["render", str(REPORTS / "passing.json"), "--config", str(cfg)]) == 2
    assert "mlgate.yml" in capsys.readouterr().err
    assert main(["render", str(REPORTS / "passing.json"), "--config", str(tmp_path / "nope.yml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_rendered_files_get_the_permissions_open_would_give(tmp_path: Path) -> None:
    import os

    out = tmp_path / "comment.md"
    old = os.umask(0o027)
    try:
        assert main(["render", str(REPORTS / "failing.json"), "--out", str(out)]) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o640  # 0666 less the umask, not mkstemp's 0600


def test_a_reply_for_the_terminal_keeps_its_words_and_drops_markdown() -> None:
    md = ("🚀 **churn\\-classifier@production** promoted: version 1 → **version 2**, by @\u200bwes.\n\n"
          "| | before | after | Δ |\n|---|---|---|---|\n| version | 1 | 2 | |\n| `roc_auc` | 0.81 | 0.84 | +0.03 |\n\n"
          "Undo with `mlgate rollback churn-classifier --to 1`.\n\n⚠️ a &lt;warning&gt;.\n")
    text = render.markdown_to_terminal(md)
    lines = text.splitlines()
    assert lines[0] == "churn-classifier@production promoted: version 1 → version 2, by @wes."
    header = next(line for line in lines if "before" in line)
    row = next(line for line in lines if line.startswith("roc_auc"))
    assert row.split() == ["roc_auc", "0.81", "0.84", "+0.03"]  # the numbers as the reply gives them
    assert row.index("0.84") == header.index("after")  # in aligned columns
    assert "|" not in text and "**" not in text and "`" not in text and "\u200b" not in text
    assert "Undo with mlgate rollback churn-classifier --to 1." in lines and lines[-1] == "a <warning>."
