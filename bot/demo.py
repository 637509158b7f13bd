"""`mlgate demo`: the whole CI half of mlgate, offline, on an example project.

It copies `docs/examples/churn` into a directory, makes it a git repository, trains a
production model and registers it behind `@production` in a local MLflow store (SQLite),
commits a PR that retrains the model and refreshes the data, and runs `mlgate evaluate` as
CI would. The candidate is better overall and worse for APAC, so the gate fails: that is
what the demo shows.
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bot

MODEL = "churn-classifier"


def example_dir() -> Path:
    packaged = Path(bot.__file__).parent / "_examples" / "churn"
    return packaged if packaged.is_dir() else Path(bot.__file__).parent.parent / "docs" / "examples" / "churn"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, help="where to build the example project (default: a new temporary directory)")
    parser.add_argument("--quiet", action="store_true", help="print only the final verdict")


def _say(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"==> {msg}", flush=True)


def _git(root: Path, *args: str) -> str:
    res = subprocess.run(
        ["git", "-c", "user.name=mlgate demo", "-c", "user.email=demo@mlgate.invalid", *args],
        cwd=root, capture_output=True, text=True, check=True,
    )
    return res.stdout.strip()


def build_project(root: Path) -> dict[str, Any]:
    """The example repository with a base commit and a PR commit; returns their SHAs and helpers."""
    src = example_dir()
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"mlgate demo: {root} is not empty; pass an empty or new --dir")
    shutil.copytree(src, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    make_data = runpy.run_path(str(root / "make_data.py"))
    train = runpy.run_path(str(root / "train.py"))
    make_data["write"](root, seed=0, rows=20000)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "Churn model: baseline with support calls")
    base = _git(root, "rev-parse", "HEAD")
    return {"base": base, "make_data": make_data, "train": train}


def run(args: argparse.Namespace) -> int:
    from bot.cli_evaluate import EvaluateOptions, InputError, evaluate
    from bot.config import ConfigError
    from bot.registry import Registry
    from bot.render import render_terminal

    started = time.monotonic()
    quiet = args.quiet
    root = (args.dir or Path(tempfile.mkdtemp(prefix="mlgate-demo-"))).resolve()
    _say(f"building the example project in {root}", quiet)
    project = build_project(root)
    tracking = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = tracking
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    _say("training the production model and registering it as churn-classifier@production", quiet)
    registry = Registry(tracking)
    baseline_uri = project["train"]["train"](root / "data", "baseline", tracking)
    version = registry.register(baseline_uri, MODEL, {"mlgate.demo": "baseline"})
    registry.set_alias(MODEL, "production", version)

    _say("opening a PR: new features in train.py, refreshed training data", quiet)
    frame = project["make_data"]["make_frame"](22000, 3)
    frame.to_parquet(root / "data" / "train.parquet", index=False)
    train_py = root / "train.py"
    train_py.write_text(train_py.read_text().replace('default="candidate"', 'default="candidate"  # PR: new features'))
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "Retrain with contract length instead of support calls")
    candidate_uri = project["train"]["train"](root / "data", "candidate", tracking)

    _say("running `mlgate evaluate` as CI would", quiet)
    out = root / "mlgate-out"
    opts = EvaluateOptions(
        config=root / ".github" / "mlgate.yml",
        out=out / "report.json",
        markdown=out / "comment.md",
        html=out / "report.html",
        candidates={None: candidate_uri},
        base_rev=project["base"],
        root=root,
        tracking_uri=tracking,
        progress=not quiet and sys.stderr.isatty(),
        command=f"mlgate evaluate --config .github/mlgate.yml --candidate {candidate_uri} --base-rev {project['base'][:12]} --out report.json",
    )
    try:
        result = evaluate(opts)
    except (InputError, ConfigError) as exc:
        print(f"mlgate demo: the evaluation could not run: {exc}", file=sys.stderr)
        return 2
    decision = result.decision
    if not quiet:
        print()
        print(render_terminal(result.report, decision))
        print("-" * 72)
        print("The PR comment mlgate posts (Markdown):")
        print("-" * 72)
        print((out / "comment.md").read_text())
        print("-" * 72)
        for path in result.written:
            print(f"wrote {path}")
    elapsed = time.monotonic() - started
    if decision.outcome == "fail":
        print(f"\nThe gate FAILED, as this demo intends ({elapsed:.0f} s):")
        for reason in decision.reasons:
            print(f"  - {reason}")
        print("The candidate is better for most customers, but a reviewer must see and accept what it does to APAC.")
        return 0
    print(f"\nThe gate passed ({elapsed:.0f} s), which this demo did not expect: the APAC regression was not detected.")
    return 1
