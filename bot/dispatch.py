"""The one entry point from an event to its handler, as Probot's `receive`: `dispatch(event, context)`.

The worker, `mlgate demo --app` (through the worker's job) and every test harness run events
through it. `ROUTER` is composed here, explicitly, from each feature module's `router`: a
module that fails to import fails here, loudly, instead of its events going unhandled.

Whether an event is wanted is decided from the event alone (`wanted`), before the context is
built: building it asks GitHub for an installation token, so an event nobody handles costs no
GitHub call and cannot fail for want of a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.context import Context, Event
from bot.handlers import (
    check_run,
    check_suite,
    deployment_protection,
    installation,
    issue_comment,
    merge,
    merge_group,
    pull_request,
    review,
    workflow_run,
)
from bot.handlers import on_job_failed as _on_job_failed
from bot.ports import Store
from bot.prlock import PR_LOCK_PREFIX, pr_lock_holder
from bot.routing import Router

ROUTER = Router.compose(
    pull_request.router,
    workflow_run.router,
    check_run.router,
    check_suite.router,
    installation.router,
    issue_comment.router,
    review.router,
    merge.router,
    merge_group.router,
    deployment_protection.router,
)

# events about an installation carry no repository, and need no GitHub client to handle
_NO_REPOSITORY = ("installation", "installation_repositories")


def wanted(event: Event) -> bool:
    """Whether a handler acts on the event, decided from the event alone (no token, no GitHub call)."""
    if event.key not in ROUTER:
        return False
    return bool(event.installation_id and event.repo) or event.name in _NO_REPOSITORY


def dispatch(event: Event, context: Callable[[Event], Context]) -> bool:
    """Run the event's handler with the context `context(event)` builds; False, without building
    it, when no handler wants the event."""
    handler = ROUTER.handler(event.key)
    if handler is None or not wanted(event):
        return False
    handler(context(event))
    return True


def report_failure(ctx: Context, exc: BaseException) -> None:
    """After a job's last retry: the handlers say so where the event's job would have written (the
    PR's evaluation check, the deployment waiting on mlgate), never silence."""
    _on_job_failed(ctx, exc)


def free_pr_locks(store: Store, delivery_ids: Iterable[str]) -> None:
    """Free the per-PR locks held by these deliveries' jobs (dead workers' jobs, found by the sweep)."""
    store.release_held_by([pr_lock_holder(i) for i in delivery_ids], name_prefix=PR_LOCK_PREFIX)
