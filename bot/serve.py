"""`mlgate serve`: the web process for local use (production runs gunicorn, see Procfile)."""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)


def run(args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.settings import SettingsError
    from bot.store import StoreError

    try:
        app = create_app()
    except (SettingsError, StoreError, ValueError) as exc:
        print(f"mlgate serve: {exc}", file=sys.stderr)
        return 2
    app.run(host=args.host, port=args.port, threaded=True)
    return 0
