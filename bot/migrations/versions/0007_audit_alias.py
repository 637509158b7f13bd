"""audit.alias and the release-history indexes: /rollback and /promote read an alias's history
with indexed queries (bot.store: releases, previous_version, earlier_release) instead of
reading the whole audit log three times.

The alias a promotion or rollback moved was only in the row's JSON detail; existing release
rows get it from there (a row without it moved `production`, as bot.promotion read it).
Other rows (denials, accepted regressions, deployment reviews) keep NULL.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _alias(detail: str | None) -> str:
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        data = {}
    alias = data.get("alias") if isinstance(data, dict) else None
    return str(alias)[:255] if alias else "production"


def upgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("alias", sa.String(255)))
    audit = sa.table("audit", sa.column("id", sa.Integer), sa.column("action", sa.String),
                     sa.column("detail", sa.Text), sa.column("alias", sa.String))
    conn = op.get_bind()
    rows = conn.execute(sa.select(audit.c.id, audit.c.detail)
                        .where(audit.c.action.in_(("promote", "rollback")))).all()
    by_alias: dict[str, list[int]] = {}
    for row_id, detail in rows:
        by_alias.setdefault(_alias(detail), []).append(int(row_id))
    for alias, ids in by_alias.items():
        for i in range(0, len(ids), 500):
            conn.execute(sa.update(audit).where(audit.c.id.in_(ids[i:i + 500])).values(alias=alias))
    op.create_index("ix_audit_release", "audit", ["model", "alias", "id"])
    op.create_index("ix_audit_delivery", "audit", ["delivery_id"])
    op.create_index("ix_audit_head", "audit", ["repo", "sha"])


def downgrade() -> None:
    op.drop_index("ix_audit_head", table_name="audit")
    op.drop_index("ix_audit_delivery", table_name="audit")
    op.drop_index("ix_audit_release", table_name="audit")
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("alias")
