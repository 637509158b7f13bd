"""The model registry adapter: the only module that imports mlflow.

It speaks mlgate's terms (a scorer, an alias's version, register, move an alias, tags,
log an evaluation) so the rest of mlgate never sees MLflow's objects and tests of other
modules can fake it with a small class. mlflow is imported lazily, in the constructor:
importing it costs seconds, and the App's web process never needs it.

Every failure is a `RegistryError` whose message names the cause and the fix, and never
contains credentials from the tracking URI.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.redact import redact

# MLflow retries HTTP for minutes by default; an unreachable registry must fail fast.
# Users who set these themselves keep their values.
ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
EXPERIMENT = "mlgate"
TASKS = ("binary", "multiclass", "regression")
# MLflow's metric-name charset, minus ':' (refused on Windows) and '/' (our separator)
_KEY_CHAR = re.compile(r"[^A-Za-z0-9_\-. ]")
_MODELS_ALIAS = re.compile(r"^models:/([^/@]+)@([^/]+)$")
_MODELS_VERSION = re.compile(r"^models:/([^/@]+)/([^/]+)$")
_MODELS_ID = re.compile(r"^models:/(m-[0-9a-f]+)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # runs:/, models:/, s3://; not C:\\
_RUNS = re.compile(r"^runs:/([^/]+)/(.+)$")
_GLOBAL_URIS = threading.Lock()  # mlflow's loaders read the process-global tracking URI


class RegistryError(RuntimeError):
    """A registry problem with its cause and fix; never contains credentials."""


class ModelNotFound(RegistryError):
    """The registered model does not exist (the message names the closest one)."""


class UnsafeModel(RegistryError):
    """A candidate that cannot be loaded without running its own code (or trusting types nobody listed)."""


# The tags the trusted evaluation writes on each candidate it logs; /promote reads them back.
# registered-model tag: the one repository whose /promote, /rollback and merges may move the model's
# aliases (one App installation may cover many repositories sharing one registry)
RELEASED_FROM = "mlgate.repository"
PROVENANCE_TAGS = (
    "mlgate.repository",  # the repository whose trusted workflow logged it (GITHUB_REPOSITORY)
    "mlgate.pr",
    "mlgate.head_sha",  # the pull request head the candidate was built from
    "mlgate.trusted_run_id",  # the workflow_run evaluation run (GITHUB_RUN_ID)
    "mlgate.triggering_run_id",  # the pull request's own run that built it
)
CANDIDATE_EXPERIMENT = "mlgate-candidates"
MAX_CANDIDATE_BYTES = 2 * 1024**3  # a model directory larger than this is refused before reading it
MAX_CANDIDATE_FILES = 10_000
MAX_MLMODEL_BYTES = 256 * 1024
MAX_ONNX_BYTES = 1024**3  # an ONNX graph file larger than this is refused before it is parsed
# operator domains onnxruntime implements itself; any other domain is a custom op (native code to load)
ONNX_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


@dataclass(frozen=True)
class LoadPolicy:
    """What a candidate may need to load: extra skops types the default branch's config trusts,
    and whether pickle-based flavours (which run code) are allowed for this candidate."""

    trusted_types: tuple[str, ...] = ()
    allow_pickle: bool = False
    pickle_refusal: str = "the config does not allow pickle-based models (evaluation.allow_pickle)"


@dataclass(frozen=True)
class LoadedCandidate:
    """A candidate model directory loaded for scoring, and how it was loaded (kept for logging it)."""

    path: Path
    kind: str  # "skops" | "onnx" (loaded without running its code) | "pickle" (allowed by the config)
    scorer: Callable[[pd.DataFrame], np.ndarray]
    trusted_types: tuple[str, ...] = ()  # skops types outside skops' defaults that it needed
    estimator: object = None  # the skops-loaded estimator or the checked ONNX graph, re-saved when logged


@dataclass(frozen=True)
class ModelRef:
    """What a model URI points at; `version` is concrete even for `models:/name@alias`."""

    uri: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered model version, with its tags and the aliases pointing at it."""

    name: str
    version: str
    source: str | None
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    created_at: int | None = None  # ms since the epoch


VersionInfo = ModelVersionInfo  # the name the first version of this module used


class Registry:
    """An MLflow tracking + model registry: a server (http[s]://), or a local store (sqlite:///, a path).

    `artifact_location` is only used when this class creates the `mlgate` experiment.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        *,
        artifact_location: str | None = None,
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

    def _missing_model(self, name: str) -> ModelNotFound:
        known = self.registered_models()
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return ModelNotFound(
            f"registered model {name!r} does not exist in the registry at {redact(self.registry_uri)}; "
            f"{hint}check models[].name in the config and MLFLOW_TRACKING_URI, or register a version first "
            f"with mlflow.register_model(MODEL_URI, {name!r})"
        )

    def require_model(self, name: str) -> None:
        """Raise ModelNotFound (with the closest name) unless `name` is a registered model."""
        self._model(name)

    def _model(self, name: str) -> Any:
        rm = self._call(
            f"reading model {name}", lambda: self.client.get_registered_model(name), missing_ok=True
        )
        if rm is None:
            raise self._missing_model(name)
        return rm

    # ---------------------------------------------------------------- reading

    def resolve(self, uri_or_alias: str) -> ModelRef:
        """The concrete model behind a URI: `models:/name@alias` (or `name@alias`) becomes a version.

        Also accepts `models:/name/3`, `models:/name/latest`, `models:/m-<id>`, `runs:/…` and
        local paths; raises RegistryError naming the fix when the model, alias or version is missing.
        """
        uri = uri_or_alias
        if not _SCHEME.match(uri) and re.match(r"^[^/@]+@[^/@]+$", uri) and not Path(uri).exists():
            uri = f"models:/{uri}"  # the shorthand name@alias
        m = _MODELS_ALIAS.match(uri)
        if m:
            name, alias = m.groups()
            rm = self._model(name)
            aliases = {str(k): str(v) for k, v in (rm.aliases or {}).items()}
            if alias not in aliases:
                have = (
                    f" (it has: {', '.join(sorted(aliases))})"
                    if aliases
                    else " (it has no aliases yet)"
                )
                raise RegistryError(
                    f"model {name} has no alias {alias!r}{have}; set one with "
                    f"`/promote {name} --to {alias}` in a PR, or "
                    f"MlflowClient().set_registered_model_alias({name!r}, {alias!r}, VERSION)"
                )
            info = self._version_or_error(name, aliases[alias])
            return ModelRef(uri, name, info.version, alias, info.run_id, info.source)
        m = _MODELS_ID.match(uri)
        if m:
            model_id = m.group(1)
            lm = self._call(
                f"reading logged model {model_id}",
                lambda: self.client.get_logged_model(model_id),
                missing_ok=True,
            )
            if lm is None:
                raise RegistryError(
                    f"logged model {model_id} does not exist in {redact(self.tracking_uri)}; check the URI "
                    "printed by the training run and MLFLOW_TRACKING_URI"
                )
            return ModelRef(uri, run_id=lm.source_run_id, source=uri)
        m = _MODELS_VERSION.match(uri)
        if m:
            name, version = m.groups()
            if version == "latest":
                versions = self.list_versions(name)
                if not versions:
                    raise (
                        self._missing_model(name)
                        if not self._exists(name)
                        else RegistryError(f"model {name} has no versions; register one first")
                    )
                version = versions[-1].version
            info = self._version_or_error(name, version)
            return ModelRef(uri, name, info.version, None, info.run_id, info.source)
        m = _RUNS.match(uri)
        if m:
            run_id = m.group(1)
            found = self._call(
                f"reading run {run_id}", lambda: self.client.get_run(run_id), missing_ok=True
            )
            if found is None:  # not "corrupt model files": there is no such run in this store
                raise RegistryError(
                    f"run {run_id} does not exist in the MLflow store at {redact(self.tracking_uri)}; "
                    "check the run id the training job printed and MLFLOW_TRACKING_URI"
                )
            return ModelRef(uri, run_id=run_id, source=uri)
        return ModelRef(uri, source=uri)

    def _exists(self, name: str) -> bool:
        return (
            self._call(
                f"reading model {name}",
                lambda: self.client.get_registered_model(name),
                missing_ok=True,
            )
            is not None
        )

    def _version_or_error(self, name: str, version: str) -> ModelVersionInfo:
        info = self.get_version(name, version)
        if info is not None:
            return info
        if not self._exists(name):
            raise self._missing_model(name)
        have = ", ".join(v.version for v in self.list_versions(name)) or "none"
        raise RegistryError(
            f"model {name} has no version {version} (versions: {have}); check the version number"
        )

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version an alias points at; None when the model or the alias does not exist."""
        rm = self._call(
            f"reading model {name}", lambda: self.client.get_registered_model(name), missing_ok=True
        )
        if rm is None:
            return None
        version = (rm.aliases or {}).get(alias)
        return str(version) if version is not None else None

    def get_version(self, name: str, version: str) -> ModelVersionInfo | None:
        """One version with its tags and aliases; None when it (or the model) does not exist."""
        mv = self._call(
            f"reading {name} version {version}",
            lambda: self.client.get_model_version(name, str(version)),
            missing_ok=True,
        )
        return _info(mv, list(mv.aliases or [])) if mv is not None else None

    def list_versions(self, name: str) -> list[ModelVersionInfo]:
        """Every version of a model, oldest first; [] when the model does not exist."""
        rm = self._call(
            f"reading model {name}", lambda: self.client.get_registered_model(name), missing_ok=True
        )
        if rm is None:
            return []
        by_version: dict[str, list[str]] = {}
        for alias, version in (rm.aliases or {}).items():  # search_model_versions omits aliases
            by_version.setdefault(str(version), []).append(str(alias))
        found = self._call(
            f"listing versions of {name}",
            lambda: _all_pages(
                lambda token: self.client.search_model_versions(
                    f"name = '{_quote(name)}'", max_results=10_000, page_token=token
                )
            ),
        )
        out = [_info(mv, sorted(by_version.get(str(mv.version), []))) for mv in found]
        return sorted(out, key=lambda v: int(v.version))

    def registered_models(self) -> list[str]:
        """The names of all registered models (every page of MLflow's search)."""

        models = self._call(
            "listing registered models",
            lambda: _all_pages(
                lambda token: self.client.search_registered_models(
                    max_results=1000, page_token=token
                )
            ),
        )
        return sorted(m.name for m in models)

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        """A version's tags; a RegistryError when the version does not exist."""
        return self._version_or_error(name, str(version)).tags

    # ---------------------------------------------------------------- scoring

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
                mlflow.set_tracking_uri(old_tracking)  # type: ignore[arg-type]  # None resets it
                registry_utils._registry_uri = old_registry
                for key, value in env.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value

    def load_scorer(self, uri: str, task: str) -> Callable[[pd.DataFrame], np.ndarray]:
        """A function from a feature frame to scores: P(positive class), class probabilities, or predictions.

        The sklearn flavour is preferred because pyfunc's `predict` gives labels, not
        probabilities; other flavours are scored through pyfunc `predict`.
        """
        if task not in TASKS:
            raise RegistryError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
        if uri.startswith(("models:/", "runs:/")):
            # clear errors for a missing model, alias, version or run, before MLflow's own
            self.resolve(uri)
        elif not _SCHEME.match(uri) and not Path(uri).exists():
            raise RegistryError(
                f"model path {uri} does not exist; pass a models:/ or runs:/ URI or an MLflow model directory"
            )
        shown = redact(uri)
        mlflow = self._mlflow
        with self._global_uris():
            try:
                model = mlflow.sklearn.load_model(uri)
            except Exception as sk_exc:
                if _is_connection_error(sk_exc) or _is_auth_error(sk_exc):
                    raise self._error(f"loading {shown}", sk_exc) from None
                try:
                    pyfunc = mlflow.pyfunc.load_model(uri)
                except Exception as exc:
                    if _is_connection_error(exc) or _is_auth_error(exc):
                        raise self._error(f"loading {shown}", exc) from None
                    cause = exc if "sklearn" in str(sk_exc) and "flavor" in str(sk_exc) else sk_exc
                    text = (
                        redact(str(cause)).strip().splitlines()[0][:200]
                        if str(cause).strip()
                        else ""
                    )
                    raise RegistryError(
                        f"cannot load model {shown}: {type(cause).__name__}: {text}; the model files are missing "
                        "or corrupt, or were saved with another library version; re-log the model with "
                        "mlflow.sklearn.log_model or mlflow.pyfunc.log_model"
                    ) from None
                if "onnx" in (pyfunc.metadata.flavors or {}):  # pyfunc's predict gives every output: pick ours
                    signature = pyfunc.metadata.signature
                    session = _onnx_session(partial(mlflow.onnx.load_model, uri), shown)
                    return _onnx_scorer(session, {"signature": signature.to_dict() if signature else None},
                                        task, shown)
                return _pyfunc_scorer(pyfunc, task)
        return _sklearn_scorer(model, task, shown)

    # ---------------------------------------------------------------- untrusted candidates

    def load_candidate(self, path: Path, task: str, policy: LoadPolicy) -> LoadedCandidate:
        """Load a candidate MLflow model directory built by a pull request's code, without running that code.

        sklearn saved with skops (MLflow 3's default) is loaded with skops' allowlist plus
        `policy.trusted_types`, never the list in the candidate's own MLmodel file. Every
        ONNX runs in onnxruntime (a graph of built-in operators, no Python). Every
        other flavour unpickles code, so it loads only when `policy.allow_pickle`.
        """
        if task not in TASKS:
            raise RegistryError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
        mlmodel = _read_candidate_dir(path)
        flavors = mlmodel.get("flavors")
        flavors = flavors if isinstance(flavors, dict) else {}
        sk = flavors.get("sklearn")
        if isinstance(sk, dict) and sk.get("serialization_format") == "skops":
            return self._load_skops(path, sk, task, policy)
        onnx_flavour = flavors.get("onnx")
        if isinstance(onnx_flavour, dict):
            return _load_onnx(path, onnx_flavour, mlmodel, task)
        what = _flavour_words(flavors)
        if not policy.allow_pickle:
            raise UnsafeModel(
                f"the candidate in {path} is {what}, which runs code from the pull request when it is "
                f"loaded, and {policy.pickle_refusal}; save it with mlflow.sklearn.save_model(..., "
                "serialization_format='skops') (MLflow 3's default) or mlflow.onnx.save_model, "
                "or set `evaluation.allow_pickle: writers` "
                "in the default branch's .github/mlgate.yml to load pickles built from this repository's own branches"
            )
        return LoadedCandidate(path, "pickle", self.load_scorer(str(path), task))

    def _load_skops(self, path: Path, flavour: dict[str, Any], task: str, policy: LoadPolicy) -> LoadedCandidate:
        import skops.io

        name = str(flavour.get("pickled_model") or "model.skops")
        file = (path / name).resolve()
        if file.parent != path.resolve() or not file.is_file() or file.is_symlink():
            raise RegistryError(
                f"the candidate in {path} names its model file {name[:100]!r}, which is not a file in that "
                "directory; save the model again with mlflow.sklearn.save_model"
            )
        try:
            needed = [str(t) for t in skops.io.get_untrusted_types(file=file)]
        except Exception as exc:
            raise RegistryError(
                f"cannot read the skops file of the candidate in {path}: {type(exc).__name__}: "
                f"{textwrap.shorten(str(exc), 200, placeholder=' …')}; save the model again"
            ) from None
        refused = sorted(t for t in needed if t not in policy.trusted_types)
        if refused:
            shown = ", ".join(refused[:10]) + (f" and {len(refused) - 10} more" if len(refused) > 10 else "")
            raise UnsafeModel(
                f"the candidate in {path} needs types that skops does not trust by default: {shown}; "
                "loading them can run code or read memory, so mlgate refuses. If you reviewed them, list them "
                "under `evaluation.skops_trusted_types` in the default branch's .github/mlgate.yml"
            )
        try:
            estimator = skops.io.load(file, trusted=needed)
        except Exception as exc:
            raise RegistryError(
                f"cannot load the skops file of the candidate in {path}: {type(exc).__name__}: "
                f"{textwrap.shorten(str(exc), 200, placeholder=' …')}; save the model again"
            ) from None
        return LoadedCandidate(path, "skops", _sklearn_scorer(estimator, task, str(path)),
                               tuple(sorted(needed)), estimator)

    def log_candidate(self, candidate: LoadedCandidate, tags: dict[str, str]) -> ModelRef:
        """Log a candidate as an MLflow logged model (one run each, experiment `mlgate-candidates`).

        The run and the model carry `tags` (the provenance /promote checks). A skops model is
        saved again by mlgate, so its MLmodel file lists only the types mlgate trusted and no
        code paths; an ONNX graph is saved again with mlflow.onnx (so no loader or code path of the
        PR's MLmodel survives); a pickle model (allowed by the config) is uploaded as it was scored.
        """
        from mlflow.entities import LoggedModelStatus

        clean = {k: str(v) for k, v in tags.items() if v not in (None, "")}
        exp_id = self._call("creating the mlgate-candidates experiment",
                            lambda: self._experiment_id(CANDIDATE_EXPERIMENT))
        run_name = f"candidate {clean.get('mlgate.model', '')} {clean.get('mlgate.head_sha', '')[:8]}".strip()
        run = self._call("starting a candidate run", lambda: self.client.create_run(
            exp_id, tags={**clean, "mlflow.runName": run_name}))
        run_id = str(run.info.run_id)

        def work() -> str:
            lm = self.client.create_logged_model(exp_id, name="model", source_run_id=run_id, tags=clean)
            with tempfile.TemporaryDirectory() as tmp:
                local = str(candidate.path)
                if candidate.kind == "skops":
                    import sklearn
                    import skops

                    local = str(Path(tmp) / "model")
                    with self._global_uris():
                        self._mlflow.sklearn.save_model(
                            candidate.estimator, local, serialization_format="skops",
                            skops_trusted_types=list(candidate.trusted_types) or None,
                            # pinned, so MLflow does not spend seconds inferring requirements
                            pip_requirements=[f"scikit-learn=={sklearn.__version__}",
                                              f"skops=={skops.__version__}"],
                        )
                elif candidate.kind == "onnx":
                    import onnx
                    import onnxruntime
                    from mlflow.models.signature import ModelSignature

                    local = str(Path(tmp) / "model")
                    # the columns it was scored with (a single-matrix input is fed the signature's columns)
                    sig = _read_candidate_dir(candidate.path).get("signature")
                    with self._global_uris():
                        self._mlflow.onnx.save_model(
                            candidate.estimator, local, save_as_external_data=False,
                            signature=ModelSignature.from_dict(sig) if isinstance(sig, dict) else None,
                            onnx_execution_providers=["CPUExecutionProvider"],
                            pip_requirements=[f"onnx=={onnx.__version__}",
                                              f"onnxruntime=={onnxruntime.__version__}"],
                        )
                self.client.log_model_artifacts(lm.model_id, local)
            self.client.finalize_logged_model(lm.model_id, LoggedModelStatus.READY)
            self.client.set_terminated(run_id)
            return str(lm.model_id)

        try:
            model_id = self._call("logging the candidate", work)
        except RegistryError:
            with suppress(Exception):
                self.client.set_terminated(run_id, status="FAILED")
            raise
        uri = f"models:/{model_id}"
        return ModelRef(uri, run_id=run_id, source=uri)

    def candidate_provenance(self, uri: str) -> dict[str, str] | None:
        """The `mlgate.*` tags of the logged model `models:/m-…` and of the run that logged it.

        None when `uri` is not a logged model of this store (a bare URI, a path, a registered
        version, an unknown id): only the trusted evaluation's logged models carry provenance.
        Where the model's and the run's tags disagree, the tag is dropped (it proves nothing).
        """
        m = _MODELS_ID.match(uri)
        if not m:
            return None
        model_id = m.group(1)
        lm = self._call(f"reading logged model {model_id}", lambda: self.client.get_logged_model(model_id),
                        missing_ok=True)
        if lm is None or not lm.source_run_id:
            return None
        run_id = str(lm.source_run_id)
        run = self._call(f"reading run {run_id}", lambda: self.client.get_run(run_id), missing_ok=True)
        if run is None:
            return None
        model_tags = {str(k): str(v) for k, v in (lm.tags or {}).items() if str(k).startswith("mlgate.")}
        run_tags = {str(k): str(v) for k, v in (run.data.tags or {}).items() if str(k).startswith("mlgate.")}
        return {k: v for k, v in model_tags.items() if run_tags.get(k) == v}

    # ---------------------------------------------------------------- writing

    def _source(self, model_uri: str) -> tuple[str, str | None, str | None]:
        """(source, run_id, model_id) to register: the logged model behind runs:/ and models:/ URIs."""
        m = _RUNS.match(model_uri)
        if m:
            run_id, path = m.groups()
            run = self._call(
                f"reading run {run_id}", lambda: self.client.get_run(run_id), missing_ok=True
            )
            if run is None:
                raise RegistryError(
                    f"run {run_id} does not exist in {redact(self.tracking_uri)}; check the runs:/ URI"
                )
            found = self._call(
                f"finding the model {path} of run {run_id}",
                lambda: list(
                    self.client.search_logged_models(
                        experiment_ids=[run.info.experiment_id],
                        filter_string=f"source_run_id = '{_quote(run_id)}' AND name = '{_quote(path.strip('/'))}'",
                    )
                ),
            )
            if found:  # MLflow 3 keeps models outside the run's artifacts
                return found[0].model_uri, run_id, found[0].model_id
            return model_uri, run_id, None
        m = _MODELS_ID.match(model_uri)
        if m:
            ref = self.resolve(model_uri)
            return model_uri, ref.run_id, m.group(1)
        if model_uri.startswith("models:/"):
            ref = self.resolve(model_uri)
            return ref.source or model_uri, ref.run_id, None
        if not _SCHEME.match(model_uri):
            path = Path(model_uri)
            if not (path / "MLmodel").is_file():
                raise RegistryError(
                    f"{model_uri} is not an MLflow model directory (no MLmodel file)"
                )
            return str(path.resolve()), None, None
        return model_uri, None, None

    def register(self, model_uri: str, name: str, tags: dict[str, str] | None = None) -> str:
        """Register `model_uri` as a version of `name`; idempotent: the same model returns its existing version.

        "The same model" means the same registered source (`runs:/…` is first resolved to the
        `models:/m-…` MLflow 3 logged under that run) or the same URI recorded at registration.
        """
        source, run_id, model_id = self._source(model_uri)
        for v in self.list_versions(name):
            if v.source == source or v.tags.get("mlgate.source_uri") == model_uri:
                if tags:
                    self.set_version_tags(name, v.version, tags)
                return v.version
        if not self._exists(name):
            from mlflow.exceptions import MlflowException

            try:
                self.client.create_registered_model(name)
            except MlflowException as exc:
                # created concurrently by another worker: fine
                if "RESOURCE_ALREADY_EXISTS" not in f"{exc.error_code} {exc}":
                    raise self._error(f"creating model {name}", exc) from None
            except Exception as exc:
                raise self._error(f"creating model {name}", exc) from None
        all_tags = {**{k: str(v) for k, v in (tags or {}).items()}, "mlgate.source_uri": model_uri}
        with self._global_uris():
            mv = self._call(
                f"registering {redact(model_uri)} as {name}",
                lambda: self.client.create_model_version(
                    name, source, run_id=run_id, tags=all_tags, model_id=model_id
                ),
            )
        return str(mv.version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point `name@alias` at `version` (MLflow moves an alias atomically)."""
        self._version_or_error(name, str(version))
        self._call(
            f"moving {name}@{alias} to version {version}",
            lambda: self.client.set_registered_model_alias(name, alias, str(version)),
        )

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove `name@alias`; nothing happens when it does not exist."""
        if self.alias_version(name, alias) is None:
            return
        self._call(
            f"deleting {name}@{alias}",
            lambda: self.client.delete_registered_model_alias(name, alias),
        )

    def model_repository(self, name: str) -> str | None:
        """The repository that releases `name` (its registered-model tag `mlgate.repository`, set by
        the first promotion from a pull request); None when the model or the tag does not exist."""
        rm = self._call(f"reading model {name}", lambda: self.client.get_registered_model(name), missing_ok=True)
        return None if rm is None else (dict(rm.tags or {}).get(RELEASED_FROM) or None)

    def bind_repository(self, name: str, repo: str) -> None:
        """Record that only `repo`'s pull requests release `name` (see model_repository)."""
        self._call(f"tagging model {name}", lambda: self.client.set_registered_model_tag(name, RELEASED_FROM, repo))

    def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        """Set (overwrite) tags on one version; the audit trail mirrors itself here."""
        self._version_or_error(name, str(version))
        for key, value in tags.items():
            self._call(
                f"tagging {name} version {version}",
                partial(self.client.set_model_version_tag, name, str(version), key, str(value)),
            )

    # ---------------------------------------------------------------- evaluations

    def _experiment_id(self, name: str = EXPERIMENT) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        return str(self.client.create_experiment(name, artifact_location=self.artifact_location))

    def log_evaluation(self, report: dict[str, Any], html: str | None, tags: dict[str, str]) -> str:
        """Log a report as a run in experiment `mlgate`, so evaluation history shows in MLflow's UI.

        Metrics: for every model, metric and segment, the baseline and candidate values, the
        delta, its interval and p-value. Artifacts: the report JSON and the HTML. Tags: the
        repository, PR, head SHA and dataset hash (from the report; `tags` adds or overrides).
        """
        from mlflow.entities import Metric, Param

        all_tags = {**report_tags(report), **{k: str(v) for k, v in tags.items() if v is not None}}
        all_tags["mlflow.runName"] = _run_name(report)
        metrics = evaluation_metrics(report)
        params = {
            _key([m.get("name", "model"), role]): str((m.get(role) or {}).get("uri") or "")[:6000]
            for m in report.get("models", [])
            for role in ("candidate", "baseline")
        }
        env = report.get("environment", {})
        params.update(
            {k: str(env[k]) for k in ("seed", "resamples", "confidence") if env.get(k) is not None}
        )

        exp_id = self._call("creating the mlgate experiment", self._experiment_id)
        run = self._call(
            "starting an evaluation run", lambda: self.client.create_run(exp_id, tags=all_tags)
        )
        run_id = str(run.info.run_id)

        def work() -> None:
            now = int(time.time() * 1000)
            batch = [Metric(k, v, now, 0) for k, v in metrics.items()]
            for i in range(0, len(batch), 1000):  # MLflow's log_batch limit
                self.client.log_batch(run_id, metrics=batch[i : i + 1000])
            self.client.log_batch(run_id, params=[Param(k, v) for k, v in params.items() if v])
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "mlgate-report.json").write_text(json.dumps(report, indent=2), "utf-8")
                if html is not None:
                    (Path(tmp) / "report.html").write_text(html, "utf-8")
                self.client.log_artifacts(run_id, tmp)
            self.client.set_terminated(run_id)

        try:
            self._call("logging the evaluation", work)
        except RegistryError:
            # the store is failing already; the first error is the one to show
            with suppress(Exception):
                self.client.set_terminated(run_id, status="FAILED")
            raise
        return run_id


# -------------------------------------------------------------------- helpers


def report_tags(report: dict[str, Any]) -> dict[str, str]:
    """The run tags mlgate derives from a report: repository, PR, head SHA, dataset hash."""
    run = report.get("run") or {}
    models = report.get("models") or []
    tags = {
        "mlgate.repository": run.get("repository"),
        "mlgate.pr": run.get("pr"),
        "mlgate.head_sha": run.get("head_sha") or (report.get("environment") or {}).get("code_sha"),
        "mlgate.base_rev": run.get("base_rev"),
        "mlgate.dataset_sha256": ",".join(
            str((m.get("holdout") or {}).get("sha256") or "") for m in models
        ),
        "mlgate.models": ",".join(str(m.get("name")) for m in models),
    }
    return {k: str(v) for k, v in tags.items() if v not in (None, "")}


def evaluation_metrics(report: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics for a report: `<model>/<metric>/<field>` and `<model>/<column>/<value>/<metric>/<field>`."""
    fields = ("baseline", "candidate", "delta", "ci_low", "ci_high", "p_value")
    out: dict[str, float] = {}

    def put(parts: list[str], values: dict[str, Any]) -> None:
        for f in fields:
            v = values.get(f)
            if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v):
                key, n = _key([*parts, f]), 1
                while key in out:  # two names that sanitize alike stay apart
                    n += 1
                    key = _key([*parts[:-1], f"{parts[-1]}_{n}", f])
                out[key] = float(v)

    for m in report.get("models", []):
        model = str(m.get("name", "model"))
        for c in m.get("metrics", []):
            put([model, str(c["name"])], c)
        for s in m.get("segments", []):
            for c in s.get("metrics", []):
                put([model, str(s.get("column")), str(s.get("value")), str(c["name"])], c)
            if isinstance(s.get("rows"), int):
                out.setdefault(
                    _key([model, str(s.get("column")), str(s.get("value")), "rows"]),
                    float(s["rows"]),
                )
    return out


def _key(parts: list[str]) -> str:
    """A metric/param name MLflow accepts on every platform: safe characters, no empty or dot path parts."""
    clean = []
    for p in parts:
        c = _KEY_CHAR.sub("_", p).strip() or "_"
        clean.append("_" if set(c) == {"."} else c)
    return "/".join(clean)[:250]


def _all_pages(search: Callable[[str | None], Any]) -> list[Any]:
    """Every item of a paged MLflow search."""
    out: list[Any] = []
    token: str | None = None
    while True:
        page = search(token)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _info(mv: Any, aliases: list[str]) -> ModelVersionInfo:
    return ModelVersionInfo(
        name=str(mv.name),
        version=str(mv.version),
        source=mv.source,
        run_id=mv.run_id or None,
        tags={str(k): str(v) for k, v in (mv.tags or {}).items()},
        aliases=aliases,
        created_at=getattr(mv, "creation_timestamp", None),
    )


def _read_candidate_dir(path: Path) -> dict[str, Any]:
    """The MLmodel file of an untrusted model directory, after bounding the directory itself."""
    import yaml

    if not path.is_dir():
        raise RegistryError(f"candidate directory {path} does not exist; download the candidate artifact there "
                            "(actions/download-artifact) or pass the right path")
    total = files = 0
    for p in path.rglob("*"):
        if p.is_symlink():
            raise RegistryError(f"the candidate in {path} contains a symbolic link ({p.relative_to(path)}); "
                                "a model directory holds plain files only")
        if p.is_file():
            files += 1
            total += p.stat().st_size
        if files > MAX_CANDIDATE_FILES or total > MAX_CANDIDATE_BYTES:
            raise RegistryError(f"the candidate in {path} has more than {MAX_CANDIDATE_FILES} files or "
                                f"{MAX_CANDIDATE_BYTES // 1024**3} GiB; upload only the MLflow model directory")
    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        raise RegistryError(f"{path} is not an MLflow model directory (no MLmodel file); save the candidate "
                            "with mlflow.sklearn.save_model(model, DIR) and upload DIR")
    if mlmodel.stat().st_size > MAX_MLMODEL_BYTES:
        raise RegistryError(f"the MLmodel file in {path} is over {MAX_MLMODEL_BYTES // 1024} KiB; save the model again")
    try:
        text = mlmodel.read_text("utf-8")
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise RegistryError(f"the MLmodel file in {path} uses YAML aliases, which MLflow never writes; "
                                "save the model again")
        data = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RegistryError(f"the MLmodel file in {path} is not valid YAML ({type(exc).__name__}); "
                            "save the model again") from None
    if not isinstance(data, dict):
        raise RegistryError(f"the MLmodel file in {path} is not a mapping; save the model again")
    return data


def _flavour_words(flavors: dict[str, Any]) -> str:
    sk = flavors.get("sklearn")
    if isinstance(sk, dict):
        return f"an sklearn model saved with {str(sk.get('serialization_format') or 'pickle')[:40]}"
    names = ", ".join(sorted(str(k)[:40] for k in flavors)[:5]) or "no flavour"
    return f"a model of flavour {names}"


_ONNX_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": np.object_,
}


def _load_onnx(path: Path, flavour: dict[str, Any], mlmodel: dict[str, Any], task: str) -> LoadedCandidate:
    """An ONNX candidate run by onnxruntime: its graph is data, so no code of the pull request runs.

    Checked before onnxruntime sees it: the graph file's size, its operator domains (a custom
    domain means a native library to load) and every external-data file (inside the directory).
    """
    try:
        import onnx
        import onnxruntime
        from onnx.external_data_helper import _get_all_tensors, uses_external_data
    except ImportError:
        raise RegistryError(f"the candidate in {path} is an ONNX model and onnxruntime is not installed; "
                            "pip install 'mlgate[onnx]'") from None
    root = path.resolve()
    name = str(flavour.get("data") or "model.onnx")
    file = (path / name).resolve()
    if file.parent != root or not file.is_file():
        raise RegistryError(f"the candidate in {path} names its ONNX file {name[:100]!r}, which is not a file in "
                            "that directory; save the model again with mlflow.onnx.save_model")
    if file.stat().st_size > MAX_ONNX_BYTES:
        raise RegistryError(f"the ONNX file of the candidate in {path} is over {MAX_ONNX_BYTES // 1024**2} MiB; "
                            "store large weights as external data files in the model directory")
    try:
        model = onnx.load(str(file), load_external_data=False)
    except Exception as exc:
        raise RegistryError(f"cannot read the ONNX file of the candidate in {path}: {type(exc).__name__}; "
                            "save the model again with mlflow.onnx.save_model") from None
    custom = sorted({str(o.domain)[:60] for o in model.opset_import} - ONNX_DOMAINS)
    if custom:
        raise UnsafeModel(f"the ONNX candidate in {path} uses operators of domain {', '.join(custom[:5])}, which "
                          "onnxruntime does not implement itself (custom operators are native code); export it "
                          "with the standard ai.onnx and ai.onnx.ml operators only")
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        location = next((str(e.value) for e in tensor.external_data if e.key == "location"), "")
        target = (root / location).resolve()
        if not location or not target.is_relative_to(root) or not target.is_file():
            raise UnsafeModel(f"the ONNX candidate in {path} reads external data from {location[:100]!r}, which is "
                              "not a file in its model directory; save the model again with mlflow.onnx.save_model")
    try:
        onnx.load_external_data_for_model(model, str(root))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise RegistryError(
            f"onnxruntime cannot load the candidate in {path}: {type(exc).__name__}: "
            f"{textwrap.shorten(str(exc), 200, placeholder=' …')}; save the model again with mlflow.onnx.save_model"
        ) from None
    return LoadedCandidate(path, "onnx", _onnx_scorer(session, mlmodel, task, str(path)), estimator=model)


def _onnx_session(load: Callable[[], Any], shown: str) -> Any:
    """An onnxruntime session for a registered ONNX model (one mlgate logged, or a reviewed version)."""
    try:
        import onnxruntime

        model = load()
    except ImportError:
        raise RegistryError(f"model {shown} is an ONNX model and onnxruntime is not installed; "
                            "pip install 'mlgate[onnx]'") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _signature_columns(mlmodel: dict[str, Any]) -> list[str]:
    """The column names of the MLmodel's input signature (just a list of names; nothing runs)."""
    sig = mlmodel.get("signature")
    raw = sig.get("inputs") if isinstance(sig, dict) else None
    try:
        cols = json.loads(raw) if isinstance(raw, str) else []
    except ValueError:
        return []
    return [str(c["name"]) for c in cols if isinstance(c, dict) and c.get("name")] if isinstance(cols, list) else []


def _onnx_scorer(session: Any, mlmodel: dict[str, Any], task: str, shown: str) -> Callable[[pd.DataFrame], np.ndarray]:
    inputs = list(session.get_inputs())
    outputs = list(session.get_outputs())
    for i in inputs:
        if i.type not in _ONNX_DTYPES:
            raise RegistryError(f"the ONNX candidate in {shown} has input {i.name!r} of type {i.type}; mlgate feeds "
                                f"{', '.join(_ONNX_DTYPES)}")
    pick = _onnx_output(outputs, task, shown)
    signature = _signature_columns(mlmodel)

    def feeds(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if all(i.name in frame.columns for i in inputs):  # one input per column (skl2onnx with named columns)
            return {i.name: frame[i.name].to_numpy().astype(_ONNX_DTYPES[i.type]).reshape(
                (-1, 1) if len(i.shape) == 2 else (-1,)) for i in inputs}
        if len(inputs) == 1 and len(inputs[0].shape) == 2:  # one matrix: the signature's columns, else all
            columns = signature if signature and all(c in frame.columns for c in signature) else list(frame.columns)
            width = inputs[0].shape[1]
            if isinstance(width, int) and width != len(columns):
                raise RegistryError(f"the ONNX candidate in {shown} takes {width} features and the holdout has "
                                    f"{len(columns)} ({', '.join(map(str, columns[:10]))}); save it with a "
                                    "signature naming its columns, or one input per column")
            return {inputs[0].name: frame[columns].to_numpy().astype(_ONNX_DTYPES[inputs[0].type])}
        missing = [i.name for i in inputs if i.name not in frame.columns]
        raise RegistryError(f"the ONNX candidate in {shown} has inputs {', '.join(missing[:10])} that are not "
                            "holdout columns; name its inputs after the columns")

    def score(frame: pd.DataFrame) -> np.ndarray:
        return pick(session.run(None, feeds(frame)))

    return score


def _onnx_output(outputs: list[Any], task: str, shown: str) -> Callable[[list[Any]], np.ndarray]:
    """Which output holds the scores: the probabilities (a tensor, or sklearn-onnx's ZipMap list of
    dicts keyed by class, ordered like sklearn's sorted `classes_`) or a regressor's single value."""
    floats = {"tensor(float)", "tensor(double)"}
    if task == "regression":
        found = outputs if len(outputs) == 1 else [o for o in outputs if o.type in floats]
    else:
        found = [o for o in outputs if o.type.startswith("seq(map(") or (o.type in floats and len(o.shape) == 2)]
        named = [o for o in found if o.name in ("output_probability", "probabilities")]
        found = named or found
    if len(found) != 1:
        listed = ", ".join(f"{o.name}: {o.type}" for o in outputs[:10])
        want = "one value per row" if task == "regression" else "class probabilities"
        raise RegistryError(f"cannot tell which output of the ONNX candidate in {shown} ({listed}) holds {want}; "
                            "export a classifier with its probability output (skl2onnx's output_probability) "
                            "or a regressor with a single output")
    index, out = outputs.index(found[0]), found[0]

    def pick(results: list[Any]) -> np.ndarray:
        value = results[index]
        if isinstance(value, list):  # ZipMap: [{class: probability}, ...]
            keys = sorted(value[0]) if value else []
            value = [[row[k] for k in keys] for row in value]
        arr = np.asarray(value, dtype=np.float64)
        if task == "regression" and arr.ndim == 2 and arr.shape[1] == 1:
            return arr[:, 0]
        if task == "binary" and arr.ndim == 2 and arr.shape[1] == 2:
            return arr[:, 1]
        if (task == "regression" and arr.ndim == 1) or (task == "multiclass" and arr.ndim == 2):
            return arr
        raise RegistryError(f"output {out.name} of the ONNX candidate in {shown} has shape {arr.shape}, not "
                            f"{'(rows,)' if task == 'regression' else '(rows, 2)' if task == 'binary' else '(rows, classes)'}")

    return pick


def _sklearn_scorer(model: Any, task: str, shown: str) -> Callable[[pd.DataFrame], np.ndarray]:
    if task == "regression":
        return lambda frame: np.asarray(model.predict(frame), dtype=np.float64)
    if not hasattr(model, "predict_proba"):
        raise RegistryError(
            f"model {shown} is a {type(model).__name__} without predict_proba; mlgate compares probabilities "
            "for classification: wrap it in sklearn.calibration.CalibratedClassifierCV, or score it yourself "
            "and pass --predictions"
        )
    if task == "binary":
        return lambda frame: np.asarray(model.predict_proba(frame), dtype=np.float64)[:, -1]
    return lambda frame: np.asarray(model.predict_proba(frame), dtype=np.float64)


def _pyfunc_scorer(pyfunc: Any, task: str) -> Callable[[pd.DataFrame], np.ndarray]:
    def score(frame: pd.DataFrame) -> np.ndarray:
        out = np.asarray(pyfunc.predict(frame))
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        elif task == "binary" and out.ndim == 2 and out.shape[1] == 2:
            out = out[:, 1]
        return out

    return score


def _run_name(report: dict[str, Any]) -> str:
    run = report.get("run") or {}
    sha = str(run.get("head_sha") or (report.get("environment") or {}).get("code_sha") or "")[:8]
    pr = f"PR #{run['pr']}" if run.get("pr") else "evaluation"
    return f"{pr} {sha}".strip()


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
