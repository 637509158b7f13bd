"""The composite action, run step by step by the local runner harness."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot import report as report_io
from bot.action import FORK_NOTE
from bot.config import parse_config
from bot.gate import decide
from tests.action.harness import STAND_INS, Harness

REPO_ROOT = Path(__file__).resolve().parents[2]
ACTION_DIR = REPO_ROOT / "actions" / "evaluate"
VENV_BIN = Path(sys.executable).parent
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "webhooks" / "pull_request"

CONFIG = """\
version: 1
paths:
  data: ["data/**"]
models:
  - name: churn
    task: binary
    holdout: data/holdout.parquet
    label: churned
    segments: [region]
    metrics:
      roc_auc: {max_drop: 0.005}
      accuracy: {informational: true}
    segment_policy: {min_rows: 200, max_drop: 0.02, fdr: 0.05}
    resamples: 200
"""


def _project(tmp_path: Path, *, regress: bool) -> Path:
    """A repository checkout with a holdout and precomputed scores for both models."""
    ws = tmp_path / "workspace"
    (ws / ".github").mkdir(parents=True)
    (ws / "data").mkdir()
    (ws / ".github" / "mlgate.yml").write_text(CONFIG)
    rng = np.random.default_rng(7)
    n = 4000
    region = rng.choice(["EU", "NA", "APAC"], size=n)
    y = rng.integers(0, 2, size=n)
    signal = y + rng.normal(0, 0.8, size=n)
    baseline = 1 / (1 + np.exp(-2 * (signal - 0.5)))
    noise = rng.normal(0, 0.8, size=n)
    cand_signal = y + noise
    if regress:  # the candidate is nearly blind for APAC
        apac = region == "APAC"
        cand_signal[apac] = y[apac] * 0.1 + rng.normal(0, 1.0, size=apac.sum())
    candidate = 1 / (1 + np.exp(-2 * (cand_signal - 0.5)))
    pd.DataFrame({"region": region, "churned": y}).to_parquet(ws / "data" / "holdout.parquet")
    pd.DataFrame({"candidate": candidate, "baseline": baseline}).to_parquet(ws / "scores.parquet")
    # a real checkout: the base commit, then the PR's commit that adds a data file
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=ws, check=True)
    subprocess.run([*git, "add", "."], cwd=ws, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=ws, check=True)
    pd.DataFrame({"region": ["EU"], "churned": [1]}).to_csv(ws / "data" / "extra.csv", index=False)
    subprocess.run([*git, "add", "."], cwd=ws, check=True)
    subprocess.run([*git, "commit", "-qm", "pr"], cwd=ws, check=True)
    return ws


def _base_sha(ws: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD~1"], cwd=ws, capture_output=True, text=True, check=True).stdout.strip()


def _pr_event(repo: str = "acme/churn", fork: bool = False, base_sha: str = "b" * 40) -> dict[str, Any]:
    files = sorted(FIXTURES.glob("opened*.json"))
    event = json.loads(files[0].read_text()) if files else {"action": "opened", "pull_request": {}}
    pr = event["pull_request"]
    pr["number"] = 7
    pr.setdefault("head", {})["sha"] = "a" * 40
    pr["head"].setdefault("repo", {})["full_name"] = "someone/churn" if fork else repo
    pr.setdefault("base", {})["sha"] = base_sha
    event["repository"] = {**event.get("repository", {}), "full_name": repo}
    return event


def _harness(ws: Path, event: dict[str, Any], api_url: str = "http://127.0.0.1:9") -> Harness:
    import os

    return Harness(
        action_dir=ACTION_DIR,
        workspace=ws,
        event_name="pull_request",
        event=event,
        repository="acme/churn",
        api_url=api_url,
        env={"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "MLFLOW_TRACKING_URI": ""},
        bin_dir=VENV_BIN,
    )


def _inputs(**extra: str) -> dict[str, str]:
    return {"predictions": "scores.parquet", "install": "false", **extra}


def test_app_mode_outputs_summary_and_artifact(tmp_path: Path) -> None:
    ws = _project(tmp_path, regress=True)
    res = _harness(ws, _pr_event(base_sha=_base_sha(ws))).run(_inputs())
    assert not res.failed, res.log
    report_path = Path(res.outputs["report-path"])
    report = report_io.load(report_path)
    expected = decide(report, parse_config(CONFIG))
    assert res.outputs["verdict"] == expected.outcome == "fail"
    assert res.outputs["comment-url"] == ""
    # the artifact is exactly what the App downloads: one member, the valid report
    with zipfile.ZipFile(io.BytesIO(res.artifacts["mlgate-report"])) as zf:
        assert zf.namelist() == ["mlgate-report.json"]
        assert report_io.loads(zf.read("mlgate-report.json")) == report
    assert report["run"]["pr"] == 7 and report["run"]["head_sha"] == "a" * 40
    assert "APAC" in res.summary
    # the data change of the PR's commit is in the report
    assert [(c["path"], c["status"], c["rows_after"]) for c in report["data"]["changes"]] == [
        ("data/extra.csv", "added", 1)
    ]
    # only the artifact upload was stood in (install: false skips setup-python and cache)
    assert res.stood_in == ["actions/upload-artifact@v4"]
    assert set(a.split("@")[0] for a in res.stood_in) <= set(STAND_INS)
    enforce = next(s for s in res.steps if s.name == "Enforce the gate")
    assert enforce.outcome == "skipped"


def test_fail_on_regression_fails_the_job_only_when_asked(tmp_path: Path) -> None:
    ws = _project(tmp_path, regress=True)
    res = _harness(ws, _pr_event()).run(_inputs(**{"fail-on-regression": "true"}))
    assert res.failed
    assert res.outputs["verdict"] == "fail"
    assert "::error title=mlgate::the gate failed" in res.log
    assert "mlgate-report" in res.artifacts  # uploaded before the gate step fails


def test_passing_change_passes(tmp_path: Path) -> None:
    ws = _project(tmp_path, regress=False)
    res = _harness(ws, _pr_event()).run(_inputs(**{"fail-on-regression": "true"}))
    assert not res.failed, res.log
    assert res.outputs["verdict"] == "pass"
    # the event's base commit is not in this checkout: a warning, not a failure
    assert "::warning title=mlgate::the PR's base commit is not in this checkout" in res.log
    # CONFIG sets two keys that do nothing since intervals became analytic: each is named on the config file
    for key in ("models[0].segment_policy.fdr (churn)", "models[0].resamples (churn)"):
        assert (f"::warning file=.github/mlgate.yml,title=mlgate::{key} is deprecated and has no effect since "
                "intervals became analytic") in res.log, res.log


def test_missing_config_fails_with_annotation_and_summary(tmp_path: Path) -> None:
    ws = _project(tmp_path, regress=False)
    (ws / ".github" / "mlgate.yml").unlink()
    res = _harness(ws, _pr_event()).run(_inputs())
    assert res.failed
    assert res.outputs["verdict"] == "error"
    assert "::error" in res.log and "mlgate.yml" in res.log and "not found" in res.log
    assert "could not evaluate" in res.summary
    assert "mlgate-report" not in res.artifacts  # no half report


def test_config_error_points_at_the_line(tmp_path: Path) -> None:
    ws = _project(tmp_path, regress=False)
    cfg = ws / ".github" / "mlgate.yml"
    cfg.write_text(cfg.read_text().replace("max_drop: 0.005", 'max_drop: "high"'))
    res = _harness(ws, _pr_event()).run(_inputs())
    assert res.failed
    assert "::error file=.github/mlgate.yml,line=11,title=mlgate::" in res.log
    assert "max\\_drop must be a number &gt;= 0" in res.summary  # escaped Markdown


def test_unreadable_model_fails_with_one_line_cause(tmp_path: Path) -> None:
    ws = _project(tmp_path, regress=False)
    (ws / "model").mkdir()
    (ws / "model" / "MLmodel").write_text("not: [a valid model")
    res = _harness(ws, _pr_event()).run(
        {"candidate": str(ws / "model"), "install": "false", "allow-missing-baseline": "true"}
    )
    assert res.failed
    assert res.outputs["verdict"] == "error"
    errors = [line for line in res.log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "model" in errors[0]


def test_token_mode_on_a_fork_writes_a_note_instead_of_failing(tmp_path: Path) -> None:
    ws = _project(tmp_path, regress=False)
    res = _harness(ws, _pr_event(fork=True)).run(
        _inputs(mode="token", **{"github-token": "ghs_readonly"})
    )
    assert not res.failed, res.log
    assert FORK_NOTE[:60] in res.summary
    assert res.outputs["comment-url"] == ""


def test_token_mode_posts_comment_and_check(tmp_path: Path, github: Any) -> None:
    ws = _project(tmp_path, regress=True)
    token = github.create_token("acme/churn")  # the workflow's GITHUB_TOKEN
    pr = github.open_pull_request("acme/churn", files={"data/holdout.parquet": "x"})
    event = _pr_event()
    event["pull_request"]["number"] = pr["number"]
    event["pull_request"]["head"]["sha"] = pr["head"]["sha"]
    h = _harness(ws, event, api_url=github.base_url)
    res = h.run(_inputs(mode="token", **{"github-token": token}))
    assert not res.failed, res.log
    comments = github.comments("acme/churn", pr["number"])
    assert len(comments) == 1 and "<!-- mlgate:report -->" in comments[0]["body"]
    assert res.outputs["comment-url"].endswith(f"#issuecomment-{comments[0]['id']}")
    checks = github.check_runs("acme/churn", pr["head"]["sha"])
    # the review gate too, as the App posts it (a regression needs review; nobody approved yet)
    assert [(c["name"], c["status"], c["conclusion"]) for c in checks] == [
        ("mlgate/evaluation", "completed", "failure"), ("mlgate/review", "in_progress", None)]
    # the App's plan for the same report and policy: the same check, the same report in the comment
    from bot.plan import EVALUATION, Evaluated, PullView, Remembered, plan, policy_notes

    report = json.loads(Path(res.outputs["report-path"]).read_text())
    config = parse_config(CONFIG)  # its deprecated keys are noted on the comment by both
    app = plan(Evaluated(report, decide(report, config), notes=tuple(policy_notes(config))), config, None,
               Remembered(), PullView(pr["number"], pr["head"]["sha"], "alice"))
    posted, planned = checks[0], app.check(EVALUATION)
    assert planned is not None
    assert (posted["output"]["title"], posted["output"]["summary"].strip()) == (planned.title, planned.summary.strip())
    assert planned.summary.strip() in res.summary  # the job summary says the same
    body = comments[0]["body"]
    assert app.section.strip() in body and "**Where this pull request stands**" in body
    assert "**Commands**" not in body  # token mode runs no commands
    assert "accepts the regression" in body  # an approval can accept it, as with the App
    # a second run edits the same comment
    res2 = h.run(_inputs(mode="token", **{"github-token": token}))
    assert not res2.failed
    assert len(github.comments("acme/churn", pr["number"])) == 1


def test_token_mode_with_a_bad_token_fails_and_says_why(tmp_path: Path, github: Any) -> None:
    ws = _project(tmp_path, regress=False)
    res = _harness(ws, _pr_event(), api_url=github.base_url).run(
        _inputs(mode="token", **{"github-token": "ghs_not_a_token"})
    )
    assert res.failed
    assert "could not post the comment" in res.summary
    assert res.outputs["verdict"] == "pass"  # the evaluation itself worked
