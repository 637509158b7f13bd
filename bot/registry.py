"""The model registry adapter: the only module that imports mlflow.

It speaks mlgate's terms (a scorer, an alias's version, register, move an alias, tags,
log an evaluation) so the rest of mlgate never sees MLflow's objects. mlflow is imported
lazily: importing it costs seconds, and the App's web process never needs it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# MLflow retries HTTP for minutes by default; an unreachable registry must fail fast.
_FAST_FAIL = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
_METRIC_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


class RegistryError(RuntimeError):
    """A registry problem with its cause and fix; never contains credentials."""


@dataclass(frozen=True)
class ModelRef:
    uri: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    source: str | None
    run_id: str | None
    tags: dict[str, str]
    aliases: list[str]


def redact(uri: str | None) -> str:
    """A URI without user:password@."""
    return re.sub(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@", r"\1***@", uri or "")


class Registry:
    """An MLflow tracking + registry server, or a local store (sqlite:///, file paths)."""

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None):
        for k, v in _FAST_FAIL.items():
            os.environ.setdefault(k, v)
        import mlflow
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri or mlflow.get_tracking_uri()
        self.registry_uri = registry_uri or self.tracking_uri
        self._mlflow = mlflow
        try:
            self.client = MlflowClient(self.tracking_uri, self.registry_uri)
        except Exception as exc:
            raise self._error("cannot open the registry", exc) from None

    # ---------------------------------------------------------------- errors

    def _error(self, what: str, exc: BaseException) -> RegistryError:
        text = redact(str(exc)).splitlines()[0][:300] if str(exc) else type(exc).__name__
        where = redact(self.tracking_uri if hasattr(self, "tracking_uri") else "")
        if _is_connection_error(exc):
            return RegistryError(
                f"{what}: the MLflow server at {where} cannot be reached ({text}); check MLFLOW_TRACKING_URI "
                "and that the server is running"
            )
        return RegistryError(f"{what} ({where}): {text}")

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn()
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST" or "RESOURCE_DOES_NOT_EXIST" in str(exc):
                return None
            raise self._error(what, exc) from None
        except Exception as exc:  # requests/sqlalchemy errors surface as many types
            raise self._error(what, exc) from None

    # ---------------------------------------------------------------- reading

    def resolve(self, uri: str) -> ModelRef:
        """The concrete version behind a models:/ URI (name@alias, name/version)."""
        m = re.match(r"^models:/([^/@]+)@(.+)$", uri)
        if m:
            name, alias = m.groups()
            version = self.alias_version(name, alias)
            if version is None:
                raise RegistryError(
                    f"model {name} has no alias {alias!r}; set one with `mlgate promote` or "
                    f"MlflowClient().set_registered_model_alias({name!r}, {alias!r}, VERSION)"
                )
            info = self.get_version(name, version)
            return ModelRef(uri, name, version, alias, info.run_id if info else None, info.source if info else None)
        m = re.match(r"^models:/([^/@]+)/(\d+)$", uri)
        if m:
            name, version = m.groups()
            info = self.get_version(name, version)
            if info is None:
                raise RegistryError(f"model {name} has no version {version}")
            return ModelRef(uri, name, version, None, info.run_id, info.source)
        m = re.match(r"^runs:/([0-9a-f]+)/", uri)
        return ModelRef(uri, run_id=m.group(1) if m else None, source=uri)

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version an alias points at, None when the model or the alias does not exist."""
        rm = self._call(f"reading model {name}", lambda: self.client.get_registered_model(name))
        if rm is None:
            return None
        version = (rm.aliases or {}).get(alias)
        return str(version) if version is not None else None

    def get_version(self, name: str, version: str) -> VersionInfo | None:
        mv = self._call(f"reading {name} version {version}", lambda: self.client.get_model_version(name, str(version)))
        if mv is None:
            return None
        return VersionInfo(name, str(mv.version), mv.source, mv.run_id, dict(mv.tags or {}), list(mv.aliases or []))

    def list_versions(self, name: str) -> list[VersionInfo]:
        found = self._call(f"listing {name}", lambda: self.client.search_model_versions(f"name='{name}'")) or []
        out = [self.get_version(name, str(mv.version)) for mv in found]  # search omits aliases
        return sorted((v for v in out if v), key=lambda v: int(v.version))

    def registered_models(self) -> list[str]:
        models = self._call("listing models", lambda: self.client.search_registered_models()) or []
        return sorted(m.name for m in models)

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        info = self.get_version(name, version)
        return info.tags if info else {}

    # ---------------------------------------------------------------- scoring

    def load_scorer(self, uri: str, task: str) -> Callable[[pd.DataFrame], np.ndarray]:
        """A function from a feature frame to scores: P(y=1), class probabilities, or predictions."""
        mlflow = self._mlflow
        if re.match(r"^models:/[^/@]+@", uri):
            self.resolve(uri)  # a clear error for a missing alias before MLflow's own
        try:
            model = mlflow.sklearn.load_model(uri)
        except Exception as sk_exc:
            if _is_connection_error(sk_exc):
                raise self._error(f"loading {uri}", sk_exc) from None
            try:
                pyfunc = mlflow.pyfunc.load_model(uri)
            except Exception as exc:
                raise RegistryError(
                    f"cannot load model {redact(uri)}: {redact(str(exc)).splitlines()[0][:200] if str(exc) else type(exc).__name__}; "
                    "check the URI and that the model was logged with mlflow.sklearn or mlflow.pyfunc"
                ) from None
            return lambda frame: np.asarray(pyfunc.predict(frame))
        if task == "regression" or not hasattr(model, "predict_proba"):
            return lambda frame: np.asarray(model.predict(frame), dtype=np.float64)
        if task == "binary":
            return lambda frame: np.asarray(model.predict_proba(frame))[:, 1]
        return lambda frame: np.asarray(model.predict_proba(frame))

    # ---------------------------------------------------------------- writing

    def register(self, model_uri: str, name: str, tags: dict[str, str] | None = None) -> str:
        """Register a model version, or return the existing one with the same source (idempotent)."""
        existing = self.find_version(name, model_uri)
        if existing is not None:
            return existing
        rm = self._call(f"reading model {name}", lambda: self.client.get_registered_model(name))
        if rm is None:
            self._call(f"creating model {name}", lambda: self.client.create_registered_model(name))
        ref = self.resolve(model_uri) if model_uri.startswith("models:/") else None
        source = ref.source if ref and ref.source else model_uri
        run_id = ref.run_id if ref else (self.resolve(model_uri).run_id if model_uri.startswith("runs:/") else None)
        mv = self._call(
            f"registering {model_uri} as {name}",
            lambda: self.client.create_model_version(name, source, run_id=run_id, tags=tags or {}),
        )
        self.set_version_tags(name, str(mv.version), {"mlgate.source_uri": model_uri})
        return str(mv.version)

    def find_version(self, name: str, model_uri: str) -> str | None:
        for v in self.list_versions(name) if self.alias_exists_model(name) else []:
            if v.tags.get("mlgate.source_uri") == model_uri or v.source == model_uri:
                return v.version
        return None

    def alias_exists_model(self, name: str) -> bool:
        return self._call(f"reading model {name}", lambda: self.client.get_registered_model(name)) is not None

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._call(f"moving {name}@{alias}", lambda: self.client.set_registered_model_alias(name, alias, str(version)))

    def delete_alias(self, name: str, alias: str) -> None:
        self._call(f"deleting {name}@{alias}", lambda: self.client.delete_registered_model_alias(name, alias))

    def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self._tag(name, version, key, str(value))

    def _tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call(f"tagging {name} version {version}", lambda: self.client.set_model_version_tag(name, str(version), key, value))

    # ---------------------------------------------------------------- evaluations

    def log_evaluation(self, report: dict[str, Any], html: str | None, tags: dict[str, str]) -> str:
        """An MLflow run in experiment `mlgate` with every metric and delta, the report and the HTML."""
        mlflow = self._mlflow

        def work() -> str:
            exp = self.client.get_experiment_by_name("mlgate")
            exp_id = exp.experiment_id if exp else self.client.create_experiment("mlgate")
            run = self.client.create_run(exp_id, tags={**tags, "mlflow.runName": _run_name(report)})
            metrics: dict[str, float] = {}
            for m in report.get("models", []):
                for c in m.get("metrics", []):
                    for field in ("candidate", "baseline", "delta", "ci_low", "ci_high"):
                        if c.get(field) is not None:
                            metrics[_metric_key(m["name"], c["name"], field)] = float(c[field])
                for s in m.get("segments", []):
                    for c in s.get("metrics", []):
                        if c.get("delta") is not None:
                            key = _metric_key(m["name"], f"{c['name']}.{s['column']}={s['value']}", "delta")
                            metrics[key] = float(c["delta"])
            import time

            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            batch = [Metric(k, v, now, 0) for k, v in metrics.items()]
            for i in range(0, len(batch), 900):
                self.client.log_batch(run.info.run_id, metrics=batch[i : i + 900])
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "mlgate-report.json").write_text(json.dumps(report, indent=2))
                if html is not None:
                    (Path(tmp) / "report.html").write_text(html)
                self.client.log_artifacts(run.info.run_id, tmp)
            self.client.set_terminated(run.info.run_id)
            return str(run.info.run_id)

        del mlflow
        return str(self._call("logging the evaluation", work))


def _run_name(report: dict[str, Any]) -> str:
    run = report.get("run", {})
    pr = f"PR #{run['pr']}" if run.get("pr") else "evaluation"
    sha = (run.get("head_sha") or "")[:8]
    return f"{pr} {sha}".strip()


def _metric_key(model: str, metric: str, field: str) -> str:
    return _METRIC_NAME.sub("_", f"{model}.{metric}.{field}")[:250]


def _is_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(s in text for s in ("ConnectionError", "Connection refused", "Max retries exceeded",
                                   "NewConnectionError", "ConnectTimeout", "Failed to establish"))
