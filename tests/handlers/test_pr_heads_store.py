"""The store's side of the ordering (issue #12), on SQLite and PostgreSQL: a PR's head moves
by compare-and-set, superseded heads stay superseded unless an event revives them, and a
head's phase only rises."""

from __future__ import annotations

import secrets
import threading

from bot.store import Store

R, N = "acme/churn", 7
A, B, C = "a" * 40, "b" * 40, "c" * 40


def _store(url: str) -> Store:
    store = Store(url)
    store.migrate()
    return store


def test_the_head_moves_only_from_the_expected_head(store_url: str) -> None:
    s = _store(store_url)
    assert s.move_pr_head(R, N, A, expected=None, retire=[], base_sha="0" * 40, author="alice")
    assert not s.move_pr_head(R, N, A, expected=None, retire=[])  # someone recorded a head already
    assert not s.move_pr_head(R, N, B, expected=C, retire=[])  # not the head this job looked at
    assert s.pr_head(R, N) == A
    assert s.move_pr_head(R, N, B, expected=A, retire=[])
    assert s.pr_head(R, N) == B and s.head_state(R, N, A) == (0, True)
    # an event about the superseded head cannot bring it back, unless it says it replaced the head
    assert not s.move_pr_head(R, N, A, expected=B, retire=[])
    assert s.move_pr_head(R, N, A, expected=B, retire=[], revive=True)
    assert s.pr_head(R, N) == A and s.head_state(R, N, A)[1] is False and s.head_state(R, N, B)[1] is True
    assert s.prs_with_head(R, B) == [N] and s.prs_with_head(R, C) == []
    s.engine.dispose()


def test_retirements_hold_even_when_the_move_is_refused(store_url: str) -> None:
    s = _store(store_url)
    assert not s.move_pr_head(R, N, B, expected=A, retire=[C])
    assert s.head_state(R, N, C) == (0, True) and s.pr_head(R, N) is None
    s.engine.dispose()


def test_a_phase_never_goes_down(store_url: str) -> None:
    s = _store(store_url)
    assert s.raise_head_phase(R, N, A, 2)
    assert not s.raise_head_phase(R, N, A, 1)
    assert not s.raise_head_phase(R, N, A, 2)
    assert s.head_state(R, N, A) == (2, False)
    s.engine.dispose()


def test_two_jobs_moving_the_same_head_at_once_one_wins(store_url: str) -> None:
    s = _store(store_url)
    s.move_pr_head(R, N, A, expected=None, retire=[])
    for _ in range(5):
        current = s.pr_head(R, N)
        start, won = threading.Barrier(2), []

        def move(to: str, expected: str | None = current, start: threading.Barrier = start,
                 won: list[str] = won) -> None:
            start.wait()
            if s.move_pr_head(R, N, to, expected=expected, retire=[]):
                won.append(to)

        new = [secrets.token_hex(20), secrets.token_hex(20)]
        threads = [threading.Thread(target=move, args=(x,)) for x in new]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and s.pr_head(R, N) == won[0], won
    s.engine.dispose()


def test_prune_forgets_heads_replaced_long_ago_and_keeps_current_ones(store_url: str) -> None:
    import time

    s = _store(store_url)
    s.move_pr_head(R, N, A, expected=None, retire=[])
    s.move_pr_head(R, N, B, expected=A, retire=[])
    assert s.prune(time.time() - 3600)["pr_heads"] == 0  # replaced just now: kept
    assert s.prune(time.time() + 1, dry_run=True)["pr_heads"] == 1
    assert s.prune(time.time() + 1)["pr_heads"] == 1
    assert s.head_state(R, N, A) == (0, False) and s.pr_head(R, N) == B and s.prs_with_head(R, B) == [N]
    s.engine.dispose()


def test_the_store_orders_what_it_can_and_says_when_it_cannot(store_url: str) -> None:
    s = _store(store_url)
    assert s.order_pr_head(R, N, A, base_sha="0" * 40, author="alice") == ("current", A)  # the first head seen
    assert s.order_pr_head(R, N, A) == ("current", A)
    assert s.order_pr_head(R, N, B, before=A) == ("current", B)  # synchronize from the head
    assert s.order_pr_head(R, N, A) == ("stale", B)  # replaced
    assert s.order_pr_head(R, N, C) == ("unknown", B)  # a report for a head whose synchronize is not in yet
    assert s.pr_head(R, N) == B and s.head_state(R, N, C) == (0, False)
    assert s.order_pr_head(R, N, A, before=B) == ("current", A)  # a force-push back to A
    assert s.head_state(R, N, B)[1] and not s.head_state(R, N, A)[1]
    s.engine.dispose()
