"""The stand-in is an extra (`mlgate[sandbox]`, issue #10): without openapi-core, `mlgate sandbox`
and `mlgate demo --app` stop at once with one line saying what to install, and the stand-in
without request checks still serves."""

from __future__ import annotations

import sys

import pytest
import requests

from bot.cli import main


@pytest.fixture
def no_openapi_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openapi_core", None)  # `import openapi_core` raises ImportError


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv", [["sandbox", "--port", "0"], ["demo", "--app", "--quiet"]])
def test_without_the_extra_the_commands_say_what_to_install(argv: list[str], no_openapi_core: None,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'mlgate[sandbox]'" in err, err
    assert err.startswith(f"mlgate {argv[0]}: ") and "Traceback" not in err


def test_without_the_extra_the_stand_in_serves_unchecked(no_openapi_core: None) -> None:
    from bot.sandbox import Sandbox

    with Sandbox(validate=False) as gh:
        gh.register_app()
        assert requests.get(f"{gh.base_url}/rate_limit", timeout=10).status_code == 401  # served, not checked
