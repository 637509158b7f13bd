"""Rendering: golden files pin every output; facts, safety and size are asserted beyond them.

Regenerate the goldens after an intended change with `UPDATE_GOLDEN=1 pytest tests/render`
and read the diff before committing it.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import Any

import pytest

from bot import numbers, render
from bot.config import Config
from bot.gate import Decision, decide
from bot.numbers import metric_format
from bot.report import validate
from tests.render.cases import CASES, CHURN, GOLDEN, REPORT_URL, REPORTS, huge_report, load_report


@cache
def _case(name: str) -> tuple[dict[str, Any], Decision]:
    build, config = CASES[name]
    report = build()
    return report, decide(report, config)


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run UPDATE_GOLDEN=1 pytest tests/render"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


# ---------------------------------------------------------------- goldens


@pytest.mark.parametrize("case", sorted(CASES))
def test_comment_golden(case: str) -> None:
    report, decision = _case(case)
    _check_golden(f"comment-{case}.md", render.render_comment(report, decision, report_url=REPORT_URL))


def test_comment_golden_computed_by_the_prs_own_workflow() -> None:
    """`evaluation.trust: pull_request` (issue #11): the comment says whose workflow made the numbers."""
    report, decision = _case("passing")
    _check_golden("comment-passing-pr-workflow.md",
                  render.render_comment(report, decision, report_url=REPORT_URL, computed_by_pr=True))


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_summary_golden(case: str) -> None:
    report, decision = _case(case)
    title, summary = render.render_check_summary(report, decision)
    _check_golden(f"summary-{case}.md", f"{title}\n\n{summary}")


@pytest.mark.parametrize("case", ["failing", "multi", "first_model", "hostile"])
def test_terminal_golden(case: str) -> None:
    report, decision = _case(case)
    _check_golden(f"terminal-{case}.txt", render.render_terminal(report, decision))


@pytest.mark.parametrize("case", ["failing", "multi", "discovered"])
def test_html_golden(case: str) -> None:
    report, decision = _case(case)
    _check_golden(f"report-{case}.html", render.render_html(report, decision))


def test_pending_golden() -> None:
    text = render.render_pending_comment(
        ["churn-classifier", "@acme/ml <b>x</b>"],
        ["this PR changes .github/mlgate.yml; the policy of the base branch applies"],
    )
    _check_golden("pending.md", text)
    assert text.startswith(render.MARKER + "\n") and text.count(render.MARKER) == 1
    assert "evaluation pending" in text and "@\u200bacme/ml &lt;b&gt;x&lt;/b&gt;" in text


def test_fixtures_are_valid_reports_and_their_policy_round_trips() -> None:
    for name in ("passing", "failing"):
        report = load_report(REPORTS / f"{name}.json")
        assert Config.model_validate(report["policy"]) == CHURN
    for name in CASES:
        _case(name)  # every builder validates against the schema


# ---------------------------------------------------------------- facts of the comment


def _table_rows(text: str, after: str) -> list[str]:
    section = text.split(after, 1)[1]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("| ") and not line.startswith("| segment |"):
            rows.append(line)
        elif rows and not line.startswith("|"):
            break
    return rows


def test_failing_comment_facts() -> None:
    report, decision = _case("failing")
    assert decision.outcome == "fail"
    text = render.render_comment(report, decision)
    assert text.count(render.MARKER) == 1 and text.startswith(render.MARKER)
    assert text.splitlines()[1] == "## " + render.HEADLINE["fail"]
    assert "- churn-classifier: roc\\_auc on region=APAC dropped by more than 0.02 \\(1,572 rows, q &lt; 0.0001\\)" in text
    # the metric table: the metric's decimals (3, deltas 4), signed deltas, CI, verdict
    assert "| roc\\_auc | 0.784 | 0.778 | -0.0060 | [-0.0201, +0.0081] | ⚠️ inconclusive |" in text
    assert "| log\\_loss ↓ | 0.5883 | 0.5975 | +0.00915 | [-0.01309, +0.03139] | ℹ️ info |" in text
    assert "| log\\_loss ↓ |" in text
    # regressions first, at the top and in the full table
    for anchor in ("**Segments that regressed**", "<details><summary>All 10 segments"):
        rows = _table_rows(text, anchor)
        regressed = [i for i, r in enumerate(rows) if render.SEGMENT_REGRESSED in r]
        assert regressed == [0] and all("region = APAC" in rows[i] for i in regressed)
    assert len(_table_rows(text, "<details><summary>All 10 segments")) == 20
    chart = re.search(r"```text\n(.*?)```", text, re.S)
    assert chart and "**Δ roc\\_auc by segment**, bars from zero; ❌ marks a regression" in text
    apac = next(line for line in chart.group(1).splitlines() if line.startswith("region=APAC"))
    assert apac.endswith("-0.1713 ❌ regressed") and "█│ " in apac  # drawn left of the zero axis
    assert "✅ 3 of 3 data checks passed." in text
    assert "| data/train.parquet | modified | 40,000 → 42,113 | dddddddd → eeeeeeee |" in text
    assert "seed 0 · 95% intervals, paired and analytic (delta method, DeLong; no resampling)" in text
    assert "<pre>mlgate evaluate --config .github/mlgate.yml" in text
    commands = [line.split("`")[1] for line in text.rsplit("**Commands**", 1)[1].splitlines() if line.startswith("- `")]
    assert commands == ["/evaluate", "/status", "/help"]  # no /promote while red (tests/render/test_standalone_commands.py)
    assert "Full report" not in text  # no URL, no link


def test_passing_comment_has_no_regression() -> None:
    report, decision = _case("passing")
    assert decision.outcome == "pass" and not decision.inconclusive
    text = render.render_comment(report, decision)
    assert text.splitlines()[1] == "## " + render.HEADLINE["pass"]
    assert "❌" not in text and "**Segments that regressed**" not in text


def test_inconclusive_headline_lists_the_undecided_metrics() -> None:
    report, decision = _case("multi")
    assert decision.outcome == "pass" and decision.inconclusive
    text = render.render_comment(report, decision)
    assert text.splitlines()[1] == "## " + render.HEADLINE["inconclusive"]
    assert "⚠️ Too wide to decide: plan-recommender: macro\\_f1, accuracy." in text
    assert render.check_title(decision).startswith(render.CHECK_TITLE["inconclusive"])
    # both models, the regression model's lower-is-better chart and the drift warning
    assert "### plan-recommender" in text and "### ltv-forecaster" in text
    assert "**Δ rmse by segment**, bars from zero (lower is better, so a rise points left)" in text
    assert "| rmse ↓ | 60.40 | 51.71 | -8.68 | [-10.02, -7.35] | ✅ improved |" in text  # units: 4 digits
    assert "⚠️ Drift: 1 of 3 columns drifted" in text
    assert "| data/legacy\\_accounts.csv | deleted | 12,000 → – | b2b2b2b2 → – |" in text


def test_lower_is_better_segments_sort_worst_first() -> None:
    report, decision = _case("multi")
    ltv = next(m for m in render.build_view(report, decision)["models"] if "ltv" in m["name"])
    improvements = [r["improvement"] for r in ltv["segments"]]
    assert improvements == sorted(improvements)
    rmse = [r for r in ltv["segments"] if r["metric"] == "rmse"]
    assert all((r["delta"].startswith("-")) == (r["improvement"] > 0) for r in rmse)  # lower rmse = better


def test_first_model_without_baseline() -> None:
    report, decision = _case("first_model")
    text = render.render_comment(report, decision)
    assert "There is no baseline for this model yet" in text
    assert "| roc\\_auc | – | " in text and render.NO_BASELINE in text
    assert "```text" not in text  # no deltas, no chart
    assert "| segment | rows | metric | candidate |" in text
    assert render.render_terminal(report, decision)
    assert "(no baseline yet)" in render.render_html(report, decision)


def test_failed_data_check_shows_counts_and_examples() -> None:
    report = load_report(REPORTS / "failing.json")
    report["data"]["checks"][2] = {"file": "data/holdout.parquet", "column": "customer_id", "check": "unique",
                                   "passed": False, "failures": 12, "examples": ["C-1001", "C-1002", None]}
    decision = decide(report, CHURN)
    text = render.render_comment(report, decision)
    assert "❌ 2 of 3 data checks passed." in text
    assert "| data/holdout.parquet | customer\\_id | unique | 12 | C-1001, C-1002, (missing) |" in text
    assert "- 1 data check\\(s\\) failed" in text
    assert "data check failed" in render.check_title(decision)


def test_notes_and_report_link_and_no_commands() -> None:
    report, decision = _case("passing")
    text = render.render_comment(report, decision, report_url=REPORT_URL, commands=False,
                                 notes=["this PR changes .github/mlgate.yml; the policy of the base branch applies"])
    assert "> **Note:** this PR changes .github/mlgate.yml; the policy of the base branch applies" in text
    assert f"[Full report]({REPORT_URL})" in text
    assert "/promote" not in text


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://x.example/a) [y](javascript:1", "data:text/html,x",
                                 "https://evil.example/\n# heading"])
def test_unsafe_report_url_is_not_linked(url: str) -> None:
    report, decision = _case("passing")
    text = render.render_comment(report, decision, report_url=url)
    assert "javascript" not in text and "data:text" not in text and "evil" not in text


# ---------------------------------------------------------------- safety


HOSTILE_RAW = ["<script>", "<img", "</td>", "@acme/ml-reviewers", "@everyone", "@octocat", "](javascript",
               "![t]", "https://evil", "#1 ", "acme/other#2"]


def _cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


@pytest.mark.parametrize("kind", ["comment", "summary", "pending"])
def test_hostile_strings_are_inert_in_markdown(kind: str) -> None:
    report, decision = _case("hostile")
    if kind == "comment":
        text = render.render_comment(report, decision, report_url=REPORT_URL)
    elif kind == "summary":
        text = render.render_check_summary(report, decision)[1]
    else:
        text = render.render_pending_comment([m["name"] for m in report["models"]], [report["models"][0]["holdout"]["path"]])
    for raw in HOSTILE_RAW:
        assert raw not in text, raw
    assert "@\u200bacme/ml\\-reviewers" in text or "@\u200bacme/ml-reviewers" in text
    assert text.count(render.MARKER) == (0 if kind == "summary" else 1)
    assert text.count("<details>") == text.count("</details>")
    assert text.count("<pre>") == text.count("</pre>")
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert fences in ([], ["```text", "```"], ["```text", "```"] * 2)
    # every table row has as many cells as its header: nothing broke out of a cell
    width = None
    for line in text.splitlines():
        if line.startswith("|"):
            width = width or _cells(line)
            assert _cells(line) == width, line
        else:
            width = None
    # the chart's fence holds nothing that could close it, and no tag
    for block in re.findall(r"```text\n(.*?)```", text, re.S):
        assert "<" not in block.replace("< worse", "") and "`" not in block and "~" not in block


def test_hostile_strings_in_terminal_are_one_line_and_control_free() -> None:
    report, decision = _case("hostile")
    report = {**report, "environment": {**report["environment"], "command": "mlgate \x1b[2J\x1b]0;pwned\x07 x"}}
    text = render.render_terminal(report, decision)
    assert "\x1b" not in text and "\x07" not in text
    assert "a|b c" in text  # the newline inside the segment value became a space


def test_hostile_html_is_escaped() -> None:
    report, decision = _case("hostile")
    html = render.render_html(report, decision)
    assert "<script" not in html and "<img" not in html and "<!-- mlgate:report -->" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no external assets


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a|b", "a\\|b"),
        ("a|b\nc", "a\\|b c"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
        ("</details>", "&lt;/details&gt;"),
        ("@acme/ml-reviewers", "@\u200bacme/ml-reviewers"),
        ("cc @octocat, (@team)", "cc @\u200boctocat, \\(@\u200bteam\\)"),
        ("models:/m@production", "models:/m@production"),
        ("user@example.com", "user@example.com"),
        ("[x](javascript:alert(1))", "\\[x\\]\\(javascript:alert\\(1\\)\\)"),
        ("![t](https://evil.example/t.png)", "\\!\\[t\\]\\(https:\u200b//evil.example/t.png\\)"),
        ("```", "\\`\\`\\`"),
        ("*bold* _it_ ~s~", "\\*bold\\* \\_it\\_ \\~s\\~"),
        ("fixes #12", "fixes \\#\u200b12"),
        ("see www.evil.example", "see www\u200b.evil.example"),
        ("max_drop >= 0", "max\\_drop &gt;= 0"),
        ("\u202egnp.exe", " gnp.exe"),
        ("x" * 500, "x" * (render.MAX_CELL - 1) + "…"),
    ],
)
def test_escape_md(raw: str, expected: str) -> None:
    assert render.escape_md(raw) == expected


def test_escape_md_line_defuses_list_markers() -> None:
    assert render.escape_md_line("1. first") == "1\\. first"
    assert render.escape_md_line("- item") == "\\- item"
    assert render.escape_md_line("v1.2 - ok") == "v1.2 - ok"


def test_number_formatting() -> None:
    auc, loss, dollars = metric_format("roc_auc"), metric_format("log_loss"), metric_format("rmse", 159_312.4)
    assert auc.value(0.784213) == "0.784" and auc.value(0.7) == "0.700"  # fixed decimals, never ragged
    assert auc.delta(0.0012345) == "+0.0012" and auc.delta(-0.05591) == "-0.0559" and auc.delta(0.0) == "±0.0000"
    assert auc.ci(-0.02, 0.0081) == "[-0.0200, +0.0081]"
    assert loss.value(0.58834) == "0.5883" and loss.delta(0.009148) == "+0.00915"
    assert dollars.value(159_312.4) == "159,312" and dollars.delta(-5234.6) == "-5,235"  # not 1.593e+05
    assert metric_format("rmse", 60.4).value(51.712) == "51.71" and metric_format("mae", 0.0123).value(0.01) == "0.01000"
    assert auc.value(None) == "–" and auc.value(float("nan")) == "–"
    assert numbers.p_value(1.39e-25) == "< 0.0001" and numbers.p_value(0.0412) == "0.0412"
    assert numbers.p_equals(1.39e-25) == " < 0.0001" and numbers.p_equals(0.5) == "=0.5000"
    assert numbers.count(2487) == "2,487" and numbers.plain_number(5000.0) == "5,000"
    assert numbers.plain_number(1e-5) == "0.00001" and numbers.plain_number(0.02) == "0.02"
    for value in (1.39e-25, 1e-7, 1.593e5, 3.2e9):
        for text in (numbers.p_value(value), numbers.plain_number(value), dollars.value(value), auc.delta(value)):
            assert "e" not in text.lower(), text


def test_every_metric_the_engine_knows_has_its_decimals() -> None:
    from bot.evaluation.metrics import SPECS

    assert {name for task in SPECS.values() for name in task} <= set(numbers.METRIC_DECIMALS)


# ---------------------------------------------------------------- size


def test_huge_report_is_cut_under_the_limits_with_notes() -> None:
    report, decision = _case("huge")
    text = render.render_comment(report, decision, report_url=REPORT_URL)
    assert len(text) < render.MAX_COMMENT_CHARS
    assert text.count(render.MARKER) == 1 and text.count("<details>") == text.count("</details>")
    m = re.search(r"> ([\d,]+) more segments not shown — see the \[full report\]\(" + re.escape(REPORT_URL) + r"\)", text)
    assert m, "missing truncation note"
    shown = len({r.split(" | ")[0] for r in _table_rows(text, "<details><summary>All 5,000 segments")})
    assert shown + int(m.group(1).replace(",", "")) == 5000
    assert "more failing checks not shown" in text and "more drift rows not shown" in text
    assert "more changed files not shown" in text
    assert "region = APAC" in _table_rows(text, "**Segments that regressed**")[0]  # the regression survives the cut
    assert text.count("\n- ") < 60  # reasons are capped too

    title, summary = render.render_check_summary(report, decision)
    assert len(summary) < render.MAX_SUMMARY_CHARS
    assert "run `mlgate render REPORT --format html` for the full report" in summary

    html = render.render_html(report, decision)
    assert html.count("store_id = store-") == 2 * 4999  # the HTML report keeps every row


def test_long_strings_everywhere_still_fit() -> None:
    report = huge_report()
    for seg in report["models"][0]["segments"]:
        seg["value"] = seg["value"] + "|" + "@x/y " * 180
    report["environment"]["command"] = "mlgate " + "z" * 990
    decision = decide(report, CHURN)
    text = render.render_comment(report, decision, report_url=REPORT_URL, notes=["n" * 5000] * 3)
    assert len(text) < render.MAX_COMMENT_CHARS
    assert len(render.render_check_summary(report, decision)[1]) < render.MAX_SUMMARY_CHARS


def test_templates_dir_is_the_repo_templates_in_a_checkout() -> None:
    assert (render.templates_dir() / "comment.md.j2").is_file()


def test_a_report_too_large_for_any_table_falls_back_to_the_verdict_and_link() -> None:
    report = load_report(REPORTS / "failing.json")
    model = report["models"][0]
    comparison = model["metrics"][0]
    report["models"] = [
        {**model, "name": f"model-{i:02d}", "segments": [],
         "metrics": [{**comparison, "name": f"m{j:02d}_" + "x" * 58} for j in range(64)]}
        for i in range(20)
    ]
    report = validate(report)
    decision = decide(report, CHURN)
    text = render.render_comment(report, decision, report_url=REPORT_URL)
    assert len(text) < render.MAX_COMMENT_CHARS
    assert text.count(render.MARKER) == 1 and text.count("<details>") == text.count("</details>")
    assert f"This report is too large to show here: see the [full report]({REPORT_URL})." in text
    assert text.splitlines()[1] == "## " + render.HEADLINE["fail"]
