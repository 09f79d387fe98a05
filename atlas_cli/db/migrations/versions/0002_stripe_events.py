"""atlas's Stripe event ledger: which webhook events were applied to which workspace.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The primary key is (workspace_id, event_id) so that every unique key includes the workspace
(DESIGN section 9). Created only when missing (see 0001).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stripe_events = sa.Table(
        "atlas_stripe_events",
        sa.MetaData(),
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("subscription_id", sa.Text),
        sa.Column("event_created", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Index("idx_atlas_stripe_events_subscription", "workspace_id", "subscription_id", "event_created"),
    )
    create_missing(op.get_bind(), stripe_events)


def downgrade() -> None:
    op.drop_index("idx_atlas_stripe_events_subscription", table_name="atlas_stripe_events")
    op.drop_table("atlas_stripe_events")
