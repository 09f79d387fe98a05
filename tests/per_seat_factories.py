"""Rows of a per-seat Atlas server, written the way its code writes them (see tests/per_seat.py)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from atlas_cli.db.database import Database
from atlas_cli.db.types import UTCDateTime
from tests import per_seat
from tests.factories import NOW

_ids = itertools.count(1)


def run(conn: Any, sql: str, **params: Any) -> Any:
    binds = [sa.bindparam(name, type_=UTCDateTime) for name, v in params.items() if isinstance(v, datetime)]
    return conn.execute(sa.text(sql).bindparams(*binds), params)


def database(db_url: str) -> Database:
    per_seat.lay_out(db_url)
    return Database(db_url)


def user(conn: Any, user_id: str, *, role: str | None = "member", email: str | None = None) -> None:
    run(
        conn,
        'INSERT INTO "user" (id, name, email, "emailVerified", "createdAt", "updatedAt", role)'
        " VALUES (:id, :name, :email, true, :t, :t, :role)",
        id=user_id,
        name=user_id.title(),
        email=email or f"{user_id}@example.test",
        t=NOW - timedelta(days=300),
        role=role,
    )


def workspace(
    conn: Any,
    ws_id: str,
    *,
    tier: str = "pro",
    seats: int = 1,
    byot: bool = False,
    created: datetime = NOW - timedelta(days=200),
    trial_ends_at: datetime | None = None,
    customer: str | None = None,
) -> None:
    run(
        conn,
        'INSERT INTO organization (id, name, slug, "createdAt", plan_tier, byot, trial_ends_at, "stripeCustomerId")'
        " VALUES (:id, :name, :slug, :created, :tier, :byot, :ends, :customer)",
        id=ws_id,
        name=ws_id.title(),
        slug=ws_id,
        created=created,
        tier=tier,
        byot=byot,
        ends=trial_ends_at,
        customer=customer,
    )
    for n in range(seats):
        member_id = f"{ws_id}_u{n}"
        user(conn, member_id)
        run(
            conn,
            'INSERT INTO member (id, "organizationId", "userId", role, "createdAt") VALUES (:id, :ws, :u, :role, :t)',
            id=f"m_{member_id}",
            ws=ws_id,
            u=member_id,
            role="owner" if n == 0 else "member",
            t=created,
        )


def cost(conn: Any, ws_id: str, dollars: str, *, at: datetime = NOW, tokens: int = 1000) -> None:
    """One token event as the server meters it: tokens and their at-cost dollars."""
    run(
        conn,
        "INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, gateway_cost_usd, metadata,"
        " created_at) VALUES (:id, :ws, :u, 'token', :q, :c, NULL, :at)",
        id=f"00000000-0000-4000-8000-{next(_ids):012d}",
        ws=ws_id,
        u=f"{ws_id}_u0",
        q=tokens,
        c=str(Decimal(dollars)),  # as text: exact on PostgreSQL, NUMERIC affinity on SQLite
        at=at,
    )


def setting(conn: Any, key: str, value: str, org_id: str | None = None) -> None:
    run(conn, "INSERT INTO settings (key, value, org_id) VALUES (:k, :v, :o)", k=key, v=value, o=org_id)


def subscription(
    conn: Any, ws_id: str, *, status: str, start: datetime, end: datetime, plan: str = "pro", sub_id: str | None = None
) -> None:
    run(
        conn,
        'INSERT INTO subscription (id, plan, "referenceId", "stripeSubscriptionId", status, "periodStart",'
        ' "periodEnd", "cancelAtPeriodEnd", seats) VALUES (:id, :plan, :ws, :sub, :status, :start, :end, false, 1)',
        id=f"sub_row_{next(_ids)}",
        plan=plan,
        ws=ws_id,
        sub=sub_id or f"sub_{next(_ids)}",
        status=status,
        start=start,
        end=end,
    )


def plugin(conn: Any, ws_id: str, pillar: str, *, status: str = "published") -> None:
    n = next(_ids)
    run(
        conn,
        "INSERT INTO workspace_plugins (id, workspace_id, catalog_id, install_id, pillar, status, config)"
        " VALUES (:id, :ws, :catalog, :install, :pillar, :status, '{}')",
        id=f"wp_{n}",
        ws=ws_id,
        catalog=f"catalog:{pillar}{n}",
        install=f"install_{n}",
        pillar=pillar,
        status=status,
    )


def invitation(
    conn: Any, ws_id: str, *, status: str = "pending", expires: datetime = NOW + timedelta(hours=48)
) -> None:
    n = next(_ids)
    run(
        conn,
        'INSERT INTO invitation (id, "organizationId", email, role, status, "expiresAt", "inviterId")'
        " VALUES (:id, :ws, :email, 'member', :status, :expires, :inviter)",
        id=f"inv_{n}",
        ws=ws_id,
        email=f"invitee{n}@example.test",
        status=status,
        expires=expires,
        inviter=f"{ws_id}_u0",
    )


def overage_report(conn: Any, ws_id: str, *, period_start: datetime, cents: int, customer: str | None = None) -> None:
    """The server's overage ledger row after reporting `cents` (cumulative) for the period starting
    at `period_start`, as its hourly sweep upserts it (overage-meter.ts)."""
    run(
        conn,
        "INSERT INTO overage_meter_reports (org_id, period_start, stripe_customer_id, reported_cost_cents,"
        " last_event_identifier, created_at, updated_at) VALUES (:org, :start, :customer, :cents, :ident, :t, :t)",
        org=ws_id,
        start=period_start,
        customer=customer or f"cus_{ws_id}",
        cents=cents,
        ident=f"atlas-overage-{next(_ids):032d}",
        t=NOW - timedelta(hours=1),
    )
