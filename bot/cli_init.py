"""`mlgate init`: a starter `.github/mlgate.yml` and the two trusted workflows for a repository.

It reads the holdout to guess what a newcomer would otherwise look up: the label column, the
task, and the low-cardinality categorical columns worth gating per segment. It never
overwrites a file unless asked (`--force`), and writes nothing when any target exists.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

CONFIG = Path(".github/mlgate.yml")
WORKFLOWS = ("mlgate-build.yml", "mlgate-evaluate.yml")
MAX_HOLDOUT_BYTES = 512 * 1024 * 1024  # inspected in memory; a bigger holdout is named explicitly
MAX_SEGMENT_VALUES = 20  # a categorical column with more distinct values is not a segment
MAX_SEGMENTS = 4
LABEL_NAMES = re.compile(r"^(label|target|y|class|outcome|churn(ed)?|is_.+|.+_label|.+_target)$", re.I)
HOLDOUT_NAMES = ("holdout", "test", "eval", "validation")
SUFFIXES = (".parquet", ".csv", ".jsonl")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--holdout", type=Path,
                        help="the labelled holdout file, relative to --dir (default: the first "
                             "data/*holdout*, *test* or *eval* .parquet/.csv/.jsonl)")
    parser.add_argument("--name", help="the registered model's name in MLflow (default: the directory's name)")
    parser.add_argument("--label", help="the label column (default: guessed from the holdout's columns)")
    parser.add_argument("--task", choices=("binary", "multiclass", "regression"),
                        help="the model's task (default: guessed from the label's values)")
    parser.add_argument("--dir", type=Path, default=Path("."), help="the repository's root (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")


class InitError(InvalidInput):
    """Something the user must fix before init can write anything."""


@dataclass(frozen=True)
class Guess:
    label: str
    label_why: str
    task: str
    task_why: str
    segments: list[str]
    rows: int
    columns: int


def find_holdout(root: Path) -> Path:
    candidates = sorted(p for p in root.glob("data/**/*") if p.suffix.lower() in SUFFIXES and p.is_file())
    for word in HOLDOUT_NAMES:
        for path in candidates:
            if word in path.stem.lower():
                return path.relative_to(root)
    raise InitError("no holdout found under data/ (a file named *holdout*, *test* or *eval*); "
                    "pass --holdout PATH")


def inspect(frame: pd.DataFrame, label: str | None, task: str | None) -> Guess:
    """Guesses from a holdout table: the label, the task and the segment columns."""
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    if len(frame) == 0 or not columns:
        raise InitError("the holdout has no rows; it must hold labelled rows")
    if label is not None:
        if label not in columns:
            raise InitError(f"--label {label!r} is not a column of the holdout ({', '.join(columns[:20])})")
        label_why = "given with --label"
    else:
        named = [c for c in columns if LABEL_NAMES.match(c)]
        label = named[0] if named else columns[-1]
        label_why = ("its name" if named else "the last column; pass --label if it is not") + \
            f" (columns: {', '.join(columns[:12])}{' …' if len(columns) > 12 else ''})"
    values = frame[label].dropna()
    distinct = int(values.nunique())
    if task is not None:
        task_why = "given with --task"
    elif distinct == 2:
        task, task_why = "binary", "two distinct values"
    elif distinct <= MAX_SEGMENT_VALUES and not pd.api.types.is_float_dtype(values):
        task, task_why = "multiclass", f"{distinct} distinct values"
    elif pd.api.types.is_numeric_dtype(values):
        task, task_why = "regression", f"numbers with {distinct:,} distinct values"
    else:
        raise InitError(f"cannot tell the task from label {label!r} ({distinct} distinct values); pass --task")
    segments = []
    for c in columns:
        col = frame[c]
        categorical = (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
                       or isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(col))
        if c != label and categorical and 2 <= col.nunique() <= MAX_SEGMENT_VALUES:
            segments.append(c)
    return Guess(label, label_why, task, task_why, segments[:MAX_SEGMENTS], len(frame), len(columns))


def _flow(items: list[str]) -> str:
    """A YAML flow list whose items are safe plain or quoted scalars."""
    import json

    return "[" + ", ".join(i if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", i) else json.dumps(i) for i in items) + "]"


METRICS = {
    "binary": [("roc_auc", "0.005"), ("f1", "0.01")],
    "multiclass": [("macro_f1", "0.01"), ("accuracy", "0.01")],
    "regression": [("rmse", "2%"), ("mae", "2%")],  # losses in the target's units: relative
}


def _render(template: str, **values: object) -> str:
    from bot.render.text import environment

    return environment().get_template(f"init/{template}").render(**values)


def _workflow_sources() -> dict[str, Path]:
    from bot.demo import example_dir

    src = example_dir() / ".github" / "workflows"
    return {w: src / w for w in WORKFLOWS}


def plan(root: Path, holdout: Path, name: str, guess: Guess) -> dict[Path, str]:
    """The files to write, relative to `root`, and their text."""
    from bot.config import parse_config

    model_paths = _flow([p for p in ("train.py", "src/**", "params.yaml") if (root / p.split("/")[0]).exists()]
                        or ["train.py", "src/**"])
    text = _render("mlgate.yml.j2", holdout=holdout.as_posix(), rows=f"{guess.rows:,}", columns=guess.columns,
                   name=name, task=guess.task, task_why=guess.task_why, label=guess.label,
                   label_why=guess.label_why, segments=_flow(guess.segments) if guess.segments else "",
                   metrics=METRICS[guess.task], segment_drop="5%" if guess.task == "regression" else "0.02",
                   model_paths=model_paths)
    parse_config(text, str(CONFIG))  # what init writes must load; a bug here is ours, not the user's
    files = {CONFIG: text}
    trigger = _flow(["data/**", *json_list(model_paths), CONFIG.as_posix()])
    for wf, src in _workflow_sources().items():
        # the example's build runs on its own paths (make_data.py); here, on this config's
        files[Path(".github/workflows") / wf] = EXAMPLE_TRIGGER.sub(f"    paths: {trigger}", src.read_text("utf-8"))
    return files


EXAMPLE_TRIGGER = re.compile(r"^    paths: \[.*\]$", re.M)


def json_list(flow: str) -> list[str]:
    """The items of a flow list written by `_flow`."""
    return [i.strip().strip('"') for i in flow.strip("[]").split(",") if i.strip()]


def run(args: argparse.Namespace) -> int:
    from bot.datafiles import DataFileError, read_table

    root: Path = args.dir.resolve()
    try:
        if not root.is_dir():
            raise InitError(f"{root} is not a directory")
        holdout = args.holdout or find_holdout(root)
        path = root / holdout
        if not path.is_file():
            raise InitError(f"holdout {holdout} does not exist under {root}")
        if path.stat().st_size > MAX_HOLDOUT_BYTES:
            raise InitError(f"holdout {holdout} is larger than {MAX_HOLDOUT_BYTES >> 20} MiB; "
                            "write the config by hand (docs/configuration.md)")
        try:
            frame = read_table(path)
        except DataFileError as exc:
            raise InitError(f"holdout {holdout}: {exc}") from None
        guess = inspect(frame, args.label, args.task)
        name = args.name or re.sub(r"[^A-Za-z0-9_.-]+", "-", root.name).strip("-") or "model"
        files = plan(root, holdout, name, guess)
        existing = [p.as_posix() for p in files if (root / p).exists()]
        if existing and not args.force:
            raise InitError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                            "nothing was written (pass --force to overwrite)")
    except InitError as exc:
        print(f"mlgate init: {exc}", file=sys.stderr)
        return 2
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")
    print(_render("next-steps.txt.j2", written=[p.as_posix() for p in files], label=guess.label,
                  task=guess.task, segments=", ".join(guess.segments), name=name), end="")
    return 0

