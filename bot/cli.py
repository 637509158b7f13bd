"""The `mlgate` command line: one subcommand per use, each owned by its feature module.

Each module exposes `configure(parser)` and `run(args) -> int`; heavy imports (MLflow,
Flask) happen inside `run`, so `mlgate --help` stays fast.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import importlib
import logging
import os
import sys
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import NoReturn

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("bot.cli_evaluate", "score candidate and baseline on the holdout; write the report"),
    "action": ("bot.action", "run inside GitHub Actions: evaluate, write outputs and summary, post in token mode"),
    "render": ("bot.cli_render", "re-render a report as a PR comment, check summary or HTML"),
    "power": ("bot.cli_power", "how many holdout rows the gate needs to catch a drop of X in a metric"),
    "init": ("bot.cli_init", "write a starter .github/mlgate.yml and the two workflows from your holdout"),
    "demo": ("bot.demo", "run the offline demo: train, register, evaluate, print the PR comment"),
    "serve": ("bot.serve", "run the App's web server (development; use gunicorn in production)"),
    "worker": ("bot.worker", "run a queue worker"),
    "sandbox": ("bot.sandbox", "run the local GitHub stand-in"),
    "promote": ("bot.cli_release", "move a model alias to a candidate version (operator)"),
    "rollback": ("bot.cli_release", "move a model alias back (operator)"),
    "status": ("bot.cli_release", "show production versions and recent releases"),
    "audit": ("bot.cli_release", "export the audit log as CSV or JSON"),
    "monitor": ("bot.cli_monitor", "production drift and live quality from logged predictions; one issue per model"),
    "compare-live": ("bot.cli_monitor", "champion against challenger on logged traffic (shadow or split)"),
    "prune": ("bot.prune", "delete finished webhook deliveries older than N days (the audit log is kept)"),
    "setup": ("bot.setup_flow", "create the GitHub App from its manifest in one click and save its credentials"),
}


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `low`, or a usage error that says so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    """' (did you mean --x?)' for the closest option, or '' when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class SuggestingParser(argparse.ArgumentParser):
    """argparse that names the closest subcommand, choice or flag after a typo.

    Python 3.14's `suggest_on_error` does this for choices only; mlgate supports 3.11.
    """

    def _check_value(self, action: argparse.Action, value: object) -> None:
        choices = action.choices
        if choices is not None and value not in choices and isinstance(value, str):
            names = [str(c) for c in choices]
            raise argparse.ArgumentError(
                action,
                f"invalid choice: {value!r}{_did_you_mean(value, names)} (choose from {', '.join(names)})",
            )
        super()._check_value(action, value)

    def option_strings(self) -> list[str]:
        return [s for a in self._actions for s in a.option_strings]

    def subparser(self, name: str | None) -> SuggestingParser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                found = action.choices[name]
                return found if isinstance(found, SuggestingParser) else None
        return None

    def parse_args(self, args: list[str] | None = None, namespace: None = None) -> argparse.Namespace:  # type: ignore[override]
        argv = sys.argv[1:] if args is None else list(args)
        self._unknown_long_flags(argv)  # before argparse's "required" errors, which would hide a typo
        parsed, extras = self.parse_known_args(argv)
        if extras:
            owner = self.subparser(getattr(parsed, "command", None)) or self
            hints = "".join(_did_you_mean(e.split("=", 1)[0], owner.option_strings())
                            for e in extras if e.startswith("-"))
            owner.error(f"unrecognized arguments: {' '.join(extras)}{hints}")
        return parsed

    def _unknown_long_flags(self, argv: list[str]) -> None:
        """Name a mistyped --flag (with the closest one) even when a required option is also missing."""
        owner = self.subparser(argv[0]) if argv else None
        if owner is None or any(isinstance(a, argparse._SubParsersAction) for a in owner._actions):
            return  # nested subcommands: argparse's own check, after parsing
        known = owner.option_strings()
        for arg in argv[1:]:
            if arg == "--":
                return
            flag = arg.split("=", 1)[0]
            if flag.startswith("--") and not any(k.startswith(flag) for k in known):  # argparse allows prefixes
                owner.error(f"unrecognized arguments: {arg}{_did_you_mean(flag, known)}")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' to see every option.\n")


def version() -> str:
    """The installed distribution's version (`pip install` or `-e .`)."""
    try:
        return metadata.version("mlgate")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run pip install -e .)"


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; for a known subcommand only that one's module is imported (start-up time)."""
    parser = SuggestingParser(
        prog="mlgate", description="Evaluate, report on, gate and release ML models in pull requests."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}",
                        help="print mlgate's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    for name, (module, help_text) in SUBCOMMANDS.items():
        if chosen is not None and name != chosen:
            sub.add_parser(name, help=help_text)  # listed, not loaded
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue  # feature not installed in this build
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure = getattr(mod, f"configure_{name.replace('-', '_')}", None) or mod.configure
        configure(p)
        runner = getattr(mod, f"run_{name.replace('-', '_')}", None) or mod.run
        p.set_defaults(_run=runner)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("mlgate: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """The `mlgate` executable: `main`, then an exit that skips native libraries' teardown.

    pyarrow's thread pool can abort the interpreter's own teardown ("terminate called without
    an active exception", SIGABRT) after a Parquet read, turning exit code 2 into -6 now and
    then (apache/arrow#34314, seen in this project's CI). Everything Python owns is finished
    first: atexit handlers, logging, stdout and stderr; only the C++ destructors are skipped.
    """
    code = main()
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to deliver
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
