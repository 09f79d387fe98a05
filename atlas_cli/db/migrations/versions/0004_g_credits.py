"""Credits: accounts, grants, the append-only ledger and idempotency keys.

Revision ID: 0004g
Revises: 0004i
Create Date: 2026-12-02

atlas's own tables only, on either billing model; created only when missing (see 0001). Every key
includes the workspace; amounts are BIGINT (no floating point anywhere in the ledger). The tables
are written out here as they were at this revision, so a later change to atlas_cli.db.schema
cannot change what this migration creates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.types import UTCDateTime, json_type

revision = "0004g"
down_revision = "0004i"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata = sa.MetaData()
    accounts = sa.Table(
        "atlas_credit_accounts",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("overage", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_entry", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    grants = sa.Table(
        "atlas_credit_grants",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("effective_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("source", sa.Text, nullable=False),  # allocation | grant | adjust
        sa.Column("key", sa.Text),
        sa.Column("period_start", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime),
        sa.Column("closed_as", sa.Text),  # expired | voided
        sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name="atlas_credit_grants_remaining_check"),
        sa.Index("idx_atlas_credit_grants_unit", "workspace_id", "unit", "remaining"),
    )
    ledger = sa.Table(
        "atlas_credit_ledger",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("grant_id", sa.Text),
        sa.Column("event_id", sa.Text),
        sa.Column("key", sa.Text),
        sa.Column("actor", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "kind IN ('grant', 'debit', 'expire', 'void', 'adjust')", name="atlas_credit_ledger_kind_check"
        ),
        sa.Index("idx_atlas_credit_ledger_created", "workspace_id", "created_at"),
    )
    requests = sa.Table(
        "atlas_credit_requests",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("request", json_type(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    for table in (accounts, grants, ledger, requests):
        create_missing(op.get_bind(), table)


def downgrade() -> None:
    for name in ("atlas_credit_requests", "atlas_credit_ledger", "atlas_credit_grants", "atlas_credit_accounts"):
        op.drop_table(name)
