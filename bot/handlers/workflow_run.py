"""workflow_run completed: read the report artifact, apply the base policy, report and gate.

A report counts only from the run bot.trust accepts, checked through the Actions API: by
default the default branch's evaluation workflow (event workflow_run), whose report names the
PR's run that built the candidate; a report the PR's own workflow uploaded is refused on the
check, saying why. The artifact is untrusted all the same: bot.artifacts limits and validates
it, and the verdict is recomputed here with the base branch's policy, never taken from CI.

GitHub calls for one PR's trusted evaluation: the evaluation run, the artifact list, the
artifact zip, the run that built the candidate, the PR, the default branch (the policy; its
file is cached by SHA), the PR's files, the comment, the evaluation check, the regression
label (only when it changes), and the review check (plus the reviews when the policy asks for
approval): eleven, twelve at most. The PR's build run costs three (PR, branch, artifact list).

The gate decides once per job (`decide`), bot.plan computes the PR's whole next state from that
decision (comment, both checks, label, state block), and bot.apply writes what changed: each
check at most once.
"""

from __future__ import annotations

from typing import Any

from bot.apply import pr_changes, undecided, unevaluated, write_check
from bot.artifacts import MAX_ZIP_BYTES, ArtifactError, extract_report
from bot.config import CONFIG_PATH, Config
from bot.context import Context
from bot.gate import decide
from bot.github_client import PullInfo, RunInfo
from bot.handlers.inputs import (
    POLICY_DIFFERS_NOTE,
    PR_WORKFLOW_REVIEW_REASON,
    origin_reasons,
    plan_head,
)
from bot.handlers.ordering import EVALUATED, claim_head, pr_lock, reach
from bot.plan import (
    EVALUATION,
    REVIEW,
    artifact_check,
    invalid_config_check,
    stale_check,
    untrusted_check,
)
from bot.routing import Router
from bot.trust import (
    Origin,
    expected,
    head_problem,
    pulls_of,
    trigger_in_title,
    uploader_problem,
)

__all__ = ["POLICY_DIFFERS_NOTE", "PR_WORKFLOW_REVIEW_REASON", "on_completed", "router"]


def on_completed(ctx: Context) -> None:
    run: dict[str, Any] = ctx.event.payload["workflow_run"]
    if run.get("event") == "workflow_run":  # started by another run, from the default branch's file
        _on_evaluation_run(ctx, run)
        return
    targets = _pull_requests(ctx, run)
    if not targets:
        ctx.log.info("workflow run %s is not for an open pull request of this repository; nothing to do",
                     run.get("id"))
        return
    for number, base_sha in targets:
        with pr_lock(ctx, number):
            _evaluate(ctx, run, number, base_sha)


def _pull_requests(ctx: Context, run: dict[str, Any]) -> list[tuple[int, str]]:
    """(number, base SHA) of the PRs the run belongs to.

    GitHub lists them in `pull_requests`, except for runs from forks: those are found by the
    head branch of the fork (one call).
    """
    repo_id = (ctx.event.payload.get("repository") or {}).get("id")
    found = []
    for p in run.get("pull_requests") or []:
        base = p.get("base") or {}
        if repo_id is not None and (base.get("repo") or {}).get("id") not in (None, repo_id):
            continue  # a PR of another repository that happens to share the head
        if p.get("number") and base.get("sha"):
            found.append((int(p["number"]), str(base["sha"])))
    if found or not run.get("head_branch"):
        return found
    head_repo = run.get("head_repository") or {}
    if not head_repo.get("full_name") or head_repo.get("full_name") == ctx.event.repo:
        return []
    owner = (head_repo.get("owner") or {}).get("login") or str(head_repo["full_name"]).split("/")[0]
    return [(p.number, p.base_sha) for p in ctx.github.pulls_for_branch(owner, str(run["head_branch"]))
            if p.head_sha == run.get("head_sha")]


def _evaluate(ctx: Context, run: dict[str, Any], number: int, base_sha: str, *, head: str | None = None,
              report: dict[str, Any] | None = None, origin: Origin | None = None,
              known_pull: PullInfo | None = None, report_error: ArtifactError | None = None,
              report_missing: bool = False) -> None:
    """Gate PR `number` on the report of `run`: the PR's own run (its report counts only when
    bot.trust says so), or the trusted evaluation with its `report` and verified `origin`."""
    repo, head, run_id = ctx.event.repo or "", head or str(run["head_sha"]), int(run["id"])
    from bot.github_client import GitHubError
    from bot.policy import resolve_policy

    try:
        pull = known_pull or ctx.github.pull(number)  # GitHub's view of the PR: its base and how many files it changes
        policy = resolve_policy(ctx, pull.base_ref)
    except GitHubError as exc:
        # which workflow is ours is in the policy; a check this run may not be about stays as it is
        # when it already passed, and is otherwise never left waiting as if nothing had happened
        settled = not _about_head(ctx, number, head, run_id, origin) and \
            ctx.store.check_conclusion(repo, head, EVALUATION) in ("success", "neutral")
        # the PR's comment says so too when this is its current head (held: the PR's lock)
        undecided(ctx, head, () if settled else (EVALUATION,), "read the policy", exc,
                  pr=None if settled or ctx.store.pr_head(repo, number) != head else number)
        return
    config, problem = policy.config, policy.problem
    if config is None and problem and _about_head(ctx, number, head, run_id, origin):
        # a report for this head under a policy that no longer parses: an earlier pass never stands
        write_check(ctx.github, ctx.store, repo, invalid_config_check(head, policy.branch, problem))
        if ctx.store.pr_head(repo, number) == head:  # nor on the PR's comment (held: the PR's lock)
            unevaluated(ctx, number, head, "undecided", f"{CONFIG_PATH} on {policy.branch} is invalid: {problem}")
        return
    if config is None:
        ctx.log.info("no usable config on %s (%s); the pull_request handler reported it", policy.branch,
                     problem or "missing")
        return
    if origin is None:  # the PR's own run
        origin = _pr_run_origin(ctx, run, number, head, config)
        if origin is None:
            return
    try:
        changes = pr_changes(ctx, number, pull.changed_files, config.paths)[1]
    except GitHubError as exc:
        undecided(ctx, head, (EVALUATION, REVIEW), "list the changed files", exc,
                  pr=number if ctx.store.pr_head(repo, number) == head else None)
        return
    stale = not claim_head(ctx, number, head)
    current = ctx.store.pr_head(repo, number)
    from bot.github_client import ArtifactUnavailable

    missing = report_missing
    try:
        if report_error is not None:  # the trusted evaluation's report, unusable: said on the check
            raise report_error
        if report is None:
            data = ctx.github.download_artifact(run_id, config.evaluation.artifact, MAX_ZIP_BYTES)
            if data is None:
                missing = True
                raise ArtifactError(_missing_reason(run, config.evaluation.artifact))
            report = extract_report(data)
    except (ArtifactError, ArtifactUnavailable) as exc:
        if stale:
            ctx.log.info("run %s for the old head %s has no usable report: %s", run_id, head[:12], exc)
            return
        ctx.log.warning("run %s: %s", run_id, exc)
        write_check(ctx.github, ctx.store, repo, artifact_check(
            head, missing=missing, reason=str(exc), workflow=config.evaluation.workflow,
            artifact=config.evaluation.artifact, run_url=str(run.get("html_url") or run_id),
            details_url=run.get("html_url")))
        reach(ctx, number, head, EVALUATED)
        # the comment says so too: a report shown for this head before (a re-run's) no longer stands on top
        unevaluated(ctx, number, head, "undecided", f"the evaluation run {run_id} has no usable report: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                    releases_refused=policy.refusal)
        return
    decision = decide(report, config, changes)  # the one decision of this job
    from bot.metrics import metrics

    metrics().verdicts.labels(outcome=decision.outcome).inc()
    if stale:
        # the old commit gets its own result; the PR's comment, labels and review are the new head's
        ctx.log.info("report for %s is older than the PR head %s: only its own check is completed",
                     head[:12], str(current)[:12])
        write_check(ctx.github, ctx.store, repo, stale_check(head, number, decision, report))
        reach(ctx, number, head, EVALUATED)
        return
    try:
        extra = origin_reasons(ctx, origin.by_pull_request, pull.author)
    except GitHubError as exc:  # whether the numbers need a reviewer is unknown: nothing is recorded or green
        undecided(ctx, head, (EVALUATION, REVIEW), "read the author's permission", exc, pr=number)
        return
    previous = ctx.store.latest_evaluation(repo, number)
    if previous is not None and previous.get("run_id") == run_id and previous.get("head_sha") == head:
        eval_id: int | None = int(previous["id"])  # a redelivery: the same evaluation, no second row
    else:
        eval_id = ctx.store.record_evaluation(repo, number, head, run_id, decision.outcome, report)
    if eval_id is None:
        return  # a newer push arrived meanwhile
    plan_head(ctx, number=number, head=head, author=pull.author, config=config,
              releases_refused=policy.refusal, report=report, decision=decision, run_id=run_id,
              eval_id=eval_id, computed_by_pr=origin.by_pull_request,
              extra=extra)
    reach(ctx, number, head, EVALUATED)


def _about_head(ctx: Context, number: int, head: str, run_id: int, origin: Origin | None) -> bool:
    """Whether this run reports on `head` for sure, before the policy says which workflow is ours:
    the verified trusted evaluation of it (`origin`), or the run whose report the head's stored
    evaluation is (a re-run). Its new report must never leave an earlier pass standing."""
    if origin is not None:
        return True
    known = ctx.store.latest_evaluation(ctx.event.repo or "", number, head)
    return known is not None and known.get("run_id") == run_id


def _missing_reason(run: dict[str, Any], artifact: str) -> str:
    concl = run.get("conclusion")
    if concl and concl != "success":
        return f"the workflow run ended `{concl}` and uploaded no `{artifact}` artifact"
    return f"the run uploaded no `{artifact}` artifact"


def _default_branch(ctx: Context) -> str:
    from bot.policy import default_branch

    return default_branch(ctx)


def _pr_run_origin(ctx: Context, run: dict[str, Any], number: int, head: str, config: Config) -> Origin | None:
    """The PR's own run: an Origin when its report counts (only with `evaluation.trust:
    pull_request`, checked through the Actions API), else None. A report it uploaded that does
    not count is refused on the evaluation check, saying why; any other run (a build, the tests)
    is not mlgate's business."""
    repo, run_id, ev = ctx.event.repo or "", int(run["id"]), config.evaluation
    if ev.trust == "pull_request" and run.get("path") == ev.workflow:
        info = ctx.github.run_info(run_id)
        why = "the Actions API does not know this run" if info is None else (
            uploader_problem(info, ev, _default_branch(ctx), repo) or head_problem(info, ctx.github.pull(number), repo))
        if why is None:
            return Origin("pull_request", run_id, head)
    elif not ctx.github.has_artifact(run_id, ev.artifact):
        return None  # another workflow of the repository
    else:
        info = ctx.github.run_info(run_id)
        why = (uploader_problem(info, ev, _default_branch(ctx), repo) if info is not None else None) or (
            f"report not from the trusted evaluation workflow: mlgate accepts a report only from "
            f"{expected(ev, _default_branch(ctx))}")
    _refuse(ctx, number, head, why, run)
    return None


def _refuse(ctx: Context, number: int, sha: str, why: str, run: dict[str, Any]) -> None:
    """A report that does not count: the evaluation check of `sha` says why, never green. A
    result already accepted for that commit stands (a forged report must not undo it)."""
    repo = ctx.event.repo or ""
    ctx.log.warning("workflow run %s: %s; the report is ignored", run.get("id"), why)
    current = ctx.store.pr_head(repo, number)
    if current is not None and current != sha and ctx.store.check_conclusion(repo, sha, EVALUATION):
        return  # an old commit that already has its result
    if ctx.store.latest_evaluation(repo, number, sha) is not None:
        return
    check = untrusted_check(sha, why, str(run.get("html_url") or run.get("id")), run.get("html_url"))
    if current == sha:  # the PR's head: its comment says the report does not count, never an earlier verdict
        unevaluated(ctx, number, sha, "undecided", f"the report of the workflow run {run.get('id')} does not "
                    f"count: {why.splitlines()[0] if why else 'not from the trusted evaluation'}", checks=(check,))
    else:
        write_check(ctx.github, ctx.store, repo, check)
    reach(ctx, number, sha, EVALUATED)  # a late pull_request event must not turn the refusal back into a wait


def _on_evaluation_run(ctx: Context, run: dict[str, Any]) -> None:
    """A run started by `workflow_run`: the trusted evaluation when the Actions API confirms it.

    Its report names the run that triggered it (`provenance.triggering_run_id`); that run is
    fetched too, and the report counts for a PR only when that run built the PR's current head,
    in this repository or the PR's fork. The PR is found from GitHub, never from the report.
    """
    from bot.github_client import ArtifactUnavailable
    from bot.policy import config_at

    repo, run_id = ctx.event.repo or "", int(run["id"])
    default = _default_branch(ctx)
    # the default branch's policy, at the commit whose workflow file ran
    config, problem = config_at(ctx, str(run["head_sha"]))
    if config is None or config.evaluation.trust != "workflow_run" or run.get("path") != config.evaluation.workflow:
        ctx.log.info("workflow run %s (%s) is not the trusted evaluation workflow%s; ignored", run_id,
                     run.get("path"), f" ({problem})" if problem else "")
        return
    ev = config.evaluation
    info = ctx.github.run_info(run_id)
    why = "the Actions API does not know this run" if info is None else uploader_problem(info, ev, default, repo)
    if why is not None or info is None:
        ctx.log.warning("workflow run %s: %s; ignored", run_id, why)
        return
    named = trigger_in_title(info)  # from the default branch's `run-name:`, when it has one
    problem_report: ArtifactError | None = None
    no_report = False  # nothing usable arrived: said on the PR only when the run-name names the trigger
    report: dict[str, Any] = {}
    try:
        data = ctx.github.download_artifact(run_id, ev.artifact, MAX_ZIP_BYTES)
        if data is None:
            raise ArtifactError(_missing_reason(run, ev.artifact))
        report = extract_report(data)
    except (ArtifactError, ArtifactUnavailable) as exc:
        provenance = exc.provenance if isinstance(exc, ArtifactError) else None
        if provenance is None and named is None:
            ctx.log.error("trusted evaluation run %s: %s; without a report mlgate cannot tell which pull request "
                          "it was for (set `run-name:` with the triggering run's id, see docs/action.md)", run_id, exc)
            return
        if provenance is not None:
            report, problem_report = {"provenance": provenance}, ArtifactError(str(exc))  # still names its run
        else:
            no_report = True
    claimed = (report.get("provenance") or {}).get("triggering_run_id")
    made_by = (report.get("provenance") or {}).get("trusted_run_id")
    if problem_report is not None:
        pass  # the first reason stands
    elif made_by is not None and int(made_by) != run_id:  # another run's report, uploaded again
        problem_report = ArtifactError(f"the report says the evaluation run {int(made_by)} made it, but run "
                                       f"{run_id} uploaded it")
    elif named is not None and claimed is not None and int(claimed) != named:
        problem_report = ArtifactError(
            f"the report's provenance names run {int(claimed)} as the run it evaluated, but the trusted evaluation "
            f"run {run_id} was started by run {named} (its run-name, set by the default branch's workflow file)")
    elif named is not None and claimed is None and not no_report:
        problem_report = ArtifactError("the report has no `provenance`: run `mlgate evaluate` in the action's "
                                       "trusted mode (`--provenance-from-env`)")
    trigger_id = named if named is not None else claimed
    trigger = ctx.github.run_info(int(trigger_id)) if trigger_id else None
    if trigger is None:
        ctx.log.error("trusted evaluation run %s: no run of this repository triggered it (run-name %r, "
                      "provenance.triggering_run_id %s); run `mlgate evaluate` with the action's trusted mode",
                      run_id, info.display_title[:200] if info else "", claimed)
        return
    if no_report:
        problem_report = ArtifactError(_no_report_reason(run_id, info, trigger, ev.artifact))
    if trigger.event == "merge_group":  # the evaluation of a merge queue's commit (bot.handlers.merge_group)
        from bot.handlers.merge_group import on_group_report

        on_group_report(ctx, trigger, report, problem_report)
        return
    fork = trigger.head_repository != repo and trigger.head_owner and trigger.head_branch
    fork_pulls = ctx.github.pulls_for_branch(trigger.head_owner, trigger.head_branch) if fork else []
    numbers = pulls_of(trigger, repo, fork_pulls)
    if not numbers:
        ctx.log.info("trusted evaluation run %s evaluated run %s, which is not for an open pull request", run_id,
                     trigger.id)
    for number in numbers:
        pull = next((p for p in fork_pulls if p.number == number), None) or ctx.github.pull(number)
        why = head_problem(trigger, pull, repo)
        with pr_lock(ctx, number):
            if why is not None:
                _refuse(ctx, number, trigger.head_sha, why, run)
                continue
            if (no_report and ctx.store.latest_evaluation(repo, number, pull.head_sha) is not None
                    and ctx.store.check_conclusion(repo, pull.head_sha, EVALUATION) is not None):
                # a report-less run (another event's, a cancelled duplicate) does not undo a completed result;
                # a check waiting for this re-run is told why nothing came
                ctx.log.info("trusted evaluation run %s uploaded no report; the accepted evaluation of %s stands",
                             run_id, pull.head_sha[:12])
                continue
            _evaluate(ctx, run, number, pull.base_sha, head=pull.head_sha, report=report,
                      origin=Origin("workflow_run", run_id, pull.head_sha, trigger.id), known_pull=pull,
                      report_error=problem_report, report_missing=no_report)


def _no_report_reason(run_id: int, run: RunInfo, trigger: RunInfo, artifact: str) -> str:
    """Why a PR's check fails when its trusted evaluation ended without a report, and what to do."""
    built = (f" (the run {trigger.id} that built the candidate ended `{trigger.conclusion}`)"
             if trigger.conclusion not in (None, "success") else "")
    return (f"the trusted evaluation run {run_id} completed with `{run.conclusion or 'no conclusion'}` and "
            f"uploaded no `{artifact}` artifact{built}; fix the cause in its log, then re-run it from its page "
            "(or push a new commit)")


router = Router({"workflow_run.completed": on_completed})
