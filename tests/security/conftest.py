"""Attacks on mlgate's one rule: it fails closed. The handlers' world (tests/handlers) is reused."""

from tests.handlers.conftest import hub

__all__ = ["hub"]
