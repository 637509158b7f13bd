"""bot.mlflow against a real MLflow SQLite registry: the calls mlgate makes and every failure it explains."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.mlflow import ModelRef, Registry, RegistryError, evaluation_metrics
from bot.redact import redact

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reports"


@pytest.fixture
def reg(store: dict[str, Any], tmp_path: Path) -> Registry:
    """A fresh registry per test (its own SQLite file), reading the shared logged models' artifacts."""
    db = tmp_path / "mlflow.db"
    shutil.copy(store["root"] / "mlflow.db", db)
    return Registry(f"sqlite:///{db}", artifact_location=(tmp_path / "mlgate-artifacts").as_uri())


def test_import_is_cheap_and_does_not_load_mlflow() -> None:
    code = "import sys, bot.mlflow; assert 'mlflow' not in sys.modules, 'mlflow imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_error_classes_load_without_mlflow_numpy_or_pandas() -> None:
    # bot.promotion and chat-ops catch RegistryError: importing it must not cost the scoring stack
    code = ("import sys; from bot.mlflow import RegistryError, ModelNotFound; "
            "assert not {'mlflow', 'numpy', 'pandas'} & set(sys.modules), sorted({'mlflow', 'numpy', 'pandas'} "
            "& set(sys.modules)); from bot.errors import AdapterError; assert issubclass(ModelNotFound, AdapterError)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_package_bot_mlflow_imports_the_real_mlflow(reg: Registry) -> None:
    # inside bot/mlflow/, `import mlflow` is absolute: the MLflow distribution, never this package
    import bot.mlflow

    assert reg._mlflow.__name__ == "mlflow" and reg._mlflow is not bot.mlflow
    assert hasattr(reg._mlflow, "MlflowClient") and "site-packages" in str(reg._mlflow.__file__)
    with pytest.raises(AttributeError):
        bot.mlflow.MlflowClient  # noqa: B018 - the package re-exports mlgate's names only


def test_register_is_idempotent_across_uri_spellings(reg: Registry, store: dict[str, Any]) -> None:
    uri = store["uris"]["binary"]
    v1 = reg.register(uri, "churn", {"mlgate.pr": "7"})
    assert v1 == "1"
    assert reg.register(uri, "churn") == "1"
    # the runs:/ spelling of the same logged model is the same version (MLflow 3 resolves it to models:/m-…)
    assert reg.register(f"runs:/{store['runs']['binary']}/model", "churn") == "1"
    assert reg.register(store["uris"]["binary2"], "churn") == "2"
    info = reg.get_version("churn", "1")
    assert info is not None
    assert info.run_id == store["runs"]["binary"] and info.source == uri
    assert info.tags["mlgate.pr"] == "7" and info.tags["mlgate.source_uri"] == uri
    assert [v.version for v in reg.list_versions("churn")] == ["1", "2"]
    assert reg.registered_models() == ["churn"]


def test_register_a_local_model_directory_once(reg: Registry, store: dict[str, Any]) -> None:
    v = reg.register(str(store["local"]), "local")
    assert reg.register(str(store["local"]), "local") == v == "1"
    with pytest.raises(RegistryError, match="not an MLflow model directory"):
        reg.register(str(store["root"]), "local")


def test_aliases_resolve_move_and_delete(reg: Registry, store: dict[str, Any]) -> None:
    reg.register(store["uris"]["binary"], "churn")
    reg.register(store["uris"]["binary2"], "churn")
    assert reg.alias_version("churn", "production") is None
    reg.set_alias("churn", "production", "1")
    assert reg.alias_version("churn", "production") == "1"
    ref = reg.resolve("models:/churn@production")
    assert ref == ModelRef(
        "models:/churn@production",
        "churn",
        "1",
        "production",
        store["runs"]["binary"],
        store["uris"]["binary"],
    )
    reg.set_alias("churn", "production", "2")
    assert reg.resolve("models:/churn@production").version == "2"
    assert reg.resolve("churn@production") == reg.resolve("models:/churn@production")  # shorthand
    assert reg.resolve("models:/churn/1").run_id == store["runs"]["binary"]
    assert reg.resolve("models:/churn/latest").version == "2"
    assert reg.resolve(store["uris"]["binary"]).run_id == store["runs"]["binary"]
    assert reg.resolve(f"runs:/{store['runs']['binary']}/model").run_id == store["runs"]["binary"]
    versions = {v.version: v.aliases for v in reg.list_versions("churn")}
    assert versions == {"1": [], "2": ["production"]}
    reg.delete_alias("churn", "production")
    reg.delete_alias("churn", "production")  # already gone: nothing to do
    assert reg.alias_version("churn", "production") is None
    assert reg.alias_version("no-such-model", "production") is None


def test_version_tags(reg: Registry, store: dict[str, Any]) -> None:
    v = reg.register(store["uris"]["binary"], "churn")
    reg.set_version_tags("churn", v, {"mlgate.promoted_by": "octocat", "mlgate.pr": "12"})
    reg.set_version_tags("churn", v, {"mlgate.pr": "13"})
    tags = reg.version_tags("churn", v)
    assert tags["mlgate.promoted_by"] == "octocat" and tags["mlgate.pr"] == "13"
    # registering again adds tags to the existing version rather than creating a new one
    assert reg.register(store["uris"]["binary"], "churn", {"mlgate.note": "again"}) == v
    assert reg.version_tags("churn", v)["mlgate.note"] == "again"


@pytest.mark.parametrize("spelling", ["alias", "version", "runs", "model_id", "local"])
def test_load_scorer_binary_gives_positive_class_probability(
    reg: Registry, store: dict[str, Any], spelling: str
) -> None:
    reg.register(store["uris"]["binary"], "churn")
    reg.set_alias("churn", "production", "1")
    uri = {
        "alias": "models:/churn@production",
        "version": "models:/churn/1",
        "runs": f"runs:/{store['runs']['binary']}/model",
        "model_id": store["uris"]["binary"],
        "local": str(store["local"]),
    }[spelling]
    scores = reg.load_scorer(uri, "binary")(store["x"])
    expected = store["models"]["binary"].predict_proba(store["x"])[:, 1]
    assert scores.shape == (len(store["x"]),)
    np.testing.assert_allclose(scores, expected)


def test_load_scorer_multiclass_regression_and_pyfunc(reg: Registry, store: dict[str, Any]) -> None:
    x = store["x"]
    probs = reg.load_scorer(store["uris"]["multiclass"], "multiclass")(x)
    assert probs.shape == (len(x), 3)
    np.testing.assert_allclose(probs, store["models"]["multiclass"].predict_proba(x))
    pred = reg.load_scorer(store["uris"]["regression"], "regression")(x)
    np.testing.assert_allclose(pred, store["models"]["regression"].predict(x))
    # not an sklearn model: scored through pyfunc predict
    np.testing.assert_allclose(
        reg.load_scorer(store["uris"]["pyfunc"], "regression")(x), x["a"] * 2.0
    )


def test_registry_uses_its_own_store_not_the_global_uri(
    store: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    db = tmp_path / "mlflow.db"
    shutil.copy(store["root"] / "mlflow.db", db)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri(), os.environ.get("MLFLOW_REGISTRY_URI")
    reg = Registry(f"sqlite:///{db}")
    # the logged models exist only in `db`: loading and registering them proves the right store is used
    reg.register(store["uris"]["binary"], "churn")
    assert reg.load_scorer("models:/churn/1", "binary")(store["x"]).shape == (len(store["x"]),)
    assert reg.register(store["uris"]["binary2"], "churn") == "2"
    after = mlflow.get_tracking_uri(), mlflow.get_registry_uri(), os.environ.get("MLFLOW_REGISTRY_URI")
    assert after == before  # the process-global URIs are restored exactly
    assert os.environ["MLFLOW_TRACKING_URI"].endswith("other.db")


def test_log_evaluation_records_metrics_deltas_artifacts_and_tags(
    reg: Registry, tmp_path: Path
) -> None:
    report = json.loads((FIXTURES / "failing.json").read_text())
    report["run"] = {
        **report.get("run", {}),
        "repository": "acme/churn",
        "pr": 42,
        "head_sha": "abc123" * 6,
    }
    run_id = reg.log_evaluation(report, "<html>report</html>", {"mlgate.trigger": "test"})

    run = reg.client.get_run(run_id)
    exp = reg.client.get_experiment(run.info.experiment_id)
    assert exp.name == "mlgate" and run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["mlgate.repository"] == "acme/churn" and tags["mlgate.pr"] == "42"
    assert tags["mlgate.head_sha"] == "abc123" * 6 and tags["mlgate.trigger"] == "test"
    model = report["models"][0]
    assert tags["mlgate.dataset_sha256"] == model["holdout"]["sha256"]
    assert run.data.tags["mlflow.runName"] == "PR #42 abc123ab"

    metrics = run.data.metrics
    assert metrics == evaluation_metrics(report)
    first = model["metrics"][0]
    assert metrics[f"{model['name']}/{first['name']}/delta"] == pytest.approx(first["delta"])
    seg = model["segments"][0]
    seg_metric = seg["metrics"][0]
    key = "/".join([model["name"], seg["column"], seg["value"], seg_metric["name"], "delta"])
    assert metrics[key.replace("[", "_").replace(")", "_").replace(",", "_")] == pytest.approx(
        seg_metric["delta"]
    )
    n_segment_deltas = sum(1 for k in metrics if k.count("/") == 4 and k.endswith("/delta"))
    assert n_segment_deltas == sum(
        1 for s in model["segments"] for m in s["metrics"] if m.get("delta") is not None
    )

    files = {a.path for a in reg.client.list_artifacts(run_id)}
    assert files == {"mlgate-report.json", "report.html"}
    local = reg.client.download_artifacts(run_id, "mlgate-report.json", str(tmp_path))
    assert json.loads(Path(local).read_text()) == report
    assert (
        tmp_path / "mlgate-artifacts"
    ).is_dir()  # the experiment mlgate created uses the given location


def test_metric_names_are_accepted_by_mlflow_whatever_the_segment_value() -> None:
    report = {
        "models": [
            {
                "name": "m",
                "metrics": [{"name": "roc_auc", "delta": 0.1}],
                "segments": [
                    {
                        "column": "city",
                        "value": v,
                        "rows": 5,
                        "metrics": [{"name": "roc_auc", "delta": 0.1}],
                    }
                    for v in ["São Paulo", "..", "a/b", "[0, 6)", "x=y", "", "a:b", "a_b", "a b"]
                ],
            }
        ]
    }
    from mlflow.utils.validation import _validate_metric_name

    keys = evaluation_metrics(report)
    assert len([k for k in keys if k.endswith("/delta")]) == 10  # nothing merged away
    for k in keys:
        _validate_metric_name(k)
        assert ":" not in k


# ------------------------------------------------------------------ errors


def test_missing_alias_names_the_fix(reg: Registry, store: dict[str, Any]) -> None:
    reg.register(store["uris"]["binary"], "churn-classifier")
    reg.set_alias("churn-classifier", "staging", "1")
    for call in (
        lambda: reg.resolve("models:/churn-classifier@production"),
        lambda: reg.load_scorer("models:/churn-classifier@production", "binary"),
    ):
        with pytest.raises(RegistryError) as err:
            call()
        msg = str(err.value)
        assert "model churn-classifier has no alias 'production' (it has: staging)" in msg
        assert "set_registered_model_alias('churn-classifier', 'production', VERSION)" in msg


def test_missing_model_and_version(reg: Registry, store: dict[str, Any]) -> None:
    reg.register(store["uris"]["binary"], "churn-classifier")
    with pytest.raises(
        RegistryError,
        match=r"registered model 'churn-clasifier' does not exist.*did you mean 'churn-classifier'",
    ):
        reg.resolve("models:/churn-clasifier@production")
    with pytest.raises(
        RegistryError, match=r"model churn-classifier has no version 7 \(versions: 1\)"
    ):
        reg.load_scorer("models:/churn-classifier/7", "binary")
    with pytest.raises(RegistryError, match="has no version 7"):
        reg.set_alias("churn-classifier", "production", "7")
    with pytest.raises(RegistryError, match="has no version 7"):
        reg.version_tags("churn-classifier", "7")
    assert reg.get_version("churn-classifier", "7") is None
    assert reg.list_versions("nope") == []
    with pytest.raises(RegistryError, match="logged model m-0123abcd does not exist"):
        reg.resolve("models:/m-0123abcd")
    with pytest.raises(RegistryError, match="run ffff does not exist"):
        reg.register("runs:/ffff/model", "churn-classifier")


def test_corrupt_and_missing_model_files(
    reg: Registry, store: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "bad-model"
    shutil.copytree(store["local"], bad)
    (bad / "model.pkl").write_bytes(b"this is not a pickle")
    with pytest.raises(RegistryError) as err:
        reg.load_scorer(str(bad), "binary")
    msg = str(err.value)
    assert msg.startswith(f"cannot load model {bad}: ") and "missing or corrupt" in msg
    assert "UnpicklingError" in msg
    with pytest.raises(RegistryError, match="model path .*nowhere does not exist"):
        reg.load_scorer(str(tmp_path / "nowhere"), "binary")
    with pytest.raises(RegistryError, match="unknown task 'ranking'"):
        reg.load_scorer(str(store["local"]), "ranking")


def test_classifier_without_probabilities_is_refused(reg: Registry, store: dict[str, Any]) -> None:
    with pytest.raises(RegistryError, match="LinearSVC without predict_proba.*--predictions"):
        reg.load_scorer(store["uris"]["no_proba"], "binary")


def test_unreachable_server_fails_fast_without_leaking_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    reg = Registry("http://alice:s3cret@127.0.0.1:9")
    calls = [
        lambda: reg.alias_version("churn", "production"),
        lambda: reg.load_scorer("models:/churn@production", "binary"),
        lambda: reg.register("runs:/abc/model", "churn"),
        lambda: reg.log_evaluation({"models": []}, None, {}),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(RegistryError) as err:
            call()
        assert time.monotonic() - started < 5
        msg = str(err.value)
        assert "the MLflow server at http://***@127.0.0.1:9 cannot be reached" in msg, msg
        assert "MLFLOW_TRACKING_URI" in msg and "s3cret" not in msg and "alice" not in msg
    assert "s3cret" not in repr(reg)


def test_user_http_settings_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    Registry("http://127.0.0.1:9")
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "3"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"


def test_unusable_sqlite_store(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(RegistryError) as err:
        Registry(f"sqlite:///{tmp_path}/a-file/mlflow.db").registered_models()
    assert f"{tmp_path}/a-file/mlflow.db" in str(err.value)
    assert "check that the path exists and is writable" in str(err.value)


def test_redact() -> None:
    assert (
        redact("https://user:pa55@mlflow.example.com/api") == "https://***@mlflow.example.com/api"
    )
    assert redact("postgresql://u:p@db:5432/mlflow") == "postgresql://***@db:5432/mlflow"
    assert redact("http://h/x?access_token=abc&x=1") == "http://h/x?access_token=***&x=1"
    assert redact("sqlite:///tmp/mlflow.db") == "sqlite:///tmp/mlflow.db"
