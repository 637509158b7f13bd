"""Alias administration: resolve model URIs, read versions and their tags, register a model,
move and delete aliases, and bind a model to the repository that releases it.

Speaks mlgate's terms (`ModelRef`, `ModelVersionInfo`), so no MLflow object leaves the package.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bot.mlflow.connection import _SCHEME, Connection, ModelNotFound, RegistryError
from bot.redact import redact

_MODELS_ALIAS = re.compile(r"^models:/([^/@]+)@([^/]+)$")
_MODELS_VERSION = re.compile(r"^models:/([^/@]+)/([^/]+)$")
_MODELS_ID = re.compile(r"^models:/(m-[0-9a-f]+)$")
_RUNS = re.compile(r"^runs:/([^/]+)/(.+)$")

# The tags the trusted evaluation writes on each candidate it logs; /promote reads them back.
# registered-model tag: the one repository whose /promote, /rollback and merges may move the model's
# aliases (one App installation may cover many repositories sharing one registry)
RELEASED_FROM = "mlgate.repository"


@dataclass(frozen=True)
class ModelRef:
    """What a model URI points at; `version` is concrete even for `models:/name@alias`."""

    uri: str
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    source: str | None = None
    experiment_id: str | None = None  # the run's experiment, when known (for a link into the MLflow UI)


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


class ModelRegistry(Connection):
    """The model registry's side of MLflow: versions, aliases and their tags."""

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

