"""The ledger of usage sent to Stripe's meters (`atlas_meter_reports`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from atlas_cli.db import dialect
from atlas_cli.db.schema import meter_reports

r = meter_reports.c


def has_table(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(meter_reports.name)


def sent_totals(
    conn: Connection, workspace_ids: Sequence[str], features: Sequence[str], since: datetime
) -> dict[tuple[str, str, datetime], int]:
    """What was sent per (workspace, feature, period start) for periods starting at or after
    `since`, in one statement."""
    rows = conn.execute(
        sa.select(r.workspace_id, r.feature, r.period_start, sa.func.sum(r.value))
        .where(
            dialect.one_of(conn, r.workspace_id, workspace_ids, "workspace_ids"),
            r.feature.in_(list(features)),
            r.period_start >= since,
        )
        .group_by(r.workspace_id, r.feature, r.period_start)
    ).all()
    return {(ws, feature, start): int(total) for ws, feature, start, total in rows}


def usage_totals(
    conn: Connection,
    events: Any,
    groups: Mapping[tuple[Any, ...], Sequence[str]],
    features: Mapping[str, Sequence[str]],
) -> dict[tuple[str, str, datetime], int]:
    """The sum of `quantity` per (workspace, feature, period start) for workspaces grouped by
    their tuple of billing periods (`groups`: windows -> workspace ids; most workspaces share the
    calendar months) and features by their event types: one statement per group covers every
    feature and period. A workspace without events is absent (0)."""
    e = events.c
    every_type = sorted({t for types in features.values() for t in types})
    found: dict[tuple[str, str, datetime], int] = {}
    for windows, ids in groups.items():
        keys = [(key, window.start) for key in features for window in windows]
        sums = [
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (
                            sa.and_(
                                e.event_type.in_(list(features[key])),
                                e.created_at >= window.start,
                                e.created_at < window.end,
                            ),
                            e.quantity,
                        ),
                        else_=0,
                    )
                ),
                0,
            )
            for key in features
            for window in windows
        ]
        lowest, highest = min(w.start for w in windows), max(w.end for w in windows)
        rows = conn.execute(
            sa.select(e.workspace_id, *sums)
            .where(
                dialect.one_of(conn, e.workspace_id, ids, "workspace_ids"),
                e.event_type.in_(every_type),
                e.created_at >= lowest,
                e.created_at < highest,
            )
            .group_by(e.workspace_id)
        ).all()
        for ws_id, *values in rows:
            found.update({(ws_id, key, start): int(v) for (key, start), v in zip(keys, values, strict=True)})
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
