"""Untrusted candidates in bot.mlflow: loading a PR-built model directory without running its code,
logging it with provenance, and reading that provenance back. Real skops, cloudpickle and MLflow."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from bot.mlflow import LoadPolicy, Registry, UnsafeModel
from tests.registry.conftest import frame


class Doubler:
    """A type skops does not know: loading it would mean importing and building test code."""

    def __init__(self) -> None:
        self.factor = 2.0

    def predict_proba(self, x: Any) -> np.ndarray:
        p = np.clip(np.asarray(x)[:, :1] * self.factor, 0, 1)
        return np.hstack([1 - p, p])


@pytest.fixture
def reg(store: dict[str, Any], tmp_path: Path) -> Registry:
    db = tmp_path / "mlflow.db"
    shutil.copy(store["root"] / "mlflow.db", db)
    return Registry(f"sqlite:///{db}", artifact_location=(tmp_path / "mlgate-artifacts").as_uri())


@pytest.fixture(scope="module")
def dirs(store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import mlflow
    import skops.io

    root = tmp_path_factory.mktemp("candidates")
    model = store["models"]["binary"]
    mlflow.sklearn.save_model(model, str(root / "skops"), pip_requirements=["scikit-learn"])
    # a skops file holding a type of the PR's own, whose MLmodel "trusts" it: as a crafted PR would ship it
    shutil.copytree(root / "skops", root / "custom")
    skops.io.dump(Doubler(), root / "custom" / "model.skops")
    mlmodel = yaml.safe_load((root / "custom" / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"] = [f"{__name__}.Doubler", "builtins.eval"]
    (root / "custom" / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return {"skops": root / "skops", "custom": root / "custom", "pickle": store["local"]}


def test_a_skops_model_loads_with_the_allowlist_and_scores_like_the_original(
        reg: Registry, store: dict[str, Any], dirs: dict[str, Path]) -> None:
    loaded = reg.load_candidate(dirs["skops"], "binary", LoadPolicy())
    x, _ = frame()
    assert loaded.kind == "skops" and loaded.trusted_types == ()
    np.testing.assert_allclose(loaded.scorer(x), store["models"]["binary"].predict_proba(x)[:, 1])


def test_types_the_candidate_trusts_itself_are_refused(reg: Registry, dirs: dict[str, Path]) -> None:
    with pytest.raises(UnsafeModel, match=rf"{__name__}\.Doubler.*evaluation\.skops_trusted_types"):
        reg.load_candidate(dirs["custom"], "binary", LoadPolicy())
    # MLflow's own loader would have trusted the MLmodel's list (the old code path)
    loaded = reg.load_candidate(dirs["custom"], "binary", LoadPolicy(trusted_types=(f"{__name__}.Doubler",)))
    assert loaded.trusted_types == (f"{__name__}.Doubler",)


def test_pickle_needs_the_opt_in(reg: Registry, dirs: dict[str, Path]) -> None:
    with pytest.raises(UnsafeModel, match="saved with cloudpickle, which runs code .* it is a fork"):
        reg.load_candidate(dirs["pickle"], "binary", LoadPolicy(pickle_refusal="it is a fork"))
    assert reg.load_candidate(dirs["pickle"], "binary", LoadPolicy(allow_pickle=True)).kind == "pickle"


def test_logged_candidate_carries_its_provenance_and_registers(reg: Registry, dirs: dict[str, Path]) -> None:
    tags = {"mlgate.repository": "acme/churn", "mlgate.head_sha": "a" * 40, "mlgate.trusted_run_id": "7"}
    ref = reg.log_candidate(reg.load_candidate(dirs["skops"], "binary", LoadPolicy()), tags)
    assert ref.uri.startswith("models:/m-") and reg.candidate_provenance(ref.uri) == tags
    # the run's experiment, for the MLflow UI's run link (#14 item 4): the one the run really is in
    assert ref.experiment_id is not None and ref.run_id is not None
    assert reg.client.get_run(ref.run_id).info.experiment_id == ref.experiment_id
    version = reg.register(ref.uri, "churn")
    x, _ = frame()
    assert reg.load_scorer(f"models:/churn/{version}", "binary")(x).shape == (len(x),)
    # the logged MLmodel is mlgate's: it lists the types mlgate trusted, not the PR's own list
    custom = reg.log_candidate(reg.load_candidate(dirs["custom"], "binary",
                                                  LoadPolicy(trusted_types=(f"{__name__}.Doubler",))), tags)
    location = reg.client.get_logged_model(custom.uri.removeprefix("models:/")).artifact_location
    logged = yaml.safe_load((Path(location.removeprefix("file://")) / "MLmodel").read_text())
    assert logged["flavors"]["sklearn"]["skops_trusted_types"] == [f"{__name__}.Doubler"]
    pickle = reg.log_candidate(reg.load_candidate(dirs["pickle"], "binary", LoadPolicy(allow_pickle=True)), tags)
    assert reg.candidate_provenance(pickle.uri) == tags


def test_provenance_only_for_logged_models_and_only_where_model_and_run_agree(
        reg: Registry, store: dict[str, Any], dirs: dict[str, Path]) -> None:
    for uri in ("s3://attacker-bucket/evil-model", "/tmp/model", "models:/churn/1", store["uris"]["binary"].replace(
            "models:/m-", "models:/m-0"), f"runs:/{store['runs']['binary']}/model"):
        assert reg.candidate_provenance(uri) is None, uri
    # a model logged by training code, not by the trusted evaluation: no mlgate tags at all
    assert reg.candidate_provenance(store["uris"]["binary"]) == {}
    ref = reg.log_candidate(reg.load_candidate(dirs["skops"], "binary", LoadPolicy()),
                            {"mlgate.repository": "acme/churn", "mlgate.head_sha": "b" * 40})
    reg.client.set_logged_model_tags(ref.uri.removeprefix("models:/"), {"mlgate.head_sha": "c" * 40})
    assert reg.candidate_provenance(ref.uri) == {"mlgate.repository": "acme/churn"}
