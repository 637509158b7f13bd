"""monitor_runs: what each `mlgate monitor` run found for each model, for the dashboard and /promote.

One row per repository, model and window (its label, "2026-11-23 to 2026-11-29"): a re-run over the same window replaces its row, so
the table grows by one row per model per scheduled window. `summary` is the run's health (state
reasons, drift and live figures, the monitor issue); `comparison` the live champion/challenger
comparison of a running canary, with the PR that started it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_runs",
        sa.Column("repo", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(256), primary_key=True),
        sa.Column("window_label", sa.String(40), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("issue", sa.Integer),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("comparison", sa.Text),
    )
    op.create_index("ix_monitor_runs_at", "monitor_runs", ["repo", "model", "at"])


def downgrade() -> None:
    op.drop_index("ix_monitor_runs_at", table_name="monitor_runs")
    op.drop_table("monitor_runs")
