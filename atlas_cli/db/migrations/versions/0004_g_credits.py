"""Credits: accounts, grants, the append-only ledger and idempotency keys.

Revision ID: 0004g
Revises: 0003b
Create Date: 2026-12-02

atlas's own tables only, on either billing model; created only when missing (see 0001). Every key
includes the workspace; amounts are BIGINT (no floating point anywhere in the ledger).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.schema import credit_tables

revision = "0004g"
down_revision = "0004i"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in credit_tables(sa.MetaData()):
        create_missing(op.get_bind(), table)


def downgrade() -> None:
    for name in ("atlas_credit_requests", "atlas_credit_ledger", "atlas_credit_grants", "atlas_credit_accounts"):
        op.drop_table(name)
