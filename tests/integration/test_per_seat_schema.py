"""The per-seat server's layout (tests/per_seat.py), on SQLite and PostgreSQL, takes the rows a
per-seat Atlas server writes, in the shapes of the server's own statements, and gives them back.

The statements mirror the server's writers: the auth library's inserts (user, organization,
member, invitation, subscription), trial assignment and the one-trial-per-user claim, usage
metering and its summary upsert, plugin installs, settings upserts (workspace and platform
rows), the Stripe webhook ledger and the overage-meter ledger. Where the server leans on a
PostgreSQL-only spelling (now(), GREATEST, ::jsonb) the SQLite form is the closest equivalent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db import migrate
from atlas_cli.db.database import Database
from atlas_cli.db.types import UTCDateTime
from tests import per_seat
from tests.factories import MONTH_START, NOW

MONTH_END = datetime(2026, 12, 1, tzinfo=NOW.tzinfo)


@pytest.fixture
def server(db_url: str) -> Iterator[Database]:
    per_seat.lay_out(db_url)
    db = Database(db_url)
    yield db
    db.dispose()


def run(conn: Any, sql: str, **params: Any) -> Any:
    """Execute `sql` with named parameters; datetimes are bound as UTC timestamps on both engines."""
    binds = [sa.bindparam(name, type_=UTCDateTime) for name, v in params.items() if isinstance(v, datetime)]
    return conn.execute(sa.text(sql).bindparams(*binds), params)


def postgres(conn: Any) -> bool:
    return bool(conn.dialect.name == "postgresql")


def seed_workspace(conn: Any) -> None:
    """A workspace as sign-up leaves it: owner, organization (on trial), member, one trial grant."""
    run(
        conn,
        'INSERT INTO "user" (id, name, email, "emailVerified", image, "createdAt", "updatedAt", role, banned,'
        ' "normalizedEmail") VALUES (:id, :name, :email, :verified, NULL, :t, :t, :role, :banned, :normalized)',
        id="u_owner",
        name="Ann Owner",
        email="Ann@Acme.test",
        verified=True,
        t=NOW - timedelta(days=3),
        role="member",
        banned=False,
        normalized="ann@acme.test",
    )
    run(
        conn,
        'INSERT INTO organization (id, name, slug, logo, "createdAt", metadata)'
        " VALUES (:id, :name, :slug, NULL, :t, NULL)",
        id="org_1",
        name="Acme",
        slug="acme",
        t=NOW - timedelta(days=3),
    )
    run(
        conn,
        'INSERT INTO member (id, "organizationId", "userId", role, "createdAt") VALUES (:id, :org, :user, :role, :t)',
        id="m_owner",
        org="org_1",
        user="u_owner",
        role="owner",
        t=NOW - timedelta(days=3),
    )
    claimed = run(
        conn,
        "INSERT INTO user_trial_grants (user_id, org_id) VALUES (:user, :org)"
        " ON CONFLICT (user_id) DO NOTHING RETURNING user_id",
        user="u_owner",
        org="org_1",
    ).all()
    assert claimed == [("u_owner",)]
    run(
        conn,
        "UPDATE organization SET plan_tier = 'trial', trial_ends_at = :ends WHERE id = :id AND plan_tier = 'free'",
        ends=NOW + timedelta(days=11),
        id="org_1",
    )


def test_the_layout_is_a_per_seat_database(server: Database) -> None:
    with server.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        tiers = migrate.tier_values(conn)
    assert tiers == per_seat.PER_SEAT_TIERS
    assert "starter" in (tiers or ())
    assert {
        "user",
        "organization",
        "member",
        "invitation",
        "subscription",
        "usage_events",
        "usage_summaries",
        "workspace_plugins",
        "settings",
        "user_trial_grants",
        "stripe_webhook_events",
        "overage_meter_reports",
    } <= tables
    assert not {"connections", "invitations"} & tables


def test_the_auth_library_applies_its_defaults_itself(server: Database) -> None:
    # No database default for organization."createdAt" (nor member.role, invitation.status, ...):
    # a writer that leaves it out is refused, as on the server.
    with pytest.raises(sa.exc.IntegrityError), server.engine.begin() as conn:
        run(conn, "INSERT INTO organization (id, name, slug) VALUES ('o', 'O', 'o')")


def test_the_tier_constraint_refuses_classic_tiers(server: Database) -> None:
    insert = 'INSERT INTO organization (id, name, slug, "createdAt", plan_tier) VALUES (:id, :id, :id, :t, :tier)'
    with server.engine.begin() as conn:
        for tier in per_seat.PER_SEAT_TIERS:
            run(conn, insert, id=f"o_{tier}", t=NOW, tier=tier)
    for tier in ("team", "enterprise"):
        with pytest.raises(sa.exc.IntegrityError), server.engine.begin() as conn:
            run(conn, insert, id=f"o_{tier}", t=NOW, tier=tier)


def test_sign_up_trial_and_seats(server: Database) -> None:
    with server.begin() as conn:
        seed_workspace(conn)
        # A second workspace of the same owner: the grant is already taken, it starts locked.
        run(
            conn,
            'INSERT INTO organization (id, name, slug, "createdAt") VALUES (:id, :n, :s, :t)',
            id="org_2",
            n="Two",
            s="two",
            t=NOW,
        )
        again = run(
            conn,
            "INSERT INTO user_trial_grants (user_id, org_id) VALUES (:user, :org)"
            " ON CONFLICT (user_id) DO NOTHING RETURNING user_id",
            user="u_owner",
            org="org_2",
        ).all()
        assert again == []
        run(
            conn,
            "UPDATE organization SET plan_tier = 'locked', trial_ends_at = :t"
            " WHERE id = 'org_2' AND plan_tier = 'free'",
            t=NOW,
        )
        run(conn, "UPDATE \"user\" SET role = 'platform_admin' WHERE id = :id RETURNING id", id="u_owner")
        for inv_id, status, expires in (
            ("inv_pending", "pending", NOW + timedelta(hours=47)),
            ("inv_expired", "pending", NOW - timedelta(minutes=1)),
            ("inv_accepted", "accepted", NOW + timedelta(hours=47)),
        ):
            run(
                conn,
                'INSERT INTO invitation (id, "organizationId", email, role, status, "expiresAt", "createdAt",'
                ' "inviterId") VALUES (:id, :org, :email, :role, :status, :expires, :created, :inviter)',
                id=inv_id,
                org="org_1",
                email=f"{inv_id}@acme.test",
                role="member",
                status=status,
                expires=expires,
                created=NOW - timedelta(hours=1),
                inviter="u_owner",
            )
        run(conn, 'UPDATE organization SET "stripeCustomerId" = :cus WHERE id = :id', cus="cus_1", id="org_1")

    with server.connect() as conn:
        org = run(
            conn,
            'SELECT plan_tier, trial_ends_at, "stripeCustomerId", stripe_customer_id, workspace_status,'
            " suspension_source, plan_override_until, byot FROM organization WHERE id = 'org_1'",
        ).one()
        seats = run(conn, 'SELECT COUNT(*) FROM member WHERE "organizationId" = :org', org="org_1").scalar_one()
        pending = run(
            conn,
            'SELECT COUNT(*) FROM invitation WHERE "organizationId" = :org'
            " AND status = 'pending' AND \"expiresAt\" > :now",
            org="org_1",
            now=NOW,
        ).scalar_one()
        role = run(conn, "SELECT role FROM \"user\" WHERE id = 'u_owner'").scalar_one()
        grants = run(conn, "SELECT user_id, org_id FROM user_trial_grants").all()
        locked = run(conn, "SELECT plan_tier FROM organization WHERE id = 'org_2'").scalar_one()
    assert org.plan_tier == "trial"
    assert UTCDateTime().process_result_value(org.trial_ends_at, conn.dialect) == NOW + timedelta(days=11)
    assert (org.stripeCustomerId, org.stripe_customer_id) == ("cus_1", None)
    assert (org.workspace_status, org.suspension_source, org.plan_override_until, bool(org.byot)) == (
        "active",
        None,
        None,
        False,
    )
    assert (seats, pending, role, grants, locked) == (1, 1, "platform_admin", [("u_owner", "org_1")], "locked")


def test_subscription_rows_and_the_billing_period(server: Database) -> None:
    with server.begin() as conn:
        seed_workspace(conn)
        for sub_id, status, start in (
            ("sub_old", "canceled", NOW - timedelta(days=60)),
            ("sub_live", "active", NOW - timedelta(days=10)),
        ):
            run(
                conn,
                'INSERT INTO subscription (id, plan, "referenceId", "stripeCustomerId", "stripeSubscriptionId", status,'
                ' "periodStart", "periodEnd", "trialStart", "trialEnd", "cancelAtPeriodEnd", "cancelAt", "canceledAt",'
                ' "endedAt", seats, "billingInterval")'
                " VALUES (:id, :plan, :ref, :cus, :sub, :status, :start, :end, NULL, NULL, :cape, NULL, NULL, NULL,"
                " :seats, :interval)",
                id=f"row_{sub_id}",
                plan="starter",
                ref="org_1",
                cus="cus_1",
                sub=sub_id,
                status=status,
                start=start,
                end=start + timedelta(days=30),
                cape=False,
                seats=1,
                interval="month",
            )
    with server.connect() as conn:
        newest_active = sa.text(
            'SELECT "periodStart", "periodEnd" FROM subscription WHERE "referenceId" = :org AND status = \'active\''
            ' ORDER BY "periodStart" DESC NULLS LAST LIMIT 1'
        ).columns(periodStart=UTCDateTime, periodEnd=UTCDateTime)
        start, end = conn.execute(newest_active, {"org": "org_1"}).one()
        other_live = run(
            conn,
            "SELECT id FROM subscription WHERE \"referenceId\" = :org AND status IN ('active', 'trialing')"
            ' AND "stripeSubscriptionId" IS DISTINCT FROM :sub LIMIT 1',
            org="org_1",
            sub="sub_live",
        ).all()
    assert (start, end) == (NOW - timedelta(days=10), NOW + timedelta(days=20))
    assert other_live == []


def test_usage_events_and_summaries(server: Database) -> None:
    insert_event = (
        "INSERT INTO usage_events (workspace_id, user_id, event_type, quantity, gateway_cost_usd, metadata)"
        " VALUES (:ws, :user, :type, :quantity, :cost, :metadata)"
    )
    with server.begin() as conn:
        seed_workspace(conn)
        run(conn, insert_event, ws="org_1", user="u_owner", type="query", quantity=1, cost=None, metadata=None)
        run(
            conn,
            insert_event,
            ws="org_1",
            user="u_owner",
            type="token",
            quantity=12_000,
            cost=0.012345,
            metadata=json.dumps({"model": "m", "inputTokens": 9000, "outputTokens": 3000}),
        )
        run(conn, insert_event, ws="org_1", user="u_owner", type="token", quantity=500, cost=None, metadata=None)
        run(conn, insert_event, ws=None, user="u_owner", type="login", quantity=1, cost=None, metadata=None)
        run(conn, insert_event, ws="org_1", user="u_owner", type="login", quantity=1, cost=None, metadata=None)
        # The server stamps created_at with now(); pin it so nothing here follows the real clock.
        run(conn, "UPDATE usage_events SET created_at = :t", t=NOW - timedelta(hours=1))
        aggregate = (
            "INSERT INTO usage_summaries (workspace_id, period, period_start, query_count, token_count, active_users,"
            " storage_bytes)"
            " SELECT :ws, :period, :start,"
            " COALESCE(SUM(CASE WHEN event_type = 'query' THEN quantity ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN event_type = 'token' THEN quantity ELSE 0 END), 0),"
            " COALESCE(COUNT(DISTINCT CASE WHEN event_type = 'login' THEN user_id END), 0),"
            " 0"
            " FROM usage_events WHERE workspace_id = :ws AND created_at >= :start AND created_at < :end"
            " ON CONFLICT (workspace_id, period, period_start) DO UPDATE SET"
            " query_count = EXCLUDED.query_count, token_count = EXCLUDED.token_count,"
            " active_users = EXCLUDED.active_users, updated_at = CURRENT_TIMESTAMP"
        )
        for _ in range(2):
            run(conn, aggregate, ws="org_1", period="monthly", start=MONTH_START, end=MONTH_END)

    with server.connect() as conn:
        usage = run(
            conn,
            "SELECT COALESCE(SUM(CASE WHEN event_type = 'token' THEN quantity ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN event_type = 'token' THEN gateway_cost_usd ELSE 0 END), 0),"
            " COUNT(*) FILTER (WHERE event_type = 'token' AND gateway_cost_usd IS NULL)"
            " FROM usage_events WHERE workspace_id = :ws AND created_at >= :start AND created_at < :end",
            ws="org_1",
            start=MONTH_START,
            end=MONTH_END,
        ).one()
        outside = run(conn, "SELECT COUNT(*) FROM usage_events WHERE workspace_id IS NULL").scalar_one()
        summary = run(
            conn, "SELECT query_count, token_count, active_users, storage_bytes, id FROM usage_summaries"
        ).all()
        metadata = run(conn, "SELECT metadata FROM usage_events WHERE gateway_cost_usd IS NOT NULL").scalar_one()
    tokens, cost, uncosted = usage
    assert (tokens, round(float(cost), 6), uncosted, outside) == (12_500, 0.012345, 1, 1)
    assert [row[:4] for row in summary] == [(1, 12_500, 1, 0)]
    assert len(str(summary[0].id)) == 36
    assert (metadata if isinstance(metadata, dict) else json.loads(metadata))["model"] == "m"


def test_plugin_installs_and_what_counts_toward_caps(server: Database) -> None:
    with server.begin() as conn:
        config = "CAST(:config AS jsonb)" if postgres(conn) else ":config"
        datasource = (
            "INSERT INTO workspace_plugins"
            " (id, workspace_id, catalog_id, install_id, pillar, config, enabled, status, installed_at, updated_at)"
            f" VALUES (:id, :ws, :catalog, :install, 'datasource', {config}, true, 'draft', CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP)"
            " ON CONFLICT (workspace_id, catalog_id, install_id) DO UPDATE"
            " SET config = EXCLUDED.config, enabled = true, updated_at = CURRENT_TIMESTAMP RETURNING id"
        )
        singleton = (
            "INSERT INTO workspace_plugins"
            " (id, workspace_id, catalog_id, install_id, pillar, config, enabled, installed_at, installed_by)"
            f" VALUES (:id, :ws, :catalog, :id, :pillar, {config}, true, CURRENT_TIMESTAMP, :by)"
            " ON CONFLICT (workspace_id, catalog_id) WHERE pillar IN ('chat', 'action')"
            " DO UPDATE SET config = EXCLUDED.config, enabled = true RETURNING id"
        )
        ids = [
            run(conn, datasource, id="wp1", ws="org_1", catalog="catalog:postgres", install="prod", config="{}"),
            run(conn, datasource, id="wp2", ws="org_1", catalog="catalog:postgres", install="prod", config='{"a": 1}'),
            run(conn, datasource, id="wp3", ws="org_1", catalog="catalog:postgres", install="old", config="{}"),
            run(conn, singleton, id="wp4", ws="org_1", catalog="catalog:slack", pillar="chat", config="{}", by="u1"),
            run(conn, singleton, id="wp5", ws="org_1", catalog="catalog:slack", pillar="chat", config="{}", by="u1"),
            run(
                conn,
                singleton,
                id="wp6",
                ws="org_1",
                catalog="catalog:zendesk",
                pillar="knowledge",
                config="{}",
                by="u1",
            ),
        ]
        assert [r.scalar_one() for r in ids] == ["wp1", "wp1", "wp3", "wp4", "wp4", "wp6"]
        run(conn, "UPDATE workspace_plugins SET status = 'archived', updated_at = CURRENT_TIMESTAMP WHERE id = 'wp3'")

    counts: dict[str, int] = {}
    with server.connect() as conn:
        for pillar in ("datasource", "chat", "knowledge"):
            counts[pillar] = run(
                conn,
                "SELECT COUNT(*) FROM workspace_plugins WHERE workspace_id = :ws AND pillar = :pillar"
                " AND status <> 'archived'",
                ws="org_1",
                pillar=pillar,
            ).scalar_one()
        status = run(conn, "SELECT status, enabled FROM workspace_plugins WHERE id = 'wp1'").one()
    assert counts == {"datasource": 1, "chat": 1, "knowledge": 1}
    assert (status.status, bool(status.enabled)) == ("draft", True)


def test_settings_platform_and_workspace_rows(server: Database) -> None:
    workspace_row = (
        "INSERT INTO settings (key, value, updated_at, updated_by, org_id)"
        " VALUES (:key, :value, CURRENT_TIMESTAMP, :by, :org)"
        " ON CONFLICT (key, org_id) WHERE org_id IS NOT NULL"
        " DO UPDATE SET value = :value, updated_at = CURRENT_TIMESTAMP, updated_by = :by"
    )
    platform_row = (
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES (:key, :value, CURRENT_TIMESTAMP, :by)"
        " ON CONFLICT (key) WHERE org_id IS NULL"
        " DO UPDATE SET value = :value, updated_at = CURRENT_TIMESTAMP, updated_by = :by"
    )
    with server.begin() as conn:
        run(conn, platform_row, key="ATLAS_SPEND_POLICY", value="continue", by="u_admin")
        run(conn, platform_row, key="ATLAS_SPEND_POLICY", value="cutoff", by="u_admin")
        run(conn, platform_row, key="STRIPE_STARTER_PRICE_ID", value="price_starter", by=None)
        run(conn, workspace_row, key="ATLAS_ABUSE_CEILING", value="300", by="u_owner", org="org_1")
        run(conn, workspace_row, key="ATLAS_ABUSE_CEILING", value="800", by="u_owner", org="org_1")
        run(conn, workspace_row, key="ATLAS_SPEND_POLICY", value="continue", by="u_owner", org="org_1")

    lookup = (
        "SELECT value FROM settings WHERE key = :key AND (org_id = :org OR org_id IS NULL)"
        " ORDER BY CASE WHEN org_id IS NULL THEN 1 ELSE 0 END LIMIT 1"
    )
    with server.connect() as conn:
        rows = run(conn, "SELECT key, value, org_id FROM settings ORDER BY key, org_id NULLS LAST").all()
        resolved = {
            (key, org): run(conn, lookup, key=key, org=org).scalar_one_or_none()
            for key in ("ATLAS_SPEND_POLICY", "ATLAS_ABUSE_CEILING")
            for org in ("org_1", "org_2")
        }
    assert [tuple(r) for r in rows] == [
        ("ATLAS_ABUSE_CEILING", "800", "org_1"),
        ("ATLAS_SPEND_POLICY", "continue", "org_1"),
        ("ATLAS_SPEND_POLICY", "cutoff", None),
        ("STRIPE_STARTER_PRICE_ID", "price_starter", None),
    ]
    assert resolved == {
        ("ATLAS_SPEND_POLICY", "org_1"): "continue",
        ("ATLAS_SPEND_POLICY", "org_2"): "cutoff",
        ("ATLAS_ABUSE_CEILING", "org_1"): "800",
        ("ATLAS_ABUSE_CEILING", "org_2"): None,
    }


def test_the_webhook_ledger_records_an_event_once(server: Database) -> None:
    record = (
        "INSERT INTO stripe_webhook_events (event_id, event_type, event_created, stripe_subscription_id,"
        " applied_plan_tier) VALUES (:id, :type, :created, :sub, :tier) ON CONFLICT (event_id) DO NOTHING"
    )
    created = datetime.fromtimestamp(int((NOW - timedelta(minutes=5)).timestamp()), NOW.tzinfo)
    with server.begin() as conn:
        for tier in ("pro", "business"):  # a redelivery changes nothing
            run(conn, record, id="evt_1", type="customer.subscription.updated", created=created, sub="sub_1", tier=tier)
        run(conn, record, id="evt_2", type="invoice.paid", created=created, sub="sub_1", tier=None)

    with server.connect() as conn:
        rows = run(
            conn,
            "SELECT event_id, event_type, stripe_subscription_id, applied_plan_tier FROM stripe_webhook_events"
            " ORDER BY event_id",
        ).all()
        duplicate = run(
            conn, "SELECT event_id FROM stripe_webhook_events WHERE event_id = :id LIMIT 1", id="evt_1"
        ).all()
        newer = run(
            conn,
            "SELECT event_id FROM stripe_webhook_events WHERE stripe_subscription_id = :sub"
            " AND event_type IN ('checkout.session.completed', 'customer.subscription.created',"
            " 'customer.subscription.updated', 'customer.subscription.deleted')"
            " AND (event_created > :created OR (event_created = :created"
            " AND event_type = 'customer.subscription.deleted')) LIMIT 1",
            sub="sub_1",
            created=created - timedelta(seconds=1),
        ).all()
        stamped = run(conn, "SELECT processed_at FROM stripe_webhook_events WHERE event_id = 'evt_1'").scalar_one()
    assert [tuple(r) for r in rows] == [
        ("evt_1", "customer.subscription.updated", "sub_1", "pro"),
        ("evt_2", "invoice.paid", "sub_1", None),
    ]
    assert duplicate == [("evt_1",)] and newer == [("evt_1",)]
    assert stamped is not None


def overage_identifier(org_id: str, period_start: datetime, baseline_cents: int) -> str:
    """The meter-event identifier the server sends: keyed on the period's epoch milliseconds and
    the cumulative already reported (the baseline), so a resend of the same delta is a no-op."""
    digest = hashlib.sha256(f"{org_id}|{int(period_start.timestamp() * 1000)}|{baseline_cents}".encode())
    return "atlas-overage-" + digest.hexdigest()[:32]


def test_overage_reports_are_cumulative_and_never_regress(server: Database) -> None:
    with server.begin() as conn:
        greatest = "GREATEST" if postgres(conn) else "max"
        record = (
            "INSERT INTO overage_meter_reports"
            " (org_id, period_start, stripe_customer_id, reported_cost_cents, last_event_identifier, updated_at)"
            " VALUES (:org, :start, :cus, :cents, :ident, CURRENT_TIMESTAMP)"
            " ON CONFLICT (org_id, period_start) DO UPDATE SET"
            f" reported_cost_cents = {greatest}(overage_meter_reports.reported_cost_cents,"
            " EXCLUDED.reported_cost_cents),"
            " stripe_customer_id = EXCLUDED.stripe_customer_id,"
            " last_event_identifier = EXCLUDED.last_event_identifier, updated_at = CURRENT_TIMESTAMP"
        )
        for baseline, cumulative in ((0, 1235), (1235, 1500), (0, 900)):  # the last one is a late retry
            ident = overage_identifier("org_1", MONTH_START, baseline)
            run(conn, record, org="org_1", start=MONTH_START, cus="cus_1", cents=cumulative, ident=ident)

    with server.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT org_id, period_start, stripe_customer_id, reported_cost_cents, reported_tokens,"
                " last_event_identifier FROM overage_meter_reports"
            ).columns(period_start=UTCDateTime)
        ).one()
    assert tuple(row[:5]) == ("org_1", MONTH_START, "cus_1", 1500, 0)
    assert row.last_event_identifier == overage_identifier("org_1", MONTH_START, 0)
    assert row.last_event_identifier.startswith("atlas-overage-") and len(row.last_event_identifier) == 46
