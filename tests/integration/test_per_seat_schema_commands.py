"""`db status`, `doctor`, `config show`, `db upgrade`, `db init --billing-model` and `demo
--billing-model` on both billing models' layouts, on both engines."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from atlas_cli.db.layout import detect
from tests import factories
from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas


@pytest.fixture
def server(db_url):
    db = ps.database(db_url)
    yield db
    db.dispose()


def tables_of(db: Database) -> set[str]:
    with db.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def columns_of(db: Database, table: str) -> list[tuple[str, bool, str | None]]:
    with db.connect() as conn:
        cols = sa.inspect(conn).get_columns(table)
    return [(c["name"], bool(c["nullable"]), None if c.get("default") is None else str(c["default"])) for c in cols]


def drop_tier_check(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
    else:
        conn.exec_driver_sql("ALTER TABLE organization DROP CONSTRAINT chk_plan_tier")


# --- db status, doctor and config show say which model and why -------------------------------


def test_db_status_on_a_per_seat_server_checks_its_tables_not_the_classic_ones(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="pro")
    atlas = Atlas(server.url)
    result = atlas("db", "status", "--json")
    body = json.loads(result.stdout)
    assert body["billingModel"] == "per-seat"
    assert body["billingModelReason"] == "the organization.plan_tier constraint lists 'starter'"
    states = {t["name"]: t["state"] for t in body["tables"]}
    server_tables = {"organization", "user", "member", "invitation", "workspace_plugins", "settings",
                     "user_trial_grants", "stripe_webhook_events", "overage_meter_reports", "usage_events",
                     "usage_summaries", "subscription"}  # fmt: skip
    assert {name for name, state in states.items() if state == "present"} == server_tables
    assert "connections" not in states and "invitations" not in states
    assert states["atlas_audit_log"] == "missing"  # atlas's own: `db upgrade` adds them
    assert body["unknownTiers"] == [] and body["ready"] is False and result.exit_code == 5
    assert atlas("db", "upgrade").exit_code == 0
    ready = atlas("db", "status", "--json")
    assert ready.exit_code == 0 and json.loads(ready.stdout)["ready"] is True
    table = atlas("db", "status")
    assert "Billing model: per-seat (the organization.plan_tier constraint lists 'starter')" in table.stdout


def test_db_status_on_classic_names_the_model_and_reason(db_url):
    db = factories.migrated(db_url)
    body = Atlas(db.url).json("db", "status")
    assert body["billingModel"] == "classic" and body["ready"] is True
    assert body["billingModelReason"] == "the organization.plan_tier constraint lists no per-seat tier ('starter')"
    assert {"connections", "invitations"} <= {t["name"] for t in body["tables"]}
    db.dispose()


def test_the_override_is_the_reason(server, monkeypatch):
    monkeypatch.setenv("ATLAS_BILLING_MODEL", "classic")
    body = json.loads(Atlas(server.url)("db", "status", "--json").stdout)
    assert body["billingModel"] == "classic"
    assert body["billingModelReason"] == "ATLAS_BILLING_MODEL=classic overrides detection"
    states = {t["name"]: t["state"] for t in body["tables"]}
    assert states["connections"] == "missing"  # what a classic database would need


def test_unknown_tiers_are_named_by_db_status_and_doctor(server):
    with server.begin() as conn:
        drop_tier_check(conn)
        ps.workspace(conn, "acme", tier="team")  # a classic tier, left behind
        ps.workspace(conn, "globex", tier="enterprise")
        ps.workspace(conn, "hooli", tier="pro")
    atlas = Atlas(server.url)
    assert atlas("db", "upgrade").exit_code == 0
    result = atlas("db", "status", "--json")
    body = json.loads(result.stdout)
    assert result.exit_code == 5 and body["ready"] is False
    assert body["unknownTiers"] == [{"workspaceId": "acme", "tier": "team"},
                                    {"workspaceId": "globex", "tier": "enterprise"}]  # fmt: skip
    table = atlas("db", "status")
    assert table.exit_code == 5
    assert "Workspace acme is on the tier 'team', unknown to the per-seat model." in table.stdout
    doctor = atlas("doctor", "--json")
    assert doctor.exit_code == 5
    report = json.loads(doctor.stdout)
    assert report["billingModel"] == "per-seat" and report["ok"] is False
    schema = next(c for c in report["checks"] if c["check"] == "schema")
    assert schema["status"] == "failed"
    assert "acme (team), globex (enterprise)" in schema["detail"]
    assert "atlas workspace set-plan" in schema["fix"] and "starter" in schema["fix"]


def test_doctor_on_a_per_seat_server(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="pro")
    atlas = Atlas(server.url)
    assert atlas("db", "upgrade").exit_code == 0
    report = atlas.json("doctor")
    assert report["ok"] is True
    assert (report["billingModel"], report["billingModelReason"]) == (
        "per-seat",
        "the organization.plan_tier constraint lists 'starter'",
    )
    schema = next(c for c in report["checks"] if c["check"] == "schema")
    assert schema["detail"].startswith("per-seat billing model (the organization.plan_tier constraint lists")


def test_doctor_on_classic(db_url):
    db = factories.migrated(db_url)
    report = Atlas(db.url).json("doctor")
    assert report["billingModel"] == "classic" and report["ok"] is True
    db.dispose()


def test_config_show_names_the_override_and_the_model_that_applies(server, monkeypatch):
    atlas = Atlas(server.url)
    rows = {r["name"]: r for r in atlas.json("config", "show")}
    assert rows["ATLAS_BILLING_MODEL"]["value"] is None
    assert rows["billingModel"] == {
        "name": "billingModel",
        "value": "per-seat",
        "source": "the organization.plan_tier constraint lists 'starter'",
    }
    monkeypatch.setenv("ATLAS_BILLING_MODEL", "classic")
    rows = {r["name"]: r for r in atlas.json("config", "show")}
    assert rows["ATLAS_BILLING_MODEL"] == {"name": "ATLAS_BILLING_MODEL", "value": "classic", "source": "env"}
    assert rows["billingModel"]["value"] == "classic"


def test_config_show_never_fails_on_the_database(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "atlas.db"
    rows = {r["name"]: r for r in Atlas(f"sqlite:///{missing}").json("config", "show")}
    assert rows["billingModel"]["value"] is None and rows["billingModel"]["source"].startswith("not known: ")
    assert not missing.exists()
    monkeypatch.setenv("ATLAS_BILLING_MODEL", "metered")
    db = factories.migrated(f"sqlite:///{tmp_path / 'x.db'}")
    rows = {r["name"]: r for r in Atlas(db.url).json("config", "show")}
    db.dispose()
    assert rows["billingModel"]["value"] is None
    assert "'metered' is not a billing model" in rows["billingModel"]["source"]


# --- db upgrade adds only atlas_ objects on a per-seat server ---------------------------------


def test_db_upgrade_on_a_per_seat_server_creates_only_atlas_tables(server):
    before = tables_of(server)
    shapes = {name: columns_of(server, name) for name in before}
    atlas = Atlas(server.url)
    assert atlas("db", "upgrade").exit_code == 0
    after = tables_of(server)
    added = after - before
    assert added and all(name.startswith("atlas_") for name in added)
    assert "connections" not in after and "invitations" not in after
    assert {name: columns_of(server, name) for name in before} == shapes  # nothing of the server's altered
    assert atlas("db", "upgrade").exit_code == 0 and tables_of(server) == after


def test_db_upgrade_on_classic_still_completes_the_classic_tables(db_url):
    db = Database(db_url, create=True)
    with db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE organization (id text PRIMARY KEY, name text NOT NULL, slug text,"
                             " plan_tier text NOT NULL DEFAULT 'free')"))  # fmt: skip
    assert Atlas(db.url)("db", "upgrade").exit_code == 0
    assert {"connections", "invitations", "member", "usage_events"} <= tables_of(db)
    db.dispose()


# --- db init --billing-model per-seat -----------------------------------------------------------


def test_db_init_per_seat_lays_out_a_per_seat_server(db_url):
    atlas = Atlas(db_url)
    result = atlas("db", "init", "--billing-model", "per-seat", "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["billingModel"] == "per-seat" and body["ready"] is True
    db = Database(db_url)
    tables = tables_of(db)
    assert {"invitation", "workspace_plugins", "settings", "user_trial_grants", "stripe_webhook_events",
            "overage_meter_reports", "atlas_audit_log", "atlas_alembic_version"} <= tables  # fmt: skip
    assert "connections" not in tables and "invitations" not in tables
    with db.connect() as conn:
        assert detect(conn).model == "per-seat"
        from atlas_cli.db.migrate import tier_values

        assert tier_values(conn) == ("free", "trial", "starter", "pro", "business", "locked")
        events = {c["name"]: c for c in sa.inspect(conn).get_columns("usage_events")}
    assert events["workspace_id"]["nullable"] is True and "gateway_cost_usd" in events
    # The server's own rows go in as the server writes them (every NOT NULL without a default named).
    with db.begin() as conn:
        ps.workspace(conn, "acme", tier="business", seats=2)
        ps.cost(conn, "acme", "3.5")
        ps.plugin(conn, "acme", "datasource")
        ps.invitation(conn, "acme")
        ps.setting(conn, "ATLAS_SPEND_POLICY", "cutoff", "acme")
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            ps.workspace(conn, "globex", tier="team")  # the CHECK refuses a classic tier
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            ps.setting(conn, "ATLAS_SPEND_POLICY", "continue", "acme")  # one row per key and workspace
    assert atlas.json("billing", "check", "-w", "acme")["billingModel"] == "per-seat"
    assert atlas("db", "init", "--billing-model", "per-seat").exit_code == 4
    assert atlas("db", "upgrade").exit_code == 0 and tables_of(db) == tables
    db.dispose()


def test_db_init_per_seat_matches_the_server_columns(db_url, make_pg_database, tmp_path):
    """Every column of the server's fixture, with its nullability, is what db init lays out."""
    Atlas(db_url)("db", "init", "--billing-model", "per-seat")
    fixture_url = f"sqlite:///{tmp_path / 'fixture.db'}" if db_url.startswith("sqlite") else make_pg_database()
    fixture = ps.database(fixture_url)
    ours = Database(db_url)
    for table in tables_of(fixture):
        theirs = [(name, nullable) for name, nullable, _default in columns_of(fixture, table)]
        assert [(name, nullable) for name, nullable, _default in columns_of(ours, table)] == theirs, table
    fixture.dispose()
    ours.dispose()


def test_db_init_default_stays_classic(db_url):
    atlas = Atlas(db_url)
    assert atlas.json("db", "init")["billingModel"] == "classic"
    assert "connections" in tables_of(Database(db_url))


def test_db_init_refuses_an_unknown_model(db_url):
    result = Atlas(db_url)("db", "init", "--billing-model", "metered")
    assert result.exit_code == 2 and result.stderr.startswith("Error: ")


# --- demo --billing-model per-seat ---------------------------------------------------------------


def test_demo_per_seat_builds_every_state(db_url):
    from atlas_cli.services.demo_per_seat import PER_SEAT_WORKSPACES

    atlas = Atlas(db_url)
    first = atlas("demo", "--billing-model", "per-seat")
    assert first.exit_code == 0, first.stderr
    assert f"Loaded {len(PER_SEAT_WORKSPACES)} demo workspaces" in first.stderr and "warning" in first.stdout
    assert "Usage credit" in first.stdout and "Seats" in first.stdout  # it ends as the classic demo: usage show
    states = {"ok", "warning", "metered", "hard_limit", "trial_expired", "subscription_required"}
    assert {ws.state for ws in PER_SEAT_WORKSPACES} == states
    codes = {"ok": 0, "warning": 0, "metered": 0, "hard_limit": 12, "trial_expired": 13, "subscription_required": 15}
    for ws in PER_SEAT_WORKSPACES:
        found = atlas.json("billing", "check", "-w", ws.slug, code=codes[ws.state])
        assert (ws.slug, found["status"], found["billingModel"]) == (ws.slug, ws.state, "per-seat")
        for resource in ("members", "connections"):
            capped = atlas("billing", "check", "-w", ws.slug, "--resource", resource)
            assert (capped.exit_code == 12) is (resource in ws.capped) or ws.state != "ok", (ws.slug, resource)
    assert {ws.slug for ws in PER_SEAT_WORKSPACES if ws.byot} == {"stark"}  # BYOT: allowed past its credit
    assert atlas.json("billing", "check", "-w", "initech", "--fail-on", "soft", code=11)["status"] == "metered"
    db = Database(db_url)
    with db.connect() as conn:
        assert detect(conn).model == "per-seat"
        counts = {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables_of(db)}
        trialing = conn.execute(sa.text("SELECT count(*) FROM subscription WHERE status = 'trialing'")).scalar()
        policy = conn.execute(sa.text("SELECT org_id, value FROM settings")).all()
    assert trialing == 1 and policy == [("ws_cyberdyne", "cutoff")]
    assert "connections" not in counts and "invitations" not in counts
    second = atlas("demo", "--billing-model", "per-seat")
    assert second.exit_code == 0 and "nothing was added" in second.stderr
    with db.connect() as conn:
        assert {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables_of(db)} == counts
    db.dispose()


def test_demo_does_not_mix_billing_models(db_url):
    atlas = Atlas(db_url)
    assert atlas("demo", "--billing-model", "per-seat").exit_code == 0
    classic = atlas("demo")
    assert classic.exit_code == 4 and "does not mix billing models" in classic.stderr


def test_demo_per_seat_refuses_a_classic_database(db_url):
    db = factories.migrated(db_url)
    result = Atlas(db.url)("demo", "--billing-model", "per-seat")
    assert result.exit_code == 4 and "holds a classic database" in result.stderr
    db.dispose()


def test_demo_per_seat_refuses_a_real_per_seat_database(server):
    with server.begin() as conn:
        ps.workspace(conn, "real")
    before = tables_of(server)
    result = Atlas(server.url)("demo", "--billing-model", "per-seat")
    assert result.exit_code == 4 and "only loads into the embedded database" in result.stderr
    assert tables_of(server) == before


def test_demo_per_seat_progress_is_determinate(db_url):
    from atlas_cli.services import Services

    db = Database(db_url, create=True)
    calls = []
    try:
        result = Services(db, factories.clock).demo.load(
            embedded=False, progress=lambda done, total: calls.append((done, total)), billing_model="per-seat"
        )
    finally:
        db.dispose()
    assert calls[0] == (0, result.events) and calls[-1] == (result.events, result.events)
    assert len(calls) > 5 and all(total == result.events for _, total in calls)
