"""Each model's production version as the MLflow registry says it, for the dashboard.

`@production` in the registry is the truth; mlgate's audit rows only say who moved it and when
(and an operator can move the alias outside mlgate, or had registered the first version before
mlgate was installed). So the dashboard reads the alias, and bounds what that costs:

- a page view waits at most TIMEOUT seconds for the registry; a read still running then keeps
  running in the background and fills the cache, and the page says the registry did not
  answer in time;
- each model is read at most once per page view, and a read already under way (for another
  page view) is shared, not repeated;
- each answer is kept TTL seconds in this process (an in-process cache, like the GitHub
  client's token cache), so a busy dashboard costs the registry one read per model per TTL.

A read that fails (no registry configured, the server unreachable, refused credentials) is kept
the same way, as a reason and never as a version: the page says the version is unknown and why
(fail closed, never a guess). The reason is a code the template words; no exception text,
tracking URI or credential reaches the page (the log gets the RegistryError's message, which
bot.mlflow redacts).

mlflow is imported only by the first read (in a reader thread), never when the App starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.ports import Registry
    from bot.settings import Settings

log = logging.getLogger("mlgate.dashboard")

ALIAS = "production"
TTL = 30.0  # seconds an answer (or a failure) is kept
TIMEOUT = 3.0  # seconds a page view waits for the registry
READERS = 4  # threads reading the registry at once
MAX_KEPT = 2000  # cached models before expired answers are dropped

Problem = Literal["not_configured", "unreachable", "timeout"]
State = Literal["agrees", "outside", "moved", "none", "unknown"]


@dataclass(frozen=True)
class Production:
    """What the registry said about `model@production`: a version (None: no such alias, or no
    such model), or why it could not be read (`problem`; then `version` is always None)."""

    version: str | None = None
    problem: Problem | None = None


def registry_from_settings(settings: Settings) -> Callable[[], Registry] | None:
    """The App's registry (MLFLOW_TRACKING_URI), opened when first used; None when not set
    (never MLflow's default, an mlflow.db in the working directory). A local store that does
    not exist is refused (`existing`), never created: the page says the registry is not
    reachable."""
    uri = settings.tracking_uri
    if not uri:
        return None

    def open_registry() -> Registry:
        from bot.mlflow import Registry as MlflowRegistry

        return MlflowRegistry(uri, existing=True)

    return open_registry


class ProductionVersions:
    """`@production` of many models, read in parallel with a deadline and kept TTL seconds."""

    def __init__(self, registry: Callable[[], Registry] | None, *, ttl: float = TTL, timeout: float = TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._factory = registry
        self._ttl, self._timeout, self._clock = ttl, timeout, clock
        self._lock = threading.Lock()
        self._opening = threading.Lock()  # one registry per process, opened by one reader
        self._registry: Registry | None = None
        self._known: dict[str, tuple[float, Production]] = {}  # name -> (expires, answer)
        self._reading: dict[str, Future[Production]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def read(self, names: Iterable[str]) -> dict[str, Production]:
        """Each name's answer: cached, read now (waiting at most `timeout`), or `timeout`."""
        wanted = list(dict.fromkeys(names))
        if self._factory is None:
            return {name: Production(problem="not_configured") for name in wanted}
        out: dict[str, Production] = {}
        pending: dict[str, Future[Production]] = {}
        now = self._clock()
        with self._lock:
            for name in wanted:
                hit = self._known.get(name)
                if hit is not None and hit[0] > now:
                    out[name] = hit[1]
                    continue
                future = self._reading.get(name)
                if future is None:
                    if self._pool is None:
                        self._pool = ThreadPoolExecutor(READERS, thread_name_prefix="mlgate-registry")
                    future = self._reading[name] = self._pool.submit(self._read_one, name)
                pending[name] = future
        if pending:
            wait(pending.values(), timeout=self._timeout)
        for name, future in pending.items():
            out[name] = future.result() if future.done() else Production(problem="timeout")
        return {name: out[name] for name in wanted}

    def _open(self) -> Registry:
        with self._opening:
            if self._registry is None:
                assert self._factory is not None
                self._registry = self._factory()
            return self._registry

    def _read_one(self, name: str) -> Production:
        from bot.mlflow import RegistryError

        try:
            found = Production(version=self._open().alias_version(name, ALIAS))
        except RegistryError as exc:  # its message names the cause without credentials
            log.warning("dashboard: %s@%s cannot be read: %s", name, ALIAS, exc)
            found = Production(problem="unreachable")
        except Exception as exc:  # anything else: its type only (its text could hold a URI)
            log.warning("dashboard: %s@%s cannot be read (%s)", name, ALIAS, type(exc).__name__)
            found = Production(problem="unreachable")
        with self._lock:
            now = self._clock()
            if len(self._known) >= MAX_KEPT:
                self._known = {k: v for k, v in self._known.items() if v[0] > now}
            self._known[name] = (now + self._ttl, found)
            self._reading.pop(name, None)
        return found


def compare(found: Production, released: str | None, has_release: bool) -> State:
    """How the registry's `@production` stands against where mlgate's last successful
    promotion or rollback put it (`released`, when `has_release`).

    agrees: the same version; outside: mlgate never moved it (registered or set outside
    mlgate); moved: someone moved (or deleted) it outside mlgate since; none: no alias and no
    release; unknown: the registry could not be read.
    """
    if found.problem is not None:
        return "unknown"
    if not has_release or (released is None and found.version is None):
        return "outside" if found.version is not None else "none"
    return "agrees" if found.version == released else "moved"
