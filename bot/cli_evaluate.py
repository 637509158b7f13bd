"""`mlgate evaluate`: score candidate and baseline on the holdout, check the data, write the report.

This is the CI half of mlgate. It glues the pure parts (evaluation, data checks, gate,
render) to the two I/O edges it needs here: data files and the MLflow registry. Exit
codes: 0 gate passed, 1 gate failed, 2 usage or input error (one-line cause on stderr).
Report files appear only when complete.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bot import power
from bot import report as report_io
from bot.config import CONFIG_PATH, Config, ConfigError, ModelConfig, load_config
from bot.errors import InvalidInput
from bot.gate import Decision, decide

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.evaluation import ComparisonResult
    from bot.evaluation.engines import Request, TableSource
    from bot.evaluation.engines.sql import SqlEngine
    from bot.mlflow import EvaluationRun, LoadedCandidate

EXIT_PASS, EXIT_FAIL, EXIT_INPUT = 0, 1, 2
PACKAGES = ("mlgate", "numpy", "pandas", "scipy", "scikit-learn", "mlflow", "pandera", "pyarrow")


class InputError(InvalidInput):
    """Bad input the user can fix: the message names the cause and the fix."""


MAX_EVENT_BYTES = 25 * 1024 * 1024  # GitHub's own limit for a webhook payload
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class Provenance:
    """Where a trusted evaluation's candidate came from, read from the `workflow_run` runner.

    `repository` is where this (trusted) workflow runs; `head_repository` is where the
    candidate's code lives (a fork for a fork's PR). The report's `provenance.repository`
    is the latter, the registry's `mlgate.repository` tag the former.
    """

    repository: str
    head_repository: str
    head_sha: str
    trusted_run_id: int
    triggering_run_id: int
    pr: int | None

    @property
    def from_this_repository(self) -> bool:
        """The head branch is in this repository, which only people with write permission can push."""
        return self.head_repository.lower() == self.repository.lower()

    def report(self) -> dict[str, Any]:
        return {"trusted_run_id": self.trusted_run_id, "triggering_run_id": self.triggering_run_id,
                "head_sha": self.head_sha, "repository": self.head_repository, "pr": self.pr}

    def tags(self) -> dict[str, str]:
        return {"mlgate.repository": self.repository, "mlgate.pr": str(self.pr or ""),
                "mlgate.head_sha": self.head_sha, "mlgate.trusted_run_id": str(self.trusted_run_id),
                "mlgate.triggering_run_id": str(self.triggering_run_id),
                "mlgate.head_repository": self.head_repository}


@dataclass
class EvaluateOptions:
    config: Path
    out: Path
    candidates: dict[str | None, str] = field(default_factory=dict)  # model name (None: only model) -> uri
    predictions: str | None = None  # a local path, or a URL the SQL engines read (s3://, gs://, ...)
    baseline_alias: str | None = None
    allow_missing_baseline: bool = False
    models: list[str] = field(default_factory=list)
    base_rev: str | None = None
    head_rev: str | None = None
    root: Path | None = None
    markdown: Path | None = None
    html: Path | None = None
    tracking_uri: str | None = None
    progress: bool = True
    seed: int | None = None
    resamples: int | None = None
    run: dict[str, Any] = field(default_factory=dict)
    command: str = ""
    # trusted mode: candidate model directories built by the PR's code, loaded without running it
    trusted_dirs: dict[str | None, Path] = field(default_factory=dict)
    provenance: Provenance | None = None
    engine: str = "auto"  # auto | numpy | duckdb | spark (bot.evaluation.engines)
    engine_memory: str | None = None
    id_column: str | None = None  # join --predictions by this key (else the config's `id`)


AUTO_ENGINE_BYTES = 2 * 1024**3  # a single holdout file larger than this goes to duckdb (when installed)


# ------------------------------------------------------------------ CLI wiring


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=CONFIG_PATH, help="policy file (default: %(default)s)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="[MODEL=]URI",
        help="candidate model: models:/…, runs:/… or a local path; MODEL= picks the config entry",
    )
    src.add_argument(
        "--trusted-candidate-dir",
        action="append",
        default=[],
        metavar="[MODEL=]DIR",
        help="trusted mode: an MLflow model directory built by the PR (an artifact); loaded without running "
        "its code (skops), scored, then logged to the registry with provenance tags",
    )
    src.add_argument(
        "--predictions",
        metavar="FILE",
        help="precomputed scores (CSV/Parquet) row-aligned with the holdout: column `candidate` "
        "(multiclass: `candidate:<class>`), optional `baseline` columns",
    )
    parser.add_argument("--baseline", metavar="ALIAS", help="registry alias of the baseline (default: config)")
    parser.add_argument(
        "--allow-missing-baseline",
        action="store_true",
        help="first model: report the candidate alone when the alias does not exist yet",
    )
    parser.add_argument("--model", action="append", default=[], help="evaluate only this model (repeatable)")
    parser.add_argument("--base-rev", metavar="REV", help="git revision to diff data files against")
    parser.add_argument("--head-rev", metavar="REV",
                        help="git revision holding the PR's files (default: HEAD, or the PR's head commit "
                             "with --provenance-from-env)")
    parser.add_argument("--root", metavar="DIR", help="repository root (default: found from --config)")
    parser.add_argument("--out", required=True, metavar="report.json",
                        help="write the report (JSON) here; it appears only when complete")
    parser.add_argument("--markdown", metavar="comment.md", help="also write the PR comment (Markdown) here")
    parser.add_argument("--html", metavar="report.html", help="also write the full HTML report here")
    parser.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--seed", type=int, help="override the config's bootstrap seed")
    parser.add_argument("--resamples", type=int,
                        help="no longer used: every interval is analytic (accepted so older workflows still run)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--engine", choices=["auto", "numpy", "duckdb", "spark"], default="auto",
                        help="evaluation engine (docs/scale.md): numpy in memory; duckdb out of core (Parquet "
                             "files, globs, directories); spark in a Spark job. auto: duckdb for a holdout "
                             "glob, directory, URL or file over 2 GB, else numpy")
    parser.add_argument("--engine-memory", metavar="SIZE", help="memory limit of the duckdb/spark engine, e.g. 4GB")
    parser.add_argument("--id", dest="id_column", metavar="COLUMN",
                        help="join --predictions to the holdout by this key column (default: the config's `id`)")
    parser.add_argument(
        "--provenance-from-env",
        action="store_true",
        help="trusted mode: read the repository, PR, head SHA and both run ids from the runner of a "
        "workflow_run workflow (GITHUB_* and the event file); required to make a candidate promotable",
    )


def _parse_candidates(values: list[str]) -> dict[str | None, str]:
    out: dict[str | None, str] = {}
    for v in values:
        name, sep, uri = v.partition("=")
        if sep and not re.match(r"^[a-z]+:/", v) and "/" not in name:
            out[name] = uri
        else:
            out[None] = v
    return out


def _parse_dirs(values: list[str]) -> dict[str | None, Path]:
    out: dict[str | None, Path] = {}
    for v in values:
        name, sep, path = v.partition("=")
        if sep and "/" not in name and not Path(v).exists():
            out[name] = Path(path)
        else:
            out[None] = Path(v)
    return out


def options_from_args(args: argparse.Namespace) -> EvaluateOptions:
    provenance = provenance_from_env(os.environ) if args.provenance_from_env else None
    if provenance is not None and not args.trusted_candidate_dir:
        raise InputError("--provenance-from-env goes with --trusted-candidate-dir (the candidate it describes)")
    run_info = run_from_github_env(os.environ)
    if provenance is not None:
        run_info = provenance_run(provenance)
    return EvaluateOptions(
        config=Path(args.config),
        out=Path(args.out),
        candidates=_parse_candidates(args.candidate),
        predictions=args.predictions or None,
        baseline_alias=args.baseline,
        allow_missing_baseline=args.allow_missing_baseline,
        models=list(args.model),
        base_rev=args.base_rev,
        head_rev=args.head_rev,
        root=Path(args.root) if args.root else None,
        markdown=Path(args.markdown) if args.markdown else None,
        html=Path(args.html) if args.html else None,
        tracking_uri=args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None,
        progress=not args.no_progress and sys.stderr.isatty(),
        seed=args.seed,
        resamples=args.resamples,
        run=run_info,
        command=_command_line(sys.argv[1:]),
        trusted_dirs=_parse_dirs(args.trusted_candidate_dir),
        provenance=provenance,
        engine=args.engine,
        engine_memory=args.engine_memory,
        id_column=args.id_column,
    )


def run(args: argparse.Namespace) -> int:
    try:
        opts = options_from_args(args)
        result = evaluate(opts)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"mlgate: config error: {line}", file=sys.stderr)
        return EXIT_INPUT
    except InputError as exc:
        print(f"mlgate: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    decision = result.decision
    if args.resamples is not None:
        print("mlgate: warning: --resamples is no longer used: every interval is analytic; remove the flag",
              file=sys.stderr)
    for unused in result.config.unused_settings():
        print(f"mlgate: warning: {unused}", file=sys.stderr)
    for path in result.written:
        print(f"mlgate: wrote {path}", file=sys.stderr)
    if decision.outcome == "fail":
        print("mlgate: gate failed: " + "; ".join(decision.reasons), file=sys.stderr)
        return EXIT_FAIL
    print("mlgate: gate passed", file=sys.stderr)
    return EXIT_PASS


# ------------------------------------------------------------------ the job


@dataclass
class EvaluateResult:
    report: dict[str, Any]
    decision: Decision
    config: Config
    written: list[Path]


def evaluate(opts: EvaluateOptions) -> EvaluateResult:
    """Run the whole evaluation; raise InputError/ConfigError for anything the user must fix."""
    _check_outputs(opts)  # before minutes of work, not after
    config = load_config(opts.config)
    root = (opts.root or _find_root(opts.config)).resolve()
    selected = _select_models(config, opts)
    registry = _registry(opts) if _needs_registry(opts) else None

    evaluated = [_evaluate_model(m, config, opts, root, registry) for m in selected]
    models = [body for body, _ in evaluated]
    for body, mc in zip(models, selected, strict=True):
        advice = power.advise(body, mc)  # the power advisor (docs/statistics.md)
        body["power"] = [a.to_dict() for a in advice]
        for warning in power.warnings(advice):
            print(f"mlgate: warning: {body['name']}: {warning}", file=sys.stderr)
    data = _data_section(config, root, opts)
    if opts.trusted_dirs:
        # logged only once everything else worked; the report then names what the registry holds
        _log_candidates(registry, [(body, loaded) for body, loaded in evaluated if loaded is not None], opts)
    first = selected[0]
    report: dict[str, Any] = {
        "schema_version": report_io.SCHEMA_VERSION,
        "mlgate_version": _version("mlgate"),
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run": {**opts.run, "base_rev": opts.base_rev},
        "environment": {
            "code_sha": opts.run.get("head_sha") or _git(root, "rev-parse", "HEAD"),
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "packages": {p: _version(p) for p in PACKAGES if _version(p) != "unknown"},
            "seed": opts.seed if opts.seed is not None else first.seed,
            "resamples": opts.resamples if opts.resamples is not None else first.resamples,
            "confidence": first.confidence,
            "command": opts.command or "mlgate evaluate",
        },
        "policy": config.to_policy(),
        "models": models,
        "data": data,
    }
    if opts.provenance is not None:
        report["provenance"] = opts.provenance.report()
    # the evaluation run is created first, so the report names it; never a store of our own making
    evaluation_run = _start_evaluation_run(registry, report) if registry is not None and opts.tracking_uri else None
    try:
        try:
            report_io.validate(report)
        except report_io.ReportError as exc:  # a bug on our side, not the user's
            raise InputError(f"internal error: the report does not match its schema: {exc}") from None
        decision = decide(report, config)
        written = _write_outputs(report, decision, opts, registry, evaluation_run)
    except BaseException:
        if evaluation_run is not None and registry is not None:  # no report names it: it must not stay half-made
            registry.discard_evaluation(evaluation_run)
        raise
    return EvaluateResult(report, decision, config, written)


def _find_root(config_path: Path) -> Path:
    p = config_path.resolve()
    if p.parent.name == ".github":
        return p.parent.parent
    top = _git(p.parent, "rev-parse", "--show-toplevel")
    return Path(top) if top else Path.cwd()


def _select_models(config: Config, opts: EvaluateOptions) -> list[ModelConfig]:
    try:
        names = opts.models or [n for n in [*opts.candidates, *opts.trusted_dirs] if n is not None]
        selected = [config.model(n) for n in dict.fromkeys(names)] if names else list(config.models)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    if None in opts.candidates and len(selected) > 1:
        raise InputError(
            "the config has several models; name the one --candidate is for, "
            f"e.g. --candidate {selected[0].name}=URI"
        )
    if None in opts.trusted_dirs and len(selected) > 1:
        raise InputError(
            "the config has several models; name the one --trusted-candidate-dir is for, "
            f"e.g. --trusted-candidate-dir {selected[0].name}=DIR"
        )
    if not opts.candidates and not opts.trusted_dirs and opts.predictions is None:
        raise InputError("give the candidate: --candidate MODEL_URI, --trusted-candidate-dir DIR or --predictions FILE")
    return selected


def _needs_registry(opts: EvaluateOptions) -> bool:
    return bool(opts.candidates) or bool(opts.trusted_dirs) or opts.tracking_uri is not None


_STORE_URI = re.compile(r"^(runs|models):/")


def _registry(opts: EvaluateOptions) -> Any:
    """The MLflow store to read from; without a tracking URI, only local model directories load.

    MLflow would otherwise fall back to a store of its own in the working directory (an
    empty `mlflow.db`), and a `runs:/` candidate would then look like corrupt model files.
    """
    from bot.mlflow import Registry, RegistryError

    if opts.tracking_uri is None:
        from_store = [u for u in opts.candidates.values() if _STORE_URI.match(u)]
        if from_store or opts.trusted_dirs:
            what = f"--candidate {from_store[0]}" if from_store else "--trusted-candidate-dir"
            raise InputError(
                f"{what} needs the MLflow tracking server (or store) that holds the models, and none is "
                "set: export MLFLOW_TRACKING_URI=... or pass --tracking-uri (mlgate never creates a store)"
            )
    try:
        return Registry(opts.tracking_uri, existing=True)  # a missing SQLite file is refused, not created
    except RegistryError as exc:
        raise InputError(str(exc)) from None


def _read_table(path: Path, what: str) -> pd.DataFrame:
    from bot.datafiles import DataFileError, read_table

    if not path.exists():
        where = ("the --predictions path" if what == "predictions"
                 else "the path in the config (relative to the repository root)")
        raise InputError(f"{what} {path} does not exist; check {where}")
    try:
        return read_table(path)
    except DataFileError as exc:
        raise InputError(f"{what} {path}: {exc}") from None


def _evaluate_model(
    mc: ModelConfig, config: Config, opts: EvaluateOptions, root: Path, registry: Any
) -> tuple[dict[str, Any], LoadedCandidate | None]:
    """The report's entry for one model, and the trusted-mode candidate to log (else None)."""
    from bot.datafiles import sha256_file
    from bot.evaluation import EvaluationError, compare_models
    from bot.render.plots import curve_data

    engine = _engine_for(mc, opts, root)
    key = opts.id_column or mc.id
    if engine != "numpy" or (key is not None and opts.predictions is not None):
        return _evaluate_on_engine(mc, opts, root, engine, key), None
    holdout_path = root / mc.holdout
    frame = _read_table(holdout_path, "holdout")
    if len(frame) == 0:
        raise InputError(f"holdout {mc.holdout} has no rows; the evaluation needs labelled rows")
    if mc.label not in frame.columns:
        raise InputError(
            f"label column {mc.label!r} is not in holdout {mc.holdout} "
            f"(columns: {', '.join(map(str, frame.columns[:20]))}); fix models[].label"
        )
    features = frame.drop(columns=[mc.label])
    classes = sorted(pd.unique(frame[mc.label].dropna()).tolist()) if mc.task == "multiclass" else None

    cand_ref: dict[str, Any]
    base_ref: dict[str, Any] | None
    baseline_scores: np.ndarray | None = None
    loaded: LoadedCandidate | None = None
    if opts.trusted_dirs:
        directory = opts.trusted_dirs.get(mc.name) or opts.trusted_dirs.get(None)
        if directory is None:
            raise InputError(f"no --trusted-candidate-dir given for model {mc.name}; "
                             f"pass --trusted-candidate-dir {mc.name}=DIR")
        loaded = _load_trusted(registry, directory, mc, config, opts)
        candidate_scores = _run_scorer(loaded.scorer, str(directory), mc, features, "candidate")
        cand_ref = {"uri": f"candidate-dir:{directory.name}", "version": None}  # replaced once logged
        base_ref, baseline_scores = _baseline(mc, opts, registry, features)
    elif opts.predictions is not None:
        preds = _read_table(Path(opts.predictions), "predictions")
        if len(preds) != len(frame):
            raise InputError(
                f"predictions {opts.predictions} has {len(preds)} rows but holdout {mc.holdout} has "
                f"{len(frame)}; the files must be row-aligned"
            )
        candidate_scores = _pred_columns(preds, "candidate", mc, classes, Path(opts.predictions))
        cand_ref = {"uri": f"predictions:{_basename(opts.predictions)}", "version": None}
        if _has_pred(preds, "baseline"):
            baseline_scores = _pred_columns(preds, "baseline", mc, classes, Path(opts.predictions))
            base_ref = {"uri": f"predictions:{_basename(opts.predictions)}#baseline", "version": None}
        else:
            base_ref, baseline_scores = _baseline(mc, opts, registry, features)
    else:
        uri = opts.candidates.get(mc.name) or opts.candidates.get(None)
        if uri is None:
            raise InputError(f"no --candidate given for model {mc.name}; pass --candidate {mc.name}=URI")
        candidate_scores = _score(registry, uri, mc, features, "candidate")
        cand_ref = _ref(registry, uri)
        base_ref, baseline_scores = _baseline(mc, opts, registry, features)

    seed = opts.seed if opts.seed is not None else mc.seed
    resamples = opts.resamples if opts.resamples is not None else mc.resamples
    try:
        result = compare_models(
            frame,
            task=mc.task,
            label=mc.label,
            candidate=candidate_scores,
            baseline=baseline_scores,
            metrics=list(mc.metrics),
            segments=list(mc.segments),
            confidence=mc.confidence,
            resamples=resamples,
            seed=seed,
            classes=classes,
            progress=opts.progress,
        )
    except EvaluationError as exc:
        raise InputError(f"model {mc.name}: {exc}") from None
    body = result.to_report()
    if mc.discovery is not None and baseline_scores is not None:
        body.update(_discover(mc, frame, candidate_scores, baseline_scores, classes, seed))
    out: dict[str, Any] = {
        "name": mc.name,
        "task": mc.task,
        "label": mc.label,
        "candidate": cand_ref,
        "baseline": base_ref,
        "holdout": {"path": mc.holdout, "rows": len(frame), "sha256": sha256_file(holdout_path)},
        "metrics": body["metrics"],
        "segments": body["segments"],
    }
    if classes is not None:
        out["classes"] = [c if isinstance(c, str | int | float | bool) else str(c) for c in classes]
    if "discovered_slices" in body:
        out["discovery"], out["discovered_slices"] = body["discovery"], body["discovered_slices"]
    out["curves"] = curve_data(mc.task, frame[mc.label].to_numpy(), candidate_scores, baseline_scores, classes)
    return out, loaded


def _is_remote(path: str) -> bool:
    """A URL for DuckDB's or Spark's own readers (s3://, gs://, https://, dbfs:/, ...), not a local path."""
    return "://" in path or path.startswith("dbfs:/")


def _basename(location: str) -> str:
    """The last part of a path or URL (`Path` would fold a URL's `//`)."""
    return location.rstrip("/").rsplit("/", 1)[-1]


def _holdout_location(mc: ModelConfig, root: Path) -> str:
    return mc.holdout if _is_remote(mc.holdout) else str(root / mc.holdout)


def _engine_for(mc: ModelConfig, opts: EvaluateOptions, root: Path) -> str:
    """The engine for this model: the flag, or (auto) duckdb for data numpy should not load."""
    if opts.engine != "auto":
        return opts.engine
    loc = _holdout_location(mc, root)
    single = not _is_remote(loc) and not any(ch in loc for ch in "*?[") and Path(loc).is_file()
    if single and Path(loc).stat().st_size <= AUTO_ENGINE_BYTES:
        return "numpy"
    try:
        import duckdb  # noqa: F401
    except ImportError:
        if single:
            return "numpy"
        raise InputError(f"holdout {mc.holdout} is a glob, directory or URL: it needs the duckdb engine "
                         "(pip install 'mlgate[duckdb]')") from None
    return "duckdb"


def _holdout_hash(loc: str) -> str | None:
    """sha256 of a file; for a glob or directory, of the sorted (name, sha256) lines; None when remote."""
    from bot.datafiles import sha256_bytes, sha256_file

    if _is_remote(loc):
        return None
    p = Path(loc)
    if p.is_file():
        return sha256_file(p)
    files = sorted(f for f in (p.rglob("*.parquet") if p.is_dir() else Path("/").glob(loc.lstrip("/")))
                   if f.is_file())
    return sha256_bytes("".join(f"{f.name} {sha256_file(f)}\n" for f in files).encode())


def _evaluate_on_engine(mc: ModelConfig, opts: EvaluateOptions, root: Path, engine: str,
                        key: str | None) -> dict[str, Any]:
    """One model through an engine of bot.evaluation.engines: scores come from --predictions
    (by key, or row-aligned in the holdout itself), never from loading a model."""
    from bot.evaluation import EvaluationError
    from bot.evaluation.engines import EngineUnavailable, Request, TableSource
    if opts.predictions is None:
        raise InputError(f"--engine {engine} evaluates precomputed scores: pass --predictions FILE with an id "
                         "column (`id:` in the config or --id), scored by your batch job")
    loc = _holdout_location(mc, root)
    pred = opts.predictions
    numpy_engine = engine == "numpy"
    holdout = (TableSource.of_frame(_read_table(Path(loc), "holdout")) if numpy_engine
               else TableSource.of_parquet(loc, name=mc.holdout))
    predictions = (TableSource.of_frame(_read_table(Path(pred), "predictions"), "predictions")
                   if numpy_engine else TableSource.of_parquet(pred, name=pred))
    if key is None:
        raise InputError(f"--engine {engine} joins --predictions to the holdout by key: set `id:` for model "
                         f"{mc.name} in the config, or pass --id COLUMN")
    try:
        classes = _engine_classes(engine, holdout, mc, opts) if mc.task == "multiclass" else None

        def cols(prefix: str) -> tuple[str, ...]:
            return tuple(f"{prefix}:{c}" for c in classes) if classes is not None else (prefix,)

        has_base = _engine_has_baseline(engine, predictions, opts)
        request = Request(task=mc.task, label=mc.label, candidate=cols("candidate"),
                          baseline=cols("baseline") if has_base else None, metrics=tuple(mc.metrics),
                          segments=tuple(mc.segments), confidence=mc.confidence,
                          classes=tuple(classes) if classes is not None else None, key=key,
                          predictions=predictions, resamples=opts.resamples or mc.resamples,
                          seed=opts.seed if opts.seed is not None else mc.seed)
        if not has_base and not opts.allow_missing_baseline:
            raise InputError(f"predictions {pred} has no `baseline` column; add the baseline's scores, or pass "
                             "--allow-missing-baseline")
        result, curves = _compare_with_curves(engine, holdout, request, mc, opts, classes)
    except (EvaluationError, EngineUnavailable) as exc:
        raise InputError(f"model {mc.name}: {exc}") from None
    body = result.to_report()
    if mc.discovery is not None and has_base:
        body.update(_discover_on_engine(mc, engine, holdout, request, opts, classes))
    out: dict[str, Any] = {
        "name": mc.name, "task": mc.task, "label": mc.label,
        "candidate": {"uri": f"predictions:{_basename(opts.predictions)}", "version": None},
        "baseline": {"uri": f"predictions:{_basename(opts.predictions)}#baseline", "version": None} if has_base else None,
        "holdout": {"path": mc.holdout, "rows": int(result.metrics[0].rows) if result.metrics else 0,
                    "sha256": _holdout_hash(loc)},
        "metrics": body["metrics"], "segments": body["segments"],
    }
    if classes is not None:
        out["classes"] = [c if isinstance(c, str | int | float | bool) else str(c) for c in classes]
    if "discovered_slices" in body:
        out["discovery"], out["discovered_slices"] = body["discovery"], body["discovered_slices"]
    out["curves"] = curves
    return out


def _compare_with_curves(engine: str, holdout: TableSource, request: Request, mc: ModelConfig,
                         opts: EvaluateOptions, classes: list[Any] | None) -> tuple[ComparisonResult, dict[str, Any]]:
    """The comparison and the report's curves through one engine: the numpy path's `curve_data`
    on the joined frames, or the same points from a SQL engine's aggregates (curves_sql)."""
    from bot.evaluation.engines.curves_sql import curves_sql
    from bot.evaluation.engines.numpy_engine import join_by_key
    from bot.evaluation.engines.sql import SqlEngine
    from bot.evaluation.tables import get_engine
    from bot.render.plots import curve_data

    eng = get_engine(engine, opts.engine_memory)
    try:
        result = eng.compare(holdout, request, _progress_bar() if opts.progress else None)
        if isinstance(eng, SqlEngine):
            return result, curves_sql(eng, eng.prepared) if eng.prepared is not None else {}
    finally:
        eng.close()
    assert holdout.frame is not None and request.predictions is not None and request.predictions.frame is not None
    assert request.key is not None
    names = [*request.candidate, *(request.baseline or ())]
    joined = join_by_key(holdout.frame, request.predictions.frame, request.key, names)

    def scores(cols: tuple[str, ...] | None) -> np.ndarray | None:
        if cols is None:
            return None
        return np.asarray(joined[list(cols)] if mc.task == "multiclass" else joined[cols[0]], dtype=np.float64)

    return result, curve_data(mc.task, joined[mc.label].to_numpy(), scores(request.candidate),
                              scores(request.baseline), classes)


def _discover_on_engine(mc: ModelConfig, engine: str, holdout: TableSource, request: Request,
                        opts: EvaluateOptions, classes: list[Any] | None) -> dict[str, Any]:
    """Slice discovery on an engine's tables: the halves split by a hash of the id, so numpy and
    the SQL engines find the same slices (bot/evaluation/engines/slices_sql.py)."""
    from bot.evaluation import EvaluationError
    from bot.evaluation.discovery import DiscoveryError, discover_models
    from bot.evaluation.engines import EngineUnavailable
    from bot.evaluation.engines.numpy_engine import join_by_key
    from bot.evaluation.engines.slices_sql import discover_sql

    d = mc.discovery
    assert d is not None and request.key is not None and request.baseline is not None
    settings: dict[str, Any] = dict(
        columns=d.columns, exclude=[*d.exclude, request.key], max_depth=d.max_depth, min_rows=d.min_rows,
        # gate: fail shares alpha with the metric tests (bot.gate.model_budget): confirm at alpha/2
        top_k=d.top_k, level=mc.alpha / 2 if d.gate == "fail" else mc.alpha,
        metrics=list(mc.segment_metrics), confidence=mc.confidence, seed=request.seed)
    try:
        if holdout.frame is not None:  # --engine numpy: the tables are frames already
            assert request.predictions is not None and request.predictions.frame is not None
            names = [*request.candidate, *request.baseline]
            joined = join_by_key(holdout.frame, request.predictions.frame, request.key, names)

            def scores(cols: tuple[str, ...]) -> np.ndarray:
                return np.asarray(joined[list(cols)] if mc.task == "multiclass" else joined[cols[0]],
                                  dtype=np.float64)

            found = discover_models(
                holdout.frame, task=mc.task, label=mc.label, candidate=scores(request.candidate),
                baseline=scores(request.baseline), classes=classes, segments=list(mc.segments),
                key=holdout.frame[request.key].to_numpy(), **settings)
        else:
            eng = _sql_engine(engine, opts)
            try:
                found = discover_sql(eng, holdout, request, progress=_progress_bar() if opts.progress else None,
                                     **settings)
            finally:
                eng.close()
    except (DiscoveryError, EvaluationError, EngineUnavailable) as exc:
        raise InputError(f"model {mc.name}: {exc}") from None
    return found.to_report()


def _engine_classes(engine: str, holdout: TableSource, mc: ModelConfig, opts: EvaluateOptions) -> list[Any]:
    """Multiclass: the holdout's sorted labels, as the numpy path finds them."""
    if holdout.frame is not None:
        return sorted(pd.unique(holdout.frame[mc.label].dropna()).tolist())
    eng = _sql_engine(engine, opts)
    try:
        eng.register("mlgate_holdout", holdout)
        return list(eng.distinct("mlgate_holdout", mc.label))
    finally:
        eng.close()


def _engine_has_baseline(engine: str, predictions: TableSource, opts: EvaluateOptions) -> bool:
    if predictions.frame is not None:
        return _has_pred(predictions.frame, "baseline")
    eng = _sql_engine(engine, opts)
    try:
        eng.register("mlgate_predictions", predictions)
        cols = list(eng.columns("mlgate_predictions"))
    finally:
        eng.close()
    return "baseline" in cols or any(c.startswith("baseline:") for c in cols)


def _sql_engine(engine: str, opts: EvaluateOptions) -> SqlEngine:
    """The SQL engine behind `--engine` (never numpy here: its tables are frames already)."""
    from bot.evaluation.engines import EngineUnavailable
    from bot.evaluation.engines.sql import SqlEngine
    from bot.evaluation.tables import get_engine

    eng = get_engine(engine, opts.engine_memory)
    if not isinstance(eng, SqlEngine):
        raise EngineUnavailable(f"--engine {engine} does not read tables by itself")
    return eng


def _progress_bar() -> Callable[[str, float], None]:
    from tqdm import tqdm

    bar = tqdm(total=100, desc="evaluation", unit="%", leave=False, file=sys.stderr)

    def update(step: str, fraction: float) -> None:
        bar.set_description(step[:40])
        bar.n = round(100 * fraction)
        bar.refresh()
        if fraction >= 1:
            bar.close()

    return update


def _discover(mc: ModelConfig, frame: pd.DataFrame, candidate: np.ndarray, baseline: np.ndarray,
              classes: list[Any] | None, seed: int) -> dict[str, Any]:
    """The report's `discovery` and `discovered_slices` for one model (docs/statistics.md)."""
    from bot.evaluation import EvaluationError
    from bot.evaluation.discovery import DiscoveryError, discover_models

    d = mc.discovery
    assert d is not None
    try:
        found = discover_models(
            frame, task=mc.task, label=mc.label, candidate=candidate, baseline=baseline, classes=classes,
            columns=d.columns, exclude=list(d.exclude), max_depth=d.max_depth, min_rows=d.min_rows,
            # gate: fail shares alpha with the metric tests (bot.gate.model_budget): confirm at alpha/2
            top_k=d.top_k, level=mc.alpha / 2 if d.gate == "fail" else mc.alpha,
            metrics=mc.segment_metrics, confidence=mc.confidence,
            seed=seed, segments=list(mc.segments),
        )
    except (DiscoveryError, EvaluationError) as exc:
        raise InputError(f"model {mc.name}: {exc}") from None
    return found.to_report()


def _load_trusted(registry: Any, directory: Path, mc: ModelConfig, config: Config,
                  opts: EvaluateOptions) -> LoadedCandidate:
    """Load a PR-built model directory under the default branch's policy (see Registry.load_candidate)."""
    from bot.mlflow import LoadPolicy, RegistryError

    ev = config.evaluation
    if ev.allow_pickle == "never":
        why = "the config does not allow pickle-based models (evaluation.allow_pickle: never)"
    elif opts.provenance is None:
        why = ("evaluation.allow_pickle is `writers`, but without --provenance-from-env mlgate cannot tell "
               "where the candidate was built")
    elif not opts.provenance.from_this_repository:
        why = (f"evaluation.allow_pickle is `writers` and the candidate was built from "
               f"{opts.provenance.head_repository}, not from a branch of {opts.provenance.repository}")
    else:
        why = ""
    policy = LoadPolicy(trusted_types=tuple(ev.skops_trusted_types), allow_pickle=not why,
                        pickle_refusal=why or "")
    try:
        return registry.load_candidate(directory, mc.task, policy)  # type: ignore[no-any-return]
    except RegistryError as exc:
        raise InputError(f"candidate model for {mc.name}: {exc}") from None


def _log_candidates(registry: Any, loaded: list[tuple[dict[str, Any], LoadedCandidate]],
                    opts: EvaluateOptions) -> None:
    """Log each trusted-mode candidate with its provenance tags; the report then names the logged model."""
    from bot.mlflow import RegistryError

    for body, candidate in loaded:
        tags = {**(opts.provenance.tags() if opts.provenance else {}), "mlgate.model": body["name"],
                "mlgate.loaded_as": candidate.kind}
        try:
            ref = registry.log_candidate(candidate, tags)
        except RegistryError as exc:
            raise InputError(f"could not log the candidate for {body['name']} to the registry: {exc}; "
                             "no report was written") from None
        body["candidate"] = {"uri": ref.uri, "version": None, "run_id": ref.run_id}
        if ref.experiment_id is not None:  # the MLflow UI's run link needs it
            body["candidate"]["experiment_id"] = ref.experiment_id


def _has_pred(preds: pd.DataFrame, prefix: str) -> bool:
    return prefix in preds.columns or any(str(c).startswith(f"{prefix}:") for c in preds.columns)


def _pred_columns(
    preds: pd.DataFrame, prefix: str, mc: ModelConfig, classes: list[Any] | None, path: Path
) -> np.ndarray:
    if mc.task == "multiclass":
        assert classes is not None
        cols = [f"{prefix}:{c}" for c in classes]
        missing = [c for c in cols if c not in preds.columns]
        if missing:
            raise InputError(f"predictions {path} lacks columns {', '.join(missing)} (one probability column per class)")
        return np.asarray(preds[cols].to_numpy(dtype=float))
    if prefix not in preds.columns:
        raise InputError(f"predictions {path} has no column {prefix!r}; columns: {', '.join(map(str, preds.columns[:20]))}")
    try:
        return np.asarray(preds[prefix].to_numpy(dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"predictions {path}: column {prefix!r} must be numeric scores") from None


def _score(registry: Any, uri: str, mc: ModelConfig, features: pd.DataFrame, role: str) -> np.ndarray:
    from bot.mlflow import RegistryError

    try:
        scorer = registry.load_scorer(uri, mc.task)
    except RegistryError as exc:
        raise InputError(f"{role} model for {mc.name}: {exc}") from None
    return _run_scorer(scorer, uri, mc, features, role)


def _run_scorer(scorer: Callable[[pd.DataFrame], np.ndarray], uri: str, mc: ModelConfig,
                features: pd.DataFrame, role: str) -> np.ndarray:
    try:
        scores = np.asarray(scorer(features))
    except Exception as exc:  # a model is foreign code: any failure is an input problem
        raise InputError(
            f"{role} model {uri} failed to score holdout {mc.holdout}: {type(exc).__name__}: "
            f"{str(exc)[:300]}; check that the holdout has the model's feature columns"
        ) from None
    return scores


def _ref(registry: Any, uri: str) -> dict[str, Any]:
    from bot.mlflow import RegistryError

    try:
        ref = registry.resolve(uri)
    except RegistryError:
        return {"uri": uri, "version": None}
    d = ref.__dict__ if hasattr(ref, "__dict__") else dict(ref)
    keep = ("uri", "version", "alias", "run_id", "source")
    return {k: (str(d[k]) if d.get(k) is not None else None) for k in keep if k in d} | {"uri": uri}


def _baseline(
    mc: ModelConfig, opts: EvaluateOptions, registry: Any, features: pd.DataFrame
) -> tuple[dict[str, Any] | None, np.ndarray | None]:
    from bot.mlflow import RegistryError

    alias = opts.baseline_alias or mc.baseline
    uri = f"models:/{mc.name}@{alias}"
    if registry is None or opts.tracking_uri is None:
        if opts.allow_missing_baseline:
            return None, None
        raise InputError(
            f"no model registry to read the baseline {uri} from; set MLFLOW_TRACKING_URI or "
            "--tracking-uri, or pass --allow-missing-baseline"
        )
    try:
        version = registry.alias_version(mc.name, alias)
    except RegistryError as exc:
        if opts.allow_missing_baseline:
            return None, None
        raise InputError(f"baseline {uri}: {exc}") from None
    if version is None:
        if opts.allow_missing_baseline:
            return None, None
        raise InputError(
            f"model {mc.name} has no alias {alias!r} in the registry; promote a version first, "
            "or pass --allow-missing-baseline for a first model"
        )
    scores = _score(registry, uri, mc, features, "baseline")
    ref = _ref(registry, uri)
    ref.update({"alias": alias, "version": str(version)})
    return ref, scores


def _data_section(config: Config, root: Path, opts: EvaluateOptions) -> dict[str, Any]:
    data: dict[str, Any] = {"schema_path": config.data_checks.schema_, "checks": [], "drift": [], "changes": []}
    dc = config.data_checks
    files = list(dc.files) or sorted({m.holdout for m in config.models})
    from bot.datachecks import DataCheckError

    on_sql = {f: _data_on_duckdb(f, opts, root) for f in files}  # aggregates in DuckDB, the file never loaded (#18)
    if dc.schema_:
        from bot.datachecks import run_checks, run_checks_sql

        schema_path = root / dc.schema_
        for f in files:
            try:
                if on_sql[f]:
                    data["checks"].extend(run_checks_sql([_data_location(f, root)], schema_path, file=f,
                                                         memory=opts.engine_memory))
                    continue
                frame = _read_table(root / f, "data file")
                data["checks"].extend(run_checks(frame, schema_path, file=f))
            except DataCheckError as exc:
                raise InputError(str(exc)) from None
    if dc.reference:
        from bot.drift import compute_drift, compute_drift_sql

        reference = _read_table(root / dc.reference, "drift reference")
        labels = [m.label for m in config.models]
        for f in files:
            if on_sql[f]:
                try:
                    data["drift"].extend(compute_drift_sql(
                        reference, [_data_location(f, root)], psi_threshold=dc.drift["psi"],
                        p_threshold=dc.drift["p_value"], exclude=labels, file=f, memory=opts.engine_memory))
                except DataCheckError as exc:
                    raise InputError(str(exc)) from None
                continue
            current = _read_table(root / f, "data file")
            data["drift"].extend(
                compute_drift(
                    reference,
                    current,
                    psi_threshold=dc.drift["psi"],
                    p_threshold=dc.drift["p_value"],
                    exclude=labels,
                    file=f,
                )
            )
    if opts.base_rev:
        from bot.datachanges import DataChangeError, data_changes

        try:
            # trusted mode: this checkout is the default branch; the PR's files are read from its head
            # commit's git objects (fetched, never checked out or run)
            head = opts.head_rev or (opts.provenance.head_sha if opts.provenance is not None else "HEAD")
            data["changes"] = data_changes(root, opts.base_rev, head, config.paths.data)
        except DataChangeError as exc:
            raise InputError(str(exc)) from None
    return data


def _data_location(f: str, root: Path) -> str:
    return f if _is_remote(f) else str(root / f)


def _data_on_duckdb(f: str, opts: EvaluateOptions, root: Path) -> bool:
    """Whether a data_checks file is checked by DuckDB's aggregates: with --engine duckdb, or (auto)
    a Parquet glob, directory, URL or file over AUTO_ENGINE_BYTES when DuckDB is installed.
    --engine numpy and spark read it into pandas, as before."""
    loc = _data_location(f, root)
    single = not _is_remote(loc) and not any(ch in loc for ch in "*?[") and Path(loc).is_file()
    if opts.engine in ("numpy", "spark") or (single and Path(loc).suffix.lower() != ".parquet"):
        return False  # (DuckDB reads Parquet here; CSV and JSON files are read by pandas as before)
    if opts.engine == "duckdb":
        return True
    if single and Path(loc).stat().st_size <= AUTO_ENGINE_BYTES:
        return False
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def _check_outputs(opts: EvaluateOptions) -> None:
    """Each output path must be a file mlgate can write (missing directories are created)."""
    for flag, path in (("--out", opts.out), ("--markdown", opts.markdown), ("--html", opts.html)):
        if path is None:
            continue
        if path.is_dir():
            raise InputError(f"{flag} {path} is a directory; give a file path, e.g. {path / 'report.json'}")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise InputError(f"{flag} {path}: {parent} is not a directory this process can write; "
                             "choose another path")


def _write_outputs(report: dict[str, Any], decision: Decision, opts: EvaluateOptions, registry: Any = None,
                   evaluation_run: EvaluationRun | None = None) -> list[Path]:
    from bot import render

    rendered: list[tuple[Path, str]] = []
    if opts.markdown:
        rendered.append((opts.markdown, render.render_comment(report, decision)))
    html = render.render_html(report, decision) if opts.html or evaluation_run is not None else None
    if opts.html and html is not None:
        rendered.append((opts.html, html))
    # render everything first, so a rendering failure leaves no partial set of files; the
    # report itself is written last (validated in `evaluate`), so it exists only if all did
    rendered.append((opts.out, report_io.dumps(report)))
    if evaluation_run is not None:  # logged before any file, so no report names a run that failed
        _log_to_mlflow(registry, evaluation_run, report, html)
    written: list[Path] = []
    for path, text in rendered:
        try:
            report_io.write_atomic(path, text)
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror or exc}; no report was written") from None
        written.append(path)
    return [written[-1], *written[:-1]]  # the report first, as before


def _start_evaluation_run(registry: Any, report: dict[str, Any]) -> EvaluationRun:
    """Create the MLflow run the evaluation is logged into, and name it in the report
    (`evaluation_run`, when its ids have the shape the schema asks for; else it is logged unnamed)."""
    from bot.mlflow import RegistryError
    from bot.render.links import EXPERIMENT_ID, RUN_ID

    try:
        run: EvaluationRun = registry.start_evaluation(report)
    except RegistryError as exc:
        raise InputError(f"could not log the evaluation to MLflow: {exc}; no report was written") from None
    if RUN_ID.fullmatch(run.run_id) and EXPERIMENT_ID.fullmatch(run.experiment_id):
        report["evaluation_run"] = {"run_id": run.run_id, "experiment_id": run.experiment_id}
    return run


def _log_to_mlflow(registry: Any, run: EvaluationRun, report: dict[str, Any], html: str | None) -> None:
    """Log the report, its HTML and its metrics into the run; on failure the run is discarded
    (bot.mlflow.Tracking.log_evaluation_into) and the evaluation fails."""
    from bot.mlflow import RegistryError

    meta = report.get("run", {})
    tags = {
        "mlgate.repository": meta.get("repository") or "",
        "mlgate.pr": str(meta.get("pr") or ""),
        "mlgate.head_sha": meta.get("head_sha") or report["environment"].get("code_sha") or "",
        "mlgate.dataset_sha256": ",".join(m["holdout"]["sha256"] or "" for m in report["models"]),
    }
    try:
        registry.log_evaluation_into(run, report, html, {k: v for k, v in tags.items() if v})
    except RegistryError as exc:
        raise InputError(f"could not log the evaluation to MLflow: {exc}; no report was written") from None


# ------------------------------------------------------------------ environment


def run_from_github_env(env: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Repository, PR and SHAs from a GitHub Actions runner's environment, if present."""
    out: dict[str, Any] = {}
    if env.get("GITHUB_REPOSITORY"):
        out["repository"] = env["GITHUB_REPOSITORY"]
    event_path = env.get("GITHUB_EVENT_PATH")
    if event_path and Path(event_path).is_file():
        try:
            event = json.loads(Path(event_path).read_text("utf-8"))
        except (OSError, ValueError):
            event = {}
        pr = event.get("pull_request") or {}
        if isinstance(pr, dict) and pr.get("number"):
            out["pr"] = int(pr["number"])
            out["head_sha"] = (pr.get("head") or {}).get("sha")
            out["base_sha"] = (pr.get("base") or {}).get("sha")
    if "head_sha" not in out and re.fullmatch(r"[0-9a-f]{40}", env.get("GITHUB_SHA", "")):
        out["head_sha"] = env["GITHUB_SHA"]
    if env.get("GITHUB_RUN_ID", "").isdigit():
        out["workflow_run_id"] = int(env["GITHUB_RUN_ID"])
    return {k: v for k, v in out.items() if v is not None}


def provenance_from_env(env: os._Environ[str] | dict[str, str]) -> Provenance:
    """The trusted evaluation's provenance, from a runner started by a `workflow_run` event.

    GITHUB_SHA there is the default branch's commit, so the candidate's head SHA, its
    repository and the run that built it come from the event file's `workflow_run`.
    """
    def bad(why: str) -> InputError:
        return InputError(f"--provenance-from-env: {why}; run it in the trusted workflow, triggered by "
                          "`on: workflow_run` (see docs/action.md)")

    if env.get("GITHUB_EVENT_NAME") != "workflow_run":
        raise bad(f"the event is {env.get('GITHUB_EVENT_NAME') or 'not set (GITHUB_EVENT_NAME)'}, not workflow_run")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not _REPO.match(repository):
        raise bad("GITHUB_REPOSITORY is not set to owner/name")
    run_id = env.get("GITHUB_RUN_ID", "")
    if not run_id.isdigit() or int(run_id) < 1:
        raise bad("GITHUB_RUN_ID is not a run id")
    path = Path(env.get("GITHUB_EVENT_PATH") or "")
    try:
        if not path.is_file() or path.stat().st_size > MAX_EVENT_BYTES:
            raise bad("GITHUB_EVENT_PATH is not an event file of at most 25 MB")
        event = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise bad("the event file GITHUB_EVENT_PATH cannot be read as JSON") from None
    wr = event.get("workflow_run") if isinstance(event, dict) else None
    if not isinstance(wr, dict):
        raise bad("the event file has no workflow_run")
    head_sha = wr.get("head_sha")
    triggering = wr.get("id")
    head_repo = (wr.get("head_repository") or {}).get("full_name") if isinstance(wr.get("head_repository"),
                                                                                   dict) else None
    if not isinstance(head_sha, str) or not _SHA.match(head_sha):
        raise bad("workflow_run.head_sha is not a commit SHA")
    if not isinstance(triggering, int) or isinstance(triggering, bool) or triggering < 1:
        raise bad("workflow_run.id is not a run id")
    if not isinstance(head_repo, str) or not _REPO.match(head_repo):
        raise bad("workflow_run.head_repository.full_name is not owner/name")
    # GitHub lists the run's PRs only for branches of this repository (never for forks): the
    # App finds a fork's PR from the head SHA itself
    listed = [p for p in (wr.get("pull_requests") or [])[:100] if isinstance(p, dict)
              and isinstance(p.get("number"), int) and not isinstance(p.get("number"), bool) and p["number"] > 0]
    if len({p["number"] for p in listed}) > 1:  # one branch, several PRs: the one whose head is this run's
        listed = [p for p in listed if isinstance(p.get("head"), dict) and p["head"].get("sha") == head_sha]
    numbers = {p["number"] for p in listed}
    pr = numbers.pop() if len(numbers) == 1 else None
    return Provenance(repository, head_repo, head_sha, int(run_id), triggering, pr)


def provenance_run(p: Provenance) -> dict[str, Any]:
    """The report's `run` section in trusted mode: about the PR head, not this workflow's own checkout."""
    out: dict[str, Any] = {"repository": p.repository, "head_sha": p.head_sha, "workflow_run_id": p.trusted_run_id}
    if p.pr is not None:
        out["pr"] = p.pr
    return out


def _git(cwd: Path, *args: str) -> str | None:
    try:
        res = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _command_line(args: list[str]) -> str:
    """The command as run, for the report's reproducibility footer: credentials out of each
    argument before quoting (a quote in a password would otherwise hide it from the pattern)."""
    from bot.redact import redact

    return shlex.join(redact(a, argument=True) for a in ["mlgate", *args])

