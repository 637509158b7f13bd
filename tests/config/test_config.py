"""Config parsing: valid files load; every kind of mistake names file, line and fix."""

from __future__ import annotations

import textwrap

import pytest

from bot.config import ConfigError, load_config, parse_config

GOOD = textwrap.dedent(
    """\
    version: 1
    paths:
      data: ["data/**", "**/*.dvc"]
      model: ["src/**", "train.py"]
    models:
      - name: churn-classifier
        task: binary
        holdout: data/holdout.parquet
        label: churned
        segments: [region, plan, {column: tenure_months, bins: [0, 6, 24, 60]}, {cross: [region, plan]}]
        metrics:
          roc_auc: {max_drop: 0.005}
          f1: {max_drop: 0.01}
          accuracy: {informational: true}
        segment_policy: {min_rows: 200, max_drop: 0.02, fdr: 0.05}
    data_checks:
      schema: data/schema.yml
    review:
      required_when: [regression, data_change]
      approvers: ["@org/ml-reviewers"]
      min_approvals: 1
    commands:
      promote: ["@org/ml-release"]
      rollback: ["@org/ml-release"]
    promote:
      on_merge: false
    """
)


def _errors(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, ".github/mlgate.yml")
    return info.value.problems


def test_design_example_loads_with_all_fields() -> None:
    cfg = parse_config(GOOD)
    m = cfg.model("churn-classifier")
    assert m.task == "binary"
    assert m.gating_metrics == ["roc_auc", "f1"]
    assert m.metrics["accuracy"].informational
    assert m.segments[2].bins == [0, 6, 24, 60]  # type: ignore[union-attr]
    assert m.segments[3].cross == ["region", "plan"]  # type: ignore[union-attr]
    assert cfg.data_checks.schema_ == "data/schema.yml"
    assert cfg.review.approvers == ["@org/ml-reviewers"]
    # the policy round-trips through JSON (it is embedded in reports)
    from bot.config import Config

    assert Config.model_validate(cfg.to_policy()) == cfg


def test_bad_number_names_line_and_expected_type() -> None:
    text = GOOD.replace("roc_auc: {max_drop: 0.005}", 'roc_auc: {max_drop: "high"}')
    (problem,) = _errors(text)
    assert problem[1] == 12
    assert problem[2] == 'models[0].metrics.roc_auc.max_drop must be a number >= 0, got "high"'
    assert str(ConfigError([problem])).startswith(".github/mlgate.yml:12: ")


def test_negative_drop_is_rejected() -> None:
    (problem,) = _errors(GOOD.replace("f1: {max_drop: 0.01}", "f1: {max_drop: -1}"))
    assert problem[1] == 13 and ">= 0" in problem[2]


def test_unknown_key_suggests_the_close_one() -> None:
    problems = _errors(GOOD.replace("segment_policy:", "segment_polcy:").replace("review:", "reviw:"))
    msgs = {p[1]: p[2] for p in problems}
    assert "did you mean 'segment_policy'" in msgs[15]
    assert "did you mean 'review'" in msgs[18]


def test_metric_that_does_not_fit_the_task() -> None:
    (problem,) = _errors(GOOD.replace("f1: {max_drop", "rmse: {max_drop"))
    assert "metric 'rmse' is not available for task 'binary'" in problem[2]


def test_metric_typo_suggests() -> None:
    (problem,) = _errors(GOOD.replace("roc_auc: {max", "roc_uac: {max"))
    assert "did you mean 'roc_auc'" in problem[2]


def test_wrong_task_lists_choices() -> None:
    (problem,) = _errors(GOOD.replace("task: binary", "task: ranking"))
    assert problem[1] == 7
    assert "'binary'" in problem[2] and "ranking" in problem[2]


def test_missing_required_field() -> None:
    (problem,) = _errors(GOOD.replace("    label: churned\n", ""))
    assert problem[2] == "models[0].label is required"


def test_bins_must_increase() -> None:
    (problem,) = _errors(GOOD.replace("bins: [0, 6, 24, 60]", "bins: [0, 24, 6]"))
    assert "strictly increasing" in problem[2] and problem[1] == 10


def test_segment_of_wrong_shape_gives_one_clear_error() -> None:
    (problem,) = _errors(GOOD.replace("plan, {column", "42, {column"))
    assert problem[1] == 10
    assert problem[2].startswith("models[0].segments[1]: a segment is a column name")
    msgs = [p[2] for p in _errors(GOOD.replace("bins: [0, 6, 24, 60]", "bnis: [0, 6]"))]
    assert "models[0].segments[2].bins is required" in msgs
    assert any("unknown key 'bnis'" in m and "did you mean 'bins'" in m for m in msgs)


def test_a_typo_under_a_metric_gets_a_did_you_mean() -> None:
    (problem,) = _errors(GOOD.replace("roc_auc: {max_drop:", "roc_auc: {max_dorp:"))
    assert "unknown key 'max_dorp' in models[0].metrics.roc_auc (did you mean 'max_drop'?)" in problem[2]


def test_invalid_yaml_reports_line() -> None:
    (problem,) = _errors("version: 1\nmodels: [\n  - {name: x\n")
    assert problem[2].startswith("invalid YAML")
    assert problem[1] is not None


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n"])
def test_empty_or_wrong_top_level(text: str) -> None:
    (problem,) = _errors(text)
    assert "version: 1" in problem[2]


def test_wrong_version() -> None:
    (problem,) = _errors(GOOD.replace("version: 1", "version: 2"))
    assert problem[1] == 1 and "version" in problem[2]


def test_duplicate_model_names() -> None:
    dup = GOOD.replace("promote:\n  on_merge", "x: 1\npromote:\n  on_merge")  # unknown key too
    problems = _errors(dup)
    assert any("unknown key 'x'" in p[2] for p in problems)


def test_model_lookup_suggests_names() -> None:
    cfg = parse_config(GOOD)
    with pytest.raises(KeyError, match="did you mean 'churn-classifier'"):
        cfg.model("churn-clasifier")


def test_defaults_fill_metrics_by_task() -> None:
    cfg = parse_config("version: 1\nmodels:\n  - {name: r, task: regression, holdout: h.csv, label: y}\n")
    assert set(cfg.models[0].metrics) == {"rmse", "mae"}
    assert cfg.review.required_when == ["regression", "data_change"]


def test_load_config_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yml")
