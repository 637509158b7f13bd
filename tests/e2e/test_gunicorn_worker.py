"""End to end with real processes: gunicorn (2 workers) + `mlgate worker`, the stand-in as GitHub,
in both layouts: SQLite store, queue and MLflow store; PostgreSQL, Redis and an `mlflow server`
on PostgreSQL.

- Open a PR touching data -> the evaluation workflow completes with a real report from
  `mlgate evaluate` -> one sticky comment with the tables and a completed check; push again ->
  the same comment is edited, not duplicated.
- The release story: CI trains and evaluates a real candidate against `@production` in the
  layout's registry -> a reviewer accepts the regression -> `/promote` moves the alias in that
  registry -> `/rollback` moves it back; the store's audit log and GitHub's deployments agree.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.backends import mlflow_server, postgres_database, redis_queue
from tests.mlflow_state import mlflow_uris
from tests.processes import app_processes, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
BIN = Path(sys.executable).parent




@pytest.fixture(params=["sqlite", "postgres+redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The embedded default, and the scale-out layout on real PostgreSQL, Redis and MLflow server."""
    if request.param == "sqlite":
        yield {"MLGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'mlgate.db'}",
               "MLGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
        return
    with postgres_database() as db, redis_queue() as (queue_url, name), \
            mlflow_server(tmp_path / "mlflow-artifacts") as tracking:
        yield {"MLGATE_DATABASE_URL": db, "MLGATE_QUEUE_URL": queue_url, "MLGATE_QUEUE_NAME": name,
               "MLFLOW_TRACKING_URI": tracking}


@pytest.fixture
def processes(github: Any, tmp_path: Path, backend: dict[str, str]) -> Iterator[dict[str, Any]]:
    with app_processes(github, tmp_path, backend) as procs:
        yield procs


def _report(tmp: Path) -> bytes:
    """A real report from `mlgate evaluate` on precomputed scores."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    n = 3000
    region = rng.choice(["EU", "NA", "APAC"], n)
    y = rng.integers(0, 2, n)
    base = 1 / (1 + np.exp(-2 * (y + rng.normal(0, 1, n) - 0.5)))
    cand = base.copy()
    apac = region == "APAC"
    cand[apac] = rng.random(apac.sum())
    work = tmp / "ci"
    (work / "data").mkdir(parents=True)
    (work / ".github").mkdir()
    pd.DataFrame({"region": region, "tenure_months": rng.integers(0, 70, n), "plan": "basic", "churned": y}) \
        .to_parquet(work / "data" / "holdout.parquet")
    pd.DataFrame({"candidate": cand, "baseline": base}).to_parquet(work / "scores.parquet")
    cfg = (FIXTURES / "reports" / "mlgate.yml").read_text().replace("  schema: data/schema.yml\n", "  files: []\n")
    (work / ".github" / "mlgate.yml").write_text(cfg)
    res = subprocess.run([str(BIN / "mlgate"), "evaluate", "--config", str(work / ".github/mlgate.yml"),
                          "--predictions", str(work / "scores.parquet"), "--out", str(work / "mlgate-report.json"),
                          "--resamples", "200", "--no-progress"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "MLFLOW_TRACKING_URI": ""})
    assert res.returncode == 1, res.stderr  # the APAC regression fails the gate
    return (work / "mlgate-report.json").read_bytes()


def test_pr_loop_through_gunicorn_and_a_worker_process(github: Any, processes: dict[str, Any]) -> None:
    config = (FIXTURES / "reports" / "mlgate.yml").read_text()
    github.push("acme/churn", "main", {".github/mlgate.yml": config})
    pr = github.open_pull_request("acme/churn", {"data/train.parquet": b"x"})
    n, head = pr["number"], pr["head"]["sha"]
    wait_for("the pending comment", lambda: len(github.comments("acme/churn", n)) == 1)
    first_id = github.comments("acme/churn", n)[0]["id"]

    report = _report(processes["tmp"])
    github.complete_trusted_evaluation("acme/churn", n, report)  # the PR's build run, then the trusted evaluation

    def evaluated() -> bool:
        runs = {c["name"]: c for c in github.check_runs("acme/churn", head)}
        return runs.get("mlgate/evaluation", {}).get("status") == "completed"

    wait_for("the evaluation check", evaluated)
    # bot.apply writes the checks first (they gate the merge), then the comment: wait for the edit too
    wait_for("the comment's verdict", lambda: "the gate failed" in github.comments("acme/churn", n)[0]["body"])
    (comment,) = github.comments("acme/churn", n)
    assert comment["id"] == first_id
    assert "the gate failed" in comment["body"] and "region = APAC" in comment["body"]
    assert "| metric | baseline | candidate |" in comment["body"]
    check = {c["name"]: c for c in github.check_runs("acme/churn", head)}["mlgate/evaluation"]
    assert check["conclusion"] == "failure" and check["details_url"].startswith(processes["url"])

    new_head = github.push_to_pull_request("acme/churn", n, {"data/train.parquet": b"y"})
    wait_for("the new head's check", lambda: bool(github.check_runs("acme/churn", new_head)))
    wait_for("the comment edit", lambda: "evaluation pending" in github.comments("acme/churn", n)[0]["body"])
    assert [c["id"] for c in github.comments("acme/churn", n)] == [first_id]

    metrics = requests.get(f"{processes['url']}/metrics", timeout=5).text
    assert 'mlgate_webhook_deliveries_total{event="pull_request",outcome="accepted"} 2.0' in metrics
    assert 'mlgate_jobs_total{event="workflow_run.completed",outcome="ok"} 2.0' in metrics  # build, evaluation


def test_release_loop_against_the_layouts_registry(github: Any, processes: dict[str, Any]) -> None:

    from bot import demo
    from bot.mlflow import Registry
    from bot.store import Store

    repo, env = "acme/churn", processes["env"]
    tracking = env["MLFLOW_TRACKING_URI"]
    registry = Registry(tracking)

    # the example project; production is version 1 in the layout's registry
    root = processes["tmp"] / "churn"
    base = demo.build_project(root)
    with mlflow_uris(tracking):  # train.py logs through MLflow's global URI; later tests keep theirs
        v1 = registry.register(demo.train_model(root, "production"), demo.MODEL)
        registry.set_alias(demo.MODEL, "production", v1)

        # the PR's commit in the example project
        demo.open_pull_request(root)

    # the same PR on GitHub
    github.push(repo, "main", {".github/mlgate.yml": (root / ".github" / "mlgate.yml").read_text()})
    github.add_team_member("acme", "ml-reviewers", "rita")
    github.add_team_member("acme", "ml-release", "rel")
    github.set_permission(repo, "rita", "write")
    github.set_permission(repo, "rel", "read")  # may promote by team, not by role
    pr = github.open_pull_request(repo, {"train.py": (root / "train.py").read_bytes(),
                                         "data/train.parquet": (root / "data" / "train.parquet").read_bytes()})
    n, head = pr["number"], pr["head"]["sha"]

    # CI, the trusted way: the PR's build run saves the candidate (skops, no secrets); the workflow_run
    # evaluation loads it without running it, logs it with provenance tags and scores it against @production
    from threadpoolctl import threadpool_limits

    from tests.trusted_ci import retag, runner_env

    with threadpool_limits(1, user_api="openmp"):
        runpy.run_path(str(root / "train.py"), run_name="churn_train")["save"](root / "data",
                                                                              processes["tmp"] / "candidate")
    out = processes["tmp"] / "mlgate-report.json"
    # the stand-in's commit SHAs are not git objects of the local example project: the PR's files are
    # read from the local commit that holds them (a runner would fetch the head SHA instead)
    res = subprocess.run([str(BIN / "mlgate"), "evaluate", "--config", ".github/mlgate.yml",
                          "--trusted-candidate-dir", str(processes["tmp"] / "candidate"), "--provenance-from-env",
                          "--base-rev", base, "--head-rev", "HEAD", "--out", str(out), "--resamples", "200", "--no-progress"],
                         cwd=root, capture_output=True, text=True, timeout=300,
                         env={**env, **runner_env(processes["tmp"], repo, head, n)})
    assert res.returncode == 1, res.stderr  # APAC regressed
    report = json.loads(out.read_text())
    candidate = report["models"][0]["candidate"]["uri"]
    assert candidate.startswith("models:/m-") and report["models"][0]["baseline"]["version"] == v1
    ids = github.complete_trusted_evaluation(repo, n, out.read_bytes())
    retag(registry, candidate, ids)  # the real job knows both run ids from its runner

    def conclusion(name: str) -> str | None:
        runs = [c for c in github.check_runs(repo, head) if c["name"] == name]
        return runs[-1]["conclusion"] if runs else None

    wait_for("the failed evaluation", lambda: conclusion("mlgate/evaluation") == "failure")
    github.review(repo, n, user="rita")  # accepts the APAC regression on purpose
    wait_for("the accepted regression", lambda: conclusion("mlgate/evaluation") == "success"
             and conclusion("mlgate/review") == "success")

    def reply_to(comment: dict[str, Any]) -> str:
        marker = f"<!-- mlgate:reply {comment['id']}."
        found = [c["body"] for c in github.comments(repo, n) if marker in c["body"]]
        return found[0] if found and github.reactions(repo, comment["id"])[-1:] != ["eyes"] else ""

    promote = github.comment(repo, n, "/promote", user="rel")
    wait_for("the /promote reply", lambda: bool(reply_to(promote)) and bool(github.reactions(repo, promote["id"])))
    wait_for("the final reaction", lambda: github.reactions(repo, promote["id"])[-1:] == ["rocket"])
    assert "promoted: version 1 → **version 2**" in reply_to(promote), reply_to(promote)
    assert Registry(tracking).alias_version(demo.MODEL, "production") == "2"  # a fresh client: the server's state

    rollback = github.comment(repo, n, "/rollback", user="rel")
    wait_for("the /rollback reaction", lambda: github.reactions(repo, rollback["id"])[-1:] == ["rocket"])
    assert "rolled back: version 2 → **version 1**" in reply_to(rollback)
    assert Registry(tracking).alias_version(demo.MODEL, "production") == "1"

    store = Store(env["MLGATE_DATABASE_URL"])
    rows = [(r["action"], r["result"], r["actor"], r["from_version"], r["to_version"], r["sha"])
            for r in store.audit_records() if r["action"] in ("promote", "rollback", "accept_regression")]
    assert ("promote", "success", "rel", "1", "2", head) in rows and ("rollback", "success", "rel", "2", "1", head) in rows
    deployments = github.deployments(repo)
    assert [(d["ref"], [s["state"] for s in d["statuses"]]) for d in deployments] == [(head, ["success"])] * 2
    store.engine.dispose()
