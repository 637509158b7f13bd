"""files: the base branch's config at a commit, read once from GitHub and shared by workers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("repo", sa.String(200), primary_key=True),
        sa.Column("path", sa.String(300), primary_key=True),
        sa.Column("sha", sa.String(64), primary_key=True),
        sa.Column("text", sa.Text),
        sa.Column("read_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("files")
