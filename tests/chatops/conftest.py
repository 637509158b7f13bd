"""A whole repository for chat-ops tests: the shared GitHub stand-in, a real store and a real
MLflow registry (SQLite, or a tracking server), with every webhook the stand-in sends run
through the production dispatch (tests/harness.py)."""

from __future__ import annotations

import atexit
import copy
import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.context import Context, Event
from tests.harness import Harness

REPO = "acme/churn"
MODEL = "churn-classifier"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
BASE_CONFIG = (FIXTURES / "mlgate.yml").read_text()

# users by what they may do in acme/churn
USERS = {
    "alice": "write",  # the PR author
    "rita": "write",  # reviewer, in @acme/ml-reviewers
    "ria": "read",
    "tom": "triage",
    "wes": "write",
    "max": "maintain",
    "ada": "admin",
    "rel": "read",  # release owner by team: @acme/ml-release
}


@functools.cache
def skops_model_dir() -> Path:
    """An MLflow model directory as a PR's build workflow uploads it: sklearn saved with skops."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    root = Path(tempfile.mkdtemp(prefix="mlgate-candidate-"))
    atexit.register(shutil.rmtree, root, True)
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    mlflow.sklearn.save_model(LogisticRegression().fit(x, [0, 0, 1, 1]), str(root / "model"),
                              pip_requirements=["scikit-learn"])
    return root / "model"


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its schema migrated once (migrating costs seconds)."""
    from bot.mlflow import Registry

    root = tmp_path_factory.mktemp("mlflow-template")
    Registry(f"sqlite:///{root / 'mlflow.db'}")
    return root / "mlflow.db"


@dataclass
class World(Harness):
    """The harness with a token client on the repository, the store and the registry."""

    client: Any  # bot.github_client.GitHubClient
    store: Any
    registry: Any
    tracking_uri: str
    artifacts: Path
    experiment: str | None = None

    def context(self, event: Event) -> Context:
        return Context(event=event, github=self.client, store=self.store, registry_factory=lambda: self.registry)

    def deliver(self) -> None:
        """Run every webhook the stand-in has sent since the last call, in order; a job that still
        asks to be retried after the harness's attempts fails the test."""
        for outcome in self.run():
            if outcome.error is not None:
                raise outcome.error

    # ------------------------------------------------------------ registry

    def candidate(self) -> str:
        """A fresh MLflow run standing in for a trained candidate: runs:/<id>/model."""
        c = self.registry.client
        if self.experiment is None:
            self.experiment = c.create_experiment("candidates", artifact_location=str(self.artifacts))
        run = c.create_run(self.experiment)
        return f"runs:/{run.info.run_id}/model"

    def trusted_candidate(self, number: int, head: str, **tags: str) -> str:
        """What the trusted evaluation logs for a PR head (bot.mlflow's own code): a skops model and its
        provenance tags. `tags` overrides some, e.g. `**{"mlgate.repository": "other/repo"}`."""
        from bot.mlflow import LoadPolicy

        loaded = self.registry.load_candidate(skops_model_dir(), "binary", LoadPolicy())
        ref = self.registry.log_candidate(loaded, {
            "mlgate.repository": REPO, "mlgate.pr": str(number), "mlgate.head_sha": head,
            "mlgate.head_repository": REPO, "mlgate.model": MODEL, "mlgate.loaded_as": loaded.kind, **tags})
        return str(ref.uri)

    def tag_candidate(self, uri: str, tags: dict[str, str]) -> None:
        """Tags the trusted run writes from its runner (GITHUB_RUN_ID, the triggering run), on model and run."""
        c = self.registry.client
        model_id = uri.removeprefix("models:/")
        c.set_logged_model_tags(model_id, tags)
        run_id = c.get_logged_model(model_id).source_run_id
        for k, v in tags.items():
            c.set_tag(run_id, k, v)

    def production(self, version: str) -> None:
        self.registry.set_alias(MODEL, "production", version)

    def alias(self, alias: str = "production") -> str | None:
        return str(self.registry.alias_version(MODEL, alias) or "") or None

    # ------------------------------------------------------------ PR story

    def open_pr(self, *, author: str = "alice", files: dict[str, str] | None = None) -> dict[str, Any]:
        # model code only by default: a data change always needs a reviewer (the App's own file list
        # says so, whatever the report claims), so a passing evaluation alone makes both gates green
        pr = self.github.open_pull_request(REPO, files or {"train.py": "FEATURES = ['region']\n"}, author=author)
        self.deliver()
        return pr

    def head(self, number: int) -> str:
        return str(self.github.repos[REPO].pulls[number]["head_sha"])

    def evaluate(self, number: int, *, kind: str = "failing", candidate: str | None = None,
                 head: str | None = None, run_tags: dict[str, str] | None = None) -> dict[str, Any]:
        """The two-workflow evaluation of the PR's head, through the real handler: the PR's run builds the
        candidate; the trusted workflow_run evaluation logs it with provenance tags (unless `candidate`
        names another URI for the report) and uploads the report. `run_tags` overrides the run-id tags."""
        report = copy.deepcopy(json.loads((FIXTURES / f"{kind}.json").read_text()))
        sha = head or self.head(number)
        report["run"].update({"pr": number, "head_sha": sha})
        report["environment"]["code_sha"] = sha
        base = self.alias()
        uri = candidate or self.trusted_candidate(number, sha)
        for m in report["models"]:
            m["candidate"] = {"uri": uri, "version": None, "run_id": None}
            m["baseline"]["version"] = base or "1"
        ids = self.github.complete_trusted_evaluation(REPO, number, json.dumps(report).encode(), head_sha=sha)
        if candidate is None:  # the trusted run knows its own id and the triggering run's from its runner
            self.tag_candidate(uri, {"mlgate.trusted_run_id": str(ids["evaluate"]),
                                     "mlgate.triggering_run_id": str(ids["build"]), **(run_tags or {})})
        self.deliver()
        return report

    def comment(self, number: int, body: str, user: str) -> dict[str, Any]:
        c = self.github.comment(REPO, number, body, user=user)
        self.deliver()
        return c

    def replies_to(self, comment_id: int) -> list[str]:
        marker = f"<!-- mlgate:reply {comment_id}."
        return [c["body"] for c in self.github.comments(REPO, self._pr_of(comment_id)) if marker in c["body"]]

    def reply(self, comment_id: int) -> str:
        replies = self.replies_to(comment_id)
        assert len(replies) == 1, replies
        return replies[0]

    def _pr_of(self, comment_id: int) -> int:
        return int(self.github.repos[REPO].comments[comment_id]["issue"])

    def reactions(self, comment_id: int) -> list[str]:
        return list(self.github.reactions(REPO, comment_id))

    def check(self, sha: str, name: str) -> dict[str, Any] | None:
        runs = [c for c in self.github.check_runs(REPO, sha) if c["name"] == name]
        return runs[-1] if runs else None

    def audit(self, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.store.audit_records() if all(r.get(k) == v for k, v in match.items())]


def make_world(github: Any, tmp_path: Path, template: Path, config: str = BASE_CONFIG,
               store_url: str | None = None, tracking_uri: str | None = None) -> World:
    from bot.github_client import GitHubClient
    from bot.mlflow import Registry
    from bot.store import Store

    uri = tracking_uri
    if uri is None:
        shutil.copy(template, tmp_path / "mlflow.db")
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    store = Store(store_url or f"sqlite:///{tmp_path / 'mlgate.db'}")
    store.migrate()
    client = GitHubClient.from_token(github.create_token(REPO), REPO, github.base_url)
    # on SQLite, MLflow puts the artifacts of an experiment mlgate creates (mlgate-candidates,
    # mlgate) under ./mlruns of the working directory (the repository) unless told where
    registry = Registry(uri, artifact_location=str(tmp_path / "mlflow-artifacts")) if tracking_uri is None \
        else Registry(uri)
    world = World(github, client, store, registry, uri, tmp_path / "artifacts")
    github.set_webhook(sink=world.receive)
    for user, role in USERS.items():
        github.set_permission(REPO, user, role)
    github.add_team_member("acme", "ml-reviewers", "rita")
    github.add_team_member("acme", "ml-release", "rel")
    github.push(REPO, "main", {".github/mlgate.yml": config})
    # production is version 1, promoted before mlgate was installed
    v1 = world.registry.register(world.candidate(), MODEL)
    world.production(v1)
    return world


@pytest.fixture
def world(github: Any, tmp_path: Path, mlflow_template: Path) -> Iterator[World]:
    yield make_world(github, tmp_path, mlflow_template)


@pytest.fixture(params=["embedded", "scale-out"])
def world_on_each_store(request: pytest.FixtureRequest, github: Any, tmp_path: Path,
                        mlflow_template: Path) -> Iterator[World]:
    """The same world in both layouts: store and registry on SQLite; then the store on a real
    PostgreSQL database and the registry a real `mlflow server` backed by PostgreSQL."""
    if request.param == "embedded":
        yield make_world(github, tmp_path, mlflow_template)
        return
    from tests.backends import mlflow_server, postgres_database

    with postgres_database() as url, mlflow_server(tmp_path / "mlflow-artifacts") as tracking:
        w = make_world(github, tmp_path, mlflow_template, store_url=url, tracking_uri=tracking)
        yield w
        w.store.engine.dispose()
