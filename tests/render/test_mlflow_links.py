"""Links into the MLflow UI (#14 item 4): only with the operator's setting, the host only from it,
every id from the (untrusted) report URL-quoted."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from bot import render
from bot.gate import decide
from bot.render.links import (
    evaluation_run,
    evaluation_run_url,
    model_links,
    model_version_url,
    report_links,
    run_url,
)
from bot.report import ReportError, validate
from bot.settings import SettingsError, mlflow_ui_url_from_env
from tests.render.cases import CASES, REPORT_URL
from tests.render.test_render import _case, _check_golden

UI = "https://mlflow.example.com"
EVAL_RUN = {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": "5"}  # the shapes MLflow gives
EVAL_URL = f"{UI}/#/experiments/5/runs/0123456789abcdef0123456789abcdef"
EVAL_LINK = f"[Evaluation run in MLflow]({EVAL_URL})"


def _with_experiment(report: dict[str, Any], exp: str = "17", evaluation: bool = True) -> dict[str, Any]:
    """The report as a trusted evaluation logged to MLflow writes it: the candidate's experiment,
    and the evaluation run it logged the report into (cli_evaluate)."""
    out = copy.deepcopy(report)
    for m in out["models"]:
        if m.get("candidate", {}).get("run_id"):
            m["candidate"]["experiment_id"] = exp
    if evaluation:
        out["evaluation_run"] = dict(EVAL_RUN)
    return validate(out)


def test_without_the_setting_the_comment_is_unchanged() -> None:
    report, decision = _case("passing")
    linked = _with_experiment(report)
    assert render.render_comment(linked, decision, report_url=REPORT_URL) == \
        render.render_comment(report, decision, report_url=REPORT_URL)
    assert "#/experiments/" not in render.render_comment(linked, decision, report_url=REPORT_URL, mlflow_ui=None)


def test_comment_golden_with_mlflow_links() -> None:
    report, decision = _case("passing")
    linked = _with_experiment(report)
    validate(linked)  # experiment_id is a schema field cli_evaluate writes
    text = render.render_comment(linked, decision, report_url=REPORT_URL, mlflow_ui=UI)
    _check_golden("comment-passing-mlflow-links.md", text)
    assert f"📄 [Full report]({REPORT_URL}) · 🧪 {EVAL_LINK}\n" in text
    name = linked["models"][0]["name"]
    run_id = linked["models"][0]["candidate"]["run_id"]
    assert f"([run]({UI}/#/experiments/17/runs/{run_id}))" in text
    version = linked["models"][0]["baseline"]["version"]
    assert f"[version {version}]({UI}/#/models/{name}/versions/{version})" in text


def test_no_experiment_id_no_run_link() -> None:
    """The run link needs the experiment: without it in the report it is left out, never guessed."""
    report, decision = _case("passing")
    text = render.render_comment(report, decision, mlflow_ui=UI)
    assert "#/experiments/" not in text
    assert "#/models/" in text  # the baseline's version needs only the model's name and version


@pytest.mark.parametrize("hostile", ['a)b"c', "javascript:alert(1)", "x y", "../../evil", "//evil.example/x",
                                     "https://evil.example/", "a#b?c", "\n)[x](javascript:1)"])
def test_hostile_ids_are_quoted_and_the_host_stays(hostile: str) -> None:
    rm = {"name": hostile, "candidate": {"uri": "runs:/x/model", "run_id": hostile, "experiment_id": hostile},
          "baseline": {"uri": "models:/x@production", "version": hostile}}
    links = model_links(UI, rm)
    for url in links.values():
        assert url is not None and url.startswith(UI + "/#/")
        tail = url[len(UI) + 3:]
        assert re.fullmatch(r"[A-Za-z0-9/%._~-]+", tail), url
        for ch in ' )"(\n':
            assert ch not in url
        assert tail.count("/") == 3  # experiments/E/runs/R or models/N/versions/V: no id adds a segment


def test_hostile_report_renders_safe_links() -> None:
    report, decision = _case("passing")
    bad = copy.deepcopy(report)
    bad["models"][0]["candidate"].update({"run_id": 'r)"x y', "experiment_id": "javascript:alert(1)"})
    bad["models"][0]["baseline"]["version"] = "1) [pwn](javascript:alert(1)"[:64]
    text = render.render_comment(bad, decide(bad, CASES["passing"][1]), mlflow_ui=UI)
    assert f"({UI}/#/experiments/javascript%3Aalert%281%29/runs/r%29%22x%20y)" in text
    assert "](javascript" not in text
    for link in re.findall(r"\]\((https?://[^)\s]*)\)", text):
        assert link.startswith((UI + "/#/", REPORT_URL)) or "mlflow" not in link


def test_link_builders_need_the_setting_and_the_ids() -> None:
    assert run_url(None, "1", "abc") is None
    assert run_url(UI, None, "abc") is None
    assert run_url(UI, "1", "") is None
    assert run_url(UI, "1", True) is None
    assert model_version_url(UI, "m", None) is None
    assert model_version_url(UI + "/", "m", 3) == f"{UI}/#/models/m/versions/3"


def test_setting_is_a_plain_http_url_without_a_trailing_slash() -> None:
    assert mlflow_ui_url_from_env({}) is None
    assert mlflow_ui_url_from_env({"MLGATE_MLFLOW_UI_URL": "https://mlflow.example.com:5000/ui/"}) == \
        "https://mlflow.example.com:5000/ui"
    for bad in ("javascript:alert(1)", "ftp://x", "https://x/a b", "https://x/#/y", "https://x/?a=1", "mlflow.example.com"):
        with pytest.raises(SettingsError, match="MLGATE_MLFLOW_UI_URL"):
            mlflow_ui_url_from_env({"MLGATE_MLFLOW_UI_URL": bad})


# ---------------------------------------------------------------- the evaluation run


def test_without_the_setting_no_evaluation_run_link_anywhere() -> None:
    """The report names its run, but without the setting nothing says so: no link, no stray words."""
    report, decision = _case("passing")
    linked = _with_experiment(report)
    plain = render.render_comment(report, decision, report_url=REPORT_URL)
    assert render.render_comment(linked, decision, report_url=REPORT_URL) == plain
    assert render.render_comment(linked, decision) == render.render_comment(report, decision)
    assert render.render_check_summary(linked, decision) == render.render_check_summary(report, decision)
    assert render.render_html(linked, decision, draw_plots=False) == render.render_html(report, decision,
                                                                                        draw_plots=False)
    assert "MLflow" not in render.render_check_summary(linked, decision)[1]


def test_comment_without_a_report_url_links_the_evaluation_run_alone() -> None:
    report, decision = _case("passing")
    text = render.render_comment(_with_experiment(report), decision, mlflow_ui=UI)
    assert f"\n🧪 {EVAL_LINK}\n" in text and "Full report" not in text


def test_check_summary_golden_with_mlflow_links() -> None:
    report, decision = _case("passing")
    title, summary = render.render_check_summary(_with_experiment(report), decision, mlflow_ui=UI)
    _check_golden("summary-passing-mlflow-links.md", f"{title}\n\n{summary}")
    assert f"🧪 {EVAL_LINK}\n" in summary
    assert f"([run]({UI}/#/experiments/17/runs/" in summary


def test_report_html_golden_with_mlflow_and_pr_links() -> None:
    report, decision = _case("passing")
    pr = "https://github.com/acme/churn/pull/7"
    html = render.render_html(_with_experiment(report), decision, draw_plots=False, mlflow_ui=UI, pr_url=pr)
    _check_golden("report-passing-mlflow-links.html", html)
    assert f'<a href="{pr}">Pull request</a> · <a href="{EVAL_URL}">Evaluation run in MLflow</a>' in html
    name, version = report["models"][0]["name"], report["models"][0]["baseline"]["version"]
    assert f'<a href="{UI}/#/models/{name}/versions/{version}">version {version}</a>' in html
    assert f'(<a href="{UI}/#/experiments/17/runs/' in html
    only_pr = render.render_html(report, decision, draw_plots=False, pr_url="javascript:alert(1)")
    assert "javascript" not in only_pr and "Pull request" not in only_pr  # not an http(s) URL: no link


HOSTILE_RUNS = [
    {"run_id": "0123456789abcdef0123456789abcdef\n", "experiment_id": "5"},  # `$` lets a newline through
    {"run_id": "0123456789ABCDEF0123456789ABCDEF", "experiment_id": "5"},
    {"run_id": "0123456789abcdef0123456789abcde", "experiment_id": "5"},
    {"run_id": "../../../evil.example/x#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "experiment_id": "5"},
    {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": "5/runs/x"},
    {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": "javascript:alert(1)"},
    {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": 5},
    {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": "-5"},
    {"run_id": "0123456789abcdef0123456789abcdef"},
    "0123456789abcdef0123456789abcdef",
]


@pytest.mark.parametrize("hostile", HOSTILE_RUNS)
def test_a_hostile_evaluation_run_is_no_link(hostile: object) -> None:
    """A report is untrusted: an evaluation run whose ids are not shaped as MLflow makes them
    gives no link and no words, even when the report skipped validation."""
    report, decision = _case("passing")
    bad = copy.deepcopy(report)
    bad["evaluation_run"] = hostile
    assert evaluation_run(bad) is None and evaluation_run_url(UI, bad) is None
    assert not [what for what, _ in report_links(UI, bad) if what == "evaluation run"]
    assert "Evaluation run" not in render.render_comment(bad, decision, report_url=REPORT_URL, mlflow_ui=UI)
    assert "Evaluation run" not in render.render_check_summary(bad, decision, mlflow_ui=UI)[1]
    assert "Evaluation run" not in render.render_html(bad, decision, draw_plots=False, mlflow_ui=UI)


@pytest.mark.parametrize("hostile", HOSTILE_RUNS)
def test_the_schema_refuses_a_misshapen_evaluation_run(hostile: object) -> None:
    """The App refuses such a report before anything reads it (a pattern's `$` would let a
    trailing newline through; the lengths do not)."""
    report, _ = _case("passing")
    bad = copy.deepcopy(report)
    bad["evaluation_run"] = hostile
    with pytest.raises(ReportError, match="evaluation_run"):
        validate(bad)


def test_report_links_name_each_model_when_there_are_several() -> None:
    report, _ = _case("multi")
    linked = _with_experiment(report)
    links = report_links(UI, linked)
    assert links[0] == ("evaluation run", EVAL_URL)
    names = [rm["name"] for rm in linked["models"]]
    whats = [what for what, _ in links[1:]]
    assert all(any(w.startswith(f"{n}: ") for w in whats) for n in names if len(names) > 1), whats
    assert report_links(None, linked) == []
    for odd in ({"models": 3}, {"models": "abc"}, {"models": [None, 1]}, {}):
        assert report_links(UI, odd) == []  # a stored report of another shape: no links, no error
