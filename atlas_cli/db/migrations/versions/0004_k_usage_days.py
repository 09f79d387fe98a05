"""The daily rollup of usage_events that `billing check` reads closed days from.

Revision ID: 0004k
Revises: 0004g
Create Date: 2026-12-02

atlas's own tables only, on either billing model; created only when missing (see 0001). Both keys
include the workspace (DESIGN section 9); sums are BIGINT, costs whole micro-dollars. The tables
are written out here as they were at this revision, so a later change to atlas_cli.db.schema
cannot change what this migration creates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.types import UTCDateTime

revision = "0004k"
down_revision = "0004g"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = sa.MetaData()
    days = sa.Table(
        "atlas_usage_days",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("day", UTCDateTime, primary_key=True),
        sa.Column("event_type", sa.Text, primary_key=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
    )
    computed = sa.Table(
        "atlas_usage_days_computed",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("day", UTCDateTime, primary_key=True),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    for table in (days, computed):
        create_missing(op.get_bind(), table)


def downgrade() -> None:
    for name in ("atlas_usage_days_computed", "atlas_usage_days"):
        op.drop_table(name)
