"""pr_states and checks.digest: what mlgate last showed on each PR, so apply writes only what changed.

- `pr_states`: one row per PR: the living comment's state block (`state`, JSON: verdict, review,
  accepted by, releases, the label memory and the earlier evaluations shown collapsed), the main
  section of the comment (`section`: the current report or "evaluation pending"), and the SHA-256
  of the comment body last written (`comment_sha256`). A release refreshes the state block from
  this row without deciding or rendering the report again (bot.apply.refresh_pr_state).
- `checks.digest`: the SHA-256 of the check run last written (status, conclusion, title, summary,
  details URL): the same check again costs no call.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pr_states",
        sa.Column("repo", sa.String(200), primary_key=True),
        sa.Column("pr", sa.Integer, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("section", sa.Text, nullable=False),
        sa.Column("comment_sha256", sa.String(64)),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("digest", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("digest")
    op.drop_table("pr_states")
