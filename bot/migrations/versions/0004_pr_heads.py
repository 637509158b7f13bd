"""pr_heads: every head SHA of a PR, how far its jobs got and whether a newer head replaced it.

Webhooks arrive in any order and the worker runs jobs in parallel; this table (with the
per-PR lock) lets a late job see that a pending state must not replace a finished report,
and that an older head must not replace a newer one (bot/handlers/ordering.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pr_heads",
        sa.Column("repo", sa.String(200), primary_key=True),
        sa.Column("pr", sa.Integer, primary_key=True),
        sa.Column("sha", sa.String(64), primary_key=True),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("superseded", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pr_heads")
