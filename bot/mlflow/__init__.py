"""The MLflow adapters: the only package in bot/ that imports mlflow.

Three adapters over one connection, each in its own module:
- `registry`: alias administration (resolve URIs, versions and tags, register, move aliases);
- `scoring`: model loading and scoring (registered models, and untrusted candidate directories);
- `tracking`: experiment logging (evaluation runs, candidate logged models and their provenance).

`Registry` is all three over one MLflow client, which is what the App, the CLI and the Action
hold. They speak mlgate's terms (a scorer, an alias's version, tags), so the rest of mlgate
never sees MLflow's objects and tests of other modules can fake them with a small class.

Importing this package does not import mlflow (that costs seconds, and the App's web process
never needs it): `Registry()` does. Every failure is a `RegistryError` whose message names the
cause and the fix, and never contains credentials from the tracking URI.
"""

from __future__ import annotations

from bot.mlflow.connection import ENV_DEFAULTS, ModelNotFound, RegistryError, UnsafeModel
from bot.mlflow.registry import (
    RELEASED_FROM,
    ModelRef,
    ModelRegistry,
    ModelVersionInfo,
    VersionInfo,
)
from bot.mlflow.scoring import (
    MAX_CANDIDATE_BYTES,
    MAX_CANDIDATE_FILES,
    MAX_MLMODEL_BYTES,
    MAX_ONNX_BYTES,
    ONNX_DOMAINS,
    TASKS,
    LoadedCandidate,
    LoadPolicy,
    Scoring,
)
from bot.mlflow.tracking import (
    CANDIDATE_EXPERIMENT,
    EXPERIMENT,
    PROVENANCE_TAGS,
    Tracking,
    evaluation_metrics,
    report_tags,
)


class Registry(Scoring, Tracking):
    """An MLflow tracking + model registry: a server (http[s]://), or a local store (sqlite:///, a path)."""


__all__ = [
    "CANDIDATE_EXPERIMENT",
    "ENV_DEFAULTS",
    "EXPERIMENT",
    "MAX_CANDIDATE_BYTES",
    "MAX_CANDIDATE_FILES",
    "MAX_MLMODEL_BYTES",
    "MAX_ONNX_BYTES",
    "ONNX_DOMAINS",
    "PROVENANCE_TAGS",
    "RELEASED_FROM",
    "TASKS",
    "LoadPolicy",
    "LoadedCandidate",
    "ModelNotFound",
    "ModelRef",
    "ModelRegistry",
    "ModelVersionInfo",
    "Registry",
    "RegistryError",
    "Scoring",
    "Tracking",
    "UnsafeModel",
    "VersionInfo",
    "evaluation_metrics",
    "report_tags",
]
