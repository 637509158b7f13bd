"""End to end with real processes: gunicorn (2 workers) + `mlgate worker`, the stand-in as GitHub.

Open a PR touching data -> the evaluation workflow completes with a real report from
`mlgate evaluate` -> one sticky comment with the tables and a completed check; push again ->
the same comment is edited, not duplicated.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.sandbox.server import make_artifact_zip
from tests.backends import postgres_database, redis_queue
from tests.processes import free_port, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
BIN = Path(sys.executable).parent




@pytest.fixture(params=["sqlite", "postgres+redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The embedded default, and the scale-out layout on real PostgreSQL and Redis."""
    if request.param == "sqlite":
        yield {"MLGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'mlgate.db'}",
               "MLGATE_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
        return
    with postgres_database() as db, redis_queue() as (queue_url, name):
        yield {"MLGATE_DATABASE_URL": db, "MLGATE_QUEUE_URL": queue_url, "MLGATE_QUEUE_NAME": name}


@pytest.fixture
def processes(github: Any, tmp_path: Path, backend: dict[str, str]) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {
        **os.environ,
        "MLGATE_WEBHOOK_SECRET": github.webhook_secret,
        "MLGATE_APP_ID": str(github.app_id),
        "MLGATE_PRIVATE_KEY": github.private_key,
        "MLGATE_GITHUB_API_URL": github.base_url,
        **backend,
        "MLGATE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
    }
    (tmp_path / "prom").mkdir()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "worker")}  # noqa: SIM115
    web = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                            "bot.app:create_app()"], cwd=ROOT, env=env, stdout=logs["web"], stderr=subprocess.STDOUT)
    worker = subprocess.Popen([str(BIN / "mlgate"), "worker", "--workers", "2"], cwd=ROOT, env=env,
                              stdout=logs["worker"], stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("gunicorn", lambda: _healthy(url))
        github.set_webhook(url=f"{url}/webhook")
        yield {"url": url, "tmp": tmp_path, "web": web, "worker": worker}
    finally:
        for p in (web, worker):
            stop(p)
        for f in logs.values():
            f.close()


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


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
    github.complete_workflow_run("acme/churn", n, artifact=make_artifact_zip({"mlgate-report.json": report}))

    def evaluated() -> bool:
        runs = {c["name"]: c for c in github.check_runs("acme/churn", head)}
        return runs.get("mlgate/evaluation", {}).get("status") == "completed"

    wait_for("the evaluation check", evaluated)
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
    assert 'mlgate_jobs_total{event="workflow_run.completed",outcome="ok"} 1.0' in metrics
