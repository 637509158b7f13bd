"""YAML values a policy cannot hold are config errors with a line, never a crash (issue #12,
second look).

On the parser before this file, each of these raised ValueError or TypeError out of
parse_config (a job failure, retried, instead of a check that says what to fix): an integer
over Python's 4,300-digit limit, an impossible date such as 2001-13-45 (YAML 1.1 reads it as
a timestamp), !!binary and !!set (not JSON, so the error's own wording failed), and a
30,000-part sexagesimal integer also cost a quarter of a second.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ConfigError, parse_config
from tests.config.test_config import GOOD
from tests.handlers.conftest import REPO, Hub, hub  # noqa: F401 - the handler test's fixture

NAME = ".github/mlgate.yml"


@pytest.mark.parametrize("text,line,words", [
    ("version: 1\nmodels: []\nx: " + "9" * 5000 + "\n", 3, "an integer of more than 64 characters"),
    ("version: !!int " + "9" * 5000 + "\n", 1, "an integer of more than 64 characters"),
    ("version: 1" + ":0" * 30_000 + "\n", 1, "an integer of more than 64 characters"),
    ("version: !!binary '" + "A" * 60_000 + "'\n", 1, "the tag 'binary' is not allowed"),
    ("version: !!set {a, b}\n", 1, "the tag 'set' is not allowed"),
    ("version: !!omap [a: 1]\n", 1, "the tag 'omap' is not allowed"),
    ("version: 1\n2001-02-30: 1\n", 2, "unknown key '2001-02-30'"),
    ("version: 1\nmodels: []\nx: 2001-13-45\n", 3, "unknown key 'x'"),
])
def test_values_json_cannot_hold_are_config_errors_with_a_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, NAME)
    assert any(ln == line and words in msg for _, ln, msg in info.value.problems), info.value.problems


def test_a_date_like_value_is_text() -> None:
    config = parse_config(GOOD.replace("holdout: data/holdout.parquet", "holdout: 2024-01-31"), NAME)
    assert config.models[0].holdout == "2024-01-31"


def test_an_impossible_date_in_the_base_config_fails_the_check_with_its_line(hub: Hub) -> None:  # noqa: F811
    from bot.plan import EVALUATION, INVALID_CONFIG_TITLE

    hub.github.push(REPO, "main", {NAME: GOOD + "x: 2001-13-45\n"})
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    check: dict[str, Any] = hub.checks(pr["head"]["sha"])[EVALUATION]
    assert (check["status"], check["conclusion"], check["output"]["title"]) == (
        "completed", "failure", INVALID_CONFIG_TITLE)
    assert "unknown key 'x'" in check["output"]["summary"]
