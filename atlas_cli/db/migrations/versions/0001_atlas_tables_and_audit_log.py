"""Create the Atlas tables that are missing, and atlas's audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

An existing Atlas table is left exactly as it is: atlas never alters or drops what Atlas owns.
Every object is created only when missing, so the migration also completes a schema that an
interruption left half made. Which of the server's tables it may create is the layout's to say:
the classic tables on a classic database, none on a per-seat one (its server's migrations own
them, and dropped `connections` and `invitations` on purpose).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_all_missing, create_missing, layout_of
from atlas_cli.db.types import UTCDateTime, json_type, uuid_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    create_all_missing(bind, layout_of(op.get_context()).creatable_tables)
    audit_log = sa.Table(
        "atlas_audit_log",
        sa.MetaData(),
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("id", uuid_type(), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("before", json_type()),
        sa.Column("after", json_type()),
        sa.Index("idx_atlas_audit_log_created", "created_at"),
    )
    create_missing(bind, audit_log)


def downgrade() -> None:
    op.drop_index("idx_atlas_audit_log_created", table_name="atlas_audit_log")
    op.drop_table("atlas_audit_log")
