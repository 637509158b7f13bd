"""One exception hierarchy, so callers catch what they mean instead of `Exception`.

- `MlgateError`: every error mlgate raises on purpose. Its message is written for the user:
  it names the cause and, where there is one, the fix.
- `InvalidInput`: what the user gave cannot be used (a config, a file, a flag, a payload). The
  CLI prints the message on one line and exits 2; the App answers with what to change.
- `AdapterError`: a system mlgate talks to (GitHub, the model registry, the store, the queue)
  failed or refused. Whether to retry is the adapter's subclass's business (`RetryLater`).

The concrete classes stay in the modules that raise them; they keep their old `ValueError` or
`RuntimeError` base too, so nothing that caught those before stops catching them.
"""

from __future__ import annotations


class MlgateError(Exception):
    """An error mlgate raised on purpose, with a message meant for the user."""


class InvalidInput(MlgateError, ValueError):
    """Input mlgate cannot use; the message says what to change."""


class AdapterError(MlgateError, RuntimeError):
    """A system behind one of mlgate's ports (GitHub, MLflow, the store, the queue) failed."""
