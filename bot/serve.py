"""`mlgate serve`: the web process for local use (production runs gunicorn, see Procfile)."""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s, loopback only)")
    parser.add_argument("--port", type=_port, default=8080, help="port to listen on (default: %(default)s)")


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port from 1 to 65535 (0: any free one), got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.queue import QueueError, check_queue, huey_for
    from bot.settings import SettingsError
    from bot.store import StoreError

    try:
        app = create_app()
        settings = app.config["MLGATE_SETTINGS"]
        check_queue(huey_for(settings.queue_url, settings.queue_name), settings.queue_url)
    except (SettingsError, StoreError, QueueError, ValueError) as exc:
        print(f"mlgate serve: {exc}", file=sys.stderr)
        return 2
    print(f"mlgate serve: listening on http://{args.host}:{args.port} (development server; use gunicorn in "
          "production)", file=sys.stderr)
    app.run(host=args.host, port=args.port, threaded=True)
    return 0
