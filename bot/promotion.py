"""Promotion and rollback of a registry alias: the use cases behind /promote, /rollback,
auto-promotion on merge and the operator CLI (one code path for all four).

Why it is shaped this way (DESIGN.md "Chat-ops", "Audit record", "Reliability"):
- a PR's candidate is promoted only when `mlgate/evaluation` and `mlgate/review` are green
  on the PR's *current* head SHA and the stored report was made for that SHA;
- and only when the registry shows that the candidate was logged by mlgate's trusted evaluation
  of this repository, at that head SHA, for that model, by the run the report names (its
  provenance tags). A report is CI's word; the URI it names is never registered on that word
  alone, and in `evaluation.trust: pull_request` mode, where PR code holds the registry
  credentials and could write those tags itself, nothing from a PR is promoted;
- every change to an alias happens under a per-model lock in the store (with a TTL, so a
  crashed worker cannot hold it forever), so concurrent workers and machines serialise;
- the same delivery id never promotes twice, and a PR head's candidate is promoted at most
  once (return to it later with `/rollback --to VERSION`);
- the registry is opened before the lock is taken (opening it may take MLflow's timeout);
- MLflow steps run before the alias moves where possible; a failure while it moves puts it
  back, and the outcome says what state the alias is in;
- every promotion, rollback, refusal and failure is an audit row; a successful change is then
  mirrored once as an `mlgate.history.<time>` tag (with the row's id) on the model version, so
  MLflow's own UI shows the alias history that MLflow does not keep;
- the release history is read with the store's indexed queries, never by scanning the log;
- outcomes are reason codes (`Reason`, `Note`) with facts; templates/replies/release_reason.md.j2
  words them, so no decision depends on a message's text.

Nothing here imports MLflow or PyGithub: the registry and GitHub client come in as objects.
"""

from __future__ import annotations

import json
import os
import re
import socket
import textwrap
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from bot.errors import AdapterError
from bot.mlflow.connection import RegistryError
from bot.store import LockInfo, ReleaseRow, StoreError

if TYPE_CHECKING:
    from bot.ports import GitHub, Registry, Store

LOCK_TTL = 300.0  # seconds; a promotion takes a few seconds, a crashed worker's lock expires
EVALUATION = "mlgate/evaluation"
REVIEW = "mlgate/review"
HISTORY_PREFIX = "mlgate.history."
METRIC_PREFIX = "mlgate.metric."
KEY_METRICS = 6
WORDS = "replies/release_reason.md.j2"  # the wording of every Reason and Note

Action = Literal["promote", "rollback"]
Status = Literal["done", "dry_run", "unchanged", "already_done", "refused", "lock_held", "failed"]
AliasState = Literal["", "unchanged", "restored", "unknown"]  # after a failure: where the alias is

# audit actions and results written by this module
A_PROMOTE, A_ROLLBACK, A_DENIED, A_ACCEPT = "promote", "rollback", "denied", "accept_regression"
R_SUCCESS, R_FAILED, R_REFUSED, R_LOCKED, R_DENIED, R_ACCEPTED = (
    "success", "failed", "refused", "lock_held", "denied", "accepted")


class Reason(StrEnum):
    """Why a release ended as it did. Code decides on these; templates/replies/release_reason.md.j2
    words them (with the outcome's facts), and the audit row records both."""

    NONE = "none"
    NO_PULL_REQUEST = "no_pull_request"  # /promote without a PR head
    GATES_NOT_GREEN = "gates_not_green"
    NO_EVALUATION = "no_evaluation"
    REPORT_OTHER_HEAD = "report_other_head"
    REPORT_NO_MODEL = "report_no_model"
    REPORT_NO_CANDIDATE = "report_no_candidate"
    UNTRUSTED_MODE = "untrusted_mode"  # evaluation.trust: pull_request
    NOT_LOGGED_BY_MLGATE = "not_logged_by_mlgate"
    NO_PROVENANCE = "no_provenance"
    MISSING_TAG = "missing_tag"
    OTHER_REPOSITORY_TAG = "other_repository_tag"
    OTHER_COMMIT = "other_commit"
    OTHER_MODEL = "other_model"
    OTHER_RUN = "other_run"
    OTHER_PULL_REQUEST = "other_pull_request"
    BOUND_ELSEWHERE = "bound_elsewhere"  # the model is released from another repository
    VERSION_NOT_FOUND = "version_not_found"
    NO_PREVIOUS_VERSION = "no_previous_version"
    NO_ALIAS = "no_alias"
    ALREADY_AT_VERSION = "already_at_version"
    NO_CANARY = "no_canary"
    SAME_DELIVERY = "same_delivery"
    HEAD_ALREADY_PROMOTED = "head_already_promoted"
    LOCK_HELD = "lock_held"
    REGISTRY_FAILED = "registry_failed"
    REGISTRY_UNAVAILABLE = "registry_unavailable"
    MOVE_FAILED = "move_failed"
    CLEAR_FAILED = "clear_failed"


class Note(StrEnum):
    """A warning that goes with an outcome (worded by the same template)."""

    STALE_BASELINE = "stale_baseline"
    NOT_MIRRORED = "not_mirrored"
    DEPLOYMENT_FAILED = "deployment_failed"
    CANARY_DEPLOYMENT_FAILED = "canary_deployment_failed"
    LOCK_HELD_NOW = "lock_held_now"  # a dry run while someone holds the lock
    FAILURE_NOT_AUDITED = "failure_not_audited"


Facts = Mapping[str, str]  # what the wording of a Reason or Note names (versions, names, causes)
PROVENANCE_CODES = frozenset({Reason.UNTRUSTED_MODE, Reason.NOT_LOGGED_BY_MLGATE, Reason.NO_PROVENANCE,
                              Reason.MISSING_TAG, Reason.OTHER_REPOSITORY_TAG, Reason.OTHER_COMMIT,
                              Reason.OTHER_MODEL, Reason.OTHER_RUN, Reason.OTHER_PULL_REQUEST})


@dataclass(frozen=True)
class Warned:
    code: Note
    facts: Facts = field(default_factory=dict)


@dataclass(frozen=True)
class Release:
    """What someone asked for. `version` is rollback's --to or the CLI's --version."""

    action: Action
    model: str
    alias: str
    actor: str
    delivery_id: str
    repo: str | None = None
    pr: int | None = None
    head_sha: str | None = None  # the PR's current head, read when the command runs
    candidate_uri: str | None = None  # the CLI's --candidate (a PR's comes from its report)
    version: str | None = None
    dry_run: bool = False
    via: str = "comment"  # comment | merge | cli
    metrics: tuple[str, ...] = ()  # key metrics for the before/after table
    trust: str = "workflow_run"  # the policy's evaluation.trust: who built and logged the candidate
    # a canary: promote points `alias` (the challenger alias) at the candidate with this traffic
    # share (0-1, recorded in tags, audit and deployment); rollback (any value) clears that alias
    canary: float | None = None


@dataclass(frozen=True)
class MetricRow:
    name: str
    before: float | None
    after: float | None

    @property
    def delta(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass
class Outcome:
    """What happened, with everything a reply, the CLI or a test needs to say so."""

    status: Status
    release: Release
    from_version: str | None = None
    to_version: str | None = None
    reason: Reason = Reason.NONE
    facts: Facts = field(default_factory=dict)  # what the reason's wording names
    lock: LockInfo | None = None
    alias_state: AliasState = ""
    registered: bool = False  # the candidate became a new model version
    rows: list[MetricRow] = field(default_factory=list)
    warnings: list[Warned] = field(default_factory=list)
    audit_id: int | None = None
    deployment_id: int | None = None
    earlier: ReleaseRow | None = None  # the audit row of an earlier identical release

    @property
    def ok(self) -> bool:
        return self.status in ("done", "dry_run", "unchanged", "already_done")

    @property
    def unverified(self) -> bool:
        """Refused because the registry does not show where the candidate came from."""
        return self.status == "refused" and self.reason in PROVENANCE_CODES


class ReleaseError(AdapterError):
    """A release could not be carried out; the message says why (no secrets)."""


# ---------------------------------------------------------------- wording (templates)


def words(code: Reason | Note, facts: Facts, part: Literal["reason", "fix", "note"]) -> str:
    """One sentence of templates/replies/release_reason.md.j2 (no trailing full stop)."""
    from bot.render.text import render_template

    return " ".join(render_template(WORDS, part=part, code=code.value, f=dict(facts)).split())


def reason_text(out: Outcome) -> str:
    return words(out.reason, out.facts, "reason") if out.reason is not Reason.NONE else ""


def fix_text(out: Outcome) -> str:
    return words(out.reason, out.facts, "fix") if out.reason is not Reason.NONE else ""


def note_text(note: Warned) -> str:
    return words(note.code, note.facts, "note")


# ---------------------------------------------------------------- audit helpers


def _detail(release: Release, **extra: Any) -> str:
    data = {"alias": release.alias, "via": release.via, "dry_run": release.dry_run, "canary": release.canary,
            **extra}
    return json.dumps({k: v for k, v in data.items() if v not in (None, "", [])}, sort_keys=True)


def detail_of(row: Mapping[str, Any] | ReleaseRow) -> dict[str, Any]:
    raw = row.detail if isinstance(row, ReleaseRow) else row.get("detail")
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def audit(store: Store, release: Release, action: str, result: str, *, from_version: str | None = None,
          to_version: str | None = None, **extra: Any) -> int:
    return int(store.record_audit(
        actor=release.actor, action=action, result=result, repo=release.repo, model=release.model,
        from_version=from_version, to_version=to_version, pr=release.pr, sha=release.head_sha,
        delivery_id=release.delivery_id, alias=release.alias, detail=_detail(release, **extra)))


def _audit_outcome(store: Store, out: Outcome, result: str, **extra: Any) -> int:
    """The audit row of a refusal or failure: its reason code, and the reason in words."""
    return audit(store, out.release, out.release.action, result, from_version=out.from_version,
                 to_version=out.to_version, code=out.reason.value, reason=reason_text(out), **extra)


def alias_history(store: Store, model: str, alias: str) -> list[ReleaseRow]:
    """Successful promotions and rollbacks of `model@alias`, oldest first (from the audit log)."""
    return store.releases(model, alias)[::-1]


def history_tag(row_id: int, release: Release, action: str, result: str, from_version: str | None,
                to_version: str | None, at: float | None = None) -> tuple[str, str]:
    """The MLflow version tag that mirrors one audit row (key sorts by time)."""
    when = at if at is not None else time.time()
    key = f"{HISTORY_PREFIX}{int(when * 1000):013d}"
    value = {"audit_id": row_id, "action": action, "result": result, "actor": release.actor, "alias": release.alias,
             "from": from_version, "to": to_version, "repo": release.repo, "pr": release.pr,
             "sha": release.head_sha, "delivery": release.delivery_id, "via": release.via}
    return key, json.dumps({k: v for k, v in value.items() if v is not None}, sort_keys=True)


def mirror(registry: Registry, model: str, version: str | None, key_value: tuple[str, str]) -> str | None:
    """Best-effort mirror of an audit row onto a model version; the cause of a failure, else None."""
    if not version:
        return None
    try:
        registry.set_version_tags(model, version, {key_value[0]: key_value[1]})
        return None
    except RegistryError as exc:
        return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    """The cause in one line, cut at a word (never mid-name) when it is long."""
    return textwrap.shorten((str(exc).splitlines() or [type(exc).__name__])[0], 400, placeholder=" …")


def _holder(release: Release) -> str:
    where = f"{release.repo}#{release.pr}" if release.pr else release.via
    return (f"{release.actor} ({release.action} via {where}, delivery {release.delivery_id[:12]}, "
            f"{socket.gethostname()}:{os.getpid()})")[:300]


def find_version(reg: Registry, name: str, uri: str) -> str | None:
    """The version registered from `uri`, without registering anything (for dry runs)."""
    for v in reg.list_versions(name):
        if v.source == uri or v.tags.get("mlgate.source_uri") == uri:
            return str(v.version)
    return None


def lock_name(model: str) -> str:
    return f"model:{model}"


# ---------------------------------------------------------------- gates


@dataclass(frozen=True)
class Candidate:
    uri: str
    report_model: dict[str, Any]
    report: dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """Why a release may not go ahead, before anything changed."""

    reason: Reason
    facts: Facts = field(default_factory=dict)


def check_gates(store: Store, release: Release) -> Candidate | Refusal:
    """The PR's candidate when both gates are green on its current head; else why not."""
    repo, pr, head = release.repo, release.pr, release.head_sha
    if not repo or pr is None or not head:
        return Refusal(Reason.NO_PULL_REQUEST)
    short = head[:7]

    def state(name: str) -> str | None:
        """The conclusion; "in progress" for a check that is set but waiting (e.g. for an approval)."""
        done = store.check_conclusion(repo, head, name)
        return done or ("in progress" if store.check_id(repo, head, name) is not None else None)

    evaluation, review = state(EVALUATION), state(REVIEW)
    if evaluation != "success" or review != "success":
        return Refusal(Reason.GATES_NOT_GREEN, {"evaluation": evaluation or "", "review": review or "",
                                                "head": short})
    ev = store.latest_evaluation(repo, pr, head)
    if ev is None:
        return Refusal(Reason.NO_EVALUATION, {"head": short})
    report: dict[str, Any] = dict(ev["report"])
    run = report.get("run")
    made_for = run.get("head_sha") if isinstance(run, dict) else None
    if made_for and made_for != head:
        return Refusal(Reason.REPORT_OTHER_HEAD, {"built_from": str(made_for)[:7], "head": short})
    models = report.get("models")
    model = next((m for m in (models if isinstance(models, list) else [])
                  if isinstance(m, dict) and m.get("name") == release.model), None)
    if model is None:
        return Refusal(Reason.REPORT_NO_MODEL, {"head": short, "model": release.model})
    uri = (model.get("candidate") or {}).get("uri")
    if not uri:
        return Refusal(Reason.REPORT_NO_CANDIDATE, {"head": short, "model": release.model})
    return Candidate(str(uri), model, report)


def _report_rows(model: dict[str, Any], wanted: tuple[str, ...]) -> list[MetricRow]:
    metrics = {m["name"]: m for m in model.get("metrics", [])}
    names = [n for n in wanted if n in metrics] or list(metrics)[:KEY_METRICS]
    return [MetricRow(n, metrics[n].get("baseline"), metrics[n].get("candidate")) for n in names]


def _tag_rows(registry: Registry, model: str, before: str | None, after: str | None,
              wanted: tuple[str, ...]) -> list[MetricRow]:
    def metrics(version: str | None) -> dict[str, float]:
        if not version:
            return {}
        tags = registry.version_tags(model, version)
        out = {}
        for k, v in tags.items():
            if k.startswith(METRIC_PREFIX):
                try:
                    out[k[len(METRIC_PREFIX):]] = float(v)
                except ValueError:
                    continue
        return out

    b, a = metrics(before), metrics(after)
    names = [n for n in wanted if n in a or n in b] or sorted(set(a) | set(b))[:KEY_METRICS]
    return [MetricRow(n, b.get(n), a.get(n)) for n in names]


# ---------------------------------------------------------------- the use cases


def _counted(outcome: Outcome) -> Outcome:
    from bot.metrics import metrics

    metrics().releases.labels(action=outcome.release.action, result=outcome.status).inc()
    return outcome


def promote(store: Store, registry: Callable[[], Registry], github: GitHub | None, release: Release) -> Outcome:
    """Move `model@alias` to the PR's candidate (or the CLI's --candidate/--version)."""
    return _counted(_promote(store, registry, github, release))


def rollback(store: Store, registry: Callable[[], Registry], github: GitHub | None, release: Release) -> Outcome:
    """Move `model@alias` back to the previous production version, or to --to VERSION; for a
    canary, clear the challenger alias (no traffic goes to a version no alias names)."""
    locked = _clear_canary_locked if release.canary is not None else _rollback_locked
    return _counted(_under_lock(store, registry, github, release, lambda reg: locked(store, reg, github, release)))


def _refused(store: Store, release: Release, reason: Reason, facts: Facts | None = None, *,
             from_version: str | None = None, to_version: str | None = None, **extra: Any) -> Outcome:
    """A refusal, audited unless it is a dry run."""
    out = Outcome("refused", release, from_version=from_version, to_version=to_version, reason=reason,
                  facts=dict(facts or {}))
    if not release.dry_run:
        out.audit_id = _audit_outcome(store, out, R_REFUSED, **extra)
    return out


def _promote(store: Store, registry: Callable[[], Registry], github: GitHub | None, release: Release) -> Outcome:
    candidate: Candidate | None = None
    if release.candidate_uri is None and release.version is None:
        gates = check_gates(store, release)
        if isinstance(gates, Refusal):
            return _refused(store, release, gates.reason, gates.facts)
        candidate = gates
    return _under_lock(store, registry, github, release, lambda reg: _promote_locked(store, reg, github, release,
                                                                                      candidate))


def _earlier(store: Store, release: Release) -> ReleaseRow | None:
    """A successful release by the same delivery, or (promote) of the same PR head to the same alias."""
    head = ((release.repo or "", release.head_sha, release.alias)
            if release.action == A_PROMOTE and release.head_sha and release.repo else None)
    return store.earlier_release(model=release.model, action=release.action, delivery_id=release.delivery_id,
                                 head=head)


def _under_lock(store: Store, registry: Callable[[], Registry], github: GitHub | None, release: Release,
                body: Callable[[Registry], Outcome]) -> Outcome:
    earlier = _earlier(store, release)
    if earlier is not None:
        return _already(release, earlier)
    # the registry is opened before the lock is taken: opening it can take MLflow's whole
    # timeout, and every other release of the model would wait for (or be refused by) the lock
    try:
        reg = registry()
    except RegistryError as exc:
        reason = Reason.REGISTRY_FAILED if release.dry_run else Reason.REGISTRY_UNAVAILABLE
        return _failed(store, release, None, None, reason, {"cause": _first_line(exc)}, "unchanged")
    if release.dry_run:
        held = _peek_lock(store, release)
        out = body(reg)
        if held is not None and out.status == "dry_run":
            out.warnings.append(Warned(Note.LOCK_HELD_NOW, {"holder": held.holder, "model": release.model,
                                                            "since": held.since}))
        return out
    holder = _holder(release)
    held = store.acquire(lock_name(release.model), holder, LOCK_TTL)
    if held is not None:
        out = Outcome("lock_held", release, reason=Reason.LOCK_HELD, lock=held,
                      facts={"holder": held.holder, "model": release.model, "since": held.since})
        out.audit_id = _audit_outcome(store, out, R_LOCKED)
        return out
    try:
        earlier = _earlier(store, release)  # again, now that we hold the lock
        if earlier is not None:
            return _already(release, earlier)
        return body(reg)
    finally:
        store.release(lock_name(release.model), holder)


def _peek_lock(store: Store, release: Release) -> LockInfo | None:
    """Who holds the lock, without taking it (dry runs change nothing, locks included)."""
    probe = f"dry-run probe {release.delivery_id}"
    held = store.acquire(lock_name(release.model), probe, 1.0)
    if held is None:
        store.release(lock_name(release.model), probe)
    return held


def _already(release: Release, row: ReleaseRow) -> Outcome:
    same = row.delivery_id == release.delivery_id
    return Outcome("already_done", release, from_version=row.from_version, to_version=row.to_version,
                   reason=Reason.SAME_DELIVERY if same else Reason.HEAD_ALREADY_PROMOTED,
                   facts={"actor": row.actor, "version": row.to_version or ""}, earlier=row)


def _failed(store: Store, release: Release, from_version: str | None, to_version: str | None, reason: Reason,
            facts: Facts, alias_state: AliasState) -> Outcome:
    out = Outcome("failed", release, from_version=from_version, to_version=to_version, reason=reason,
                  facts=dict(facts), alias_state=alias_state)
    if release.dry_run:
        return out  # a dry run writes no audit row, not even for a failure
    try:
        out.audit_id = _audit_outcome(store, out, R_FAILED, alias_state=alias_state)
    except StoreError as exc:  # the store is down too: say so, never hide the first failure
        out.warnings.append(Warned(Note.FAILURE_NOT_AUDITED, {"cause": _first_line(exc)}))
    return out


def _registry_failed(store: Store, release: Release, exc: RegistryError, from_version: str | None = None,
                     to_version: str | None = None) -> Outcome:
    return _failed(store, release, from_version, to_version, Reason.REGISTRY_FAILED, {"cause": _first_line(exc)},
                   "unchanged")


def _other_repository(reg: Registry, store: Store, release: Release, current: str | None) -> Outcome | None:
    """A refusal when `release` comes from a pull request of another repository than the one the
    registry says releases this model: with one App on many repositories sharing a registry,
    whoever controls another repository's config must not move this model's aliases. The
    operator CLI (who holds the registry's credentials anyway) is not bound."""
    if not release.repo or release.via == "cli":
        return None
    owner = reg.model_repository(release.model)
    if owner is None or owner == release.repo:
        return None
    return _refused(store, release, Reason.BOUND_ELSEWHERE, {"model": release.model, "repo": release.repo},
                    from_version=current)


def _promote_locked(store: Store, reg: Registry, github: GitHub | None, release: Release,
                    candidate: Candidate | None) -> Outcome:
    name, alias = release.model, release.alias
    try:
        current = reg.alias_version(name, alias)
        other = _other_repository(reg, store, release, current)
        if other is not None:
            return other
        if candidate is not None:
            refusal = verify_provenance(reg, release, candidate)
            if refusal is not None:
                return _refused(store, release, refusal.reason, refusal.facts, from_version=current,
                                provenance="unverified", candidate_uri=candidate.uri[:500])
        if release.version is not None:
            info = reg.get_version(name, release.version)
            if info is None:
                return _not_found(store, release, reg, current)
            version: str | None = info.version
            uri = f"models:/{name}/{info.version}"
        else:
            uri = candidate.uri if candidate else str(release.candidate_uri)
            version = find_version(reg, name, uri)
    except RegistryError as exc:
        return _registry_failed(store, release, exc)
    rows = (_report_rows(candidate.report_model, release.metrics) if candidate else [])
    if version is not None and version == current:
        return Outcome("unchanged", release, from_version=current, to_version=version, rows=rows,
                       reason=Reason.ALREADY_AT_VERSION, facts={"model": name, "alias": alias, "version": version})
    if release.dry_run:
        out = Outcome("dry_run", release, from_version=current, to_version=version, rows=rows,
                      registered=version is None)
        _note_stale_baseline(out, candidate, current)
        return out
    registered = False
    try:
        if version is None:
            version = str(reg.register(uri, name, tags={}))
            registered = True
        tags = {
            "mlgate.promoted_by": release.actor, "mlgate.previous_version": current or "",
            "mlgate.delivery_id": release.delivery_id, "mlgate.alias": alias, "mlgate.via": release.via,
        }
        if release.pr is not None:
            tags["mlgate.pr"] = f"{release.repo}#{release.pr}"
        if release.head_sha:
            tags["mlgate.sha"] = release.head_sha
        if release.canary is not None:
            tags["mlgate.canary.share"] = f"{release.canary:g}"
            tags["mlgate.canary.champion"] = current_production(reg, name)
        for row in rows:
            if row.after is not None:
                tags[f"{METRIC_PREFIX}{row.name}"] = repr(float(row.after))
        reg.set_version_tags(name, version, tags)
        if release.repo and candidate is not None and reg.model_repository(name) is None:
            reg.bind_repository(name, release.repo)  # the first promotion of a PR's candidate binds the model
    except RegistryError as exc:
        return _registry_failed(store, release, exc, current, version)
    out = _move(store, reg, github, release, A_PROMOTE, current, version)
    out.rows, out.registered = rows, registered
    _note_stale_baseline(out, candidate, current)
    return out


# ---------------------------------------------------------------- provenance


def candidate_kind(uri: str) -> str:
    """What a report's candidate URI is, in words that never repeat the (untrusted) URI itself."""
    if re.match(r"^models:/m-[0-9a-f]+$", uri):
        return "a logged model"
    if uri.startswith("models:/"):
        return "a registered model version"
    if uri.startswith("runs:/"):
        return "a run's artifact"
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]{0,19}):", uri)
    if scheme and len(scheme.group(1)) > 1:  # C:\ is a path
        return f"a bare {scheme.group(1).lower()}: URI"
    return "a local path"


def verify_provenance(reg: Registry, release: Release, candidate: Candidate) -> Refusal | None:
    """None when the registry shows the trusted evaluation of this repository, head and model logged
    the candidate, by the run the report names; else why not."""
    if release.trust != "workflow_run":
        return Refusal(Reason.UNTRUSTED_MODE, {"trust": release.trust})
    uri = candidate.uri
    tags = reg.candidate_provenance(uri)
    if tags is None:
        return Refusal(Reason.NOT_LOGGED_BY_MLGATE, {"kind": candidate_kind(uri)})
    provenance = candidate.report.get("provenance")
    trusted_run = str(provenance.get("trusted_run_id")) if isinstance(provenance, dict) else None
    expected = [
        ("mlgate.repository", release.repo, Refusal(Reason.OTHER_REPOSITORY_TAG, {"repo": release.repo or ""})),
        ("mlgate.head_sha", release.head_sha, Refusal(Reason.OTHER_COMMIT, {"head": (release.head_sha or "")[:7]})),
        ("mlgate.model", release.model, Refusal(Reason.OTHER_MODEL, {"model": release.model})),
        ("mlgate.trusted_run_id", trusted_run, Refusal(Reason.OTHER_RUN)),
    ]
    for key, want, mismatch in expected:
        have = tags.get(key)
        if not want:
            return Refusal(Reason.NO_PROVENANCE)
        if have is None:
            return Refusal(Reason.MISSING_TAG, {"key": key})
        if have != want:
            return mismatch
    pr = tags.get("mlgate.pr")
    if pr and release.pr is not None and pr != str(release.pr):
        return Refusal(Reason.OTHER_PULL_REQUEST)
    return None


def _note_stale_baseline(out: Outcome, candidate: Candidate | None, current: str | None) -> None:
    if candidate is None:
        return
    base = (candidate.report_model.get("baseline") or {}).get("version")
    if base and current and str(base) != str(current):
        out.warnings.append(Warned(Note.STALE_BASELINE, {"base": str(base), "alias": out.release.alias,
                                                         "current": current}))


def _rollback_locked(store: Store, reg: Registry, github: GitHub | None, release: Release) -> Outcome:
    name, alias = release.model, release.alias
    try:
        current = reg.alias_version(name, alias)
        other = _other_repository(reg, store, release, current)
        if other is not None:
            return other
        if release.version is not None:
            if reg.get_version(name, release.version) is None:
                return _not_found(store, release, reg, current)
            target: str | None = release.version
        else:
            target = store.previous_version(name, alias, current)
            if target is None:
                facts = {"model": name, "alias": alias, "current": current or "", **_versions_hint(reg, name)}
                return _refused(store, release, Reason.NO_PREVIOUS_VERSION if current else Reason.NO_ALIAS, facts,
                                from_version=current)
        rows = _tag_rows(reg, name, current, target, release.metrics)
    except RegistryError as exc:
        return _registry_failed(store, release, exc, None, release.version)
    if target == current:
        return Outcome("unchanged", release, from_version=current, to_version=target, rows=rows,
                       reason=Reason.ALREADY_AT_VERSION,
                       facts={"model": name, "alias": alias, "version": target or ""})
    if release.dry_run:
        return Outcome("dry_run", release, from_version=current, to_version=target, rows=rows)
    try:
        reg.set_version_tags(name, str(target), {
            "mlgate.rolled_back_by": release.actor, "mlgate.rolled_back_from": current or "",
            "mlgate.delivery_id": release.delivery_id, "mlgate.alias": alias})
    except RegistryError as exc:
        return _registry_failed(store, release, exc, current, target)
    out = _move(store, reg, github, release, A_ROLLBACK, current, str(target))
    out.rows = rows
    return out


def current_production(reg: Registry, name: str) -> str:
    """The champion a canary runs against (recorded with the canary's tags; "" when none)."""
    return str(reg.alias_version(name, "production") or "")


def _clear_canary_locked(store: Store, reg: Registry, github: GitHub | None, release: Release) -> Outcome:
    """Delete the challenger alias: the canary stops getting traffic; audited and deployed as inactive."""
    name, alias = release.model, release.alias
    try:
        current = reg.alias_version(name, alias)
        other = _other_repository(reg, store, release, current)
    except RegistryError as exc:
        return _registry_failed(store, release, exc)
    if other is not None:
        return other
    if current is None:
        return Outcome("unchanged", release, reason=Reason.NO_CANARY, facts={"model": name, "alias": alias})
    if release.dry_run:
        return Outcome("dry_run", release, from_version=current, to_version=None)
    try:
        reg.set_version_tags(name, current, {"mlgate.canary.cleared_by": release.actor,
                                             "mlgate.delivery_id": release.delivery_id})
        reg.delete_alias(name, alias)
    except RegistryError as exc:
        state = _restore(reg, name, alias, current)
        return _failed(store, release, current, None, Reason.CLEAR_FAILED,
                       {"alias": alias, "cause": _first_line(exc)}, state)
    out = Outcome("done", release, from_version=current, to_version=None,
                  audit_id=audit(store, release, A_ROLLBACK, R_SUCCESS, from_version=current, to_version=None))
    if github is not None and release.head_sha:
        env = f"model/{name}@canary"
        description = f"{name} canary v{current} cleared by {release.actor}"
        try:
            dep = github.create_deployment(release.head_sha, env, description, {
                "model": name, "alias": alias, "version": None, "previous_version": current,
                "action": A_ROLLBACK, "actor": release.actor, "delivery_id": release.delivery_id, "pr": release.pr})
            github.create_deployment_status(dep, "inactive", description)
            out.deployment_id = int(dep)
        except AdapterError as exc:
            out.warnings.append(Warned(Note.CANARY_DEPLOYMENT_FAILED, {"cause": _first_line(exc)}))
    return out


def _not_found(store: Store, release: Release, reg: Registry, current: str | None) -> Outcome:
    facts = {"model": release.model, "version": release.version or "",
             **_versions_hint(reg, release.model, release.version)}
    return _refused(store, release, Reason.VERSION_NOT_FOUND, facts, from_version=current,
                    to_version=release.version)


def _versions_hint(reg: Registry, name: str, near: str | None = None) -> dict[str, str]:
    """The model's newest versions (`existing`) and the one closest to `near` (`closest`); {} when unknown."""
    try:
        versions = [v.version for v in reg.list_versions(name)]
    except RegistryError:
        return {}
    if not versions:
        return {}
    hint = {"existing": ", ".join(versions[-10:])}
    if near is not None and near.isdigit():
        hint["closest"] = min(versions, key=lambda v: abs(int(v) - int(near)))
    return hint


def _move(store: Store, reg: Registry, github: GitHub | None, release: Release, action: str, current: str | None,
          target: str) -> Outcome:
    """Move the alias, write the audit row, then mirror it as the history tag (once, with the row's
    id); undo the move when the audit row cannot be written."""
    name, alias = release.model, release.alias
    try:
        reg.set_alias(name, alias, target)
    except RegistryError as exc:
        state = _restore(reg, name, alias, current)
        return _failed(store, release, current, target, Reason.MOVE_FAILED, {"alias": alias, "cause": _first_line(exc)},
                       state)
    at = time.time()
    try:
        audit_id = audit(store, release, action, R_SUCCESS, from_version=current, to_version=target)
    except StoreError as exc:
        state = _restore(reg, name, alias, current)
        raise ReleaseError(f"the audit log cannot be written ({_first_line(exc)}); the alias was "
                           f"{'put back' if state == 'restored' else 'left in an unknown state'}") from None
    out = Outcome("done", release, from_version=current, to_version=target, audit_id=audit_id)
    cause = mirror(reg, name, target, history_tag(audit_id, release, action, R_SUCCESS, current, target, at))
    if cause is not None:
        out.warnings.append(Warned(Note.NOT_MIRRORED, {"cause": cause}))
    if github is not None:
        out.deployment_id, dep_warning = _deploy(github, release, action, current, target)
        if dep_warning is not None:
            out.warnings.append(dep_warning)
    return out


def _restore(reg: Registry, name: str, alias: str, previous: str | None) -> AliasState:
    """Put the alias back where it was; "unchanged", "restored" or "unknown"."""
    try:
        now = reg.alias_version(name, alias)
        if now == previous:
            return "unchanged"
        if previous is None:
            reg.delete_alias(name, alias)
        else:
            reg.set_alias(name, alias, previous)
        return "restored" if reg.alias_version(name, alias) == previous else "unknown"
    except RegistryError:
        return "unknown"


def _deploy(github: GitHub, release: Release, action: str, current: str | None,
            target: str) -> tuple[int | None, Warned | None]:
    """A GitHub Deployment `model/<name>@<alias>` with a success status; warnings, not failures."""
    ref = release.head_sha
    if not ref:
        return None, None
    env = f"model/{release.model}@{'canary' if release.canary is not None else release.alias}"
    verb = "promoted" if action == A_PROMOTE else "rolled back"
    description = f"{release.model} v{target} {verb} by {release.actor}"
    try:
        dep = github.create_deployment(ref, env, description, {
            "model": release.model, "alias": release.alias, "version": target, "previous_version": current,
            "action": action, "actor": release.actor, "delivery_id": release.delivery_id, "pr": release.pr,
            **({"traffic_share": release.canary} if release.canary is not None else {})})
        github.create_deployment_status(dep, "success", description)
        return int(dep), None
    except AdapterError as exc:
        return None, Warned(Note.DEPLOYMENT_FAILED, {"cause": _first_line(exc)})


# ---------------------------------------------------------------- other audit events


def record_denied(store: Store, *, actor: str, command: str, why: str, repo: str | None, pr: int | None,
                  sha: str | None, model: str | None, delivery_id: str, line: str = "") -> int:
    """A command refused for lack of permission: kept, so "who tried what" can be answered later."""
    return int(store.record_audit(actor=actor, action=A_DENIED, result=R_DENIED, repo=repo, model=model, pr=pr,
                                  sha=sha, delivery_id=delivery_id,
                                  detail=json.dumps({"command": command, "line": line[:200], "reason": why},
                                                    sort_keys=True)))


def record_accepted_regression(store: Store, *, repo: str, pr: int, sha: str, model: str | None,
                               approvers: list[str], reasons: list[str], delivery_id: str) -> int | None:
    """Who accepted a regression by approving it; once per (PR, head SHA)."""
    if store.has_audit(action=A_ACCEPT, repo=repo, pr=pr, sha=sha):
        return None
    return int(store.record_audit(actor=", ".join(approvers), action=A_ACCEPT, result=R_ACCEPTED, repo=repo,
                                  model=model, pr=pr, sha=sha, delivery_id=delivery_id,
                                  detail=json.dumps({"approvers": approvers, "reasons": reasons}, sort_keys=True)))
