"""The SQL of billing operations: actors, audit, plan changes, subscription rows, the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import dialect
from atlas_cli.db.schema import audit_log, member, organization, stripe_events, subscription, user

if TYPE_CHECKING:
    pass

o, s = organization.c, subscription.c


def users_by_key(conn: Connection, key: str) -> Sequence[RowMapping]:
    """Every user whose id is `key` or whose email is `key` ignoring case, by id.

    Case is folded by each engine's `lower()` (ASCII letters on SQLite)."""
    return (
        conn.execute(
            sa.select(user.c.id, user.c.email, user.c.role)
            .where(sa.or_(user.c.id == key, sa.func.lower(user.c.email) == sa.func.lower(key)))
            .order_by(user.c.id)
        )
        .mappings()
        .all()
    )


def member_role(conn: Connection, workspace_id: str, user_id: str) -> str | None:
    return conn.execute(
        sa.select(member.c.role)
        .where(member.c.organizationId == workspace_id, member.c.userId == user_id)
        .order_by(member.c.id)
        .limit(1)
    ).scalar_one_or_none()


def update_workspace(conn: Connection, workspace_id: str, values: dict[str, Any]) -> None:
    conn.execute(sa.update(organization).where(o.id == workspace_id).values(**values))


def insert_audit(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(audit_log), list(rows))


def audit_rows(
    conn: Connection, workspace_id: str | None, since: datetime | None, limit: int, until: datetime | None = None
) -> Sequence[RowMapping]:
    """Audit rows in [since, until), newest first."""
    a = audit_log.c
    query = sa.select(audit_log)
    if workspace_id is not None:
        query = query.where(a.workspace_id == workspace_id)
    if since is not None:
        query = query.where(a.created_at >= since)
    if until is not None:
        query = query.where(a.created_at < until)
    return conn.execute(query.order_by(a.created_at.desc(), a.id).limit(limit)).mappings().all()


def billed_organizations(conn: Connection, table: Any, column: str, workspace_id: str | None) -> Sequence[RowMapping]:
    """Rows of the organization `table` with a Stripe customer (their own `column`, else their
    subscription row's) as `customer_id`, in one query."""
    org = table.c
    first = (
        sa.select(s.stripeCustomerId)
        .where(s.referenceId == org.id, s.stripeCustomerId.is_not(None))
        .order_by(s.periodEnd.desc().nulls_last(), s.id)
        .limit(1)
        .scalar_subquery()
    )
    inner = sa.select(table, sa.func.coalesce(org[column], first).label("customer_id"))
    if workspace_id is not None:
        inner = inner.where(org.id == workspace_id)
    sub = inner.subquery("billed")
    return (
        conn.execute(sa.select(sub).where(sub.c.customer_id.is_not(None)).order_by(sub.c.name, sub.c.id))
        .mappings()
        .all()
    )


def billed_customer(rows: Sequence[RowMapping]) -> str | None:
    return rows[0]["customer_id"] if rows else None


def subscription_row(conn: Connection, workspace_id: str, stripe_subscription_id: str) -> RowMapping | None:
    return (
        conn.execute(
            sa.select(subscription)
            .where(s.referenceId == workspace_id, s.stripeSubscriptionId == stripe_subscription_id)
            .order_by(s.id)
            .limit(1)
        )
        .mappings()
        .first()
    )


def other_live_subscription(
    conn: Connection, workspace_id: str, stripe_subscription_id: str, now: datetime, statuses: tuple[str, ...]
) -> str | None:
    """The Stripe id of another subscription of the workspace that is live and not yet over."""
    return conn.execute(
        sa.select(s.stripeSubscriptionId)
        .where(
            s.referenceId == workspace_id,
            s.stripeSubscriptionId.is_not(None),
            s.stripeSubscriptionId != stripe_subscription_id,
            s.status.in_(statuses),
            sa.or_(s.periodEnd.is_(None), s.periodEnd > now),
        )
        .order_by(s.periodEnd.desc().nulls_first(), s.id)
        .limit(1)
    ).scalar()


def trial_workspaces(conn: Connection) -> Sequence[RowMapping]:
    """Workspaces on the trial tier, each with whether an active or trialing subscription row pays for it."""
    paying = sa.select(sa.literal(1)).where(s.referenceId == o.id, s.status.in_(("active", "trialing"))).exists()
    return (
        conn.execute(
            sa.select(o.id, o.trial_ends_at, o.createdAt, paying.label("paying"))
            .where(o.plan_tier == "trial")
            .order_by(o.id)
        )
        .mappings()
        .all()
    )


def save_subscription(conn: Connection, row_id: str | None, values: dict[str, Any]) -> None:
    """Update the subscription row `row_id`, or insert a new one when it is None."""
    if row_id is None:
        conn.execute(sa.insert(subscription).values(**values))
    else:
        conn.execute(sa.update(subscription).where(s.id == row_id).values(**values))


def workspace_for_stripe(
    conn: Connection, subscription_id: str | None, customer: str | None, reference_id: str | None
) -> str | None:
    """DESIGN section 4: by subscription id, else by customer, else by the metadata's referenceId."""
    return organization_for_stripe(conn, organization, "stripe_customer_id", subscription_id, customer, reference_id)


def organization_for_stripe(
    conn: Connection,
    table: Any,
    column: str,
    subscription_id: str | None,
    customer: str | None,
    reference_id: str | None,
) -> str | None:
    """The id of the workspace a Stripe subscription belongs to: the one whose subscription row
    carries its id, else whose customer `column` (or subscription row) is its customer, else the
    one its metadata's referenceId names."""
    org = table.c
    if subscription_id:
        found = conn.execute(
            sa.select(s.referenceId).where(s.stripeSubscriptionId == subscription_id).order_by(s.id).limit(1)
        ).scalar_one_or_none()
        if found:
            return str(found)
    if customer:
        by_org = sa.select(org.id.label("id"), sa.literal(0).label("rank")).where(org[column] == customer)
        by_sub = sa.select(s.referenceId.label("id"), sa.literal(1).label("rank")).where(s.stripeCustomerId == customer)
        union = sa.union_all(by_org, by_sub).subquery()
        found = conn.execute(sa.select(union.c.id).order_by(union.c.rank, union.c.id).limit(1)).scalar_one_or_none()
        if found:
            return str(found)
    if reference_id:
        return conn.execute(sa.select(org.id).where(org.id == reference_id)).scalar_one_or_none()
    return None


def lock_organization(conn: Connection, table: Any, workspace_id: str) -> RowMapping:
    """The workspace's row of the organization `table`, locked until the transaction ends.

    Raises: NotFound: the row was deleted since the workspace was looked up."""
    from atlas_cli.errors import NotFound

    found = lock_organization_if_present(conn, table, workspace_id)
    if found is None:
        raise NotFound(f"workspace {workspace_id} was deleted meanwhile; nothing was changed")
    return found


def lock_organization_if_present(conn: Connection, table: Any, workspace_id: str) -> RowMapping | None:
    """As `lock_organization`; None when the row is gone (deleted meanwhile)."""
    return conn.execute(sa.select(table).where(table.c.id == workspace_id).with_for_update()).mappings().one_or_none()


def update_organization(conn: Connection, table: Any, workspace_id: str, values: dict[str, Any]) -> None:
    conn.execute(sa.update(table).where(table.c.id == workspace_id).values(**values))


def record_event(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert the ledger row; False when (workspace_id, event_id) is already there (race-safe)."""
    e = stripe_events.c
    stmt = dialect.insert_for(conn, stripe_events).values(**row)
    stmt = stmt.on_conflict_do_nothing(index_elements=[e.workspace_id, e.event_id]).returning(e.event_id)
    return conn.execute(stmt).first() is not None


def event_outcome(conn: Connection, workspace_id: str, event_id: str) -> str | None:
    e = stripe_events.c
    return conn.execute(
        sa.select(e.outcome).where(e.workspace_id == workspace_id, e.event_id == event_id)
    ).scalar_one_or_none()


def set_event_outcome(conn: Connection, workspace_id: str, event_id: str, outcome: str) -> None:
    e = stripe_events.c
    conn.execute(
        sa.update(stripe_events).where(e.workspace_id == workspace_id, e.event_id == event_id).values(outcome=outcome)
    )


def last_applied(conn: Connection, workspace_id: str, subscription_id: str) -> datetime | None:
    """When the newest event applied to this subscription was created."""
    e = stripe_events.c
    return conn.execute(
        sa.select(sa.func.max(e.event_created)).where(
            e.workspace_id == workspace_id, e.subscription_id == subscription_id, e.outcome == "applied"
        )
    ).scalar_one_or_none()
