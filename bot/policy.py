"""Which policy gates a pull request: read only from branches a PR author cannot write.

One root of trust: `.github/mlgate.yml` at the head of the repository's default branch, as
GitHub names it. That config may list `release_branches` (globs); a PR into one of them is
gated by that branch's own config, but only while GitHub reports the branch protected. A PR
into any other branch is gated by the default branch's policy and may not `/promote` or
`/rollback`: anyone with write access can create a branch and a config on it.

A clean answer is required: the branch is read first (so the repository and the commit are
known to exist), then the file at that commit, so a 404 for the file means "not there".
Any other failure raises the client's GitHubError, which the handlers turn into a check
that says mlgate could not decide (never success or neutral).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.config import CONFIG_PATH, Config, ConfigError, parse_config
from bot.context import Context
from bot.datachanges import matches


class Refused(StrEnum):
    """Why /promote and /rollback may not run for a PR; `templates/replies/_release_refusal.md.j2` words each."""

    NOT_RELEASE_BRANCH = "not_release_branch"  # the base is neither the default branch nor a listed release branch
    UNPROTECTED = "unprotected"  # a listed release branch that GitHub does not report protected
    POLICY_UNREADABLE = "policy_unreadable"  # GitHub did not answer cleanly while the policy was read


@dataclass(frozen=True)
class Refusal:
    """A release refusal's code and its facts (branch names as GitHub gave them, unescaped).
    Code decides on `code` only; the words are templates/replies/_release_refusal.md.j2's."""

    code: Refused
    base: str = ""
    default: str = ""
    cause: str = ""  # POLICY_UNREADABLE: the first line of GitHub's error
    config_path: str = CONFIG_PATH

    def to_dict(self) -> dict[str, str]:
        """As the store remembers it in the living comment's state (bot.plan.PRState)."""
        return {"code": self.code.value, "base": self.base, "default": self.default, "cause": self.cause,
                "config_path": self.config_path}

    @classmethod
    def from_dict(cls, data: object) -> Refusal:
        """`to_dict`'s inverse; a ValueError, TypeError or KeyError for anything else (an unknown code)."""
        if not isinstance(data, dict):
            raise TypeError(f"a release refusal is an object, not {type(data).__name__}")
        return cls(Refused(data["code"]), str(data["base"]), str(data["default"]), str(data["cause"]),
                   str(data["config_path"]))


@dataclass(frozen=True)
class Policy:
    """The config that applies to a PR into `base`, where it came from, and what it allows."""

    config: Config | None  # None: not configured (no file on the default branch), or invalid
    problem: str | None  # the config that applies is invalid: file, line and reason
    branch: str  # the branch whose config applies
    sha: str  # the commit it was read at
    default_branch: str
    refusal: Refusal | None = None  # why /promote and /rollback may not run for this base, if so

    @property
    def configured(self) -> bool:
        return self.config is not None or self.problem is not None


def default_branch(ctx: Context) -> str:
    """The repository's default branch: from GitHub's signed event, else asked of GitHub."""
    repo = ctx.event.payload.get("repository")
    name = repo.get("default_branch") if isinstance(repo, dict) else None
    return name if isinstance(name, str) and name else str(ctx.github.default_branch())


def config_at(ctx: Context, sha: str) -> tuple[Config | None, str | None]:
    """(config, None), (None, problem) for an invalid file, or (None, None) when there is none.

    `sha` must be a commit GitHub just reported, so a 404 for the file is a clean "not there".
    A commit's file never changes, so its text is kept in the store for every worker.
    """
    from bot.github_client import NotText

    repo = ctx.event.repo or ""
    known, text = ctx.store.file_at(repo, CONFIG_PATH, sha)
    if not known:
        try:
            text = ctx.github.read_file(CONFIG_PATH, sha)
        except NotText:
            return None, f"{CONFIG_PATH}: the file is not UTF-8 text"
        ctx.store.remember_file(repo, CONFIG_PATH, sha, text)
    if text is None:
        return None, None
    try:
        return parse_config(text, CONFIG_PATH), None
    except ConfigError as exc:
        return None, str(exc)


def resolve_policy(ctx: Context, base_ref: str | None) -> Policy:
    """The policy for a PR into `base_ref` (None: the default branch's policy). Raises
    GitHubError when GitHub does not answer cleanly: the caller cannot decide then."""
    default = default_branch(ctx)
    head = ctx.github.branch(default)
    config, problem = config_at(ctx, head.sha)
    policy = Policy(config, problem, default, head.sha, default)
    if base_ref is None or base_ref == default or config is None:
        return policy
    if not matches(base_ref, list(config.release_branches)):
        return _refused(policy, Refusal(Refused.NOT_RELEASE_BRANCH, base=base_ref, default=default))
    release = ctx.github.branch(base_ref)
    if not release.protected:
        return _refused(policy, Refusal(Refused.UNPROTECTED, base=base_ref, default=default))
    own, own_problem = config_at(ctx, release.sha)
    if own is None and own_problem is None:
        return policy  # a protected release branch without its own config: the default's applies
    return Policy(own, own_problem, base_ref, release.sha, default)


def _refused(policy: Policy, why: Refusal) -> Policy:
    return Policy(policy.config, policy.problem, policy.branch, policy.sha, policy.default_branch, why)
