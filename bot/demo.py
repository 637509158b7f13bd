"""`mlgate demo`: the CI half of mlgate on an example project, offline, in well under a minute.

It builds `docs/examples/churn` into a git repository, trains a model and registers it as
`churn-classifier@production` in a local MLflow store (SQLite), then plays a pull request:
a commit that changes the model's features and refreshes the training data. It runs
`mlgate evaluate` exactly as CI would. The candidate is better overall and clearly worse
for APAC customers, so the gate fails: that is what the demo is for, and why it exits 0.
It also hides a regression no configured segment shows (new customers paying by invoice),
which slice discovery finds and confirms on rows its search never saw.
"""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import bot
from bot.demo_steps import step
from bot.errors import MlgateError

MODEL = "churn-classifier"
SEGMENT = ("region", "APAC")
HIDDEN = {"payment_method = invoice", "tenure_months < 28"}  # the slice make_data.py plants
DEMO_OK, DEMO_UNEXPECTED, DEMO_ERROR = 0, 1, 2


def example_dir() -> Path:
    """The example project: packaged in the wheel, or in the source tree."""
    packaged = Path(bot.__file__).parent / "_examples" / "churn"
    return (
        packaged
        if packaged.is_dir()
        else Path(bot.__file__).parent.parent / "docs" / "examples" / "churn"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        help="build the example project here, and keep it (default: a temporary directory)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary project directory")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo-out"),
        help="where to write report.json, comment.md and report.html (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the outcome")
    parser.add_argument(
        "--app",
        action="store_true",
        help="then play the PR through the App, with the local GitHub stand-in as GitHub",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="with --app: keep the stand-in, the App and its dashboard running and print the URLs (Ctrl-C ends)",
    )


class DemoError(MlgateError, RuntimeError):
    """The demo could not run as intended; the message says why."""


def _git(root: Path, *args: str) -> str:
    res = subprocess.run(
        [
            "git",
            "-c",
            "user.name=mlgate demo",
            "-c",
            "user.email=demo@mlgate.invalid",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise DemoError(f"git {' '.join(args)} failed in {root}: {res.stderr.strip()[:300]}")
    return res.stdout.strip()


@contextmanager
def _in_directory(path: Path) -> Iterator[None]:
    """Run inside the project, as a user would: MLflow keeps a sqlite store's artifacts under ./mlruns."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextmanager
def _command_line(argv: list[str]) -> Iterator[None]:
    """`mlgate evaluate` records the command line it was run with (sys.argv); in-process, that is this one."""
    saved = sys.argv
    sys.argv = argv
    try:
        yield
    finally:
        sys.argv = saved


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _quiet_libraries() -> None:
    """MLflow's INFO lines and pickle warnings would bury the story; errors still show."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


def train_model(root: Path, run_name: str) -> str:
    """Run the project's own train.py, as it is in the working tree now."""
    from threadpoolctl import threadpool_limits

    script = runpy.run_path(str(root / "train.py"), run_name="churn_train")
    # gradient boosting's OpenMP threads slow down ~10x on a busy machine (CI runners, shared
    # laptops); one thread takes about a second here
    with (
        open(os.devnull, "w") as devnull,
        redirect_stdout(devnull),
        threadpool_limits(1, user_api="openmp"),
    ):
        return str(script["train"](root / "data", run_name=run_name))


def build_project(root: Path) -> str:
    """Copy the example into `root`, generate its data and make the base commit; returns its SHA."""
    if root.exists() and any(root.iterdir()):
        raise DemoError(f"{root} is not empty; pass an empty or new --dir")
    shutil.copytree(
        example_dir(), root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    make_data = runpy.run_path(str(root / "make_data.py"), run_name="churn_make_data")
    make_data["write"](root, seed=0, rows=20000)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(
        root, "commit", "-qm", "Churn model: gradient boosting on tenure, charges and support calls"
    )
    return _git(root, "rev-parse", "HEAD")


def open_pull_request(root: Path) -> str:
    """The PR commit: swap support_calls for contract_months_left, refresh the training data."""
    make_data = runpy.run_path(str(root / "make_data.py"), run_name="churn_make_data")
    make_data["make_frame"](22000, 3).to_parquet(root / "data" / "train.parquet", index=False)
    train_py = root / "train.py"
    text = train_py.read_text("utf-8")
    old = '"monthly_charges", "support_calls"]'
    if old not in text:
        raise DemoError(f"{train_py} does not contain {old}; the example project changed")
    train_py.write_text(text.replace(old, '"monthly_charges", "contract_months_left"]'), "utf-8")
    _git(root, "add", "train.py", "data/train.parquet")
    _git(
        root,
        "commit",
        "-qm",
        "Replace support calls (costly to collect) with contract months left; refresh data",
    )
    return _git(root, "rev-parse", "HEAD")


def slice_line(found: dict[str, Any]) -> str:
    """A discovered slice in the demo's closing prose, its numbers written as the comment writes them."""
    from bot import numbers

    auc = next((m for m in found["metrics"] if m["name"] == "roc_auc"), None)
    fmt = numbers.metric_format("roc_auc")
    change = "" if auc is None or auc["delta"] is None else (
        f", roc_auc {fmt.delta(auc['delta'])} {fmt.ci(auc['ci_low'], auc['ci_high'])}")
    return f"{found['text']} ({numbers.count(found['rows'])} rows{change}, q{numbers.p_equals(found['q_value'])})"


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    quiet: bool = args.quiet

    def say(msg: str) -> None:
        if not quiet:
            print(f"==> {msg}", flush=True)

    temporary = args.dir is None
    root = (Path(tempfile.mkdtemp(prefix="mlgate-demo-")) if temporary else args.dir).resolve()
    out = args.out.resolve()
    try:
        if args.serve and not args.app:
            raise DemoError("--serve keeps the App running: use it with --app (mlgate demo --app --serve)")
        if args.app:
            _require_sandbox()  # before the minute of training, not after
        return _run(root, out, quiet, say, started, kept=not temporary or args.keep, app=args.app,
                    serve=args.serve)
    except DemoError as exc:
        print(f"mlgate demo: {exc}", file=sys.stderr)
        return DEMO_ERROR
    finally:
        if temporary and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif not quiet:
            print(f"The example project is kept in {root} (git log, mlflow.db).")


def _require_sandbox() -> None:
    """--app plays the PR on the GitHub stand-in, which needs the `sandbox` extra."""
    from bot.sandbox.openapi import ExtraMissing, require

    try:
        require()
    except ExtraMissing as exc:
        raise DemoError(f"--app: {exc}") from None


def _run(root: Path, out: Path, quiet: bool, say: Any, started: float, kept: bool, app: bool = False,
         serve: bool = False) -> int:
    from threadpoolctl import threadpool_limits

    from bot import report as report_io
    from bot.cli import main as mlgate
    from bot.config import load_config
    from bot.gate import decide
    from bot.mlflow import Registry, RegistryError
    from bot.render import render_terminal

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # read when mlflow is first imported
    with step(f"building the example project and its data in {root}", quiet):
        base = build_project(root)
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    env = {"MLFLOW_TRACKING_URI": tracking, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with _environment(env), _in_directory(root):
        try:
            with step(f"training the production model; registering it as {MODEL}@production "
                      f"(MLflow store {tracking})", quiet):
                registry = Registry(tracking)
                _quiet_libraries()  # after mlflow's import, which configures its loggers
                version = registry.register(
                    train_model(root, "production"), MODEL, {"mlgate.demo": "baseline"}
                )
                registry.set_alias(MODEL, "production", version)
        except RegistryError as exc:
            raise DemoError(str(exc)) from None

        with step("opening a PR: train.py drops support_calls for contract_months_left; data/train.parquet "
                  "refreshed", quiet):
            head = open_pull_request(root)
        with step("CI trains the candidate on the PR's head commit", quiet):
            candidate = train_model(root, "candidate")

        out.mkdir(parents=True, exist_ok=True)
        argv = [
            "evaluate",
            "--config",
            ".github/mlgate.yml",
            "--candidate",
            candidate,
            "--base-rev",
            base,
            "--out",
            str(out / "report.json"),
            "--markdown",
            str(out / "comment.md"),
            "--html",
            str(out / "report.html"),
        ]
        # the step's counter, never evaluate's bar: the bar covers the metrics (well under a second), not
        # loading, scoring, discovery and writing the report, so on a terminal ~20 s went by with nothing shown
        argv.append("--no-progress")
        with (
            step(f"running: mlgate evaluate --config .github/mlgate.yml --candidate {candidate} "
                 f"--base-rev {base[:12]} …", quiet),
            threadpool_limits(1, user_api="openmp"),  # scoring: see _train
            _command_line(["mlgate", *argv]),  # the report's "Reproduce" line names this command
        ):
            code = mlgate(argv)
        if code == 2:
            raise DemoError("mlgate evaluate could not run (see the error above)")
        report = report_io.load(out / "report.json")
        decision = decide(report, load_config(root / ".github" / "mlgate.yml"))

    if not quiet:
        print()
        print(render_terminal(report, decision))
        rule = "-" * 72
        print(f"{rule}\nThe PR comment mlgate posts and keeps up to date (Markdown):\n{rule}")
        print((out / "comment.md").read_text("utf-8"))
        print(rule)
        print(f"Open {out / 'report.html'} for the full report.")
        if kept:
            print(
                f"The evaluation of head commit {head[:12]} is also an MLflow run (experiment 'mlgate'):"
            )
            print(f"  mlflow ui --backend-store-uri {tracking}")
    elapsed = time.monotonic() - started
    flagged = [
        f
        for m in decision.models
        for f in m.segments
        if f.regressed and f.gated and (f.column, f.value) == SEGMENT
    ]
    if app:
        from bot.demo_app import play_pr_loop, print_pr

        changed: dict[str, str | bytes] = {"train.py": (root / "train.py").read_bytes(),
                                           "data/train.parquet": b"(binary)"}
        view = play_pr_loop(out / "report.json", (root / ".github" / "mlgate.yml").read_text("utf-8"), changed,
                            quiet=quiet, serve_until=threading.Event() if serve else None, tracking_uri=tracking)
        if not quiet and not serve:  # a served loop printed it before serving
            print_pr(view)
    hidden = [
        s for m in report["models"] for s in m.get("discovered_slices", [])
        if s["confirmed"] and {p["text"] for p in s["predicates"]} == HIDDEN
    ]
    if code == 1 and decision.outcome == "fail" and flagged and hidden:
        print(f"\nThe gate FAILED, which is what this demo intends ({elapsed:.0f} s). Why:")
        for reason in decision.reasons:
            print(f"  - {reason}")
        print(
            "The candidate is better overall, but much worse for APAC customers, where support calls predict "
            "churn.\nA single overall metric would have shipped it; mlgate holds the merge until a reviewer "
            "sees the regression and accepts it on purpose."
        )
        print(
            f"No configured segment covers the other regression, and mlgate found it anyway: {slice_line(hidden[0])}"
            ".\nIt searched half of the holdout and "
            "confirmed the slice on the other half; 'Slices mlgate found' in the comment lists it, and it needs "
            "a reviewer's approval (discovery.gate: review)."
        )
        return DEMO_OK
    missing = "region=APAC, the regression this demo plants" if not flagged else (
        "the slice payment_method = invoice and tenure_months < 28, which this demo plants")
    print(
        f"\nUnexpected ({elapsed:.0f} s): mlgate evaluate exited {code} with outcome {decision.outcome!r} "
        f"and did not flag {missing}. Please report this.",
        file=sys.stderr,
    )
    return DEMO_UNEXPECTED
