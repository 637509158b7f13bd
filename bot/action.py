"""`mlgate action`: the body of the composite GitHub Action `actions/evaluate`.

Runs the evaluation inside the repository's own workflow, speaks the runner's file
protocols (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, `::error` annotations) and, in `token`
mode, posts the same sticky comment and check run the App would (as CML users expect).
It reads its inputs from `MLGATE_INPUT_*` variables that action.yml sets from `inputs.*`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from bot.config import Config, ConfigError
from bot.gate import Decision
from bot.plan import EVALUATION, Evaluated, PRUpdate, PullView, Remembered, plan
from bot.ports import GitHub
from bot.settings import mlflow_ui_url_from_env

CHECK_NAME = EVALUATION
FORK_NOTE = (
    "This pull request comes from a fork, so the workflow's token is read-only: mlgate did not "
    "post a comment or check run. The full result is in this job summary; install the mlgate App "
    "to get comments on fork PRs."
)
TOKEN_NOTE = (
    "mlgate could not post the comment or check run with the given token ({cause}). Check the "
    "github-token input and give the workflow `permissions: {{pull-requests: write, checks: "
    "write}}`, or use mode `app`."
)


@dataclass(frozen=True)
class ActionInputs:
    config: str
    candidate: str
    predictions: str
    baseline: str
    base_rev: str
    allow_missing_baseline: bool
    mode: str
    token: str
    report_dir: Path
    candidate_dir: Path | None = None  # trusted mode: where the PR-built candidate artifact was downloaded
    mlflow_ui_url: str | None = None  # mode token: the comment links runs and versions in this MLflow UI

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionInputs:
        def get(name: str, default: str = "") -> str:
            return env.get(f"MLGATE_INPUT_{name}", default).strip()

        mode = get("MODE", "app") or "app"
        if mode not in ("app", "token"):
            raise ValueError(f"input mode must be 'app' or 'token', got {mode!r}")
        temp = env.get("RUNNER_TEMP") or "."
        return cls(
            config=get("CONFIG", ".github/mlgate.yml") or ".github/mlgate.yml",
            candidate=get("CANDIDATE"),
            predictions=get("PREDICTIONS"),
            baseline=get("BASELINE"),
            base_rev=get("BASE_REV"),
            allow_missing_baseline=get("ALLOW_MISSING_BASELINE").lower() == "true",
            mode=mode,
            token=env.get("MLGATE_INPUT_GITHUB_TOKEN", ""),
            report_dir=Path(env.get("MLGATE_REPORT_DIR") or Path(temp) / "mlgate"),
            candidate_dir=(Path(env.get("MLGATE_CANDIDATE_DIR") or Path(temp) / "mlgate-candidate")
                           if get("CANDIDATE_ARTIFACT") else None),
            mlflow_ui_url=mlflow_ui_url_from_env(env, "MLGATE_INPUT_MLFLOW_UI_URL", "input mlflow-ui-url"),
        )


class Runner:
    """The runner's file protocols: step outputs, job summary, annotations."""

    def __init__(self, env: Mapping[str, str], log: TextIO = sys.stdout):
        self.env = env
        self.log = log

    def output(self, name: str, value: str) -> None:
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            print(f"{name}={value}", file=self.log)
            return
        delim = f"mlgate_{uuid.uuid4().hex}"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{name}<<{delim}\n{value}\n{delim}\n")

    def summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if not path:
            return
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(markdown.rstrip() + "\n")

    def annotate(self, level: str, message: str, file: str | None = None, line: int | None = None) -> None:
        props = []
        if file:
            props.append(f"file={_escape_property(file)}")
        if line:
            props.append(f"line={line}")
        props.append("title=mlgate")
        print(f"::{level} {','.join(props)}::{_escape_data(message)}", file=self.log, flush=True)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = "Run inside GitHub Actions (see actions/evaluate/action.yml); reads MLGATE_INPUT_*."


def run(args: argparse.Namespace) -> int:
    return execute(os.environ)


def execute(env: Mapping[str, str], log: TextIO = sys.stdout) -> int:
    """Evaluate, write outputs and the summary, post in token mode. Exit 2 on input errors."""
    from bot.cli_evaluate import (
        EvaluateOptions,
        InputError,
        _parse_candidates,
        evaluate,
        provenance_from_env,
        provenance_run,
        run_from_github_env,
    )

    runner = Runner(env, log)
    try:
        inputs = ActionInputs.from_env(env)
    except ValueError as exc:
        return _fail(runner, str(exc))
    workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
    event = _event(env)
    run_info = run_from_github_env(dict(env))
    provenance = None
    trusted_dirs: dict[str | None, Path] = {}
    if inputs.candidate_dir is not None:
        if inputs.candidate.strip() or inputs.predictions:
            return _fail(runner, "give candidate-artifact alone: it is the candidate (drop candidate and predictions)")
        if inputs.mode != "app":
            return _fail(runner, "candidate-artifact runs in a workflow_run workflow, which has no pull request "
                                 "to comment on: use mode app, where the mlgate App posts the result")
        try:
            provenance = provenance_from_env(dict(env))
        except InputError as exc:
            return _fail(runner, str(exc))
        run_info = provenance_run(provenance)
        trusted_dirs = candidate_dirs(inputs.candidate_dir)
    base_rev = inputs.base_rev or None
    event_base = ((event.get("pull_request") or {}).get("base") or {}).get("sha")
    if base_rev is None and event_base:
        if _commit_exists(workspace, event_base):
            base_rev = event_base
        else:
            runner.annotate(
                "warning",
                "the PR's base commit is not in this checkout, so data changes are not listed; "
                "use actions/checkout with fetch-depth: 0",
            )
    if base_rev is None and provenance is not None:
        base_rev = _trusted_base(workspace, provenance.head_sha, runner)
    report_path = inputs.report_dir / "mlgate-report.json"
    opts = EvaluateOptions(
        config=workspace / inputs.config,
        out=report_path,
        candidates=_parse_candidates([c for c in inputs.candidate.splitlines() if c.strip()]),
        predictions=str(workspace / inputs.predictions) if inputs.predictions else None,
        baseline_alias=inputs.baseline or None,
        allow_missing_baseline=inputs.allow_missing_baseline,
        base_rev=base_rev,
        root=workspace,
        tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
        progress=False,
        run=run_info,
        command="mlgate evaluate (GitHub Action)",
        trusted_dirs=trusted_dirs,
        provenance=provenance,
    )
    try:
        result = evaluate(opts)
    except ConfigError as exc:
        for fname, line, msg in exc.problems:
            runner.annotate("error", msg, file=inputs.config if fname == Path(inputs.config).name else fname, line=line)
        return _fail(runner, f"invalid config {inputs.config}: {exc.problems[0][2]}", annotate=False)
    except InputError as exc:
        return _fail(runner, str(exc))

    decision = result.decision
    for warning in result.config.unused_settings():  # deprecated keys, where the workflow's author looks
        runner.annotate("warning", warning, file=inputs.config)
    runner.output("verdict", decision.outcome)
    runner.output("report-path", str(report_path))
    try:
        gh = _token_client(inputs, env, event, runner) if inputs.mode == "token" else None
        # the App's plan, so both say the same; with the token, the reviews are read as the App reads them
        update = _plan(result.report, decision, result.config, event, inputs.mlflow_ui_url, github=gh)
        check = update.check(EVALUATION)
        assert check is not None  # a plan after an evaluation always completes the evaluation check
        runner.summary(check.summary)
        print(f"mlgate: {check.title}", file=log)
        if gh is not None:
            runner.output("comment-url", _post_with_token(update, gh, env, event) or "")
        elif inputs.mode == "token":
            runner.output("comment-url", "")
    except Exception as exc:
        from bot.github_client import GitHubError  # only token mode calls GitHub

        if not isinstance(exc, GitHubError):
            raise
        note = TOKEN_NOTE.format(cause=str(exc)[:200])
        runner.annotate("error", note)
        runner.summary(f"\n> {note}\n")
        return 2
    return 0


def candidate_dirs(root: Path) -> dict[str | None, Path]:
    """The downloaded candidate artifact: one MLflow model directory, or one per model named after it."""
    if (root / "MLmodel").is_file() or not root.is_dir():
        return {None: root}  # a missing directory gets its own clear error from the loader
    subdirs: dict[str | None, Path] = {p.name: p for p in sorted(root.iterdir())[:100] if (p / "MLmodel").is_file()}
    return subdirs or {None: root}


def _trusted_base(workspace: Path, head_sha: str, runner: Runner) -> str | None:
    """Where the PR branched from this checkout (the default branch), to list its data changes; the
    head commit is read from git's objects only. None, with a warning, when it was not fetched."""
    import subprocess

    if _commit_exists(workspace, head_sha):
        try:
            res = subprocess.run(["git", "merge-base", "HEAD", head_sha], cwd=workspace, capture_output=True,
                                 text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            res = None
        if res is not None and res.returncode == 0 and res.stdout.strip():
            return res.stdout.strip()
    runner.annotate(
        "warning",
        "the PR's head commit and its history are not in this checkout, so data changes are not listed; "
        "check out with fetch-depth: 0 and fetch the head commit (see docs/action.md)",
    )
    return None


def _commit_exists(workspace: Path, sha: str) -> bool:
    import subprocess

    try:
        res = subprocess.run(
            ["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=workspace, capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


def _fail(runner: Runner, message: str, annotate: bool = True) -> int:
    if annotate:
        runner.annotate("error", message)
    runner.output("verdict", "error")
    runner.summary(f"### ❌ mlgate could not evaluate this change\n\n{_md_line(message)}\n")
    print(f"mlgate: error: {message}", file=sys.stderr)
    return 2


def _md_line(text: str) -> str:
    from bot.render import escape_md

    return escape_md(text)


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _plan(report: dict[str, Any], decision: Decision, config: Config, event: dict[str, Any],
          mlflow_ui_url: str | None = None, github: GitHub | None = None) -> PRUpdate:
    """bot.plan as the App plans the head, for the Action: the same checks (the review gate
    included), the same comment, with no labels, no commands and nothing remembered. With
    `github` (token mode) the reviews are read as the App reads them (bot.apply.read_reviews)
    when the policy asks for review. A workflow's token cannot read team membership: when
    `review.approvers` names a team, no approval is counted and mlgate/review fails, saying why."""
    from bot.apply import read_reviews
    from bot.plan import Reviews, policy_notes, review_reasons

    pr = event.get("pull_request") or {}
    teams = tuple(a.strip() for a in config.review.approvers if a.strip().startswith("@") and "/" in a)
    reviews: Reviews | None = None
    if github is not None and int(pr.get("number") or 0) and review_reasons(decision, config):
        # with teams nobody can be counted: the review stays required, and the check and comment say why
        reviews = Reviews(()) if teams else read_reviews(github, int(pr["number"]),
                                                         str((pr.get("user") or {}).get("login") or ""), config)
    view = PullView(int(pr.get("number") or 0), str((pr.get("head") or {}).get("sha") or ""),
                    str((pr.get("user") or {}).get("login") or ""), app=False,
                    uncountable_teams=teams if github is not None and reviews is not None else ())
    evaluated = Evaluated(report, decision, notes=tuple(policy_notes(config)), mlflow_ui_url=mlflow_ui_url)
    return plan(evaluated, config, reviews, Remembered(), view)


def _token_client(inputs: ActionInputs, env: Mapping[str, str], event: dict[str, Any], runner: Runner) -> GitHub | None:
    """The client on the workflow's token, or None (with a note) when token mode cannot post here."""
    pr = event.get("pull_request") or {}
    repo = env.get("GITHUB_REPOSITORY", "")
    if not pr or not repo:
        runner.annotate("warning", "mode token needs a pull_request event; nothing was posted")
        return None
    head_repo = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
    if head_repo and head_repo != repo:
        runner.annotate("notice", FORK_NOTE)
        runner.summary(f"\n> {FORK_NOTE}\n")
        return None
    if not inputs.token:
        runner.annotate("warning", "mode token needs the github-token input; nothing was posted")
        runner.summary("\n> mode `token` needs the `github-token` input; nothing was posted.\n")
        return None
    from bot.github_client import GitHubClient

    api_url = env.get("GITHUB_API_URL", "https://api.github.com")
    return GitHubClient.from_token(inputs.token, repo, api_url)


def _post_with_token(update: PRUpdate, gh: GitHub, env: Mapping[str, str], event: dict[str, Any]) -> str | None:
    from bot.apply import NoMemory, apply

    pr = event.get("pull_request") or {}
    repo = env.get("GITHUB_REPOSITORY", "")
    if not update.head_sha:  # an event without the head: the commit the workflow runs on
        update = replace(update, head_sha=env.get("GITHUB_SHA", ""),
                         checks=tuple(replace(c, sha=env.get("GITHUB_SHA", "")) for c in update.checks))
    comment_id = apply(update, gh, NoMemory(), repo, lookup=True)
    html_base = env.get("GITHUB_SERVER_URL", "https://github.com")
    return f"{html_base}/{repo}/pull/{pr['number']}#issuecomment-{comment_id}"
