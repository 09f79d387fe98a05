"""atlas on a database created by the Atlas server's own DDL, not by atlas's migrations."""

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from tests.cli.conftest import Atlas
from tests.factories import NOW

DDL = (Path(__file__).parent.parent / "fixtures" / "atlas_server_schema.sql").read_text()


@pytest.fixture
def server_db(pg_url):
    db = Database(pg_url)
    with db.begin() as conn:
        conn.exec_driver_sql(DDL)
        conn.execute(
            sa.text(
                'INSERT INTO organization (id, name, slug, "createdAt", plan_tier, stripe_customer_id)'
                " VALUES ('org_1', 'Acme', 'acme', :created, 'team', 'cus_1'),"
                " ('org_2', 'Trialco', 'trialco', :old, 'trial', NULL)"
            ),
            {"created": NOW - timedelta(days=90), "old": NOW - timedelta(days=30)},
        )
        conn.execute(
            sa.text("INSERT INTO \"user\" (id, name, email, role) VALUES ('u1', 'Ann', 'ann@acme.test', 'admin,user')")
        )
        conn.execute(
            sa.text(
                "INSERT INTO member (id, \"organizationId\", \"userId\", role) VALUES ('m1', 'org_1', 'u1', 'owner')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO usage_events (workspace_id, user_id, event_type, quantity, created_at) "
                "SELECT 'org_1', 'u1', 'query', 1, :t - (g * interval '1 minute') FROM generate_series(1, 8200) g"
            ),
            {"t": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO usage_events (workspace_id, user_id, event_type, quantity, metadata, created_at)"
                " VALUES ('org_1', 'u1', 'token', 1200000, '{\"model\": \"x\"}', :t),"
                " ('org_1', 'u1', 'login', 1, NULL, :t)"
            ),
            {"t": NOW - timedelta(hours=2)},
        )
    yield db
    db.dispose()


def test_read_commands_work_on_the_server_schema(server_db):
    atlas = Atlas(server_db.url)
    show = atlas.json("usage", "show", "-w", "acme")
    assert (show["workspaceId"], show["queryCount"], show["tokenCount"], show["activeUsers"]) == (
        "org_1",
        8200,
        1_200_000,
        1,
    )
    assert atlas.json("billing", "check", "-w", "acme")["status"] == "warning"
    assert atlas("billing", "check", "-w", "trialco").exit_code == 13
    history = atlas.json("usage", "history", "-w", "org_1", "--period", "daily", "--limit", "10")
    assert sum(s["query_count"] for s in history["summaries"]) == 8200
    users = atlas.json("usage", "breakdown", "-w", "acme")["users"]
    assert users == [
        {
            "user_id": "u1",
            "query_count": 8200,
            "token_count": 1_200_000,
            "login_count": 1,
            "email": "ann@acme.test",
            "name": "Ann",
        }
    ]
    assert [w["id"] for w in atlas.json("workspace", "list")] == ["org_1", "org_2"]
    assert atlas.json("workspace", "show", "acme")["members"] == 1


def test_db_upgrade_adds_only_what_is_missing(server_db):
    atlas = Atlas(server_db.url)
    before = atlas.json("db", "status", code=5)
    assert before["lockedTierAllowed"] is False and before["revision"] is None
    with server_db.connect() as conn:
        ddl_before = (
            conn.execute(
                sa.text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname LIKE 'organization_%'"
                    " ORDER BY conname"
                )
            )
            .scalars()
            .all()
        )
    after = atlas.json("db", "upgrade")
    assert after["ready"] is True and after["lockedTierAllowed"] is False
    with server_db.connect() as conn:
        ddl_after = (
            conn.execute(
                sa.text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname LIKE 'organization_%'"
                    " ORDER BY conname"
                )
            )
            .scalars()
            .all()
        )
        names = set(sa.inspect(conn).get_table_names())
    assert ddl_after == ddl_before
    assert {"atlas_audit_log", "atlas_alembic_version"} <= names
    assert json.dumps(after).count("incompatible") == 0


def test_read_commands_never_change_the_schema(server_db):
    with server_db.connect() as conn:
        before = set(sa.inspect(conn).get_table_names())
    atlas = Atlas(server_db.url)
    for args in (
        ["usage", "show", "-w", "acme"],
        ["billing", "status", "-w", "acme"],
        ["db", "status"],
        ["workspace", "list"],
        ["trial", "status", "-w", "acme"],
    ):
        atlas(*args)
    with server_db.connect() as conn:
        assert set(sa.inspect(conn).get_table_names()) == before


def test_tables_atlas_creates_take_the_servers_own_inserts(db_url):
    """`db init` gives Atlas's tables the server's column defaults, so a server can write to them."""
    db = Database(db_url, create=True)
    try:
        result = Atlas(db_url)("db", "init")
        assert result.exit_code == 0, result.output + result.stderr
        with db.begin() as conn:
            conn.execute(sa.text("INSERT INTO organization (id, name, slug) VALUES ('org_1', 'Acme', 'acme')"))
            conn.execute(sa.text("INSERT INTO \"user\" (id, name, email) VALUES ('u1', 'Ann', 'ann@acme.test')"))
            conn.execute(
                sa.text("INSERT INTO member (id, \"organizationId\", \"userId\") VALUES ('m1', 'org_1', 'u1')")
            )
            conn.execute(sa.text("INSERT INTO usage_events (workspace_id, event_type) VALUES ('org_1', 'query')"))
            conn.execute(sa.text("INSERT INTO usage_events (workspace_id, event_type) VALUES ('org_1', 'login')"))
            conn.execute(
                sa.text(
                    "INSERT INTO usage_summaries (workspace_id, period, period_start) VALUES ('org_1', 'daily', :d)"
                ),
                {"d": NOW},
            )
            conn.execute(sa.text("INSERT INTO invitations (org_id, email) VALUES ('org_1', 'new@acme.test')"))
            ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM usage_events"))]
            metadata = [row[0] for row in conn.execute(sa.text("SELECT metadata FROM usage_events"))]
            summary_id = conn.execute(sa.text("SELECT id FROM usage_summaries")).scalar_one()
            invitation_id = conn.execute(sa.text("SELECT id FROM invitations")).scalar_one()
            created = conn.execute(sa.text('SELECT "createdAt" FROM organization')).scalar_one()
        uuids = [uuid.UUID(str(value)) for value in [*ids, summary_id, invitation_id]]
        assert len(set(uuids)) == 4 and all(u.version == 4 for u in uuids)
        assert all(m in ({}, "{}") for m in metadata) and created is not None
    finally:
        db.dispose()
