"""`mlgate prune`: keep the store's size bounded, for operators (run it daily from cron).

Webhook bodies are most of the store (about 27 KB per pull request, see docs/operations.md).
Once a delivery is finished and GitHub no longer offers to redeliver it (after 3 days), its
row only feeds the dashboard's job list. Evaluations (the report pages), the audit log,
locks, checks and comments are never pruned.
"""

from __future__ import annotations

import argparse
import sys
import time

MIN_DAYS = 3  # GitHub redelivers for 3 days: the delivery id must still deduplicate until then


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--older-than", type=float, default=30, metavar="DAYS",
                        help=f"finished deliveries last touched more than DAYS ago (default 30, at least {MIN_DAYS})")
    parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    from bot.settings import database_url_from_env

    parser.add_argument("--database-url", default=database_url_from_env(),
                        help="the App's store (default: $MLGATE_DATABASE_URL, else mlgate.db in $MLGATE_DATA_DIR)")


def run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.logging_setup import describe
    from bot.store import StoreError, open_existing

    if not MIN_DAYS <= args.older_than < 36500:
        print(f"mlgate prune: --older-than must be at least {MIN_DAYS} days, and fewer than 36500 (GitHub can "
              f"redeliver a webhook for "
              f"{MIN_DAYS} days, and the stored delivery id is what makes a redelivery harmless)", file=sys.stderr)
        return 2
    try:
        store = open_existing(args.database_url)
        counts = store.prune(time.time() - args.older_than * 86400, dry_run=args.dry_run)
    except StoreError as exc:
        print(f"mlgate prune: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:  # the database went away mid-way: the transaction rolled back
        print(f"mlgate prune: nothing was deleted: {describe(exc)}", file=sys.stderr)
        return 2
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {counts['deliveries']} finished deliveries and {counts['files']} cached files older than "
          f"{args.older_than:g} days; evaluations and the audit log are kept")
    return 0
