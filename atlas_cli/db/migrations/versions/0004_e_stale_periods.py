"""Stale period marks: the closed periods atlas wrote late events into.

Revision ID: 0004e
Revises: 0003b
Create Date: 2026-12-02

atlas's own table only, on either billing model; created only when missing (see 0001). Its key
is (workspace_id, period, period_start): it includes the workspace, as every key atlas creates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.types import UTCDateTime

revision = "0004e"
down_revision = "0003b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stale_periods = sa.Table(
        "atlas_stale_periods",
        sa.MetaData(),
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("period_start", UTCDateTime, primary_key=True),
    )
    create_missing(op.get_bind(), stale_periods)


def downgrade() -> None:
    op.drop_table("atlas_stale_periods")
