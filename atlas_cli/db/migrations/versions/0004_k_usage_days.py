"""The daily rollup of usage_events that `billing check` reads closed days from.

Revision ID: 0004k
Revises: 0004g
Create Date: 2026-12-02

atlas's own tables only, on either billing model; created only when missing (see 0001). Both keys
include the workspace (DESIGN section 9); sums are BIGINT, costs whole micro-dollars.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from atlas_cli.db.migrate import create_missing
from atlas_cli.db.schema import usage_day_tables

revision = "0004k"
down_revision = "0004g"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in usage_day_tables(sa.MetaData()):
        create_missing(op.get_bind(), table)


def downgrade() -> None:
    for name in ("atlas_usage_days_computed", "atlas_usage_days"):
        op.drop_table(name)
