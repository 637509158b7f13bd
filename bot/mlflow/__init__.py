"""The MLflow adapters: the only package in bot/ that imports mlflow.

Three adapters over one connection, each in its own module:
- `registry`: alias administration (resolve URIs, versions and tags, register, move aliases);
- `scoring`: model loading and scoring (registered models, and untrusted candidate directories);
- `tracking`: experiment logging (evaluation runs, candidate logged models and their provenance).

`Registry` is all three over one MLflow client, which is what the App, the CLI and the Action
hold. They speak mlgate's terms (a scorer, an alias's version, tags), so the rest of mlgate
never sees MLflow's objects and tests of other modules can fake them with a small class.

Importing this package imports nothing else: each name loads its module when first used, so
`from bot.mlflow import RegistryError` costs neither mlflow (seconds; the App's web process
needs it only for the dashboard's first registry read, `Registry()` imports it) nor numpy and pandas (the scoring module). Every failure is a `RegistryError` whose message names the
cause and the fix, and never contains credentials from the tracking URI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.mlflow.adapter import (
        Registry,
    )
    from bot.mlflow.connection import (
        ENV_DEFAULTS,
        ModelNotFound,
        RegistryError,
        UnsafeModel,
    )
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
        EvaluationRun,
        Tracking,
        evaluation_metrics,
        report_tags,
    )

_HOME = {
    'Registry': 'bot.mlflow.adapter',
    'ENV_DEFAULTS': 'bot.mlflow.connection',
    'ModelNotFound': 'bot.mlflow.connection',
    'RegistryError': 'bot.mlflow.connection',
    'UnsafeModel': 'bot.mlflow.connection',
    'RELEASED_FROM': 'bot.mlflow.registry',
    'ModelRef': 'bot.mlflow.registry',
    'ModelRegistry': 'bot.mlflow.registry',
    'ModelVersionInfo': 'bot.mlflow.registry',
    'VersionInfo': 'bot.mlflow.registry',
    'MAX_CANDIDATE_BYTES': 'bot.mlflow.scoring',
    'MAX_CANDIDATE_FILES': 'bot.mlflow.scoring',
    'MAX_MLMODEL_BYTES': 'bot.mlflow.scoring',
    'MAX_ONNX_BYTES': 'bot.mlflow.scoring',
    'ONNX_DOMAINS': 'bot.mlflow.scoring',
    'TASKS': 'bot.mlflow.scoring',
    'LoadedCandidate': 'bot.mlflow.scoring',
    'LoadPolicy': 'bot.mlflow.scoring',
    'Scoring': 'bot.mlflow.scoring',
    'CANDIDATE_EXPERIMENT': 'bot.mlflow.tracking',
    'EXPERIMENT': 'bot.mlflow.tracking',
    'EvaluationRun': 'bot.mlflow.tracking',
    'PROVENANCE_TAGS': 'bot.mlflow.tracking',
    'Tracking': 'bot.mlflow.tracking',
    'evaluation_metrics': 'bot.mlflow.tracking',
    'report_tags': 'bot.mlflow.tracking',
}


def __getattr__(name: str) -> object:
    """Load a re-exported name from its module on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bot.mlflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "CANDIDATE_EXPERIMENT",
    "ENV_DEFAULTS",
    "EXPERIMENT",
    "EvaluationRun",
    "LoadPolicy",
    "LoadedCandidate",
    "MAX_CANDIDATE_BYTES",
    "MAX_CANDIDATE_FILES",
    "MAX_MLMODEL_BYTES",
    "MAX_ONNX_BYTES",
    "ModelNotFound",
    "ModelRef",
    "ModelRegistry",
    "ModelVersionInfo",
    "ONNX_DOMAINS",
    "PROVENANCE_TAGS",
    "RELEASED_FROM",
    "Registry",
    "RegistryError",
    "Scoring",
    "TASKS",
    "Tracking",
    "UnsafeModel",
    "VersionInfo",
    "evaluation_metrics",
    "report_tags",
]
