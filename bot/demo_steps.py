"""The demo's steps: a line each, a seconds counter while it runs, and how long it took.

Its own module so that bot.demo and bot.demo_app (which bot.demo imports to play the App's
loop) both use it without importing each other.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def step(msg: str, quiet: bool, *, ticker: bool = True, every: float | None = None) -> Iterator[None]:
    """One demo step: its line, a seconds counter while it runs, and how long it took.

    On a terminal the counter updates in place every second; in a log, a line every 5 s.
    `ticker=False` for a step that prints its own progress (mlgate evaluate's bar).
    """
    if quiet:
        yield
        return
    # the stream of this step's lines, kept: the step itself may redirect sys.stdout (train_model
    # sends train.py's prints to devnull), which swallowed the counter for the whole training
    out = sys.stdout
    print(f"==> {msg}", file=out, flush=True)
    started = time.monotonic()
    done = threading.Event()
    tty = out.isatty()

    def tick() -> None:
        while not done.wait(every or (1.0 if tty else 5.0)):
            seconds = time.monotonic() - started
            print(f"\r    ... {seconds:.0f} s" if tty else f"    ... {seconds:.0f} s", end="" if tty else "\n",
                  file=out, flush=True)

    thread = threading.Thread(target=tick, daemon=True) if ticker else None
    if thread is not None:
        thread.start()
    try:
        yield
    finally:
        done.set()
        if thread is not None:
            thread.join()
        print(f"{chr(13) if tty and ticker else ''}    done in {time.monotonic() - started:.1f} s", file=out, flush=True)
