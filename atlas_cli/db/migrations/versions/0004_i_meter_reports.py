"""The ledger of usage sent to Stripe's meters (billing in arrears).

Revision ID: 0004i
Revises: 0004e
Create Date: 2026-12-02

atlas's own table only, on either billing model; created only when missing (see 0001). One row
per meter event sent; its key includes the workspace (DESIGN section 9).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.types import UTCDateTime

revision = "0004i"
down_revision = "0004e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = sa.MetaData()
    reports = sa.Table(
        "atlas_meter_reports",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("identifier", sa.Text, primary_key=True),
        sa.Column("feature", sa.Text, nullable=False),
        sa.Column("meter", sa.Text, nullable=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("period_end", UTCDateTime, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("cumulative", sa.BigInteger, nullable=False),
        sa.Column("stripe_customer_id", sa.Text, nullable=False),
        sa.Column("event_timestamp", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.Index("idx_atlas_meter_reports_period", "workspace_id", "feature", "period_start"),
    )
    create_missing(op.get_bind(), reports)


def downgrade() -> None:
    op.drop_index("idx_atlas_meter_reports_period", table_name="atlas_meter_reports")
    op.drop_table("atlas_meter_reports")
