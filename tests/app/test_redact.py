"""No credential reaches a message, whatever shape the URL that holds it has."""

from __future__ import annotations

import pytest

from bot.redact import HIDDEN, redact, redact_url, scrub, url_secrets
from bot.store import Store, StoreError

SECRET = "SeCrEt99"


@pytest.mark.parametrize(("text", "shown"), [
    ("postgresql+psycopg://mlgate:s3/cr#t@db:5432/mlgate", "postgresql+psycopg://***@db:5432/mlgate"),
    ("see http://u:p@ss@host/x and more", "see http://***@host/x and more"),
    ("https://host/x?token=abc123&page=2", "https://host/x?token=***&page=2"),
    ("postgresql://u@h/db?password=SeCrEt99", "postgresql://***@h/db?password=***"),
    ("models:/churn@production", "models:/churn@production"),  # MLflow URIs are not credentials
    ("no url here", "no url here"),
])
def test_redact_hides_userinfo_and_query_secrets(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_something_that_is_not_a_url_is_not_shown_at_all() -> None:
    assert redact_url(f"redis:/:{SECRET}@127.0.0.1/0") == HIDDEN
    assert redact_url(SECRET) == HIDDEN


def test_pieces_of_a_password_are_scrubbed_where_a_driver_moved_them() -> None:
    url = f"postgresql://postgres:p4ss@{SECRET}@127.0.0.1:1/x"
    assert SECRET in url_secrets(url)
    said = scrub(f"failed to resolve host '{SECRET}@127.0.0.1'", url_secrets(url))
    assert SECRET not in said and "***@127.0.0.1" in said


@pytest.mark.parametrize("url", [
    f"postgresql+psycopg://mlgate:s3/{SECRET}@127.0.0.1:9/mlgate",  # a / in the password
    f"postgresql+psycopg://postgres@127.0.0.1:9/x?password={SECRET}",  # in the query string
    f"postgresql+psycopg://postgres:p4ss@{SECRET}@127.0.0.1:9/x",  # an unescaped @
    f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:notaport/x",  # malformed
    f"postgresql+psycopg://postgres:Tr0ub4dor@horse/{SECRET}@127.0.0.1:9/x",  # @ and / together
    f"postgresql+psycopg://postgres:Tr0ub4dor@127.0.0.1/{SECRET}@127.0.0.1:5432/db",  # a real host inside
])
def test_store_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(StoreError) as err:
        Store(url).migrate()
    assert SECRET not in str(err.value), str(err.value)
    assert "database" in str(err.value)


def test_a_password_with_url_characters_gets_the_percent_encoding_hint() -> None:
    with pytest.raises(StoreError) as err:
        Store(f"postgresql+psycopg://postgres:p4ss@{SECRET}@127.0.0.1:9/x").migrate()
    assert "percent-encode" in str(err.value) and "%40" in str(err.value)


def test_a_malformed_queue_url_is_not_echoed() -> None:
    from bot.queue import huey_for

    with pytest.raises(ValueError) as err:
        huey_for(f"redis:/:{SECRET}@127.0.0.1/0")
    assert SECRET not in str(err.value) and "MLGATE_QUEUE_URL must be" in str(err.value)


def test_the_reports_command_line_hides_a_password_that_holds_a_quote() -> None:
    from bot.cli_evaluate import _command_line

    line = _command_line(["evaluate", "--tracking-uri", f"http://u:pa'{SECRET}@mlflow:5000", "--out", "r.json"])
    assert SECRET not in line and "pa'" not in line
    assert line == "mlgate evaluate --tracking-uri 'http://***@mlflow:5000' --out r.json"
