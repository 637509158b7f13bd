"""The runner of mlgate's trusted `workflow_run` evaluation, for tests that run `mlgate evaluate` in it.

`runner_env` writes the event file GitHub gives that job (a real @octokit/webhooks-examples
`workflow_run` payload, pointed at the PR's repository, head and run) and returns the GITHUB_*
variables. The stand-in's `complete_trusted_evaluation` picks the evaluation run's id itself, so
`retag` then writes the run ids onto the logged candidate, as the real job does from
GITHUB_RUN_ID and its event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fixtures.webhooks import load as load_webhook


def runner_env(tmp: Path, repo: str, head_sha: str, pr: int, *, triggering_run_id: int = 1,
               trusted_run_id: int = 1) -> dict[str, str]:
    event = load_webhook("workflow_run", "completed-3")
    wr = event["workflow_run"]
    wr.update({"id": triggering_run_id, "head_sha": head_sha, "event": "pull_request", "conclusion": "success"})
    wr["head_repository"]["full_name"] = repo
    wr["pull_requests"] = [{**wr["pull_requests"][0], "number": pr,
                            "head": {**wr["pull_requests"][0]["head"], "sha": head_sha}}]
    event["repository"]["full_name"] = repo
    path = tmp / "workflow_run-event.json"
    path.write_text(json.dumps(event))
    return {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": repo,
            "GITHUB_RUN_ID": str(trusted_run_id)}


def retag(registry: Any, uri: str, ids: dict[str, int]) -> None:
    """Set `mlgate.trusted_run_id` / `mlgate.triggering_run_id` of a logged candidate, on model and run."""
    tags = {"mlgate.trusted_run_id": str(ids["evaluate"]), "mlgate.triggering_run_id": str(ids["build"])}
    client = registry.client
    model_id = uri.removeprefix("models:/")
    client.set_logged_model_tags(model_id, tags)
    run_id = client.get_logged_model(model_id).source_run_id
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
