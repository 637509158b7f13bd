"""Experiment logging: an evaluation report as a run of experiment `mlgate`, a trusted
evaluation's candidate as a logged model with its provenance tags, and reading those tags back.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.mlflow.connection import Connection, RegistryError
from bot.mlflow.registry import _MODELS_ID, ModelRef
from bot.mlflow.scoring import LoadedCandidate, _read_candidate_dir

EXPERIMENT = "mlgate"
# MLflow's metric-name charset, minus ':' (refused on Windows) and '/' (our separator)
_KEY_CHAR = re.compile(r"[^A-Za-z0-9_\-. ]")
_SEPARATOR = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")  # the thousands separator of 1,000

PROVENANCE_TAGS = (
    "mlgate.repository",  # the repository whose trusted workflow logged it (GITHUB_REPOSITORY)
    "mlgate.pr",
    "mlgate.head_sha",  # the pull request head the candidate was built from
    "mlgate.trusted_run_id",  # the workflow_run evaluation run (GITHUB_RUN_ID)
    "mlgate.triggering_run_id",  # the pull request's own run that built it
)
CANDIDATE_EXPERIMENT = "mlgate-candidates"


@dataclass(frozen=True)
class EvaluationRun:
    """The MLflow run an evaluation is logged into, created before the report is written so
    the report can name it (its `evaluation_run`)."""

    run_id: str
    experiment_id: str


class Tracking(Connection):
    """MLflow's tracking side: evaluation runs and candidate logged models."""

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
        return ModelRef(uri, run_id=run_id, source=uri, experiment_id=str(exp_id))

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


    # ---------------------------------------------------------------- evaluations

    def _experiment_id(self, name: str = EXPERIMENT) -> str:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        return str(self.client.create_experiment(name, artifact_location=self.artifact_location))

    def start_evaluation(self, report: dict[str, Any]) -> EvaluationRun:
        """Create the run an evaluation will be logged into (experiment `mlgate`, status RUNNING),
        so the report can name it before it is logged (`log_evaluation_into`).

        Tags from the report (repository, PR, head SHA, dataset hash) and a run name; a caller
        that does not go on to log into it calls `discard_evaluation`.
        """
        all_tags = {**report_tags(report), "mlflow.runName": _run_name(report)}
        exp_id = self._call("creating the mlgate experiment", self._experiment_id)
        run = self._call(
            "starting an evaluation run", lambda: self.client.create_run(exp_id, tags=all_tags)
        )
        return EvaluationRun(run_id=str(run.info.run_id), experiment_id=str(exp_id))

    def log_evaluation_into(self, run: EvaluationRun, report: dict[str, Any], html: str | None,
                            tags: dict[str, str]) -> None:
        """Log a report into the run `start_evaluation` created, and end it FINISHED.

        Metrics: for every model, metric and segment, the baseline and candidate values, the
        delta, its interval and p-value. Artifacts: the report JSON and the HTML. Tags: `tags`
        (added to the report's, overriding them). If any of it fails, the run is discarded
        (ended FAILED, then deleted: no half-logged evaluation stays in the experiment) and
        the RegistryError is raised.
        """
        from mlflow.entities import Metric, Param, RunTag

        run_id = run.run_id
        extra = [RunTag(k, str(v)) for k, v in tags.items() if v is not None]
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

        def work() -> None:
            now = int(time.time() * 1000)
            if extra:
                self.client.log_batch(run_id, tags=extra)
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
            self.discard_evaluation(run)
            raise

    def discard_evaluation(self, run: EvaluationRun) -> None:
        """End an evaluation run FAILED and delete it, as far as the store still answers (the
        error that led here is the one to report, so this one raises nothing)."""
        with suppress(Exception):
            self.client.set_terminated(run.run_id, status="FAILED")
        with suppress(Exception):
            self.client.delete_run(run.run_id)

    def log_evaluation(self, report: dict[str, Any], html: str | None, tags: dict[str, str]) -> str:
        """Log a report as a run in experiment `mlgate` in one go (`start_evaluation`, then
        `log_evaluation_into`), so evaluation history shows in MLflow's UI; the run's id."""
        run = self.start_evaluation(report)
        self.log_evaluation_into(run, report, html, tags)
        return run.run_id


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
            # a bin's label has thousands separators ("[1,000, 5,000)"); its metric names keep
            # the digits alone, as before the separators, so MLflow's history of a segment goes on
            value = _SEPARATOR.sub("", str(s.get("value")))
            for c in s.get("metrics", []):
                put([model, str(s.get("column")), value, str(c["name"])], c)
            if isinstance(s.get("rows"), int):
                out.setdefault(
                    _key([model, str(s.get("column")), value, "rows"]),
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



def _run_name(report: dict[str, Any]) -> str:
    run = report.get("run") or {}
    sha = str(run.get("head_sha") or (report.get("environment") or {}).get("code_sha") or "")[:8]
    pr = f"PR #{run['pr']}" if run.get("pr") else "evaluation"
    return f"{pr} {sha}".strip()


