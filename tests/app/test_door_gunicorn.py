"""The 413 cap under the real server: gunicorn (one sync worker) in front of create_app().

gunicorn passes a chunked body through as a stream it ends itself (wsgi.input_terminated), so
this is where an unbounded read would cost memory. Before the cap, an unsigned 300 MiB POST was
read whole before its 401 and the worker's peak memory grew by about three times the body.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import psutil
import pytest

from bot.store import MAX_BODY
from tests.processes import app_processes

pytestmark = pytest.mark.e2e
MiB = 2**20
HEAD = (b"POST /webhook HTTP/1.1\r\nHost: mlgate\r\nX-GitHub-Event: pull_request\r\n"
        b"X-GitHub-Delivery: 0b989ba4-242f-11e5-81e1-c7b6966d2516\r\nContent-Type: application/json\r\n")


def _status(reply: bytes) -> str:
    return reply.split(b" ", 2)[1].decode() if reply.startswith(b"HTTP/1.1 ") else "none"


def post_length_only(addr: tuple[str, int], length: int) -> str:
    """Announce `length` bytes and send none of them: a server that reads before answering waits."""
    with socket.create_connection(addr, timeout=20) as s:
        s.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % length)
        return _status(s.recv(256))


def post_chunked(addr: tuple[str, int], total: int) -> tuple[str, int]:
    """Send `total` bytes chunked; the server's status (or `reset` if it closed the connection
    before its answer could be read) and how many bytes went out before it stopped reading."""
    piece = b"x" * MiB
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
    sent = 0
    with socket.create_connection(addr, timeout=20) as s:
        s.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < total:
                s.sendall(frame)
                sent += len(piece)
            s.sendall(b"0\r\n\r\n")
        except OSError:  # the server answered and closed without reading the rest
            pass
        try:
            return _status(s.recv(256)), sent
        except OSError:
            return "reset", sent


def peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def test_gunicorn_refuses_oversized_bodies_without_reading_them(github: Any, tmp_path: Path) -> None:
    with app_processes(github, tmp_path, web_workers=1, worker_threads=1) as procs:
        host, port = procs["url"].removeprefix("http://").split(":")
        addr = (host, int(port))
        (web_worker,) = psutil.Process(procs["web"].pid).children()
        before = web_worker.memory_info().rss

        for _ in range(5):  # answered at once: nothing of the 300 MiB is waited for
            assert post_length_only(addr, 300 * MiB) == "413"

        offered = MAX_BODY + 40 * MiB
        for _ in range(4):
            outcome, sent = post_chunked(addr, offered)
            assert outcome in ("413", "reset")  # never a 401 after reading it all
            assert sent < offered  # the worker stopped reading near the cap

        assert web_worker.pid in {p.pid for p in psutil.Process(procs["web"].pid).children()}  # not restarted
        assert peak_rss(web_worker.pid) - before < 2 * MAX_BODY
