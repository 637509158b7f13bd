"""Rendering: golden files pin every output; facts and safety are asserted beyond them."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bot import render
from bot.config import Config, load_config
from bot.gate import decide
from bot.report import validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
GOLDEN = Path(__file__).parent / "golden"
CONFIG = load_config(FIXTURES / "mlgate.yml")


def _report(name: str) -> dict[str, Any]:
    return validate(json.loads((FIXTURES / f"{name}.json").read_text()))


def _hostile() -> dict[str, Any]:
    rep = _report("failing")
    m = rep["models"][0]
    m["segments"][0]["value"] = "<script>alert(1)</script> @acme/ml-reviewers a|b\nc ``` [x](javascript:alert(1)) </details>"
    m["segments"][1]["column"] = "| --- |"
    m["holdout"]["path"] = "data/<img src=x onerror=alert(1)>.parquet"
    rep["data"]["checks"].append({"file": "@octocat", "column": "x|y", "check": "isin(['<b>'])", "passed": False,
                                  "failures": 3, "examples": ["@everyone", "</td>", "```"]})
    return validate(rep)


def _huge() -> dict[str, Any]:
    rep = _report("failing")
    m = rep["models"][0]
    template = m["segments"][-1]
    m["segments"] = [
        {**copy.deepcopy(template), "column": "store_id", "value": f"store-{i:05d}"} for i in range(4000)
    ]
    rep["data"]["drift"] = [{**rep["data"]["drift"][0], "column": f"feature_{i}"} for i in range(1500)]
    return validate(rep)


CASES = {
    "failing": lambda: _report("failing"),
    "passing": lambda: _report("passing"),
    "hostile": _hostile,
}


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden {path}; run UPDATE_GOLDEN=1 pytest tests/render"
    assert text == path.read_text(), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("case", sorted(CASES))
def test_comment_golden(case: str) -> None:
    rep = CASES[case]()
    text = render.render_comment(rep, decide(rep, CONFIG), report_url="https://mlgate.example.com/reports/7")
    _check_golden(f"comment-{case}.md", text)


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_summary_golden(case: str) -> None:
    rep = CASES[case]()
    title, summary = render.render_check_summary(rep, decide(rep, CONFIG))
    _check_golden(f"summary-{case}.md", f"{title}\n\n{summary}")


def test_pending_golden() -> None:
    text = render.render_pending_comment(["churn-classifier"], ["this PR changes .github/mlgate.yml; the base branch's policy applies"])
    _check_golden("pending.md", text)
    assert text.startswith(render.MARKER)


def test_terminal_golden() -> None:
    rep = _report("failing")
    _check_golden("terminal-failing.txt", render.render_terminal(rep, decide(rep, CONFIG)))


def test_failing_comment_facts() -> None:
    rep = _report("failing")
    text = render.render_comment(rep, decide(rep, CONFIG))
    assert text.count(render.MARKER) == 1
    assert text.splitlines()[1] == "## " + render.HEADLINE["fail"]
    # the regressed segment comes before every other segment row in the full table
    details = text.split("<details><summary>All")[1]
    rows = [line for line in details.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert "region = APAC" in rows[0] and "❌ regressed" in rows[0]
    assert all("❌" not in r for r in rows[2:])
    assert "```mermaid\nxychart-beta" in text and "bar [-0.17" in text
    assert "data/train.parquet | modified | 40,000 → 42,113" in text
    for command, _ in render.COMMANDS:
        assert f"`{command}`" in text


def test_passing_comment_says_passed_without_regressions() -> None:
    rep = _report("passing")
    d = decide(rep, CONFIG)
    assert d.outcome == "pass"
    text = render.render_comment(rep, d)
    assert render.HEADLINE["pass"] in text and "❌" not in text


def test_notes_are_shown() -> None:
    rep = _report("passing")
    text = render.render_comment(rep, decide(rep, CONFIG), notes=["this PR changes .github/mlgate.yml"])
    assert "> **Note:** this PR changes .github/mlgate.yml" in text


def test_hostile_strings_are_inert() -> None:
    rep = _hostile()
    for text in (render.render_comment(rep, decide(rep, CONFIG)), render.render_check_summary(rep, decide(rep, CONFIG))[1]):
        assert "<script>" not in text and "<img" not in text and "</td>" not in text
        assert "@acme/ml-reviewers" not in text and "@everyone" not in text and "@octocat" not in text
        assert "@\u200bacme/ml-reviewers" in text
        assert "](javascript" not in text
        assert text.count("</details>") == text.count("<details>")
        assert text.count("```") % 2 == 0
        # every table row still has the right number of cells (no row broken by | or newlines)
        for line in text.splitlines():
            if line.startswith("| segment |"):
                width = len(re.findall(r"(?<!\\)\|", line))
            elif line.startswith("| region = "):
                assert len(re.findall(r"(?<!\\)\|", line)) == width


def test_hostile_html_is_escaped() -> None:
    rep = _hostile()
    html = render.render_html(rep, decide(rep, CONFIG))
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html
    assert "Content-Security-Policy" in html


def test_huge_report_is_cut_under_the_limit_with_a_note() -> None:
    rep = _huge()
    d = decide(rep, CONFIG)
    text = render.render_comment(rep, d, report_url="https://mlgate.example.com/reports/7")
    assert len(text) < render.MAX_COMMENT_CHARS
    assert re.search(r"> \d[\d,]* more table rows are not shown here: see the \[full report\]\(https://mlgate.example.com/reports/7\)", text)
    title, summary = render.render_check_summary(rep, d)
    assert len(summary) < render.MAX_SUMMARY_CHARS
    html = render.render_html(rep, d)
    assert html.count("store-0") >= 4000  # the HTML report keeps every row


def test_unsafe_report_url_is_dropped() -> None:
    rep = _report("passing")
    text = render.render_comment(rep, decide(rep, CONFIG), report_url="javascript:alert(1)")
    assert "javascript" not in text


def test_html_report_has_tables_chart_and_reproduction() -> None:
    rep = _report("failing")
    html = render.render_html(rep, decide(rep, CONFIG))
    assert "<svg" in html and "region=APAC" in html
    assert "class=\"bad\"" in html
    assert "mlgate evaluate --config" in html


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a|b", "a\\|b"),
        ("x\ny", "x y"),
        ("<b>", "&lt;b&gt;"),
        ("@team", "@\u200bteam"),
        ("models:/m@production", "models:/m@production"),
        ("*bold*", "\\*bold\\*"),
    ],
)
def test_escape_md(raw: str, expected: str) -> None:
    assert render.escape_md(raw) == expected


def test_policy_in_report_round_trips() -> None:
    rep = _report("failing")
    assert Config.model_validate(rep["policy"]) == CONFIG
