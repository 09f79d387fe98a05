"""Reads over many workspaces at once, one statement per batch (never one per workspace)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db.layout import batches
from atlas_cli.db.schema import member, subscription


def workspaces_on_tiers(conn: Connection, table: Any, tiers: Sequence[str]) -> Sequence[RowMapping]:
    """Every workspace (`table`: the model's organization) whose tier is one of `tiers`, by id."""
    return (
        conn.execute(sa.select(table).where(table.c.plan_tier.in_(list(tiers))).order_by(table.c.id)).mappings().all()
    )


def live_workspaces(conn: Connection, table: Any) -> Sequence[RowMapping]:
    """Every workspace (`table`: the model's organization) that is not deleted, by id."""
    deleted = sa.and_(table.c.workspace_status.is_not(None), table.c.workspace_status == "deleted")
    return conn.execute(sa.select(table).where(sa.not_(deleted)).order_by(table.c.id)).mappings().all()


def member_counts(conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    """The `member` rows of each workspace (0 for one without any)."""
    found = dict.fromkeys(ids, 0)
    for batch in batches(ids):
        rows = conn.execute(
            sa.select(member.c.organizationId, sa.func.count())
            .where(member.c.organizationId.in_(batch))
            .group_by(member.c.organizationId)
        ).all()
        found.update({ws_id: int(n) for ws_id, n in rows})
    return found


def subscriptions_by_workspace(conn: Connection, ids: Sequence[str]) -> dict[str, list[RowMapping]]:
    """Each workspace's subscription rows, the latest period first (as `queries.subscriptions_for`)."""
    found: dict[str, list[RowMapping]] = {ws_id: [] for ws_id in ids}
    for batch in batches(ids):
        rows = (
            conn.execute(
                sa.select(subscription)
                .where(subscription.c.referenceId.in_(batch))
                .order_by(subscription.c.periodEnd.desc().nulls_last(), subscription.c.id)
            )
            .mappings()
            .all()
        )
        for row in rows:
            found[row["referenceId"]].append(row)
    return found
