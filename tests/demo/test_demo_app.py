"""`mlgate demo --app`'s PR loop: the real App and jobs, the GitHub stand-in as GitHub."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.demo_app import play_pr_loop

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


def test_pr_loop_shows_comment_checks_and_labels() -> None:
    view = play_pr_loop(FIXTURES / "failing.json", (FIXTURES / "mlgate.yml").read_text(),
                        {"data/train.parquet": b"x", "train.py": b"y"}, quiet=True)
    (comment,) = view["comments"]
    assert comment.startswith("<!-- mlgate:report -->") and "region = APAC" in comment
    status, conclusion, title = view["checks"]["mlgate/evaluation"]
    assert (status, conclusion) == ("completed", "failure") and title.startswith("Gate failed")
    assert "mlgate/review" in view["checks"]
    assert set(view["labels"]) == {"mlgate:data-change", "mlgate:model-change", "mlgate:regression"}
    assert view["calls"] <= 15  # both runs of the trusted pattern (bot.handlers.workflow_run's docstring)


def test_serve_keeps_the_app_and_the_stand_in_running_and_prints_the_urls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`mlgate demo --app --serve` (issue #14): the dashboard, the App and the stand-in stay up; a
    comment made through the stand-in's admin API is answered by the App while it serves."""
    import re
    import threading
    import time

    import requests

    stop = threading.Event()
    views: list[dict[str, object]] = []
    worker = threading.Thread(target=lambda: views.append(play_pr_loop(
        FIXTURES / "failing.json", (FIXTURES / "mlgate.yml").read_text(),
        {"data/train.parquet": b"x", "train.py": b"y"}, quiet=True, serve_until=stop)))
    worker.start()
    printed = ""
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C" not in printed or "approves" not in printed:
            assert time.monotonic() < deadline and worker.is_alive(), printed
            time.sleep(0.2)
            printed += capsys.readouterr().out
        app = re.search(r"The App:\s+(http://127\.0\.0\.1:\d+)/healthz", printed)
        token = re.search(r"token: (\S+)", printed)
        github = re.search(r"export SANDBOX=(http://\S+) SANDBOX_TOKEN=(\S+)", printed)
        assert app and token and github, printed
        base, read_token = github.groups()
        assert requests.get(f"{app.group(1)}/healthz", timeout=10).status_code == 200
        dash = requests.get(f"{app.group(1)}/dashboard", headers={"Authorization": f"Bearer {token.group(1)}"},
                            timeout=10)
        assert dash.status_code == 200 and "acme/churn" in dash.text
        # every printed REST URL answers with the printed read-only token, as GitHub's API would
        urls = re.findall(r'curl -s -H "Authorization: Bearer \$SANDBOX_TOKEN" \$SANDBOX(/repos/\S+)', printed)
        assert len(urls) == 3, printed
        for url in urls:
            got = requests.get(base + url, headers={"Authorization": f"Bearer {read_token}"}, timeout=10)
            assert got.status_code == 200, (url, got.text)
        auth = {"Authorization": f"Bearer {read_token}"}

        def calls() -> list[dict[str, object]]:
            return list(requests.get(f"{base}/_sandbox/calls", timeout=10).json()["calls"])

        def review_check() -> str:
            runs = requests.get(base + urls[2], headers=auth, timeout=10).json()["check_runs"]
            return str(next(r["conclusion"] for r in runs if r["name"] == "mlgate/review"))

        # a comment through the stand-in's admin API, answered by the App while it serves
        before = len(calls())
        requests.post(f"{base}/_sandbox/comment", timeout=30,
                      json={"repo": "acme/churn", "number": 1, "body": "/status", "user": "alice"}).raise_for_status()
        while not any(c["method"] == "POST" and str(c["path"]).endswith("/comments") for c in calls()[before:]):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        status = requests.get(base + urls[1], headers=auth, timeout=10).json()[-1]["body"]
        assert "mlgate status" in status and "not protected" not in status  # main requires both checks
        # the printed approval: the reviewer is in the config's approvers team, so mlgate/review turns green
        assert review_check() != "success"
        review = re.search(r"-d '(\{[^']*\})'\s+# (\w+) \(@acme/ml-reviewers\) approves", printed)
        assert review, printed
        requests.post(f"{base}/_sandbox/review", data=review.group(1), timeout=30,
                      headers={"content-type": "application/json"}).raise_for_status()
        while review_check() != "success":
            assert time.monotonic() < deadline
            time.sleep(0.3)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not worker.is_alive() and views and views[0]["pr"] == 1
