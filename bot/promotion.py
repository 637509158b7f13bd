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
- MLflow steps run before the alias moves where possible; a failure after the alias moved
  puts it back, and the outcome says what state the alias is in;
- every promotion, rollback, refusal and failure is an audit row; successful changes are
  mirrored as `mlgate.history.<time>` tags on the model version, so MLflow's own UI shows
  the alias history that MLflow does not keep.

Nothing here imports MLflow or PyGithub: the registry and GitHub client come in as objects.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.store import LockInfo

LOCK_TTL = 300.0  # seconds; a promotion takes a few seconds, a crashed worker's lock expires
EVALUATION = "mlgate/evaluation"
REVIEW = "mlgate/review"
HISTORY_PREFIX = "mlgate.history."
METRIC_PREFIX = "mlgate.metric."
KEY_METRICS = 6

Registry = Any  # bot.mlflow.Registry (duck-typed so tests may wrap a real one)
GitHub = Any  # bot.github_client.GitHubClient, or None for the CLI
Action = Literal["promote", "rollback"]
Status = Literal["done", "dry_run", "unchanged", "already_done", "refused", "lock_held", "failed"]

# audit actions and results written by this module
A_PROMOTE, A_ROLLBACK, A_DENIED, A_ACCEPT = "promote", "rollback", "denied", "accept_regression"
R_SUCCESS, R_FAILED, R_REFUSED, R_LOCKED, R_DENIED, R_ACCEPTED = (
    "success", "failed", "refused", "lock_held", "denied", "accepted")


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
    reason: str = ""
    fix: str = ""
    lock: LockInfo | None = None
    alias_state: str = ""  # after a failure: "unchanged" | "restored" | "unknown"
    registered: bool = False  # the candidate became a new model version
    rows: list[MetricRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    audit_id: int | None = None
    deployment_id: int | None = None
    earlier: dict[str, Any] | None = None  # the audit row of an earlier identical release
    unverified: bool = False  # refused because the registry does not show where the candidate came from

    @property
    def ok(self) -> bool:
        return self.status in ("done", "dry_run", "unchanged", "already_done")


class ReleaseError(RuntimeError):
    """A release could not be carried out; the message says why (no secrets)."""


# ---------------------------------------------------------------- audit helpers


def _detail(release: Release, **extra: Any) -> str:
    data = {"alias": release.alias, "via": release.via, "dry_run": release.dry_run, "canary": release.canary,
            **extra}
    return json.dumps({k: v for k, v in data.items() if v not in (None, "", [])}, sort_keys=True)


def detail_of(row: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(row.get("detail") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def audit(store: Any, release: Release, action: str, result: str, *, from_version: str | None = None,
          to_version: str | None = None, **extra: Any) -> int:
    return int(store.record_audit(
        actor=release.actor, action=action, result=result, repo=release.repo, model=release.model,
        from_version=from_version, to_version=to_version, pr=release.pr, sha=release.head_sha,
        delivery_id=release.delivery_id, detail=_detail(release, **extra)))


def alias_history(store: Any, model: str, alias: str) -> list[dict[str, Any]]:
    """Successful promotions and rollbacks of `model@alias`, oldest first (from the audit log)."""
    return [r for r in store.audit_records(model=model)
            if r["action"] in (A_PROMOTE, A_ROLLBACK) and r["result"] == R_SUCCESS
            and detail_of(r).get("alias", "production") == alias]


def previous_version(store: Any, model: str, alias: str, current: str | None) -> str | None:
    """The version the alias pointed at before it moved to `current`, per the audit log."""
    for row in reversed(alias_history(store, model, alias)):
        if row["to_version"] == current:
            return row["from_version"]
    return None


def _earlier(store: Any, release: Release) -> dict[str, Any] | None:
    """A successful release by the same delivery, or (promote) of the same PR head."""
    for row in reversed(store.audit_records(model=release.model)):
        if row["action"] != release.action or row["result"] != R_SUCCESS:
            continue
        if row["delivery_id"] == release.delivery_id:
            return row
        if (release.action == A_PROMOTE and release.head_sha and row["sha"] == release.head_sha
                and row["repo"] == release.repo and detail_of(row).get("alias", "production") == release.alias):
            return row
    return None


def history_tag(row_id: int, release: Release, action: str, result: str, from_version: str | None,
                to_version: str | None, at: float | None = None) -> tuple[str, str]:
    """The MLflow version tag that mirrors one audit row (key sorts by time)."""
    when = at if at is not None else time.time()
    key = f"{HISTORY_PREFIX}{int(when * 1000):013d}"
    value = {"audit_id": row_id, "action": action, "result": result, "actor": release.actor, "alias": release.alias,
             "from": from_version, "to": to_version, "repo": release.repo, "pr": release.pr,
             "sha": release.head_sha, "delivery": release.delivery_id, "via": release.via}
    return key, json.dumps({k: v for k, v in value.items() if v is not None}, sort_keys=True)


def mirror(registry: Any, model: str, version: str | None, key_value: tuple[str, str]) -> str | None:
    """Best-effort mirror of an audit row onto a model version; returns a warning on failure."""
    if not version:
        return None
    try:
        registry.set_version_tags(model, version, {key_value[0]: key_value[1]})
        return None
    except Exception as exc:
        return f"the audit record was not mirrored to MLflow ({_first_line(exc)})"


def _first_line(exc: BaseException) -> str:
    """The cause in one line, cut at a word (never mid-name) when it is long."""
    import textwrap

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


def check_gates(store: Any, release: Release) -> tuple[Candidate | None, str, str]:
    """The PR's candidate when both gates are green on its current head; else (None, why, fix)."""
    repo, pr, head = release.repo, release.pr, release.head_sha
    if not repo or pr is None or not head:
        return None, "no pull request head to promote from", "run /promote in a pull request comment"
    short = head[:7]
    def state(name: str) -> str | None:
        """The conclusion; "in progress" for a check that is set but waiting (e.g. for an approval)."""
        done = store.check_conclusion(repo, head, name)
        return done or ("in progress" if store.check_id(repo, head, name) is not None else None)

    states = {name: state(name) for name in (EVALUATION, REVIEW)}
    red = [f"`{n}` is {states[n] or 'not reported'}" for n in (EVALUATION, REVIEW) if states[n] != "success"]
    if red:
        fix = []
        if states[EVALUATION] != "success":
            fix.append("the evaluation must pass on this commit (push a fix, or comment /evaluate)")
        if states[REVIEW] != "success":
            fix.append("a configured reviewer must approve this commit")
        return None, f"{' and '.join(red)} on the head commit {short}", "; ".join(fix)
    ev = store.latest_evaluation(repo, pr, head)
    if ev is None:
        return None, f"no evaluation is stored for the head commit {short}", "comment /evaluate to run it again"
    report = ev["report"]
    made_for = (report.get("run") or {}).get("head_sha")
    if made_for and made_for != head:
        return None, (f"the report's candidate was built from {made_for[:7]}, not the head commit {short}"), \
            "comment /evaluate so the candidate is rebuilt from the head commit"
    model = next((m for m in report.get("models", []) if m.get("name") == release.model), None)
    if model is None:
        return None, f"the report of {short} has no model `{release.model}`", "check `models:` in the config"
    uri = (model.get("candidate") or {}).get("uri")
    if not uri:
        return None, f"the report of {short} names no candidate model URI for `{release.model}`", \
            "evaluate with `--candidate MODEL_URI` so mlgate knows what to register"
    return Candidate(uri, model, report), "", ""


def _report_rows(model: dict[str, Any], wanted: tuple[str, ...]) -> list[MetricRow]:
    metrics = {m["name"]: m for m in model.get("metrics", [])}
    names = [n for n in wanted if n in metrics] or list(metrics)[:KEY_METRICS]
    return [MetricRow(n, metrics[n].get("baseline"), metrics[n].get("candidate")) for n in names]


def _tag_rows(registry: Any, model: str, before: str | None, after: str | None,
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


def promote(store: Any, registry: Callable[[], Registry], github: GitHub, release: Release) -> Outcome:
    """Move `model@alias` to the PR's candidate (or the CLI's --candidate/--version)."""
    return _counted(_promote(store, registry, github, release))


def rollback(store: Any, registry: Callable[[], Registry], github: GitHub, release: Release) -> Outcome:
    """Move `model@alias` back to the previous production version, or to --to VERSION; for a
    canary, clear the challenger alias (no traffic goes to a version no alias names)."""
    locked = _clear_canary_locked if release.canary is not None else _rollback_locked
    return _counted(_under_lock(store, registry, github, release, lambda reg: locked(store, reg, github, release)))


def _promote(store: Any, registry: Callable[[], Registry], github: GitHub, release: Release) -> Outcome:
    candidate: Candidate | None = None
    if release.candidate_uri is None and release.version is None:
        candidate, why, fix = check_gates(store, release)
        if candidate is None:
            out = Outcome("refused", release, reason=why, fix=fix)
            if not release.dry_run:
                out.audit_id = audit(store, release, A_PROMOTE, R_REFUSED, reason=why)
            return out
    return _under_lock(store, registry, github, release, lambda reg: _promote_locked(store, reg, github, release,
                                                                                      candidate))


def _under_lock(store: Any, registry: Callable[[], Registry], github: GitHub, release: Release,
                body: Callable[[Registry], Outcome]) -> Outcome:
    action = release.action
    earlier = _earlier(store, release)
    if earlier is not None:
        return _already(release, earlier)
    if release.dry_run:
        held = _peek_lock(store, release)
        try:
            out = body(registry())
        except Exception as exc:
            return Outcome("failed", release, reason=f"the model registry failed: {_first_line(exc)}",
                           fix="check that MLflow is reachable (`mlgate status`) and try again",
                           alias_state="unchanged")
        if held is not None and out.status == "dry_run":
            out.warnings.append(f"{held.holder} holds the {release.model} lock since {held.since}; "
                                "a real run now would be refused")
        return out
    holder = _holder(release)
    held = store.acquire(lock_name(release.model), holder, LOCK_TTL)
    if held is not None:
        why = f"{held.holder} is changing {release.model} (lock held since {held.since})"
        out = Outcome("lock_held", release, reason=why, lock=held,
                      fix="wait until it finishes, then comment again")
        out.audit_id = audit(store, release, action, R_LOCKED, reason=why)
        return out
    try:
        earlier = _earlier(store, release)  # again, now that we hold the lock
        if earlier is not None:
            return _already(release, earlier)
        try:
            reg = registry()
        except Exception as exc:
            return _failed(store, release, None, None, f"the model registry cannot be opened: {_first_line(exc)}",
                           "unchanged")
        return body(reg)
    finally:
        store.release(lock_name(release.model), holder)


def _peek_lock(store: Any, release: Release) -> LockInfo | None:
    """Who holds the lock, without taking it (dry runs change nothing, locks included)."""
    probe = f"dry-run probe {release.delivery_id}"
    held = store.acquire(lock_name(release.model), probe, 1.0)
    if held is None:
        store.release(lock_name(release.model), probe)
    return held if isinstance(held, LockInfo) else None


def _already(release: Release, row: dict[str, Any]) -> Outcome:
    same = row["delivery_id"] == release.delivery_id
    why = ("this command was already carried out" if same
           else f"this head commit's candidate was already promoted by {row['actor']}")
    fix = "" if same else f"to return to it later, use /rollback --to {row['to_version']}"
    return Outcome("already_done", release, from_version=row["from_version"], to_version=row["to_version"],
                   reason=why, fix=fix, earlier=row)


def _failed(store: Any, release: Release, from_version: str | None, to_version: str | None, why: str,
            alias_state: str, warnings: list[str] | None = None) -> Outcome:
    state_words = {"unchanged": "the alias was not moved", "restored": "the alias was put back",
                   "unknown": "the alias may have moved; check it with `mlgate status`"}[alias_state]
    out = Outcome("failed", release, from_version=from_version, to_version=to_version, reason=why,
                  fix="check that MLflow is reachable (`mlgate status`) and try again", alias_state=alias_state,
                  warnings=list(warnings or []))
    if release.dry_run:
        return out  # a dry run writes no audit row, not even for a failure
    try:
        out.audit_id = audit(store, release, release.action, R_FAILED, from_version=from_version,
                             to_version=to_version, reason=f"{why}; {state_words}", alias_state=alias_state)
    except Exception as exc:  # the store is down too: say so, never hide the first failure
        out.warnings.append(f"the failure could not be written to the audit log ({_first_line(exc)})")
    return out


def _other_repository(reg: Registry, store: Any, release: Release, current: str | None) -> Outcome | None:
    """A refusal when `release` comes from a pull request of another repository than the one the
    registry says releases this model: with one App on many repositories sharing a registry,
    whoever controls another repository's config must not move this model's aliases. The
    operator CLI (who holds the registry's credentials anyway) is not bound."""
    if not release.repo or release.via == "cli":
        return None
    owner = reg.model_repository(release.model)
    if owner is None or owner == release.repo:
        return None
    why = (f"{release.model} is released from another repository (its registered model's `mlgate.repository` "
           f"tag), not {release.repo}")
    out = Outcome("refused", release, from_version=current, reason=why,
                  fix="release it from the pull requests of that repository, or have an MLflow admin change the tag")
    if not release.dry_run:
        out.audit_id = audit(store, release, release.action, R_REFUSED, from_version=current, reason=why)
    return out


def _promote_locked(store: Any, reg: Registry, github: GitHub, release: Release,
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
                return _unverified(store, release, current, candidate, *refusal)
        if release.version is not None:
            info = reg.get_version(name, release.version)
            if info is None:
                return _not_found(store, release, reg, current)
            version: str | None = info.version
            uri = f"models:/{name}/{info.version}"
        else:
            uri = candidate.uri if candidate else str(release.candidate_uri)
            version = find_version(reg, name, uri)
    except Exception as exc:
        return _failed(store, release, None, None, f"the model registry failed: {_first_line(exc)}", "unchanged")
    rows = (_report_rows(candidate.report_model, release.metrics) if candidate else [])
    if version is not None and version == current:
        return Outcome("unchanged", release, from_version=current, to_version=version, rows=rows,
                       reason=f"{name}@{alias} already points at version {version}")
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
    except Exception as exc:
        return _failed(store, release, current, version, f"the model registry failed: {_first_line(exc)}",
                       "unchanged")
    out = _move(store, reg, github, release, A_PROMOTE, current, version)
    out.rows, out.registered = rows, registered
    _note_stale_baseline(out, candidate, current)
    return out


# ---------------------------------------------------------------- provenance

TRUSTED_FIX = ("comment /evaluate so that the trusted evaluation (the `workflow_run` workflow on the default "
               "branch) builds, scores and logs the candidate of the head commit, then /promote again")


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


def verify_provenance(reg: Registry, release: Release, candidate: Candidate) -> tuple[str, str] | None:
    """None when the registry shows the trusted evaluation of this repository, head and model logged
    the candidate, by the run the report names; else (why, fix)."""
    short = (release.head_sha or "")[:7]
    if release.trust != "workflow_run":
        return ("this repository evaluates in the pull request's own workflow (`evaluation.trust: "
                f"{release.trust}`), where the pull request's code builds and logs the candidate, so nothing shows "
                "that the candidate is the model that was evaluated"), \
            ("switch to the trusted evaluation (`evaluation.trust: workflow_run`, see docs/action.md), or have "
             "an operator promote a reviewed version with `mlgate promote MODEL --version N`")
    uri = candidate.uri
    tags = reg.candidate_provenance(uri)
    if tags is None:
        return (f"the report names {candidate_kind(uri)} as the candidate, not a model that mlgate's trusted "
                "evaluation logged in this registry"), TRUSTED_FIX
    provenance = candidate.report.get("provenance")
    trusted_run = str(provenance.get("trusted_run_id")) if isinstance(provenance, dict) else None
    expected = [
        ("mlgate.repository", release.repo, f"the candidate was logged for another repository, not {release.repo}"),
        ("mlgate.head_sha", release.head_sha, f"the candidate was built from another commit, not the head commit "
                                              f"{short}"),
        ("mlgate.model", release.model, f"the candidate was logged for another model, not {release.model}"),
        ("mlgate.trusted_run_id", trusted_run, "the candidate was not logged by the evaluation run that wrote "
                                               "this report"),
    ]
    for key, want, why in expected:
        have = tags.get(key)
        if not want:
            return "the report has no trusted-evaluation provenance (trusted_run_id)", TRUSTED_FIX
        if have is None:
            return f"the candidate carries no `{key}` tag, so the trusted evaluation did not log it", TRUSTED_FIX
        if have != want:
            return why, TRUSTED_FIX
    pr = tags.get("mlgate.pr")
    if pr and release.pr is not None and pr != str(release.pr):
        return "the candidate was logged for another pull request", TRUSTED_FIX
    return None


def _unverified(store: Any, release: Release, current: str | None, candidate: Candidate, why: str,
                fix: str) -> Outcome:
    out = Outcome("refused", release, from_version=current, reason=why, fix=fix, unverified=True)
    if not release.dry_run:
        out.audit_id = audit(store, release, A_PROMOTE, R_REFUSED, from_version=current, reason=why,
                             provenance="unverified", candidate_uri=candidate.uri[:500])
    return out


def _note_stale_baseline(out: Outcome, candidate: Candidate | None, current: str | None) -> None:
    if candidate is None:
        return
    base = (candidate.report_model.get("baseline") or {}).get("version")
    if base and current and str(base) != str(current):
        out.warnings.append(f"the evaluation compared against version {base}, but {out.release.alias} now points "
                            f"at version {current}; the 'before' numbers are version {base}'s")


def _rollback_locked(store: Any, reg: Registry, github: GitHub, release: Release) -> Outcome:
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
            target = previous_version(store, name, alias, current)
            if target is None:
                why = (f"the audit log has no version that {name}@{alias} pointed at before version {current}"
                       if current else f"{name} has no alias {alias}")
                out = Outcome("refused", release, from_version=current, reason=why,
                              fix="name the version: /rollback --to VERSION" + _versions_hint(reg, name))
                if not release.dry_run:
                    out.audit_id = audit(store, release, A_ROLLBACK, R_REFUSED, from_version=current, reason=why)
                return out
        rows = _tag_rows(reg, name, current, target, release.metrics)
    except Exception as exc:
        return _failed(store, release, None, release.version, f"the model registry failed: {_first_line(exc)}",
                       "unchanged")
    if target == current:
        return Outcome("unchanged", release, from_version=current, to_version=target, rows=rows,
                       reason=f"{name}@{alias} already points at version {target}")
    if release.dry_run:
        return Outcome("dry_run", release, from_version=current, to_version=target, rows=rows)
    try:
        reg.set_version_tags(name, str(target), {
            "mlgate.rolled_back_by": release.actor, "mlgate.rolled_back_from": current or "",
            "mlgate.delivery_id": release.delivery_id, "mlgate.alias": alias})
    except Exception as exc:
        return _failed(store, release, current, target, f"the model registry failed: {_first_line(exc)}",
                       "unchanged")
    out = _move(store, reg, github, release, A_ROLLBACK, current, str(target))
    out.rows = rows
    return out


def current_production(reg: Registry, name: str) -> str:
    """The champion a canary runs against (recorded with the canary's tags; "" when none)."""
    return str(reg.alias_version(name, "production") or "")


def _clear_canary_locked(store: Any, reg: Registry, github: GitHub, release: Release) -> Outcome:
    """Delete the challenger alias: the canary stops getting traffic; audited and deployed as inactive."""
    name, alias = release.model, release.alias
    try:
        current = reg.alias_version(name, alias)
        other = _other_repository(reg, store, release, current)
    except Exception as exc:
        return _failed(store, release, None, None, f"the model registry failed: {_first_line(exc)}", "unchanged")
    if other is not None:
        return other
    if current is None:
        return Outcome("unchanged", release, reason=f"{name} has no canary running ({alias} is not set)")
    if release.dry_run:
        return Outcome("dry_run", release, from_version=current, to_version=None)
    try:
        reg.set_version_tags(name, current, {"mlgate.canary.cleared_by": release.actor,
                                             "mlgate.delivery_id": release.delivery_id})
        reg.delete_alias(name, alias)
    except Exception as exc:
        state = _restore(reg, name, alias, current)
        return _failed(store, release, current, None, f"clearing {alias} failed: {_first_line(exc)}", state)
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
        except Exception as exc:
            out.warnings.append(f"the GitHub deployment record failed ({_first_line(exc)}); the canary was cleared")
    return out


def _not_found(store: Any, release: Release, reg: Registry, current: str | None) -> Outcome:
    why = f"{release.model} has no version {release.version}"
    out = Outcome("refused", release, from_version=current, to_version=release.version, reason=why,
                  fix="name an existing version" + _versions_hint(reg, release.model, release.version))
    if not release.dry_run:
        out.audit_id = audit(store, release, release.action, R_REFUSED, from_version=current,
                             to_version=release.version, reason=why)
    return out


def _versions_hint(reg: Registry, name: str, near: str | None = None) -> str:
    try:
        versions = [v.version for v in reg.list_versions(name)]
    except Exception:
        return ""
    if not versions:
        return ""
    if near is not None and near.isdigit():
        closest = min(versions, key=lambda v: abs(int(v) - int(near)))
        return f"; the closest is {closest} (existing: {', '.join(versions[-10:])})"
    return f" (existing: {', '.join(versions[-10:])})"


def _move(store: Any, reg: Registry, github: GitHub, release: Release, action: str, current: str | None,
          target: str) -> Outcome:
    """Move the alias, mirror the history tag, write the audit row; undo the move on failure."""
    name, alias = release.model, release.alias
    try:
        reg.set_alias(name, alias, target)
    except Exception as exc:
        state = _restore(reg, name, alias, current)
        return _failed(store, release, current, target, f"moving {alias} failed: {_first_line(exc)}", state)
    at = time.time()
    try:
        # the history tag is written before the audit row so that a registry failure can still undo the
        # move; once the audit row exists the same tag is written again with its id
        key, value = history_tag(0, release, action, R_SUCCESS, current, target, at)
        reg.set_version_tags(name, target, {key: value})
    except Exception as exc:
        state = _restore(reg, name, alias, current)
        return _failed(store, release, current, target, f"the model registry failed after moving {alias}: "
                       f"{_first_line(exc)}", state)
    try:
        audit_id = audit(store, release, action, R_SUCCESS, from_version=current, to_version=target)
    except Exception as exc:
        state = _restore(reg, name, alias, current)
        raise ReleaseError(f"the audit log cannot be written ({_first_line(exc)}); the alias was "
                           f"{'put back' if state == 'restored' else 'left in an unknown state'}") from None
    out = Outcome("done", release, from_version=current, to_version=target, audit_id=audit_id)
    warning = mirror(reg, name, target, history_tag(audit_id, release, action, R_SUCCESS, current, target, at))
    if warning:
        out.warnings.append(warning)
    if github is not None:
        out.deployment_id, dep_warning = _deploy(github, release, action, current, target)
        if dep_warning:
            out.warnings.append(dep_warning)
    return out


def _restore(reg: Registry, name: str, alias: str, previous: str | None) -> str:
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
    except Exception:
        return "unknown"


def _deploy(github: GitHub, release: Release, action: str, current: str | None,
            target: str) -> tuple[int | None, str | None]:
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
    except Exception as exc:
        return None, f"the GitHub deployment record failed ({_first_line(exc)}); the alias did move"


# ---------------------------------------------------------------- other audit events


def record_denied(store: Any, *, actor: str, command: str, why: str, repo: str | None, pr: int | None,
                  sha: str | None, model: str | None, delivery_id: str, line: str = "") -> int:
    """A command refused for lack of permission: kept, so "who tried what" can be answered later."""
    return int(store.record_audit(actor=actor, action=A_DENIED, result=R_DENIED, repo=repo, model=model, pr=pr,
                                  sha=sha, delivery_id=delivery_id,
                                  detail=json.dumps({"command": command, "line": line[:200], "reason": why},
                                                    sort_keys=True)))


def record_accepted_regression(store: Any, *, repo: str, pr: int, sha: str, model: str | None,
                               approvers: list[str], reasons: list[str], delivery_id: str) -> int | None:
    """Who accepted a regression by approving it; once per (PR, head SHA)."""
    for row in store.audit_records(model=model):
        if row["action"] == A_ACCEPT and row["repo"] == repo and row["pr"] == pr and row["sha"] == sha:
            return None
    return int(store.record_audit(actor=", ".join(approvers), action=A_ACCEPT, result=R_ACCEPTED, repo=repo,
                                  model=model, pr=pr, sha=sha, delivery_id=delivery_id,
                                  detail=json.dumps({"approvers": approvers, "reasons": reasons}, sort_keys=True)))
