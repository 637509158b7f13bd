"""Hostile configs are refused before they cost anything: aliases, anchors, merge keys, size, depth.

Each of these attacks worked on the parser that composed the whole document first: a
411-byte alias bomb kept a worker busy for more than a minute, a file of deep lists raised
RecursionError instead of a config error, and thousands of unknown keys made an error of
thousands of lines. The figures are in tests/benchmarks/bench_config.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot.config import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    MAX_PROBLEMS,
    ConfigError,
    parse_config,
)
from tests.config.test_config import GOOD
from tests.handlers.conftest import REPO, Hub, hub  # noqa: F401 - the handler test's fixture

NAME = ".github/mlgate.yml"
ALIAS_MESSAGE = f"YAML anchors and aliases are not allowed in {NAME}; write the values out"


def alias_bomb(levels: int) -> str:
    """A billion-laughs file: each level repeats the previous one nine times through aliases."""
    lines = ["version: 1", "models:", '  - name: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*l{i - 1}"] * 9)
        lines.append(f"    k{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def _problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, NAME)
    return info.value.problems


def test_an_alias_bomb_is_refused_at_its_first_anchor_with_its_line() -> None:
    # small enough that the old parser expanded it in well under a second (and then gave other errors)
    assert _problems(alias_bomb(4)) == [(NAME, 3, ALIAS_MESSAGE)]
    assert str(ConfigError(_problems(alias_bomb(5)))) == f"{NAME}:3: {ALIAS_MESSAGE}"


def test_an_anchor_alone_is_refused_although_it_would_expand_to_nothing() -> None:
    text = GOOD.replace("      - name: churn-classifier", "      - name: &n churn-classifier")
    text = GOOD.replace("segment_policy: {", "segment_policy: &p {")
    assert _problems(text) == [(NAME, 15, ALIAS_MESSAGE)]


def test_an_alias_to_a_scalar_is_refused_on_the_alias_line() -> None:
    text = textwrap.dedent("""\
        version: 1
        models:
          - {name: a, task: binary, holdout: h.parquet, label: y}
          - name: b
            task: binary
            holdout: h.parquet
            label: *y
        """)
    # an alias with no anchor is refused too (the old parser said "found undefined alias")
    assert _problems(text) == [(NAME, 7, ALIAS_MESSAGE)]


@pytest.mark.parametrize("merge", ["<<: {name: a}", "!!merge x: {name: a}", "name: <<"])
def test_merge_keys_are_refused(merge: str) -> None:
    text = f"version: 1\nmodels:\n  - task: binary\n    holdout: h.parquet\n    label: y\n    {merge}\n"
    (problem,) = _problems(text)
    assert problem[:2] == (NAME, 6) and problem[2].startswith(f"YAML merge keys (<<) are not allowed in {NAME}")


def test_a_quoted_merge_key_is_just_an_unknown_key() -> None:
    (problem,) = _problems(GOOD.replace("    label: churned\n", "    label: churned\n    '<<': 1\n"))
    assert "unknown key '<<'" in problem[2]


def test_an_oversized_file_is_refused_before_it_is_parsed() -> None:
    # valid YAML and a valid policy, padded with a comment: only the size is wrong
    text = GOOD + "# " + "x" * MAX_CONFIG_BYTES + "\n"
    (problem,) = _problems(text)
    assert problem[:2] == (NAME, None)
    assert f"the file is {len(text.encode()):,} bytes" in problem[2] and "at most 64 KiB" in problem[2]
    # counted in bytes: 20,000 three-byte characters are 60,000 bytes, not 20,000
    padded = GOOD + "# " + "€" * (MAX_CONFIG_BYTES // 3) + "\n"
    assert "the file is" in _problems(padded)[0][2]
    parse_config(GOOD + "# " + "x" * (MAX_CONFIG_BYTES - len(GOOD) - 10) + "\n", NAME)  # just under: fine


def test_deep_nesting_is_refused_with_the_line_where_it_goes_too_deep() -> None:
    # the mapping at depth d starts on line d + 1 (line 1 is the top level)
    block = "version: 1\n" + "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 4)) + "  " * (MAX_DEPTH + 4) + "x\n"
    (problem,) = _problems(block)
    assert problem[:2] == (NAME, MAX_DEPTH + 2) and f"deeper than {MAX_DEPTH} levels" in problem[2]


def test_64_kib_of_nested_lists_is_a_config_error_not_a_recursion_error() -> None:
    n = (MAX_CONFIG_BYTES - 20) // 2
    (problem,) = _problems("version: 1\nx: " + "[" * n + "]" * n + "\n")
    assert problem[1] == 2


def test_thousands_of_unknown_keys_give_a_short_error() -> None:
    text = GOOD + "".join(f"key{i}: {i}\n" for i in range(900))
    problems = _problems(text)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[0][2] == "unknown key 'key0' in the top level"
    assert problems[-1] == (NAME, None, f"and {900 - MAX_PROBLEMS} more problems")


def test_too_many_keys_and_values_are_refused_where_the_limit_is_crossed() -> None:
    text = "version: 1\nx: [" + ",".join(["1"] * MAX_NODES) + "]\n"
    (problem,) = _problems(text)
    assert problem[:2] == (NAME, 2) and f"more than {MAX_NODES:,} keys and values" in problem[2]


def test_a_message_that_quotes_a_key_stays_on_one_line() -> None:
    # a key with a newline and a code fence in it, quoted in the message: it could close the
    # check summary's code block and write Markdown of its own
    text = GOOD.replace("roc_auc: {max_drop: 0.005}", '"roc_auc\\n```\\n@org/team": {max_drop: -1}')
    for _, _, msg in _problems(text):
        assert "\n" not in msg and len(msg) <= 300
    assert "\n```" not in str(ConfigError(_problems(text)))


def test_a_hostile_base_config_fails_the_check_with_file_line_and_reason(hub: Hub) -> None:  # noqa: F811
    from bot.plan import EVALUATION, INVALID_CONFIG_TITLE

    hub.github.push(REPO, "main", {NAME: alias_bomb(5)})
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    check: dict[str, Any] = hub.checks(pr["head"]["sha"])[EVALUATION]
    assert (check["status"], check["conclusion"], check["output"]["title"]) == (
        "completed", "failure", INVALID_CONFIG_TITLE)
    assert f"\n{NAME}:3: {ALIAS_MESSAGE}\n" in check["output"]["summary"]


def test_a_key_that_tries_to_close_the_code_block_stays_inside_it(hub: Hub) -> None:  # noqa: F811
    from bot.plan import EVALUATION

    text = GOOD.replace("roc_auc: {max_drop: 0.005}", '"x\\n```\\n## @org/team": {max_drop: -1}')
    hub.github.push(REPO, "main", {NAME: text})
    pr = hub.github.open_pull_request(REPO, {"data/a.csv": "a\n"})
    hub.one()
    summary: str = hub.checks(pr["head"]["sha"])[EVALUATION]["output"]["summary"]
    fence_lines = [line for line in summary.splitlines() if line.startswith("```")]
    assert len(fence_lines) == 2, summary  # the block opened and closed by mlgate, nothing else
    assert "\n## " not in summary


def test_load_config_reads_no_more_than_the_limit(tmp_path: Path) -> None:
    from bot.config import load_config

    big = tmp_path / "mlgate.yml"
    with big.open("w") as f:
        f.write(GOOD)
        f.seek(50 * 1024 * 1024)  # a sparse 50 MB file: read whole, it would cost 50 MB of memory
        f.write("\n")
    with pytest.raises(ConfigError, match="more than 64 KiB"):
        load_config(big)
    ok = tmp_path / "ok.yml"
    ok.write_text(GOOD)
    assert load_config(ok).models[0].name == "churn-classifier"


def test_a_key_written_twice_is_refused_instead_of_the_last_one_winning() -> None:
    twice = GOOD.replace("      f1: {max_drop: 0.01}\n", "      f1: {max_drop: 0.01}\n      roc_auc: {max_drop: 0.5}\n")
    assert _problems(twice) == [(NAME, 14, "the key 'roc_auc' is already on line 12 of the same mapping; "
                                           "YAML would keep only this one, so merge them")]
    (problem,) = _problems("version: 1\nmodels: []\nx: {a: 1, a: 2}\n")
    assert problem[1] == 3 and "'a' is already on line 3" in problem[2]
    # the same key in different mappings is fine
    parse_config("version: 1\nmodels:\n  - {name: a, task: binary, holdout: h, label: y}\n"
                 "  - {name: b, task: binary, holdout: h, label: y}\n", NAME)
