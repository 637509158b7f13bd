"""Repository policy `.github/mlgate.yml`: parse, validate, and explain errors by file and line.

Policy is always read from the PR's base branch; this module only turns text into a
validated `Config` or a `ConfigError` that names the file, the line and the fix.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.errors import InvalidInput
from bot.numbers import plain_number

CONFIG_PATH = ".github/mlgate.yml"
WORKFLOW_PATH = re.compile(r"\.github/workflows/[A-Za-z0-9._-]{1,100}\.ya?ml")
MAX_CONFIG_BYTES = 64 * 1024  # a real policy is a few hundred bytes; refused before any parsing
MAX_DEPTH = 16  # nesting of mappings and lists; the deepest real path (models[0].segments[2].bins) is 5
MAX_NODES = 2000  # keys, values and list items; the design's example has 91, about 70 of them for its one model
MAX_PROBLEMS = 20  # problems named in one error (a file of thousands of unknown keys stays readable)
MAX_MESSAGE = 300  # characters of one problem's message

Task = Literal["binary", "multiclass", "regression"]

METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "binary": (
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "average_precision",
        "log_loss",
        "brier",
    ),
    "multiclass": ("accuracy", "macro_f1", "weighted_f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}

DEFAULT_METRICS: dict[str, dict[str, Any]] = {
    "binary": {"roc_auc": {"max_drop": 0.005}, "f1": {"max_drop": 0.01}},
    "multiclass": {"macro_f1": {"max_drop": 0.01}, "accuracy": {"max_drop": 0.01}},
    # losses in the target's own units (dollars, minutes): a fixed number cannot fit every target
    "regression": {"rmse": {"max_drop": "1%"}, "mae": {"max_drop": "1%"}},
}
REGRESSION_SEGMENT_DROP = "5%"  # segment_policy.max_drop of a regression model unless the config says
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _number_or_percent(schema: dict[str, Any]) -> None:
    """The JSON schema (editors, the config reference) of a `max_drop`: what the YAML may say."""
    low = schema.pop("minimum", 0)
    schema.pop("type", None)
    schema["anyOf"] = [{"type": "number", "minimum": low}, {"type": "string", "pattern": _PERCENT.pattern}]


class _Tolerance(BaseModel):
    """`max_drop` as a number (the metric's units) or a percentage of the baseline's value."""

    max_drop: float = Field(default=0.0, ge=0, json_schema_extra=_number_or_percent)
    max_drop_relative: float | None = Field(default=None, ge=0, le=1)
    """Written by mlgate from `max_drop: 5%` (0.05); the tolerated drop is this share of |baseline|."""

    @model_validator(mode="before")
    @classmethod
    def _percent(cls, data: object) -> object:
        if not isinstance(data, dict) or not isinstance(data.get("max_drop"), str):
            return data
        m = _PERCENT.match(data["max_drop"])
        if m is None:
            return data  # not a percentage: pydantic's own error names the line and the expected number
        if data.get("max_drop_relative") is not None:
            raise ValueError("give max_drop as a number or a percentage, not with max_drop_relative")
        return {**data, "max_drop": 0.0, "max_drop_relative": float(m.group(1)) / 100}

    def tolerance(self, baseline: object) -> float:
        """The tolerated drop in the metric's units; a relative one without a finite baseline is 0."""
        if self.max_drop_relative is None:
            return self.max_drop
        if not isinstance(baseline, int | float) or not math.isfinite(baseline):
            return 0.0  # nothing to take a share of: the strictest tolerance
        return self.max_drop_relative * abs(float(baseline))

    def tolerance_text(self, baseline: object) -> str:
        """'0.02', or '5% (0.0123)': the configured tolerance as the user wrote it."""
        if self.max_drop_relative is None:
            return plain_number(self.max_drop)
        return f"{self.max_drop_relative * 100:g}% ({plain_number(self.tolerance(baseline))})"


def drift_thresholds(given: dict[str, float], *, p_value: float) -> dict[str, float]:
    """Drift thresholds with defaults filled in; the PR-time and the monitor's blocks share the keys."""
    for k in given:
        if k not in ("psi", "p_value"):
            raise ValueError(f"unknown drift threshold {k!r}; use psi and/or p_value")
    return {"psi": 0.2, "p_value": p_value, **given}


class ConfigError(InvalidInput):
    """A config that cannot be used. `str()` is one line per problem: `file:line: message`."""

    def __init__(self, problems: list[tuple[str, int | None, str]], more: int = 0):
        """`more`: problems found but not worded (beyond MAX_PROBLEMS), only counted."""
        # each message on one line and of bounded length, and a bounded number of them: the text
        # goes into a check run's code block, where a line of its own could close the fence
        shown = [(f, ln, _one_line(msg)) for f, ln, msg in problems[:MAX_PROBLEMS]]
        hidden = len(problems) - len(shown) + more
        if hidden > 0 and shown:
            shown.append((shown[0][0], None, f"and {hidden} more problems"))
        self.problems = shown
        lines = [f"{f}:{ln}: {msg}" if ln else f"{f}: {msg}" for f, ln, msg in shown]
        super().__init__("\n".join(lines))

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Paths(_Strict):
    data: list[str] = Field(default_factory=lambda: ["data/**"])
    """Globs of data files: a change to one is a data change."""
    model: list[str] = Field(default_factory=lambda: ["src/**", "train.py", "params.yaml"])
    """Globs of model code: a change to one triggers an evaluation."""


class MetricPolicy(_Tolerance, _Strict):
    max_drop: float = Field(default=0.0, ge=0, json_schema_extra=_number_or_percent)
    """Tolerated drop (a number, or `5%` of the baseline's value); the gate fails when the whole
    confidence interval lies below -max_drop."""
    informational: bool = False
    """Reported, never gates."""


class BinnedSegment(_Strict):
    column: str = Field(min_length=1)
    """Numeric column to bin."""
    bins: list[float] = Field(min_length=2)
    """Strictly increasing bin edges; [a, b) bins, the last one closed."""

    @field_validator("bins")
    @classmethod
    def _increasing(cls, v: list[float]) -> list[float]:
        if any(b >= a for a, b in zip(v[1:], v[:-1], strict=False)):
            raise ValueError("bins must be strictly increasing, e.g. [0, 6, 24, 60]")
        return v


class CrossSegment(_Strict):
    cross: list[str] = Field(min_length=2, max_length=2)
    """Two columns whose value pairs form segments."""


def _segment_tag(value: Any) -> str | None:
    if isinstance(value, str | BinnedSegment):
        return "binned" if isinstance(value, BinnedSegment) else "column"
    if isinstance(value, CrossSegment):
        return "cross"
    if isinstance(value, dict):
        return "cross" if "cross" in value else "binned"
    return None


SegmentSpec = Annotated[
    Annotated[str, Tag("column")]
    | Annotated[BinnedSegment, Tag("binned")]
    | Annotated[CrossSegment, Tag("cross")],
    Discriminator(
        _segment_tag,
        custom_error_type="segment_spec",
        custom_error_message="a segment is a column name, {column: NAME, bins: [...]} or {cross: [A, B]}",
    ),
]


class SegmentPolicy(_Tolerance, _Strict):
    min_rows: int = Field(default=200, ge=1)
    """Segments with fewer rows are reported but never gate."""
    max_drop: float = Field(default=0.02, ge=0, json_schema_extra=_number_or_percent)
    """Tolerated drop of a gating metric within a segment (a number, or `5%` of the segment's
    baseline value; regression models default to 5%)."""
    fdr: float = Field(default=0.05, gt=0, lt=1)
    """No longer used: the model's `alpha` covers segments and overall metrics together (kept so configs load)."""
    metrics: list[str] | None = None
    """Gating metrics tested per segment (default: the first gating metric only; more costs power)."""


class Discovery(_Strict):
    """Automatic slice discovery (bot/evaluation/discovery.py, docs/statistics.md)."""

    columns: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(default=None, max_length=200)
    """Feature columns to slice by (default: every column but the label and id-like ones)."""
    exclude: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(default_factory=list, max_length=200)
    """Columns never sliced by."""
    max_depth: int = Field(default=2, ge=1, le=3)
    """Predicates per slice: 1, 2 (default) or 3."""
    min_rows: int = Field(default=200, ge=20)
    """Smallest slice reported, in rows of the whole holdout."""
    top_k: int = Field(default=5, ge=1, le=50)
    """Slices shown in the comment; twice as many are taken to confirmation."""
    gate: Literal["review", "fail", "off"] = "review"
    """A confirmed slice: `review` needs a reviewer's approval, `fail` fails the evaluation, `off` only reports."""

    @field_validator("gate", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML 1.1 reads a bare `off` as false

    @model_validator(mode="after")
    def _columns_not_excluded(self) -> Discovery:
        both = sorted(set(self.columns or []) & set(self.exclude))
        if both:
            raise ValueError(f"columns {both[:10]} are both listed and excluded; keep each in one of "
                             "discovery.columns and discovery.exclude")
        return self


class ModelConfig(_Strict):
    name: str = Field(min_length=1, max_length=256)
    """MLflow registered model name."""
    task: Task
    """Decides which metrics exist."""
    holdout: str = Field(min_length=1)
    """Holdout file (Parquet, CSV, JSON lines) relative to the repository root."""
    label: str = Field(min_length=1)
    """Label column of the holdout."""
    baseline: str = Field(default="production", min_length=1)
    """Registry alias of the model to beat."""
    segments: list[SegmentSpec] = Field(default_factory=list)
    """A column name, {column, bins}, or {cross: [a, b]}."""
    metrics: dict[str, MetricPolicy] = Field(default_factory=dict)
    """Metric name to policy; defaults depend on the task."""
    segment_policy: SegmentPolicy = Field(default_factory=SegmentPolicy)
    discovery: Discovery | None = None
    """Search for slices where the candidate is worse than the baseline (off when absent)."""
    id: str | None = Field(default=None, min_length=1)
    """Id column: `--predictions` are joined to the holdout by this key instead of by row position."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Level of the confidence intervals."""
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    """The gate's false-fail rate: an equal candidate fails at most this often (docs/statistics.md)."""
    resamples: int = Field(default=1000, ge=0, le=100_000)
    """No longer used: every interval is analytic (docs/statistics.md); recorded in the report."""
    seed: int = 0
    """Seed of the resampling; recorded in the report."""

    @model_validator(mode="after")
    def _metrics_fit_task(self) -> ModelConfig:
        known = METRICS_BY_TASK[self.task]
        for name in self.metrics:
            if name not in known:
                hint = _closest(name, known)
                raise ValueError(
                    f"metric {name!r} is not available for task {self.task!r}"
                    + (f" (did you mean {hint!r}?)" if hint else "")
                    + f"; choose from {', '.join(known)}"
                )
        if not self.metrics:
            object.__setattr__(
                self,
                "metrics",
                {k: MetricPolicy(**v) for k, v in DEFAULT_METRICS[self.task].items()},
            )
        sp = self.segment_policy
        if self.task == "regression" and not {"max_drop", "max_drop_relative"} & sp.model_fields_set:
            object.__setattr__(self, "segment_policy", SegmentPolicy.model_validate(
                {**sp.model_dump(exclude_unset=True), "max_drop": REGRESSION_SEGMENT_DROP}))
        if self.discovery is not None and self.label in (self.discovery.columns or []):
            raise ValueError(f"discovery.columns lists the label {self.label!r}; slices are cut by features, "
                             "so remove it")
        chosen = self.segment_policy.metrics
        if chosen is not None:
            bad = [m for m in chosen if m not in self.gating_metrics]
            if bad or not chosen:
                raise ValueError(
                    f"segment_policy.metrics {bad or chosen} must name gating metrics of this model; "
                    f"choose from {', '.join(self.gating_metrics)}"
                )
        return self

    @property
    def gating_metrics(self) -> list[str]:
        return [m for m, p in self.metrics.items() if not p.informational]

    @property
    def segment_metrics(self) -> list[str]:
        """The gating metrics tested in each segment: segment_policy.metrics, or the first one."""
        chosen = self.segment_policy.metrics
        return list(chosen) if chosen is not None else self.gating_metrics[:1]


class DataChecks(_Strict):
    schema_: str | None = Field(default=None, alias="schema")
    """pandera YAML data contract."""
    reference: str | None = None
    """Reference frame that drift is measured against."""
    files: list[str] = Field(default_factory=list)
    """Files to check (default: every model's holdout)."""
    drift: dict[str, float] = Field(
        default_factory=lambda: {"psi": 0.2, "p_value": 0.01},
    )
    """Thresholds: a column drifts when PSI > psi or the test's p-value < p_value."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, use_attribute_docstrings=True
    )

    @field_validator("drift")
    @classmethod
    def _drift_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return drift_thresholds(v, p_value=0.01)


ReviewTrigger = Literal["regression", "data_change", "always", "inconclusive"]


def _default_triggers() -> list[ReviewTrigger]:
    return ["regression", "data_change"]


class Review(_Strict):
    required_when: list[ReviewTrigger] = Field(default_factory=_default_triggers)
    """When mlgate/review needs approvals."""
    approvers: list[str] = Field(default_factory=list)
    """Users or @org/team whose approvals count (default: anyone with write access)."""
    min_approvals: int = Field(default=1, ge=0, le=20)
    """Approvals needed on the current head SHA."""


class Commands(_Strict):
    promote: list[str] = Field(default_factory=list)
    """Who may /promote (users, @org/team); when set, it replaces the default of write permission or higher."""
    rollback: list[str] = Field(default_factory=list)
    """Who may /rollback (users, @org/team); when set, it replaces the default of maintain permission or higher."""


class Promote(_Strict):
    on_merge: bool = False
    """Promote automatically when a PR with green gates merges."""
    alias: str = "production"
    """Registry alias that /promote moves."""


class Evaluation(_Strict):
    trust: Literal["workflow_run", "pull_request"] = "workflow_run"
    """Which run's report counts: `workflow_run` (the evaluation runs from the default branch's workflow file, triggered by the PR's own run that built the candidate without secrets) or `pull_request` (the PR's own workflow evaluates; its comment says so and a PR whose author lacks write permission always needs a review)."""
    workflow: str = ".github/workflows/mlgate-evaluate.yml"
    """Path of the workflow file whose run uploads the report; its name is not checked (a PR can add a workflow with any name)."""
    artifact: str = Field(default="mlgate-report", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    """Artifact holding mlgate-report.json."""
    merge_group: bool = False
    """The build workflow also runs `on: merge_group`: a merge group's `mlgate/evaluation` then also waits for the
    trusted evaluation of the group's own commit (besides each PR's checks)."""
    allow_pickle: Literal["never", "writers"] = "never"
    """Whether the trusted evaluation may load a pickle-based candidate (cloudpickle sklearn, pyfunc), which runs the PR's code: `never`, or `writers` (only candidates built from a branch of this repository, which only people with write permission can push)."""
    skops_trusted_types: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100)
    """Types a skops candidate may contain beyond skops' defaults, e.g. `sklearn.tree._tree.Tree` for tree models; read only from the default branch's config (the candidate's own MLmodel list is ignored)."""

    @field_validator("workflow")
    @classmethod
    def _workflow_path(cls, value: str) -> str:
        if not WORKFLOW_PATH.fullmatch(value):
            raise ValueError(f"{value[:100]!r} is not a workflow file: give its path in the repository, such as "
                             "`.github/workflows/mlgate-evaluate.yml` (mlgate checks where a report came from by "
                             "path, not by the workflow's name)")
        return value


class MonitorRetrain(_Strict):
    workflow: str | None = Field(default=None, min_length=1, max_length=255)
    """Workflow file (e.g. `retrain.yml`) to start with workflow_dispatch when a model's issue opens."""
    ref: str = Field(default="main", min_length=1, max_length=255)
    """Branch the dispatched workflow runs on."""
    event_type: str | None = Field(default=None, min_length=1, max_length=100)
    """Or: a repository_dispatch event type to send instead."""


class Monitor(_Strict):
    logs: str = Field(default="logs/predictions", min_length=1)
    """Prediction log: a Parquet/CSV file or a directory of them (see docs/monitoring.md)."""
    labels: str | None = None
    """Optional labels arriving later (request_id + label column), joined by request id."""
    reference: str | None = None
    """Reference frame for input drift (default: data_checks.reference, else the model's holdout)."""
    window_days: int = Field(default=7, ge=1, le=90)
    """Days of logs one run reads, ending at the newest logged prediction (or --until)."""
    drift: dict[str, float] = Field(default_factory=lambda: {"psi": 0.2, "p_value": 0.001})
    """A feature or the score drifts when PSI > psi or the KS/chi-square p-value < p_value."""
    min_rows: int = Field(default=200, ge=1)
    """Segments (and labelled windows) with fewer rows are reported, never alerted on."""
    resamples: int = Field(default=200, ge=50, le=2000)
    """Bootstrap resamples for single-arm intervals (live vs evaluation, split canaries)."""
    label: str = Field(default="mlgate:monitor", min_length=1, max_length=50)
    """Label of the one issue per model."""
    challenger: str = Field(default="challenger", min_length=1, max_length=100)
    """Registry alias a canary (`/promote --canary`) points at the candidate."""
    retrain: MonitorRetrain | None = None
    """What to start when a model's issue opens (optional)."""

    @field_validator("drift")
    @classmethod
    def _drift_keys(cls, v: dict[str, float]) -> dict[str, float]:
        return drift_thresholds(v, p_value=0.001)  # a week of traffic: many rows, a stricter test


class Config(_Strict):
    version: Literal[1]
    """Version of this file's format."""
    paths: Paths = Field(default_factory=Paths)
    models: list[ModelConfig] = Field(min_length=1)
    data_checks: DataChecks = Field(default_factory=DataChecks)
    review: Review = Field(default_factory=Review)
    commands: Commands = Field(default_factory=Commands)
    promote: Promote = Field(default_factory=Promote)
    evaluation: Evaluation = Field(default_factory=Evaluation)
    monitor: Monitor = Field(default_factory=Monitor)
    """Production monitoring (`mlgate monitor`) and canaries."""
    release_branches: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=50)
    """Globs of branches (e.g. `release/*`) whose own config applies to PRs into them while GitHub reports
    them protected; read only from the default branch's config."""
    skip_drafts: bool = True
    """A draft pull request gets neutral "draft, not evaluated yet" checks until it is marked ready for
    review (a draft cannot be merged, so neutral never lets anything through)."""

    @model_validator(mode="after")
    def _unique_models(self) -> Config:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        return self

    @classmethod
    def judging_report(cls, policy: object) -> Config:
        """The part of a report's embedded policy that decides its verdicts: its models.

        The rest (evaluation, commands, review) may come from an older or newer mlgate and
        decides nothing about the numbers, so a report stays renderable across versions.
        Raises pydantic's ValidationError when the models themselves are invalid.
        """
        models = policy.get("models") if isinstance(policy, dict) else None
        return cls.model_validate({"version": 1, "models": models})

    def model(self, name: str | None) -> ModelConfig:
        """The named model, or the only one; raises KeyError with the choices."""
        if name is None:
            if len(self.models) == 1:
                return self.models[0]
            raise KeyError(f"name a model: {', '.join(m.name for m in self.models)}")
        for m in self.models:
            if m.name == name:
                return m
        hint = _closest(name, [m.name for m in self.models])
        raise KeyError(
            f"no model {name!r} in the config"
            + (f" (did you mean {hint!r}?)" if hint else "")
            + f"; configured: {', '.join(m.name for m in self.models)}"
        )

    def unused_settings(self) -> list[str]:
        """Deprecation warnings: keys this file sets that no longer do anything, each named with
        what replaced it. They still load, so an old config keeps working, but a user who tunes
        them must hear that nothing changes (intervals became analytic; one `alpha` covers
        segments and overall metrics). `mlgate evaluate` prints them, the Action annotates them,
        and the App notes them on the pull request's comment."""
        out: list[str] = []
        for i, m in enumerate(self.models):
            if "fdr" in m.segment_policy.model_fields_set:
                out.append(f"models[{i}].segment_policy.fdr ({m.name}) is deprecated and has no effect since "
                           f"intervals became analytic: the model's alpha ({m.alpha}) bounds the false-fail rate "
                           "of segments and overall metrics together; remove the key")
            if "resamples" in m.model_fields_set:
                out.append(f"models[{i}].resamples ({m.name}) is deprecated and has no effect since intervals "
                           "became analytic; remove the key")
        return out

    def to_policy(self) -> dict[str, Any]:
        """The config as plain JSON data (embedded in reports): the evaluation policy, without
        `release_branches`, which says where a policy comes from rather than what it is."""
        return self.model_dump(mode="json", by_alias=True, exclude={"release_branches"})


# ---------------------------------------------------------------- parsing


def _closest(word: str, choices: Any) -> str | None:
    hits = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return hits[0] if hits else None


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each key path (as pydantic reports it) to its 1-based line in the file."""
    out: dict[tuple[Any, ...], int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[(*path, key)] = k.start_mark.line + 1
            for sub, line in _line_index(v, (*path, key)).items():
                if sub != (*path, key):
                    out[sub] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_line_index(item, (*path, i)))
    return out


def _line_for(index: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    loc = tuple(loc)
    while loc:
        if loc in index:
            return index[loc]
        loc = loc[:-1]
    return index.get(())


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_UNION_TAGS = {"column", "binned", "cross"}

_FIELDS_BY_MODEL: dict[str, type[BaseModel]] = {}


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the parent of `loc`, for did-you-mean hints."""
    model: type[BaseModel] | None = Config
    free_key = False  # the part after a dict-valued field (a metric's name) is the user's own key
    for part in loc[:-1]:
        if model is None:
            return []
        if isinstance(part, int) or part in _UNION_TAGS or free_key:
            free_key = False
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        ann = field.annotation
        free_key = getattr(ann, "__origin__", None) is dict or any(
            getattr(a, "__origin__", None) is dict for a in getattr(ann, "__args__", ()) or ())
        model = _model_in(ann)
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_in(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _bound(loc: tuple[Any, ...]) -> str:
    """The numeric lower bound declared on the field at `loc`, as text (" >= 0")."""
    model: type[BaseModel] | None = Config
    field = None
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else model
    for meta in getattr(field, "metadata", []) or []:
        for attr, op in (("ge", ">="), ("gt", ">")):
            if getattr(meta, attr, None) is not None:
                return f" {op} {getattr(meta, attr):g}"
    return ""


def _message(err: Any, loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    where = _dotted(loc)
    if kind == "extra_forbidden":
        key = loc[-1]
        hint = _closest(str(key), _known_keys(loc))
        where_parent = _dotted(loc[:-1]) or "the top level"
        return f"unknown key {key!r} in {where_parent}" + (
            f" (did you mean {hint!r}?)" if hint else ""
        )
    if kind == "missing":
        return f"{where} is required"
    got = err.get("input")
    got_s = f", got {json.dumps(got)}" if not isinstance(got, dict | list) else ""
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type"):
        return f"{where} must be a number{_bound(loc)}{got_s}"
    if kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than": "<", "less_than_equal": "<="}[kind]
        limit = next(iter((err.get("ctx") or {}).values()), "")
        return f"{where} must be a number {op} {limit}{got_s}"
    if kind == "segment_spec":
        return f"{where}: {err['msg']}{got_s}"
    if kind == "literal_error":
        return f"{where} must be one of {err['ctx']['expected']}{got_s}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}{got_s}" if where else f"{msg}"


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic puts union member names ("str", "BinnedSegment") into the location
    return tuple(p for p in loc if not (isinstance(p, str) and (p in _UNION_TAGS or "[" in p)))


def _one_line(msg: str) -> str:
    """A message on one line without control characters, at most MAX_MESSAGE characters."""
    flat = " ".join(re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", " ", msg).split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 1] + "…"


_MERGE_TAG = "tag:yaml.org,2002:merge"
# libyaml's parser when PyYAML was built with it (about 15x faster on a 64 KiB file), else PyYAML's own
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_INT_TEXT = 64  # characters of an integer scalar: a policy's numbers are small; a long one costs quadratic time


class _PolicyLoader(_FAST_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader building only what JSON has (a policy is JSON-shaped): a date-like scalar
    stays text, an integer is bounded, and binary, sets and ordered maps are refused, each as a
    YAML error with a line instead of a ValueError or TypeError from deep inside."""


def _construct_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    if len(str(node.value)) > MAX_INT_TEXT:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of more than {MAX_INT_TEXT} characters; a policy's numbers are small",
            node.start_mark)
    return int(yaml.constructor.SafeConstructor.construct_yaml_int(loader, node))  # type: ignore[arg-type]


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> None:
    raise yaml.constructor.ConstructorError(
        None, None, f"the tag {str(node.tag).rsplit(':', 1)[-1]!r} is not allowed; write plain values",
        node.start_mark)


_PolicyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)
_PolicyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
for _tag in ("binary", "set", "omap", "pairs"):
    _PolicyLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


class _Open:
    """A collection the event stream is inside: for a mapping, its keys so far and whether a key is next."""

    __slots__ = ("is_mapping", "key_next", "keys")

    def __init__(self, is_mapping: bool):
        self.is_mapping = is_mapping
        self.key_next = is_mapping
        self.keys: dict[str, int] = {}


def _check_events(text: str, name: str) -> None:
    """Refuse anchors, aliases, merge keys, repeated keys, deep nesting and too many nodes,
    on YAML's event stream.

    This runs before any node is composed and stops at the first refusal: an alias bomb of
    a few hundred bytes expands to billions of nodes only when its aliases are resolved, so
    it costs nothing here. The caller has bounded the size. A key written twice in one
    mapping is refused because YAML would silently keep only the last one.
    """
    stack: list[_Open] = []
    nodes = 0
    for event in yaml.parse(text, Loader=_FAST_LOADER):
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                raise ConfigError([(name, line, f"the file has more than {MAX_NODES:,} keys and values; "
                                                "a policy needs a few hundred, so shorten it")])
        if isinstance(event, yaml.AliasEvent) or (isinstance(event, yaml.NodeEvent) and event.anchor is not None):
            raise ConfigError([(name, line, f"YAML anchors and aliases are not allowed in {name}; "
                                            "write the values out")])
        if isinstance(event, yaml.ScalarEvent) and (
                event.tag == _MERGE_TAG or (event.value == "<<" and event.implicit[0])):
            # YAML reads a plain << as a merge key wherever it stands
            raise ConfigError([(name, line, f"YAML merge keys (<<) are not allowed in {name}; write the "
                                            "keys out (or quote '<<' if you mean the text)")])
        if isinstance(event, yaml.ScalarEvent) and stack and stack[-1].key_next:
            first = stack[-1].keys.get(event.value)
            if first is not None:
                raise ConfigError([(name, line, f"the key {event.value[:60]!r} is already on line {first} of "
                                                "the same mapping; YAML would keep only this one, so merge them")])
            stack[-1].keys[event.value] = line
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise ConfigError([(name, line, f"the nesting is deeper than {MAX_DEPTH} levels; "
                                                "a policy needs at most 5, so flatten it")])
            stack.append(_Open(isinstance(event, yaml.MappingStartEvent)))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
        elif not isinstance(event, yaml.ScalarEvent):
            continue  # stream and document events
        if stack and stack[-1].is_mapping:  # a node ended inside a mapping: key and value alternate
            stack[-1].key_next = not stack[-1].key_next


def _too_big(text: str) -> int | None:
    """The size in bytes of a text over MAX_CONFIG_BYTES, else None (short texts are not encoded)."""
    if len(text) <= MAX_CONFIG_BYTES // 4:  # at most 4 bytes a character
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > MAX_CONFIG_BYTES else None


def parse_config(text: str, filename: str = "mlgate.yml") -> Config:
    """Parse and validate config text; raise ConfigError naming file, line and reason."""
    name = filename
    size = _too_big(text)
    if size is not None:
        raise ConfigError([(name, None, f"the file is {size:,} bytes; mlgate reads a policy of at most "
                                        f"{MAX_CONFIG_BYTES // 1024} KiB, so shorten it")])
    try:
        _check_events(text, name)
        loader = _PolicyLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([(name, line, f"invalid YAML: {problem}")]) from None
    if node is None or data is None:
        raise ConfigError([(name, None, "the file is empty; start with `version: 1` and a `models:` list")])
    if not isinstance(data, dict):
        raise ConfigError([(name, 1, "the top level must be a mapping with `version: 1` and `models:`")])
    index = _line_index(node)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[str, int | None, str]] = []
        errors = exc.errors()
        for err in errors[:MAX_PROBLEMS]:  # words (and did-you-means) only for the problems shown
            loc = _clean_loc(tuple(err["loc"]))
            problems.append((name, _line_for(index, loc), _message(err, loc)))
        raise ConfigError(problems, more=len(errors) - len(problems)) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a config file from disk (at most MAX_CONFIG_BYTES of it are read)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError([(p.name, None, f"the file is more than {MAX_CONFIG_BYTES // 1024} KiB; mlgate "
                                              "reads a policy of at most that, so shorten it")])
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [(str(p), None, "not found; create it (see docs/configuration.md) or pass --config")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([(str(p), None, f"cannot be read: {exc}")]) from None
    return parse_config(text, p.name)
