"""The ledger of usage sent to Stripe's meters (`atlas_meter_reports`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlas_cli.db import dialect
from atlas_cli.db.schema import meter_reports

r = meter_reports.c
BATCH = 500  # workspaces per statement: SQLite takes at most 32,766 bound parameters


def has_table(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(meter_reports.name)


def sent_totals(
    conn: Connection, workspace_ids: Sequence[str], features: Sequence[str], since: datetime
) -> dict[tuple[str, str, datetime], int]:
    """What was sent per (workspace, feature, period start) for periods starting at or after
    `since`: one statement per batch of workspaces."""
    found: dict[tuple[str, str, datetime], int] = {}
    for i in range(0, len(workspace_ids), BATCH):
        rows = conn.execute(
            sa.select(r.workspace_id, r.feature, r.period_start, sa.func.sum(r.value))
            .where(
                r.workspace_id.in_(list(workspace_ids[i : i + BATCH])),
                r.feature.in_(list(features)),
                r.period_start >= since,
            )
            .group_by(r.workspace_id, r.feature, r.period_start)
        ).all()
        found.update({(ws, feature, start): int(total) for ws, feature, start, total in rows})
    return found


def sent_total(conn: Connection, workspace_id: str, feature: str, period_start: datetime) -> int:
    """What was sent for one workspace's feature in the period starting at `period_start`."""
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(r.value), 0)).where(
            r.workspace_id == workspace_id, r.feature == feature, r.period_start == period_start
        )
    ).scalar_one()
    return int(total)


def record(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert one sent meter event; False when its identifier is already recorded (a concurrent
    run sent the same delta, which Stripe deduplicated)."""
    stmt = dialect.insert_for(conn, meter_reports).values(**row)
    stmt = stmt.on_conflict_do_nothing(index_elements=[r.workspace_id, r.identifier]).returning(r.identifier)
    return conn.execute(stmt).first() is not None

