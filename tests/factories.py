"""Test data written straight into a real database with SQLAlchemy Core."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from atlas_cli.db import migrate, schema
from atlas_cli.db.database import Database

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def wait_for_a_lock_waiter(db: Database) -> bool:
    """PostgreSQL: wait (up to 20 s) until some session waits for a lock; whether one did."""
    import time

    import sqlalchemy as sa

    for _ in range(400):
        with db.connect() as probe:  # a new transaction each time: pg_stat_activity is snapshotted per one
            waiting = probe.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
        if waiting:
            return True
        time.sleep(0.05)
    return False


def migrated(url: str) -> Database:
    db = Database(url, create=True)
    with db.begin() as conn:
        migrate.upgrade(conn)
    return db


def workspace(conn: Any, ws_id: str, *, tier: str = "team", slug: str | None = None, **columns: Any) -> str:
    row = {
        "id": ws_id,
        "name": ws_id.title(),
        "slug": slug or ws_id,
        "createdAt": NOW - timedelta(days=400),
        "workspace_status": "active",
        "plan_tier": tier,
        "byot": False,
        **columns,
    }
    conn.execute(schema.organization.insert(), [row])
    return ws_id


def user(conn: Any, user_id: str, *, email: str | None = None, role: str | None = "user") -> str:
    conn.execute(
        schema.user.insert(),
        [
            {
                "id": user_id,
                "name": user_id.title(),
                "email": email or f"{user_id}@x.test",
                "role": role,
                "createdAt": NOW - timedelta(days=100),
            }
        ],
    )
    return user_id


def events(conn: Any, ws_id: str, rows: list[tuple[str, int, datetime, str | None]]) -> None:
    """Insert (event_type, quantity, created_at, user_id) rows."""
    if not rows:
        return
    conn.execute(
        schema.usage_events.insert(),
        [
            {
                "id": str(uuid.uuid4()),
                "workspace_id": ws_id,
                "event_type": t,
                "quantity": q,
                "created_at": at,
                "user_id": u,
                "metadata": {},
            }
            for t, q, at, u in rows
        ],
    )


def subscription(conn: Any, ws_id: str, *, status: str, start: datetime, end: datetime, **columns: Any) -> None:
    conn.execute(
        schema.subscription.insert(),
        [
            {
                "id": f"sub_row_{ws_id}_{status}_{start:%Y%m%d}",
                "plan": "team",
                "referenceId": ws_id,
                "stripeCustomerId": f"cus_{ws_id}",
                "stripeSubscriptionId": f"sub_{ws_id}",
                "status": status,
                "periodStart": start,
                "periodEnd": end,
                "cancelAtPeriodEnd": False,
                "billingInterval": "month",
                **columns,
            }
        ],
    )
