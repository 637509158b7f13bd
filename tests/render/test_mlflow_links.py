"""Links into the MLflow UI (#14 item 4): only with the operator's setting, the host only from it,
every id from the (untrusted) report URL-quoted."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from bot import render
from bot.gate import decide
from bot.render.links import model_links, model_version_url, run_url
from bot.report import validate
from bot.settings import SettingsError, mlflow_ui_url_from_env
from tests.render.cases import CASES, REPORT_URL
from tests.render.test_render import _case, _check_golden

UI = "https://mlflow.example.com"


def _with_experiment(report: dict[str, Any], exp: str = "17") -> dict[str, Any]:
    out = copy.deepcopy(report)
    for m in out["models"]:
        if m.get("candidate", {}).get("run_id"):
            m["candidate"]["experiment_id"] = exp
    return out


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
