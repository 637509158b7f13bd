"""Issue #11, second pass: attacks on the trusted evaluation, through the GitHub stand-in.

Each test is an attack (or a dead end) found after bot.trust landed; each failed on the code
before its fix (noted per test). Attacks that were already blocked are tested where they live
(tests/handlers/test_trust.py, tests/chatops/test_provenance.py, tests/handlers/test_policy.py).
"""

from __future__ import annotations

import json

from bot.github_client import RunInfo
from bot.plan import EVALUATION, INVALID_ARTIFACT_TITLE, MISSING_ARTIFACT_TITLE
from bot.sandbox.server import make_artifact_zip
from bot.trust import trigger_in_title, uploader_problem
from tests.handlers.conftest import CONFIG, FAILING, PASSING, REPO, Hub

BUILD = ".github/workflows/mlgate-build.yml"


def _open(hub: Hub, **kw: object) -> tuple[int, str]:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"}, **kw)
    hub.one()
    return int(pr["number"]), str(pr["head"]["sha"])


def _build(hub: Hub, n: int, conclusion: str = "success") -> int:
    run = hub.github.complete_workflow_run(REPO, n, name="mlgate-build", path=BUILD, conclusion=conclusion,
                                           artifact_name="mlgate-candidate",
                                           artifact=make_artifact_zip({"candidate/MLmodel": b"flavors: {}\n"}))
    hub.run()
    return int(run)


def _report(report: bytes, *, trusted: int, triggering: int) -> bytes:
    data = json.loads(report)
    data["provenance"] = {"trusted_run_id": trusted, "triggering_run_id": triggering}
    return make_artifact_zip({"mlgate-report.json": json.dumps(data).encode()})


def _check(hub: Hub, sha: str) -> dict[str, object]:
    return hub.checks(sha)[EVALUATION]


# ---------------------------------------------------------------- the dead end: a trusted run without a report


def test_a_trusted_run_that_uploaded_no_report_fails_the_prs_check_with_a_rerun_hint(hub: Hub) -> None:
    # old code: logged "cannot tell which pull request", and the PR waited for ever
    n, head = _open(hub)
    runs = hub.github.complete_trusted_evaluation(REPO, n, None, conclusion="failure")
    hub.run()
    check = _check(hub, head)
    assert (check["status"], check["conclusion"]) == ("completed", "failure"), check
    summary = str(check["output"]["summary"])  # type: ignore[index]
    assert check["output"]["title"] == MISSING_ARTIFACT_TITLE  # type: ignore[index]
    assert (f"the trusted evaluation run {runs['evaluate']} completed with `failure` and uploaded no "
            "`mlgate-report` artifact") in summary
    assert "re-run it from its page" in summary
    assert hub.store.latest_evaluation(REPO, n) is None


def test_a_skipped_evaluation_after_a_failed_build_says_the_build_failed(hub: Hub) -> None:
    # the example workflow's job runs only after a successful build: the run completes `skipped`
    n, head = _open(hub)
    build = _build(hub, n, conclusion="failure")
    hub.github.complete_evaluation_run(REPO, triggered_by=build, conclusion="skipped")
    hub.run()
    summary = str(_check(hub, head)["output"]["summary"])  # type: ignore[index]
    assert "completed with `skipped`" in summary
    assert f"(the run {build} that built the candidate ended `failure`)" in summary


def test_without_a_run_name_a_reportless_run_still_never_passes(hub: Hub) -> None:
    # a workflow without `run-name:` names no trigger: logged, and the check is not completed (not green)
    n, head = _open(hub)
    build = _build(hub, n)
    hub.github.complete_evaluation_run(REPO, triggered_by=build, run_name=None, conclusion="failure")
    hub.run()
    assert _check(hub, head).get("conclusion") != "success"
    assert _check(hub, head)["status"] != "completed"


def test_a_reportless_rerun_does_not_undo_the_accepted_evaluation(hub: Hub) -> None:
    n, head = _open(hub)
    runs = hub.github.complete_trusted_evaluation(REPO, n, PASSING)
    hub.run()
    first = _check(hub, head)
    assert first["conclusion"] == "success"
    hub.github.complete_evaluation_run(REPO, triggered_by=runs["build"], conclusion="cancelled")
    hub.run()
    assert _check(hub, head)["id"] == first["id"] and _check(hub, head)["conclusion"] == "success"


def test_a_valid_report_without_provenance_is_shown_on_the_pr_its_run_name_names(hub: Hub) -> None:
    # old code: logged only; the PR waited
    n, head = _open(hub)
    build = _build(hub, n)
    hub.github.complete_evaluation_run(REPO, triggered_by=build,
                                       artifact=make_artifact_zip({"mlgate-report.json": PASSING}))
    hub.run()
    check = _check(hub, head)
    assert (check["conclusion"], check["output"]["title"]) == ("failure", INVALID_ARTIFACT_TITLE)  # type: ignore[index]
    assert "no `provenance`" in str(check["output"]["summary"]).replace("\\", "")  # type: ignore[index]


# ---------------------------------------------------------------- provenance that points elsewhere


def test_provenance_naming_another_prs_run_does_not_count_for_that_pr(hub: Hub) -> None:
    # old code: PR 2 got the numbers PR 1's trusted run computed (green on a candidate nobody evaluated for it)
    n1, head1 = _open(hub)
    n2, head2 = _open(hub)
    build1, build2 = _build(hub, n1), _build(hub, n2)
    run_id = hub.github.reserve_run_id()
    hub.github.complete_evaluation_run(REPO, triggered_by=build1, run_id=run_id,
                                       artifact=_report(PASSING, trusted=run_id, triggering=build2))
    hub.run()
    assert hub.store.latest_evaluation(REPO, n2) is None
    assert _check(hub, head2)["status"] != "completed"
    check = _check(hub, head1)  # the PR the run really evaluated is told why its report did not count
    assert (check["conclusion"], check["output"]["title"]) == ("failure", INVALID_ARTIFACT_TITLE)  # type: ignore[index]
    assert f"names run {build2} as the run it evaluated" in str(check["output"]["summary"])  # type: ignore[index]


def test_another_trusted_runs_report_uploaded_again_does_not_count(hub: Hub) -> None:
    # old code: accepted, and /promote then checked the candidate's tags against the other run
    n, head = _open(hub)
    build = _build(hub, n)
    earlier = hub.github.reserve_run_id()
    hub.github.complete_evaluation_run(REPO, triggered_by=build, artifact=_report(FAILING, trusted=earlier,
                                                                                  triggering=build))
    hub.run()
    check = _check(hub, head)
    assert check["output"]["title"] == INVALID_ARTIFACT_TITLE  # type: ignore[index]
    assert f"the evaluation run {earlier} made it" in str(check["output"]["summary"])  # type: ignore[index]
    assert hub.store.latest_evaluation(REPO, n) is None


def test_the_run_name_decides_the_pr_not_the_title_a_pr_chose() -> None:
    def run(title: str) -> RunInfo:
        return RunInfo(9, ".github/workflows/mlgate-evaluate.yml", "workflow_run", "main", "a" * 40, REPO, REPO,
                       "acme", "success", None, (), title)

    assert trigger_in_title(run("mlgate evaluate (run 1234)")) == 1234
    assert trigger_in_title(run("mlgate-evaluate")) is None
    # a run-name that also quotes the PR's title (which says "(run 99)") names nothing: only the exact title counts
    assert trigger_in_title(run("mlgate evaluate (run 1234) for fix (run 99)")) is None
    assert trigger_in_title(run("fix (run 99)")) is None
    assert trigger_in_title(run("mlgate evaluate (run 99) ")) is None


# ---------------------------------------------------------------- runs that only look trusted


def test_a_default_branch_named_run_whose_head_is_a_fork_is_not_trusted() -> None:
    from bot.config import parse_config

    ev = parse_config(CONFIG, ".github/mlgate.yml").evaluation
    fork_main = RunInfo(5, ev.workflow, "workflow_run", "main", "b" * 40, REPO, "mallory/churn", "mallory",
                        "success", None, ())
    assert uploader_problem(fork_main, ev, "main", REPO) is not None
    in_the_fork = RunInfo(6, ev.workflow, "workflow_run", "main", "b" * 40, "mallory/churn", "mallory/churn",
                          "mallory", "success", None, ())
    assert uploader_problem(in_the_fork, ev, "main", REPO) is not None


def test_a_trigger_that_is_no_run_of_this_repository_is_not_followed(hub: Hub) -> None:
    # a run id of another repository (or none at all) is a 404 for this repository's Actions API
    n, head = _open(hub)
    _build(hub, n)
    run_id = hub.github.reserve_run_id()
    hub.github.complete_evaluation_run(REPO, triggered_by=_build(hub, n), run_id=run_id, run_name=None,
                                       artifact=_report(PASSING, trusted=run_id, triggering=987654))
    hub.run()
    assert hub.store.latest_evaluation(REPO, n) is None
    assert _check(hub, head).get("conclusion") != "success"


# ---------------------------------------------------------------- GitHub does not answer cleanly


def test_a_5xx_reading_the_authors_permission_never_waives_the_review(hub: Hub) -> None:
    # single-workflow mode: a writer's PR needs no review; when the permission cannot be read, it does
    pr_workflow = ".github/workflows/mlgate.yml"
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG + (
        f"evaluation: {{trust: pull_request, workflow: {pr_workflow}}}\n")})
    hub.github.set_permission(REPO, "wendy", "write")
    n, head = _open(hub, author="wendy")
    hub.github.inject_fault("GET", r"/collaborators/[^/]+/permission", "502", times=500)
    hub.github.complete_workflow_run(REPO, n, artifact=make_artifact_zip({"mlgate-report.json": PASSING}),
                                     path=pr_workflow)
    hub.run()
    assert hub.checks(head).get("mlgate/review", {}).get("conclusion") != "success"


def test_a_rerun_that_uploads_no_report_does_not_leave_the_check_waiting(hub: Hub) -> None:
    # "Re-run" on an accepted evaluation queues the check; a re-run that ends without a report said
    # nothing before (the check stayed "Re-running the evaluation workflow" for ever)
    n, head = _open(hub)
    runs = hub.github.complete_trusted_evaluation(REPO, n, PASSING)
    hub.run()
    hub.github.rerequest_check_run(REPO, int(_check(hub, head)["id"]))  # type: ignore[call-overload]
    hub.run()
    assert _check(hub, head)["status"] == "queued"
    hub.github.complete_evaluation_run(REPO, triggered_by=runs["build"], conclusion="cancelled")
    hub.run()
    check = _check(hub, head)
    assert (check["status"], check["conclusion"]) == ("completed", "failure"), check
    assert "completed with `cancelled`" in str(check["output"]["summary"])  # type: ignore[index]
