"""ONNX candidates in bot.mlflow: a PR-built MLflow ONNX model directory is scored by onnxruntime
(no Python from the PR runs), its graph file and external data are bounded to the directory, and it is
logged with provenance. Real skl2onnx exports of real sklearn models, real onnxruntime and MLflow."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from bot.mlflow import LoadPolicy, Registry, RegistryError, UnsafeModel
from bot.mlflow import scoring as registry_module
from tests.registry.conftest import frame

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")


@pytest.fixture
def reg(store: dict[str, Any], tmp_path: Path) -> Registry:
    db = tmp_path / "mlflow.db"
    shutil.copy(store["root"] / "mlflow.db", db)
    return Registry(f"sqlite:///{db}", artifact_location=(tmp_path / "mlgate-artifacts").as_uri())


def _export(model: Any, **options: Any) -> Any:
    from skl2onnx.common.data_types import FloatTensorType

    return skl2onnx.to_onnx(model, initial_types=[("input", FloatTensorType([None, 2]))],
                            options={id(model): options} if options else None)


@pytest.fixture(scope="module")
def dirs(store: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import mlflow.onnx
    from sklearn.ensemble import GradientBoostingRegressor

    root = tmp_path_factory.mktemp("onnx-candidates")
    x, z = frame()
    binary = store["models"]["binary"]  # LogisticRegression on columns a, b
    signature = mlflow.models.infer_signature(x)  # names the columns of the single matrix input: a, b
    mlflow.onnx.save_model(_export(binary), str(root / "zipmap"), pip_requirements=["onnx"], signature=signature)
    mlflow.onnx.save_model(_export(binary, zipmap=False), str(root / "tensor"), pip_requirements=["onnx"],
                           signature=signature)
    gbr = GradientBoostingRegressor(n_estimators=20, max_depth=2, random_state=0).fit(x, z)
    mlflow.onnx.save_model(_export(gbr), str(root / "regressor"), pip_requirements=["onnx"])
    return {"zipmap": root / "zipmap", "tensor": root / "tensor", "regressor": root / "regressor", "gbr": gbr}


@pytest.mark.parametrize("variant", ["zipmap", "tensor"])
def test_an_onnx_classifier_scores_like_the_sklearn_model_it_came_from(
        reg: Registry, store: dict[str, Any], dirs: dict[str, Any], variant: str) -> None:
    loaded = reg.load_candidate(dirs[variant], "binary", LoadPolicy())
    x, _ = frame()
    assert loaded.kind == "onnx"
    # the holdout has a column the model does not take: the signature says which columns feed the matrix
    scores = loaded.scorer(x.assign(region="EU")[["region", "b", "a"]])
    np.testing.assert_allclose(scores, store["models"]["binary"].predict_proba(x)[:, 1], atol=1e-6)


def test_an_onnx_regressor_scores_like_the_sklearn_model(reg: Registry, dirs: dict[str, Any]) -> None:
    loaded = reg.load_candidate(dirs["regressor"], "regression", LoadPolicy())
    x, _ = frame()
    got = loaded.scorer(x)
    assert got.shape == (len(x),)
    np.testing.assert_allclose(got, dirs["gbr"].predict(x), atol=1e-4)  # float32 in the graph


def test_outputs_that_cannot_be_mapped_are_named(reg: Registry, dirs: dict[str, Any]) -> None:
    # a classifier's graph judged as a regressor: two outputs (labels, probabilities), neither a single value
    with pytest.raises(RegistryError, match=r"cannot tell which output .*output_label: tensor\(int64\)"):
        reg.load_candidate(dirs["zipmap"], "regression", LoadPolicy())


def test_an_onnx_file_over_the_bound_is_refused_before_it_is_read(reg: Registry, dirs: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    big = shutil.copytree(dirs["zipmap"], tmp_path / "big")
    with open(big / "model.onnx", "r+b") as f:  # sparse: no disk, and never parsed
        f.truncate(registry_module.MAX_ONNX_BYTES + 1)
    with pytest.raises(RegistryError, match=r"ONNX file of the candidate .* is over 1024 MiB"):
        reg.load_candidate(big, "binary", LoadPolicy())


def _linear(directory: Path, location: str) -> np.ndarray:
    """A linear-regression graph whose weights live in weights.bin, named in the graph as `location`.

    (skl2onnx keeps sklearn's coefficients in node attributes, which have no external data.)"""
    import mlflow.onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.array([[1.0], [0.5]], dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "w"], ["variable"])], "linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1])],
        initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    mlflow.onnx.save_model(model, str(directory), pip_requirements=["onnx"], save_as_external_data=False)
    onnx.save_model(model, str(directory / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    saved = onnx.load(str(directory / "model.onnx"), load_external_data=False)
    for entry in saved.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    onnx.save_model(saved, str(directory / "model.onnx"))
    assert (directory / "weights.bin").stat().st_size == w.nbytes
    return w


def test_external_data_outside_the_directory_is_refused(reg: Registry, tmp_path: Path) -> None:
    w = _linear(tmp_path / "inside", "weights.bin")
    x, _ = frame()
    loaded = reg.load_candidate(tmp_path / "inside", "regression", LoadPolicy())  # weights in the directory: fine
    np.testing.assert_allclose(loaded.scorer(x), (x.to_numpy(np.float32) @ w)[:, 0], rtol=1e-6)
    _linear(tmp_path / "outside", "../weights.bin")
    shutil.move(tmp_path / "outside" / "weights.bin", tmp_path / "weights.bin")  # a real file, next to the directory
    with pytest.raises(UnsafeModel, match=r"external data from '\.\./weights\.bin', which is not a file in its"):
        reg.load_candidate(tmp_path / "outside", "regression", LoadPolicy())


def test_custom_operator_domains_are_refused(reg: Registry, store: dict[str, Any], tmp_path: Path) -> None:
    import mlflow.onnx

    model = _export(store["models"]["binary"], zipmap=False)
    model.opset_import.append(onnx.helper.make_opsetid("com.attacker", 1))
    mlflow.onnx.save_model(model, str(tmp_path / "custom"), pip_requirements=["onnx"])
    with pytest.raises(UnsafeModel, match="operators of domain com.attacker"):
        reg.load_candidate(tmp_path / "custom", "binary", LoadPolicy())


def test_logged_onnx_candidate_is_saved_again_with_provenance(reg: Registry, dirs: dict[str, Any],
                                                              tmp_path: Path) -> None:
    # the PR's MLmodel names a loader module and code of its own: neither survives logging
    crafted = shutil.copytree(dirs["zipmap"], tmp_path / "crafted")
    mlmodel = yaml.safe_load((crafted / "MLmodel").read_text())
    mlmodel["flavors"]["python_function"]["loader_module"] = "evil"
    mlmodel["flavors"]["python_function"]["code"] = "code"
    (crafted / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    tags = {"mlgate.repository": "acme/churn", "mlgate.head_sha": "a" * 40, "mlgate.trusted_run_id": "7"}
    ref = reg.log_candidate(reg.load_candidate(crafted, "binary", LoadPolicy()), tags)
    assert ref.uri.startswith("models:/m-") and reg.candidate_provenance(ref.uri) == tags
    location = reg.client.get_logged_model(ref.uri.removeprefix("models:/")).artifact_location
    logged = Path(location.removeprefix("file://"))
    flavours = yaml.safe_load((logged / "MLmodel").read_text())["flavors"]
    assert flavours["python_function"]["loader_module"] == "mlflow.onnx" and "code" not in flavours["python_function"]
    # and the logged directory loads as an ONNX candidate again, with the same scores
    x, _ = frame()
    expected = reg.load_candidate(dirs["zipmap"], "binary", LoadPolicy()).scorer(x)
    np.testing.assert_allclose(reg.load_candidate(logged, "binary", LoadPolicy()).scorer(x), expected)
    # registered, it is a baseline like any other: the probability output, with the signature it was scored with
    version = reg.register(ref.uri, "churn-onnx")
    np.testing.assert_allclose(reg.load_scorer(f"models:/churn-onnx/{version}", "binary")(x.assign(region="EU")),
                               expected)


def test_without_onnxruntime_the_error_says_what_to_install(reg: Registry, dirs: dict[str, Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what `import onnxruntime` sees when it is absent
    with pytest.raises(RegistryError, match=r"pip install 'mlgate\[onnx\]'"):
        reg.load_candidate(dirs["zipmap"], "binary", LoadPolicy())
