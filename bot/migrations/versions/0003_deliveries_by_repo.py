"""deliveries by (repo, received_at): `mlgate prune` keeps each repository's newest delivery.

Without it the prune's correlated lookup is quadratic (100k deliveries: minutes, holding
SQLite's write lock); with it, a tenth of a second.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_repo_received", "deliveries", ["repo", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_repo_received", table_name="deliveries")
