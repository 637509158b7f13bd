"""`Registry`: the three MLflow adapters over one client, as the App, the CLI and the Action hold it."""

from __future__ import annotations

from bot.mlflow.scoring import Scoring
from bot.mlflow.tracking import Tracking


class Registry(Scoring, Tracking):
    """An MLflow tracking + model registry: a server (http[s]://), or a local store (sqlite:///, a path).

    Alias administration (bot.mlflow.registry), model loading and scoring (bot.mlflow.scoring) and
    experiment logging (bot.mlflow.tracking) share one connection (bot.mlflow.connection).
    """
