"""Operator catalogs (versioned) and per-workspace entitlement overrides.

Revision ID: 0003b
Revises: 0002
Create Date: 2026-12-01

atlas's own tables only, on either billing model; created only when missing (see 0001). A
catalog version is platform-wide (no workspace); an override's key includes its workspace.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.types import UTCDateTime, json_type, uuid_type

revision = "0003b"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = sa.MetaData()
    catalog_versions = sa.Table(
        "atlas_catalog_versions",
        metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("document", json_type(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("note", sa.Text),
    )
    overrides = sa.Table(
        "atlas_entitlement_overrides",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("id", uuid_type(), primary_key=True),
        sa.Column("feature", sa.Text, nullable=False),
        sa.Column("value", json_type(), nullable=False),
        sa.Column("until", UTCDateTime),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("ended_by", sa.Text),
        sa.Column("end_reason", sa.Text),
        sa.Index("idx_atlas_entitlement_overrides_feature", "workspace_id", "feature", "created_at"),
    )
    create_missing(op.get_bind(), catalog_versions)
    create_missing(op.get_bind(), overrides)


def downgrade() -> None:
    op.drop_index("idx_atlas_entitlement_overrides_feature", table_name="atlas_entitlement_overrides")
    op.drop_table("atlas_entitlement_overrides")
    op.drop_table("atlas_catalog_versions")
