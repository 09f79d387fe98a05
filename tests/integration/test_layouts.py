"""The layout of each billing model (atlas_cli/db/layout.py): counters, settings and meters, on the
tables each server generation lays out, on both engines."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from atlas_cli.catalogs import builtin
from atlas_cli.db.database import Database
from atlas_cli.db.layout import Layout, PerSeatLayout, meter_totals
from atlas_cli.domain.periods import Window
from tests import factories, per_seat
from tests.factories import NOW
from tests.integration.test_per_seat_schema import run, seed_workspace

WINDOW = Window(NOW - timedelta(days=10), NOW + timedelta(days=10))


@pytest.fixture
def server(db_url: str):
    per_seat.lay_out(db_url)
    db = Database(db_url)
    with db.begin() as conn:
        seed_workspace(conn)
    yield db
    db.dispose()


def _invite(conn, n: int, status: str, expires) -> None:
    run(
        conn,
        'INSERT INTO invitation (id, "organizationId", email, role, status, "expiresAt", "inviterId")'
        " VALUES (:id, 'org_1', :email, 'member', :status, :expires, 'u_owner')",
        id=f"inv_{n}",
        email=f"i{n}@acme.test",
        status=status,
        expires=expires,
    )


def _plugin(conn, n: int, pillar: str, status: str) -> None:
    run(
        conn,
        "INSERT INTO workspace_plugins (id, workspace_id, catalog_id, install_id, pillar, status, config)"
        " VALUES (:id, 'org_1', :catalog, :install, :pillar, :status, '{}')",
        id=f"wp_{n}",
        catalog=f"catalog:{pillar}{n}",
        install=f"install_{n}",
        pillar=pillar,
        status=status,
    )


def test_per_seat_counters(server):
    with server.begin() as conn:
        _invite(conn, 1, "pending", NOW + timedelta(hours=1))
        _invite(conn, 2, "pending", NOW)  # expires now: no longer counts
        _invite(conn, 3, "accepted", NOW + timedelta(hours=1))
        for n, (pillar, status) in enumerate(
            [("datasource", "published"), ("datasource", "draft"), ("datasource", "archived"), ("chat", "published"),
             ("knowledge", "archived"), ("action", "published")]
        ):  # fmt: skip
            _plugin(conn, n, pillar, status)
    with server.connect() as conn:
        counts = PerSeatLayout().counts(conn, "org_1", NOW)
    assert counts == {
        "members": 1, "pending_invitations": 1, "seats": 2, "connections": 2, "chat": 1, "knowledge": 0
    }  # fmt: skip


def test_per_seat_settings_workspace_row_before_platform_row(server):
    with server.begin() as conn:
        for key, value, org in [
            ("ATLAS_SPEND_POLICY", "cutoff", None),
            ("ATLAS_SPEND_POLICY", "continue", "org_1"),
            ("ATLAS_ABUSE_CEILING", "300", None),
            ("ATLAS_ABUSE_CEILING", "900", "org_other"),
        ]:
            run(conn, "INSERT INTO settings (key, value, org_id) VALUES (:k, :v, :o)", k=key, v=value, o=org)
    with server.connect() as conn:
        found = PerSeatLayout().settings(conn, "org_1", ["ATLAS_SPEND_POLICY", "ATLAS_ABUSE_CEILING", "NOPE"])
    assert found == {"ATLAS_SPEND_POLICY": "continue", "ATLAS_ABUSE_CEILING": "300", "NOPE": None}


def test_per_seat_meters_sum_costs_exactly(server):
    catalog = builtin("per-seat")
    with server.begin() as conn:
        for n, (kind, quantity, cost, at) in enumerate(
            [("token", 1000, "0.100001", NOW), ("token", 500, "0.200002", NOW), ("token", 7, None, NOW),
             ("query", 3, None, NOW), ("login", 1, None, NOW), ("token", 9, "5", NOW - timedelta(days=11))]
        ):  # fmt: skip
            run(
                conn,
                "INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, gateway_cost_usd,"
                " created_at) VALUES (:id, 'org_1', 'u_owner', :t, :q, :c, :at)",
                id=f"00000000-0000-4000-8000-{n:012d}",
                t=kind,
                q=quantity,
                c=cost,
                at=at,
            )
    meters = {f.key: f.meter for f in catalog.of_kind("metered") if f.meter}
    with server.connect() as conn:
        totals = meter_totals(conn, PerSeatLayout(), "org_1", WINDOW, meters)
    assert totals == {"active_users": 1, "usd": Decimal("0.300003"), "tokens": 1507, "queries": 3}


def test_classic_layout_counts_members_invitations_connections(db_url):
    db = factories.migrated(db_url)
    with db.begin() as conn:
        factories.workspace(conn, "acme")
    with db.connect() as conn:
        counts = Layout().counts(conn, "acme", NOW)
        assert PerSeatLayout().settings is not None and Layout().settings(conn, "acme", ["X"]) == {"X": None}
    db.dispose()
    assert set(counts) == {"members", "pending_invitations", "seats", "connections"}
