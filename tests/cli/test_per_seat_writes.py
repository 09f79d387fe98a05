"""The writes on a database laid out by a per-seat Atlas server, on both engines (DESIGN 4b, 6):
who may change things (owners, admins, `platform_admin` exactly), `workspace set-plan` with the
per-seat tiers and the plan override, `trial start/extend/end` with one trial per user, BYOT,
their audit rows and dry runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from atlas_cli.db.per_seat_schema import organization, user_trial_grants
from atlas_cli.errors import Conflict
from tests import billing_factories as bf
from tests import factories
from tests import per_seat_factories as ps
from tests.factories import NOW

OVERRIDE_END = NOW + timedelta(days=90)


@pytest.fixture
def server(db_url: str) -> Database:
    """A per-seat server's database after `atlas db upgrade`, with workspace acme (tier trial,
    owner acme_u0, member acme_u1), an admin member, a platform admin and other global roles."""
    db = ps.database(db_url)
    cli = bf.Cli(db.url)
    assert cli("db", "upgrade").exit_code == 0
    with db.begin() as conn:
        ps.workspace(conn, "acme", tier="trial", seats=2, trial_ends_at=NOW + timedelta(days=3), customer="cus_acme")
        ps.user(conn, "ada")
        member(conn, "acme", "ada", "admin")
        ps.user(conn, "pam", role="platform_admin", email="pam@atlas.test")
        ps.user(conn, "old", role="admin")  # a classic global admin: no such role on per-seat
        ps.user(conn, "listy", role="platform_admin,member")  # per-seat roles are no lists
        ps.user(conn, "shouty", role="PLATFORM_ADMIN")  # nor case-folded
    yield db
    db.dispose()


@pytest.fixture
def cli(server: Database) -> bf.Cli:
    return bf.Cli(server.url)


def member(conn: Any, ws_id: str, user_id: str, role: str) -> None:
    ps.run(
        conn,
        'INSERT INTO member (id, "organizationId", "userId", role, "createdAt") VALUES (:id, :ws, :u, :role, :t)',
        id=f"m_{ws_id}_{user_id}",
        ws=ws_id,
        u=user_id,
        role=role,
        t=NOW - timedelta(days=30),
    )


def org(db: Database, ws_id: str) -> dict[str, Any]:
    with db.connect() as conn:
        return dict(conn.execute(sa.select(organization).where(organization.c.id == ws_id)).mappings().one())


def grants(db: Database) -> list[dict[str, Any]]:
    g = user_trial_grants.c
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(user_trial_grants).order_by(g.user_id)).mappings()]


def grant(db: Database, user_id: str, org_id: str) -> None:
    with db.begin() as conn:
        conn.execute(
            sa.insert(user_trial_grants).values(user_id=user_id, org_id=org_id, granted_at=NOW - timedelta(days=60))
        )


# --- who may change things ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "code"),
    [("acme_u0", 0), ("ada", 0), ("pam@atlas.test", 0), ("acme_u1", 8), ("old", 8), ("listy", 8), ("shouty", 8)],
)
def test_owners_admins_and_platform_admins_may_change_a_workspace(
    server: Database, cli: bf.Cli, actor: str, code: int
) -> None:
    args = ("billing", "byot", "--enable", "-w", "acme", "--as", actor)
    if code:
        assert "owner or admin required" in cli.fails(code, *args)
        assert org(server, "acme")["byot"] is False and bf.audit(server) == []
        return
    out = cli.json(*args)
    assert out["billingModel"] == "per-seat" and out["changed"] is True
    assert org(server, "acme")["byot"] is True
    (row,) = bf.audit(server)
    assert row["action"] == "billing.byot" and row["after"] == {"byot": True}


def test_byot_toggled_by_a_platform_admin_with_audit_rows(server: Database, cli: bf.Cli) -> None:
    on = cli.json("billing", "byot", "--enable", "-w", "acme", "--as", "pam")
    assert on["byot"] is True and on["actor"] == "pam@atlas.test"
    dry = cli.json("billing", "byot", "--disable", "-w", "acme", "--as", "pam", "--dry-run")
    assert dry["dryRun"] is True and dry["changed"] is True and dry["auditId"] is None
    assert org(server, "acme")["byot"] is True and len(bf.audit(server)) == 1
    off = cli.json("billing", "byot", "--disable", "-w", "acme", "--as", "pam")
    assert off["byot"] is False and org(server, "acme")["byot"] is False
    rows = bf.audit(server)
    assert sorted((r["before"]["byot"], r["after"]["byot"]) for r in rows) == [(False, True), (True, False)]
    assert all(r["actor"] == "pam@atlas.test" and r["created_at"] == NOW for r in rows)
    listed = cli.json("audit", "list", "-w", "acme")
    assert [e["action"] for e in listed] == ["billing.byot", "billing.byot"]


def test_a_deleted_per_seat_workspace_is_not_changed(server: Database, cli: bf.Cli) -> None:
    with server.begin() as conn:
        conn.execute(sa.update(organization).where(organization.c.id == "acme").values(workspace_status="deleted"))
    assert "deleted" in cli.fails(4, "billing", "byot", "--enable", "-w", "acme", "--as", "pam")


# --- workspace set-plan ------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["starter", "pro", "business"])
def test_set_plan_to_a_paid_tier_holds_an_override_for_90_days(server: Database, cli: bf.Cli, tier: str) -> None:
    out = cli.json("workspace", "set-plan", tier, "-w", "acme", "--as", "acme_u0")
    assert out["tier"] == tier and out["planOverrideUntil"] == "2027-02-20T15:30:00.000Z"
    assert out["billingModel"] == "per-seat"
    row = org(server, "acme")
    assert row["plan_tier"] == tier and row["plan_override_until"] == OVERRIDE_END
    assert row["stripeCustomerId"] == "cus_acme" and row["trial_ends_at"] == NOW + timedelta(days=3)
    (audit,) = bf.audit(server)
    assert audit["action"] == "workspace.set_plan" and audit["actor"] == "acme_u0@example.test"
    assert audit["before"] == {"tier": "trial", "planOverrideUntil": None}
    assert audit["after"] == {"tier": tier, "planOverrideUntil": "2027-02-20T15:30:00.000Z"}


def test_set_plan_again_renews_the_override_and_trial_clears_it(server: Database, cli: bf.Cli) -> None:
    with server.begin() as conn:
        conn.execute(
            sa.update(organization)
            .where(organization.c.id == "acme")
            .values(plan_tier="pro", plan_override_until=NOW + timedelta(days=1))
        )
    renewed = cli.json("workspace", "set-plan", "pro", "-w", "acme", "--as", "pam")
    assert renewed["after"] == {"planOverrideUntil": "2027-02-20T15:30:00.000Z"}
    assert org(server, "acme")["plan_override_until"] == OVERRIDE_END
    trial = cli.json("workspace", "set-plan", "trial", "-w", "acme", "--as", "pam")
    assert trial["after"] == {"tier": "trial", "planOverrideUntil": None}
    assert org(server, "acme")["plan_override_until"] is None
    locked = cli.json("workspace", "set-plan", "LOCKED", "-w", "acme", "--as", "pam")
    assert locked["tier"] == "locked" and org(server, "acme")["plan_override_until"] == OVERRIDE_END
    assert [r["action"] for r in bf.audit(server)] == ["workspace.set_plan"] * 3


def test_set_plan_dry_run_writes_nothing(server: Database, cli: bf.Cli) -> None:
    out = cli.json("workspace", "set-plan", "business", "-w", "acme", "--as", "ada", "--dry-run")
    assert out["dryRun"] is True and out["auditId"] is None
    assert out["after"] == {"tier": "business", "planOverrideUntil": "2027-02-20T15:30:00.000Z"}
    row = org(server, "acme")
    assert row["plan_tier"] == "trial" and row["plan_override_until"] is None and bf.audit(server) == []


@pytest.mark.parametrize("tier", ["team", "enterprise", "gold"])
def test_set_plan_refuses_a_tier_the_per_seat_model_does_not_know(server: Database, cli: bf.Cli, tier: str) -> None:
    err = cli.fails(2, "workspace", "set-plan", tier, "-w", "acme", "--as", "pam")
    assert f"'{tier}' is not a tier of the per-seat billing model" in err
    assert "free, trial, starter, pro, business, locked" in err
    assert org(server, "acme")["plan_tier"] == "trial" and bf.audit(server) == []


def test_set_plan_refused_to_a_plain_member(server: Database, cli: bf.Cli) -> None:
    cli.fails(8, "workspace", "set-plan", "pro", "-w", "acme", "--as", "acme_u1")
    cli.fails(8, "workspace", "set-plan", "pro", "-w", "acme", "--as", "acme_u1", "--dry-run")
    assert org(server, "acme")["plan_tier"] == "trial" and bf.audit(server) == []


def test_classic_set_plan_refuses_per_seat_tiers_and_writes_no_override(db_url: str) -> None:
    db = factories.migrated(db_url)
    try:
        bf.people(db)
        cli = bf.Cli(db.url)
        err = cli.fails(2, "workspace", "set-plan", "starter", "-w", "acme", "--as", "owner")
        assert "'starter' is not a tier of the classic billing model" in err
        out = cli.json("workspace", "set-plan", "enterprise", "-w", "acme", "--as", "owner")
        assert out["billingModel"] == "classic" and "planOverrideUntil" not in out
        assert bf.audit(db)[0]["after"] == {"tier": "enterprise"}
    finally:
        db.dispose()


# --- trials ------------------------------------------------------------------------------------


def free(server: Database, ws_id: str = "acme") -> None:
    with server.begin() as conn:
        conn.execute(
            sa.update(organization).where(organization.c.id == ws_id).values(plan_tier="free", trial_ends_at=None)
        )


def test_trial_start_writes_the_owners_grant_once(server: Database, cli: bf.Cli) -> None:
    free(server)
    with server.begin() as conn:
        conn.execute(
            sa.update(organization).where(organization.c.id == "acme").values(plan_override_until=OVERRIDE_END)
        )
    dry = cli.json("trial", "start", "-w", "acme", "--as", "pam", "--dry-run")
    assert dry["dryRun"] is True and grants(server) == [] and bf.audit(server) == []
    out = cli.json("trial", "start", "-w", "acme", "--days", "10", "--as", "pam")
    assert out["tier"] == "trial" and out["trialEndsAt"] == "2026-12-02T15:30:00.000Z"
    row = org(server, "acme")
    assert row["plan_tier"] == "trial" and row["trial_ends_at"] == NOW + timedelta(days=10)
    assert row["plan_override_until"] is None  # an operator's change to trial clears the override
    assert grants(server) == [{"user_id": "acme_u0", "org_id": "acme", "granted_at": NOW}]
    (audit,) = bf.audit(server)
    assert audit["action"] == "trial.start"
    assert audit["after"] == {"tier": "trial", "trialEndsAt": "2026-12-02T15:30:00.000Z", "planOverrideUntil": None}
    # a running trial is refused; once ended, the same workspace may start again: its own grant
    assert "already running" in cli.fails(4, "trial", "start", "-w", "acme", "--as", "pam")
    cli.json("trial", "end", "-w", "acme", "--as", "pam")
    later = bf.Cli(server.url, clock=lambda: NOW + timedelta(seconds=1))  # the trial ended at NOW
    later.json("trial", "start", "-w", "acme", "--as", "acme_u0")
    assert grants(server) == [{"user_id": "acme_u0", "org_id": "acme", "granted_at": NOW}]


def test_trial_start_refused_for_a_second_workspace_of_the_same_owner(server: Database, cli: bf.Cli) -> None:
    with server.begin() as conn:
        ps.workspace(conn, "beta", tier="free", seats=0)
        member(conn, "beta", "acme_u0", "owner")
    grant(server, "acme_u0", "acme")
    for extra in ((), ("--dry-run",)):
        err = cli.fails(4, "trial", "start", "-w", "beta", "--as", "pam", *extra)
        assert "'acme_u0' already had a trial on workspace 'acme'" in err and "one trial per user" in err
    row = org(server, "beta")
    assert row["plan_tier"] == "free" and row["trial_ends_at"] is None and bf.audit(server) == []
    assert [(g["user_id"], g["org_id"]) for g in grants(server)] == [("acme_u0", "acme")]


def test_trial_start_refused_on_a_paid_per_seat_tier(server: Database, cli: bf.Cli) -> None:
    with server.begin() as conn:
        ps.workspace(conn, "paid", tier="starter")
    assert "paid starter tier" in cli.fails(4, "trial", "start", "-w", "paid", "--as", "pam")
    assert grants(server) == [] and bf.audit(server) == []


def test_trial_extend_and_end(server: Database, cli: bf.Cli) -> None:
    dry = cli.json("trial", "extend", "--days", "5", "-w", "acme", "--as", "ada", "--dry-run")
    assert dry["trialEndsAt"] == "2026-11-30T15:30:00.000Z" and bf.audit(server) == []
    out = cli.json("trial", "extend", "--days", "5", "-w", "acme", "--as", "ada")
    assert out["after"] == {"trialEndsAt": "2026-11-30T15:30:00.000Z"}
    assert org(server, "acme")["trial_ends_at"] == NOW + timedelta(days=8)
    ended = cli.json("trial", "end", "-w", "acme", "--as", "pam")
    assert ended["after"] == {"trialEndsAt": "2026-11-22T15:30:00.000Z"}
    row = org(server, "acme")
    assert row["trial_ends_at"] == NOW and row["plan_tier"] == "trial"
    assert sorted(r["action"] for r in bf.audit(server)) == ["trial.end", "trial.extend"]
    cli.fails(8, "trial", "extend", "--days", "5", "-w", "acme", "--as", "acme_u1")
    with server.begin() as conn:
        ps.workspace(conn, "paid", tier="pro")
    assert "not on a trial" in cli.fails(4, "trial", "end", "-w", "paid", "--as", "pam")
    assert grants(server) == []


def start(url: str, ws_id: str) -> object:
    """`trial start` through the service (a thread cannot share the CLI runner's captured streams)."""
    from atlas_cli.services.admin import AdminService
    from atlas_cli.services.billing_ops import BillingOpsService

    db = Database(url)
    try:
        return BillingOpsService(AdminService(db, factories.clock)).trial_start(ws_id, days=14, actor="pam")
    except Conflict as exc:
        return exc
    finally:
        db.dispose()


def test_concurrent_trial_starts_of_one_owner_grant_one_trial(server: Database) -> None:
    """The grant claimed by a concurrent start (uncommitted when this one checks) wins: this start
    rolls back with the conflict (PostgreSQL; SQLite runs writers one after the other)."""
    if server.dialect != "postgresql":
        pytest.skip("SQLite serialises writing transactions: no interleaving to test")
    import threading

    with server.begin() as conn:
        ps.workspace(conn, "beta", tier="free", seats=0)
        member(conn, "beta", "acme_u0", "owner")
    results: list[Any] = []
    with server.begin() as rival:
        rival.execute(sa.insert(user_trial_grants).values(user_id="acme_u0", org_id="acme", granted_at=NOW))
        worker = threading.Thread(target=lambda: results.append(start(server.url, "beta")))
        worker.start()
        waiting = factories.wait_for_a_lock_waiter(server)  # until the start blocks on the rival's grant row
        assert waiting, ("the trial start never waited for the rival grant", results)
    worker.join(timeout=30)
    (result,) = results
    assert isinstance(result, Conflict) and "one trial per user" in str(result)
    row = org(server, "beta")
    assert row["plan_tier"] == "free" and bf.audit(server) == []
    assert [(g["user_id"], g["org_id"]) for g in grants(server)] == [("acme_u0", "acme")]
