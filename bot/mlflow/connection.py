"""The MLflow connection shared by the three adapters: opening a client, turning every MLflow,
HTTP, SQL or OS failure into a `RegistryError` that names the cause and the fix (never the
credentials in the tracking URI), and pointing MLflow's process-global URIs at this store for
the calls that read them.

mlflow is imported lazily, in the constructor: importing it costs seconds, and the App's web
process needs it only once its dashboard reads a model's @production. (`import mlflow` here is an absolute import: it is the MLflow
distribution, never this package, `bot.mlflow`.)
"""

from __future__ import annotations

import os
import re
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.errors import AdapterError
from bot.redact import redact

# MLflow retries HTTP for minutes by default; an unreachable registry must fail fast.
# Users who set these themselves keep their values.
ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # runs:/, models:/, s3://; not C:\\
_GLOBAL_URIS = threading.Lock()  # mlflow's loaders read the process-global tracking URI


class RegistryError(AdapterError):
    """A registry problem with its cause and fix; never contains credentials."""


class ModelNotFound(RegistryError):
    """The registered model does not exist (the message names the closest one)."""


class UnsafeModel(RegistryError):
    """A candidate that cannot be loaded without running its own code (or trusting types nobody listed)."""


class Connection:
    """An MLflow tracking + model registry: a server (http[s]://), or a local store (sqlite:///, a path).

    `artifact_location` is only used when the `mlgate` experiment is created. `existing`: the
    store must already be there (reading a candidate or a baseline): a local store (a SQLite file,
    a file store's directory) that does not exist is refused, where MLflow would create an empty
    one. Only the demo and tests create stores.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        *,
        artifact_location: str | None = None,
        existing: bool = False,
    ) -> None:
        for key, value in ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        import mlflow
        from mlflow import MlflowClient

        self._mlflow = mlflow
        self.tracking_uri = tracking_uri or mlflow.get_tracking_uri()
        # an explicit tracking URI brings its own registry, whatever the environment says
        self.registry_uri = registry_uri or (
            self.tracking_uri if tracking_uri else mlflow.get_registry_uri()
        )
        if existing:
            for uri in dict.fromkeys((self.tracking_uri, self.registry_uri)):
                path = local_store_path(uri)
                if path is not None and not os.path.exists(path):
                    raise RegistryError(
                        f"the MLflow store {redact(uri)} does not exist (no {path}); mlgate never creates a "
                        "store: check MLFLOW_TRACKING_URI (or --tracking-uri)")
        self.artifact_location = artifact_location
        try:
            self.client = MlflowClient(self.tracking_uri, self.registry_uri)
        except Exception as exc:
            raise self._error("opening the MLflow store", exc) from None

    def __repr__(self) -> str:
        return f"Registry({redact(self.tracking_uri)!r})"

    # ---------------------------------------------------------------- errors

    def _error(self, what: str, exc: BaseException) -> RegistryError:
        text = (
            textwrap.shorten(redact(str(exc)).strip().splitlines()[0], 300, placeholder=" …")
            if str(exc).strip()
            else type(exc).__name__
        )
        where = redact(self.registry_uri or self.tracking_uri)
        if _is_connection_error(exc):
            return RegistryError(
                f"{what}: the MLflow server at {where} cannot be reached ({_short_connection_cause(text)}); "
                "check MLFLOW_TRACKING_URI and that the server is running"
            )
        if _is_auth_error(exc):
            return RegistryError(
                f"{what}: the MLflow server at {where} refused the credentials ({text}); check "
                "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN"
            )
        if (
            isinstance(exc, OSError)
            or "unable to open database file" in text
            or "OperationalError" in text
        ):
            return RegistryError(
                f"{what}: the MLflow store {where} cannot be used ({text}); "
                "check that the path exists and is writable"
            )
        return RegistryError(f"{what} ({where}): {text}")

    def _call(self, what: str, fn: Callable[[], Any], *, missing_ok: bool = False) -> Any:
        """Run one MLflow call; None for a missing resource when `missing_ok`, else a RegistryError."""
        from mlflow.exceptions import MlflowException

        try:
            return fn()
        except MlflowException as exc:
            if missing_ok and _is_missing(exc):
                return None
            raise self._error(what, exc) from None
        except Exception as exc:  # requests/sqlalchemy/OS errors surface as many types
            raise self._error(what, exc) from None



    @contextmanager
    def _global_uris(self) -> Iterator[None]:
        """Point mlflow's process-global URIs at this registry for one call, then restore them exactly.

        mlflow's model loaders, and its SQL store when it registers a `models:/m-…` source,
        read the global tracking URI rather than the client's.
        """
        mlflow = self._mlflow
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils

        with _GLOBAL_URIS:
            env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
            old_tracking = getattr(tracking_utils, "_tracking_uri", None)
            old_registry = getattr(registry_utils, "_registry_uri", None)
            mlflow.set_tracking_uri(self.tracking_uri)
            mlflow.set_registry_uri(self.registry_uri)
            try:
                yield
            finally:
                mlflow.set_tracking_uri(old_tracking)  # None resets it
                registry_utils._registry_uri = old_registry
                for key, value in env.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


def local_store_path(uri: str) -> str | None:
    """The file a `sqlite:` URI, or the directory a `file:` URI or a plain path, keeps its store in;
    None for a server, an in-memory database or another database."""
    from urllib.parse import unquote, urlsplit

    if uri.startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        try:
            database = make_url(uri).database
        except Exception:  # an unparseable URI: MLflow's own error names it
            return None
        return None if not database or database == ":memory:" or database.startswith("file:") else database
    if uri.startswith("file:"):
        return unquote(urlsplit(uri).path) or None
    if _SCHEME.match(uri) or uri.split(":")[0] in ("databricks", "databricks-uc", "uc"):
        return None
    return uri


def _is_missing(exc: BaseException) -> bool:
    return "RESOURCE_DOES_NOT_EXIST" in f"{getattr(exc, 'error_code', '')} {exc}"


def _is_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(
        s in text
        for s in (
            "ConnectionError",
            "Connection refused",
            "Max retries exceeded",
            "NewConnectionError",
            "ConnectTimeout",
            "ReadTimeout",
            "Failed to establish",
            "Name or service not known",
            "nodename nor servname",
        )
    )


def _is_auth_error(exc: BaseException) -> bool:
    text = f"{getattr(exc, 'error_code', '')} {exc}"
    return bool(
        re.search(
            r"UNAUTHENTICATED|PERMISSION_DENIED|error code 40[13]\b|\b40[13] Client Error", text
        )
    )


def _short_connection_cause(text: str) -> str:
    m = re.search(
        r"\[Errno [^\]]+\][^')\"]*|Read timed out|timed out|Name or service not known", text
    )
    return m.group(0).strip() if m else text[:120]
