"""Benchmark: webhook acknowledgement under gunicorn, mlgate vs a bare Flask app, same run.

    .venv/bin/python tests/benchmarks/bench_webhook.py [--seconds 10]

Both run under gunicorn with 2 workers on loopback. The load generator sends signed
`pull_request` deliveries (each with a new delivery id, so mlgate stores and enqueues every
one) at 50/s, 200/s and as fast as 16 connections allow, and reports throughput and the
p50/p99 time to the 2xx. The bare app answers 202 without reading anything.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "bench-secret"
BARE_APP = "from flask import Flask\napp = Flask('bare')\n@app.post('/webhook')\ndef hook():\n    return '', 202\n"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _payload() -> bytes:
    example = ROOT / "tests" / "fixtures" / "webhooks" / "pull_request" / "opened-1.json"
    return example.read_bytes()


def _start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            requests.post(url, data=b"{}", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def load(url: str, rate: float | None, seconds: float, body: bytes) -> tuple[float, list[float], int]:
    """Send for `seconds` at `rate` per second (None: as fast as 16 threads can); bounded."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    interval = 16 / rate if rate else 0.0

    def worker(offset: float) -> None:
        nonlocal errors
        session = requests.Session()
        next_at = time.monotonic() + offset
        while True:
            now = time.monotonic()
            if now >= stop:
                return
            if interval and now < next_at:
                time.sleep(next_at - now)
            headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
                       "Content-Type": "application/json", "X-Hub-Signature-256": sig}
            t = time.perf_counter()
            try:
                ok = session.post(url, data=body, headers=headers, timeout=10).status_code in (200, 202)
            except requests.RequestException:
                ok = False
            dt = time.perf_counter() - t
            with lock:
                if ok:
                    latencies.append(dt)
                else:
                    errors += 1
            next_at += interval

    threads = [threading.Thread(target=worker, args=(i * interval / 16 if interval else 0,)) for i in range(16)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - started, latencies, errors


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    body = _payload()
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        (tmpd / "bare.py").write_text(BARE_APP)
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        env = {**os.environ, "MLGATE_WEBHOOK_SECRET": SECRET, "MLGATE_APP_ID": "1", "MLGATE_PRIVATE_KEY": key,
               "MLGATE_DATABASE_URL": f"sqlite:///{tmpd / 'mlgate.db'}",
               "MLGATE_QUEUE_URL": f"sqlite:///{tmpd / 'queue.db'}", "PYTHONPATH": str(tmpd)}
        pm, pb = _port(), _port()
        procs = [
            _start([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{pm}", "bot.app:create_app()"], env, ROOT),
            _start([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{pb}", "bare:app"], env, tmpd),
        ]
        try:
            targets = {"mlgate": f"http://127.0.0.1:{pm}/webhook", "bare": f"http://127.0.0.1:{pb}/webhook"}
            for url in targets.values():
                _wait(url)
            print(f"{'rate':>6} {'app':<7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            results: dict[tuple[str, str], float] = {}
            for rate in (50.0, 200.0, None):
                for name, url in targets.items():
                    elapsed, lat, errors = load(url, rate, args.seconds, body)
                    rps = len(lat) / elapsed
                    results[(str(rate), name)] = rps
                    label = "max" if rate is None else f"{rate:.0f}/s"
                    print(f"{label:>6} {name:<7} {rps:>8.1f} {_pct(lat, 0.5):>8.2f} {_pct(lat, 0.99):>8.2f} {errors:>7}")
            ratio = results[("None", "mlgate")] / results[("None", "bare")]
            print(f"max throughput mlgate/bare = {ratio:.2f}")
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=20)


if __name__ == "__main__":
    main()
