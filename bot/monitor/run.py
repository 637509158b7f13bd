"""One `mlgate monitor` run over every configured model: read the window, check it, say why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from bot.config import Config, ModelConfig
from bot.datafiles import read_table
from bot.monitor.checks import Current, ModelHealth, check_model
from bot.monitor.logs import LogError, Window, join_labels, read_logs

MAX_ROWS = 50_000_000  # per model and window: the contract's bound (docs/monitoring.md)
METRIC_TAG = "mlgate.metric."  # written by /promote on the version it moves production to


class VersionSource(Protocol):
    """The registry calls the monitor makes (bot.mlflow.Registry satisfies it)."""

    def alias_version(self, name: str, alias: str) -> str | None: ...

    def version_tags(self, name: str, version: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class Production:
    version: str | None
    figures: dict[str, float]
    problem: str | None = None


def production(registry: VersionSource | None, model: ModelConfig) -> Production:
    """The version behind the model's baseline alias and the figures it was promoted on."""
    from bot.mlflow import RegistryError

    if registry is None:
        return Production(None, {}, "no model registry configured (set MLFLOW_TRACKING_URI)")
    try:
        version = registry.alias_version(model.name, model.baseline)
        if version is None:
            return Production(None, {}, f"the alias {model.baseline} of {model.name} does not exist")
        tags = registry.version_tags(model.name, version)
    except RegistryError as exc:
        return Production(None, {}, str(exc).splitlines()[0][:300])
    figures: dict[str, float] = {}
    for key, value in tags.items():
        if key.startswith(METRIC_TAG):
            try:
                figures[key.removeprefix(METRIC_TAG)] = float(value)
            except ValueError:
                continue
    return Production(version, figures)


def reference_path(config: Config, model: ModelConfig, root: Path) -> Path:
    return root / (config.monitor.reference or config.data_checks.reference or model.holdout)


def run_monitor(config: Config, *, root: Path, registry: VersionSource | None,
                until: datetime | None = None, engine: str = "numpy", memory: str | None = None,
                ) -> list[ModelHealth]:
    """Every model's health for the window ending at `until` (default: now, UTC).

    `engine`: "numpy" reads the window into pandas; "duckdb" keeps it in DuckDB (out of core,
    memory bounded by `memory`, e.g. "2GB") and computes the same figures from aggregates.
    A bad log raises LogError (nothing is posted); a missing registry or alias makes that
    model `unknown`, never fine.
    """
    cfg = config.monitor
    end = until or datetime.now(UTC)
    window = Window.ending(end, cfg.window_days)
    logs = root / cfg.logs
    scan = None
    if engine == "duckdb":
        from bot.monitor.scan import LogScan

        scan = LogScan(memory)
    elif engine != "numpy":
        raise LogError(f"unknown monitor engine {engine!r}; use numpy or duckdb")
    out = []
    try:
        for model in config.models:
            ref_path = reference_path(config, model, root)
            try:
                reference = read_table(ref_path)
            except (OSError, ValueError) as exc:
                raise LogError(f"{ref_path}: cannot read the drift reference ({str(exc).splitlines()[0][:200]}); "
                               "set monitor.reference") from None
            features = [c for c in reference.columns if c != model.label]
            prod = production(registry, model)
            names = [v for v in (prod.version, model.baseline) if v]
            current: pd.DataFrame | Current
            prev_scores: np.ndarray | None
            if scan is not None:
                current = scan.load(logs, window, model=model, features=features,
                                    labels=root / cfg.labels if cfg.labels else None,
                                    versions=names if prod.version else None, max_rows=MAX_ROWS)
                prev_scores = scan.previous_scores(logs, window.previous(), model, names) if prod.version else None
                if prod.version is None:
                    scan.previous_scores(logs, window.previous(), model, [])  # the contract is checked all the same
            else:
                current = read_logs(logs, window, model=model.name, features=features, label=model.label,
                                    keep=("request_id",) if cfg.labels else (), max_rows=MAX_ROWS)
                if cfg.labels:
                    current = join_labels(current, root / cfg.labels, model.label)
                previous = read_logs(logs, window.previous(), model=model.name, features=[], label=None, keep=())
                prev_scores = previous.loc[previous["version"].isin(set(names)), "score"].to_numpy(dtype=np.float64) \
                    if prod.version else None
            health = check_model(model, cfg, current=current, reference=reference, previous_scores=prev_scores,
                                 version=prod.version, figures=prod.figures, window=window.label(),
                                 where=str(logs))
            if prod.problem:
                health.flag("unknown", f"cannot tell which version is in production: {prod.problem}")
            out.append(health)
    finally:
        if scan is not None:
            scan.close()
    return out
