"""installation and installation_repositories: remember which repositories are installed.

The store's list is what the dashboard shows and what an operator checks when a repository's
events seem to be ignored; these events carry no repository to act on, so no GitHub call.
"""

from __future__ import annotations

from bot.context import Context
from bot.routing import Router


def on_installation(ctx: Context) -> None:
    """created/deleted/suspend/unsuspend/new_permissions_accepted: the whole list, and whether active."""
    p = ctx.event.payload
    inst = p["installation"]
    account = (inst.get("account") or {}).get("login")
    repos = [r["full_name"] for r in p.get("repositories") or [] if "full_name" in r]
    ctx.store.set_installation(int(inst["id"]), account, repos, active=ctx.event.action not in ("deleted", "suspend"))


def on_repositories(ctx: Context) -> None:
    """added/removed: apply the difference to what the store knows."""
    p = ctx.event.payload
    inst = p["installation"]
    known = ctx.store.installation(int(inst["id"]))
    repos = set(known["repos"]) if known else set()
    repos |= {r["full_name"] for r in p.get("repositories_added") or []}
    repos -= {r["full_name"] for r in p.get("repositories_removed") or []}
    ctx.store.set_installation(int(inst["id"]), (inst.get("account") or {}).get("login"), sorted(repos))


router = Router({
    **{f"installation.{a}": on_installation for a in ("created", "deleted", "suspend", "unsuspend", "new_permissions_accepted")},
    **{f"installation_repositories.{a}": on_repositories for a in ("added", "removed")},
})
