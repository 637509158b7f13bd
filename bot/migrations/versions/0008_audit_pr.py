"""ix_audit_pr: the living comment's release history (bot.store.Store.releases_of_pr) by index.

Every plan of a PR reads its successful releases (`repo`, `pr`, newest first); without an index
on (repo, pr) SQLite walked ix_audit_head's every row of the repository, and PostgreSQL the
table. With `id` last the index also gives the order, so the newest ten cost ten rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_pr", "audit", ["repo", "pr", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_pr", table_name="audit")
