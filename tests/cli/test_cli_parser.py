"""The `mlgate` parser: a version, did-you-mean after a typo, and help on every option."""

from __future__ import annotations

import argparse

import pytest

from bot.cli import SUBCOMMANDS, build_parser, main


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("mlgate ") and out.split()[1][0].isdigit()


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["evalute"], "did you mean evaluate?"),
        (["render", "r.json", "--formt", "html"], "did you mean --format?"),
        (["render", "r.json", "--format", "termnal"], "did you mean terminal?"),
        (["demo", "--kep"], "did you mean --keep?"),
        (["evaluate", "--outt", "r.json"], "did you mean --out?"),  # --out is required: the typo comes first
    ],
)
def test_a_typo_gets_the_closest_name(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert hint in err
    assert "--help" in err


def test_nothing_close_suggests_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["render", "r.json", "--zzzzzz"])
    assert "did you mean" not in capsys.readouterr().err


def test_every_subcommand_and_option_has_help() -> None:
    """Walks every subcommand (each one loaded) and every option, nested subparsers too."""
    missing: list[str] = []  # may repeat an entry; read as a set
    seen: set[str] = set()

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for name, child in action.choices.items():
                    if not helps.get(name):
                        missing.append(f"{prefix} {name} (subcommand)")
                    walk(f"{prefix} {name}", child)
            elif not action.help:
                missing.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")
        seen.add(prefix)

    for name in SUBCOMMANDS:
        parser = build_parser([name])
        child = _subparsers(parser).get(name)
        if child is not None:
            walk(f"mlgate {name}", child)
    walk("mlgate", build_parser([]))
    assert not missing, "options without help:\n" + "\n".join(missing)
    assert len(seen) > len(SUBCOMMANDS)
