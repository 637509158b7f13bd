"""Model loading and scoring: a registered model or a run's model as a scoring function, and a
pull request's candidate directory loaded without running its code (skops with an allowlist,
ONNX in onnxruntime, pickle only when the config allows it).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.mlflow.connection import (
    _SCHEME,
    RegistryError,
    UnsafeModel,
    _is_auth_error,
    _is_connection_error,
)
from bot.mlflow.registry import ModelRegistry
from bot.redact import redact

TASKS = ("binary", "multiclass", "regression")
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


class Scoring(ModelRegistry):
    """Scoring functions for registered models and for untrusted candidate directories."""

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


