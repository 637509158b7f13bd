"""Who may do what in a repository: the one place commands, reviews and merges ask.

Permission is read when it is needed, from GitHub's collaborator permission API and team
membership, and combined with the policy's lists: a non-empty list (`commands.promote`,
`commands.rollback`, `review.approvers`) names users and `@org/team`s and replaces the role
rule. A `Permissions` asks GitHub about each user's role and each team membership at most once.

Answers are data: an `Authorization` says what allowed it (`Grant`) or why not (`Denial`), and
the templates in `templates/replies/` put it into words (`_permission.md.j2`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

Role = Literal["none", "read", "triage", "write", "maintain", "admin"]
ROLES: tuple[Role, ...] = ("none", "read", "triage", "write", "maintain", "admin")


class PermissionSource(Protocol):
    """The part of the GitHub port that answers who may do what (bot.github_client)."""

    def permission(self, user: str) -> str: ...

    def team_member(self, org: str, team: str, user: str) -> bool: ...


@dataclass(frozen=True)
class Requirement:
    """Who may do something when the policy names nobody.

    `min_role` is the lowest repository role that may (None: anyone); `author_ok` lets the PR's
    author do it whatever their role; `config_key` names the `commands:` list of the policy
    that, when non-empty, replaces the role rule by its users and `@org/team`s.
    """

    min_role: Role | None = None
    author_ok: bool = False
    config_key: str | None = None


class Grant(StrEnum):
    """What allowed an action."""

    LIST = "list"  # named in the policy's list, or in a team it names
    ROLE = "role"  # the repository role is high enough
    AUTHOR = "author"  # the PR's author, where the requirement lets them
    ANYONE = "anyone"  # nothing is required


class Denial(StrEnum):
    """Why an action was refused; `templates/replies/_permission.md.j2` words each."""

    NOT_LISTED = "not_listed"  # the policy's list applies and does not name the user
    ROLE_TOO_LOW = "role_too_low"  # a collaborator whose role is below the requirement
    NOT_COLLABORATOR = "not_collaborator"  # no role in the repository at all
    BOT = "bot"  # bots never run commands (two bots would answer each other forever)
    OVER_BUDGET = "over_budget"  # no role, and the commenter's reply budget is spent


@dataclass(frozen=True)
class Authorization:
    """The answer for one user and one requirement."""

    user: str
    requirement: Requirement
    grant: Grant | None = None
    denial: Denial | None = None
    role: Role = "none"  # the user's role, when it was asked
    listed: tuple[str, ...] = ()  # the policy's list that applied

    @property
    def allowed(self) -> bool:
        return self.grant is not None

    @property
    def trusted(self) -> bool:
        """Allowed by a role or the policy's list (not merely as anyone, or as the author)."""
        return self.grant in (Grant.LIST, Grant.ROLE)


def role_rank(role: str | None) -> int:
    """A role's place in ROLES; an unknown (custom) role counts as none."""
    return ROLES.index(role) if role in ROLES else 0


@dataclass
class Permissions:
    """Who may do what in one repository, asked of GitHub when first needed."""

    github: PermissionSource
    _roles: dict[str, Role] = field(default_factory=dict)
    _teams: dict[tuple[str, str, str], bool] = field(default_factory=dict)

    def role(self, user: str) -> Role:
        """The user's repository role (collaborator permission API); `none` when unknown."""
        key = user.lower()
        if key not in self._roles:
            got = str(self.github.permission(user))
            self._roles[key] = ROLES[role_rank(got)]
        return self._roles[key]

    def has_role(self, user: str, min_role: Role | None) -> bool:
        return min_role is None or role_rank(self.role(user)) >= role_rank(min_role)

    def in_list(self, entries: Iterable[str], user: str) -> bool:
        """Is `user` named in a policy list of users and `@org/team`s?"""
        for entry in entries:
            e = entry.strip()
            if e.startswith("@") and "/" in e:
                org, team = e[1:].split("/", 1)
                key = (org.lower(), team.lower(), user.lower())
                if key not in self._teams:
                    self._teams[key] = bool(self.github.team_member(org, team, user))
                if self._teams[key]:
                    return True
            elif e.lstrip("@").lower() == user.lower():
                return True
        return False

    def authorize(self, requirement: Requirement, user: str, *, listed: Iterable[str] = (),
                  author: str | None = None) -> Authorization:
        """May `user` do what `requirement` guards now? A non-empty `listed` replaces the role rule."""
        names = tuple(listed)
        if names:
            if self.in_list(names, user):
                return Authorization(user, requirement, Grant.LIST, listed=names)
            return Authorization(user, requirement, denial=Denial.NOT_LISTED, listed=names)
        if requirement.min_role is None:
            return Authorization(user, requirement, Grant.ANYONE)
        if requirement.author_ok and author is not None and user.lower() == author.lower():
            return Authorization(user, requirement, Grant.AUTHOR)
        role = self.role(user)
        if role_rank(role) >= role_rank(requirement.min_role):
            return Authorization(user, requirement, Grant.ROLE, role=role)
        return Authorization(user, requirement, denial=Denial.NOT_COLLABORATOR if role == "none" else
                             Denial.ROLE_TOO_LOW, role=role)


def refused(user: str, requirement: Requirement, denial: Denial) -> Authorization:
    """A refusal decided before any permission was asked (a bot; a spent reply budget)."""
    return Authorization(user, requirement, denial=denial)
