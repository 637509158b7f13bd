"""/metrics aggregates samples written by several processes (gunicorn workers + queue worker)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
from bot.metrics import metrics
m = metrics()
m.deliveries.labels(event="pull_request", outcome="accepted").inc({n})
m.verdicts.labels(outcome="fail").inc()
"""


def test_multiprocess_counters_add_up(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for n in (2, 5):
        subprocess.run([sys.executable, "-c", CHILD.format(n=n)], env=env, check=True, timeout=60)
    code = "from bot.metrics import exposition; print(exposition()[0].decode())"
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, timeout=60).stdout
    assert 'mlgate_webhook_deliveries_total{event="pull_request",outcome="accepted"} 7.0' in out
    assert 'mlgate_gate_verdicts_total{outcome="fail"} 2.0' in out


def test_single_process_registry_without_multiproc_dir() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    code = (
        "from bot.metrics import metrics, exposition\n"
        "metrics().releases.labels(action='promote', result='done').inc(3)\n"
        "body, ctype = exposition(); print(ctype); print(body.decode())"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("text/plain")
    assert 'mlgate_releases_total{action="promote",result="done"} 3.0' in out
