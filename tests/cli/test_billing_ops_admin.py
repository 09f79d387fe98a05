"""Actor/role checks, dry runs and the audit log; BYOT, set-plan and trial changes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_cli.db.database import Database
from tests import billing_factories as bf
from tests import factories
from tests.factories import NOW


@pytest.fixture
def db(db_url: str) -> Database:
    database = factories.migrated(db_url)
    bf.people(database)
    yield database
    database.dispose()


@pytest.fixture
def cli(db: Database) -> bf.Cli:
    return bf.Cli(db.url)


def test_byot_by_owner_is_written_with_its_audit_row(db: Database, cli: bf.Cli) -> None:
    out = cli.json("billing", "byot", "--enable", "-w", "acme", "--as", "owner@acme.test")
    assert out["workspaceId"] == "acme" and out["byot"] is True and out["changed"] is True
    assert out["before"] == {"byot": False} and out["after"] == {"byot": True}
    assert bf.org(db, "acme")["byot"] is True
    (row,) = bf.audit(db)
    assert (row["workspace_id"], row["actor"], row["action"]) == ("acme", "owner@acme.test", "billing.byot")
    assert row["before"] == {"byot": False} and row["after"] == {"byot": True} and row["created_at"] == NOW
    assert str(row["id"]) == out["auditId"]
    # the same again changes nothing and writes no audit row
    again = cli.json("billing", "byot", "--enable", "-w", "acme", "--as", "owner")
    assert again["changed"] is False and again["byot"] is True and len(bf.audit(db)) == 1


@pytest.mark.parametrize("actor", ["bob@acme.test", "nobody@x.test", None])
def test_refused_actor_exits_8_and_changes_nothing(db: Database, cli: bf.Cli, actor: str | None) -> None:
    args = ["billing", "byot", "--enable", "-w", "acme"] + (["--as", actor] if actor else [])
    err = cli.fails(8, *args)
    assert "owner" in err or "ATLAS_ACTOR" in err or "not a user" in err
    assert bf.org(db, "acme")["byot"] is False and bf.audit(db) == []


def test_global_role_first_value_wins(db: Database, cli: bf.Cli) -> None:
    cli.fails(8, "workspace", "set-plan", "enterprise", "-w", "acme", "--as", "eve")  # "user,admin"
    out = cli.json("workspace", "set-plan", "enterprise", "-w", "acme", "--as", "root")  # "admin,user"
    assert out["tier"] == "enterprise" and bf.org(db, "acme")["plan_tier"] == "enterprise"


def test_actor_from_environment(db: Database, cli: bf.Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_ACTOR", "owner")
    assert cli.json("billing", "byot", "--enable", "-w", "acme")["changed"] is True
    assert bf.audit(db)[0]["actor"] == "owner@acme.test"


def test_dry_run_shows_the_change_and_writes_nothing(db: Database, cli: bf.Cli) -> None:
    out = cli.json("workspace", "set-plan", "free", "-w", "acme", "--as", "owner", "--dry-run")
    assert out["dryRun"] is True and out["changed"] is True
    assert out["before"] == {"tier": "team"} and out["after"] == {"tier": "free"} and out["auditId"] is None
    assert bf.org(db, "acme")["plan_tier"] == "team" and bf.audit(db) == []
    cli.fails(8, "workspace", "set-plan", "free", "-w", "acme", "--as", "bob", "--dry-run")
    text = cli("workspace", "set-plan", "free", "-w", "acme", "--as", "owner", "--dry-run")
    assert text.exit_code == 0 and "Would change acme" in text.stdout and "Dry run" in text.stderr


def test_set_plan_refusals(db: Database, cli: bf.Cli) -> None:
    assert "not a tier" in cli.fails(2, "workspace", "set-plan", "gold", "-w", "acme", "--as", "owner")
    cli.fails(3, "workspace", "set-plan", "team", "-w", "nope", "--as", "owner")
    with db.begin() as conn:
        factories.workspace(conn, "gone", workspace_status="deleted")
    assert "deleted" in cli.fails(4, "workspace", "set-plan", "team", "-w", "gone", "--as", "root")
    assert cli.json("workspace", "set-plan", "locked", "-w", "acme", "--as", "owner")["tier"] == "locked"
    assert [r["action"] for r in bf.audit(db)] == ["workspace.set_plan"]


def test_locked_is_refused_where_the_constraint_lacks_it(tmp_path, db_url: str) -> None:
    legacy = bf.legacy(db_url)
    bf.people(legacy)
    cli = bf.Cli(legacy.url)
    err = cli.fails(2, "workspace", "set-plan", "locked", "-w", "acme", "--as", "owner")
    assert "does not accept 'locked'" in err and "free, trial, team, enterprise" in err
    assert bf.org(legacy, "acme")["plan_tier"] == "team" and bf.audit(legacy) == []
    legacy.dispose()


def test_trial_start_extend_end(db: Database, cli: bf.Cli) -> None:
    cli.fails(4, "trial", "start", "-w", "acme", "--as", "owner")  # team is a paid tier
    cli.json("workspace", "set-plan", "free", "-w", "acme", "--as", "owner")
    started = cli.json("trial", "start", "-w", "acme", "--days", "10", "--as", "owner")
    assert started["tier"] == "trial" and started["trialEndsAt"] == "2026-12-02T15:30:00.000Z"
    assert bf.org(db, "acme")["trial_ends_at"] == NOW + timedelta(days=10)
    cli.fails(4, "trial", "start", "-w", "acme", "--as", "owner")  # already running
    extended = cli.json("trial", "extend", "-w", "acme", "--days", "5", "--as", "owner")
    assert extended["trialEndsAt"] == "2026-12-07T15:30:00.000Z"
    ended = cli.json("trial", "end", "-w", "acme", "--as", "owner")
    assert ended["trialEndsAt"] == "2026-11-22T15:30:00.000Z" and bf.org(db, "acme")["plan_tier"] == "trial"
    later = bf.Cli(db.url, clock=lambda: NOW + timedelta(hours=1))
    assert later.json("trial", "status", "-w", "acme", code=13)["expired"] is True
    # extending an expired trial counts from now
    assert (
        later.json("trial", "extend", "-w", "acme", "--days", "1", "--as", "owner")["trialEndsAt"]
        == "2026-11-23T16:30:00.000Z"
    )
    actions = sorted(r["action"] for r in bf.audit(db))
    assert actions == ["trial.end", "trial.extend", "trial.extend", "trial.start", "workspace.set_plan"]


def test_trial_bad_days_and_wrong_tier(db: Database, cli: bf.Cli) -> None:
    assert "--days" in cli.fails(2, "trial", "start", "-w", "acme", "--days", "0", "--as", "owner")
    assert "not on a trial" in cli.fails(4, "trial", "extend", "-w", "acme", "--days", "3", "--as", "owner")
    cli.fails(4, "trial", "end", "-w", "acme", "--as", "owner")
    assert bf.audit(db) == []


def test_audit_list_filters(db: Database, cli: bf.Cli) -> None:
    assert cli.json("audit", "list") == []
    with db.begin() as conn:
        factories.workspace(conn, "initech", tier="free")
    cli.json("billing", "byot", "--enable", "-w", "acme", "--as", "owner")
    later = bf.Cli(db.url, clock=lambda: NOW + timedelta(days=3))
    later.json("workspace", "set-plan", "enterprise", "-w", "initech", "--as", "root")
    rows = cli.json("audit", "list")
    assert [(r["workspaceId"], r["action"]) for r in rows] == [
        ("initech", "workspace.set_plan"),
        ("acme", "billing.byot"),
    ]
    assert rows[0]["actor"] == "root@atlas.test" and rows[0]["after"] == {"tier": "enterprise"}
    assert [r["workspaceId"] for r in cli.json("audit", "list", "-w", "acme")] == ["acme"]
    assert [r["workspaceId"] for r in cli.json("audit", "list", "--since", "2026-11-24")] == ["initech"]
    assert len(cli.json("audit", "list", "--limit", "1")) == 1
    cli.fails(2, "audit", "list", "--since", "last week")
    cli.fails(2, "audit", "list", "--limit", "0")


def test_an_actor_email_matches_exactly_before_ignoring_case(db: Database, cli: bf.Cli) -> None:
    with db.begin() as conn:
        factories.user(conn, "boss", email="BOSS@acme.test")  # the owner
        factories.user(conn, "imposter", email="boss@acme.test")  # a plain member
        bf.member(conn, "acme", "boss", "owner")
        bf.member(conn, "acme", "imposter", "member")
    err = cli.fails(8, "billing", "byot", "--enable", "-w", "acme", "--as", "boss@acme.test")
    assert "role 'member'" in err and "owner or admin required" in err  # the member, not the owner
    assert bf.org(db, "acme")["byot"] is False and bf.audit(db) == []
    # two users differ only in case: a third spelling names neither
    err = cli.fails(8, "billing", "byot", "--enable", "-w", "acme", "--as", "Boss@Acme.test")
    assert "ambiguous" in err and "boss, imposter" in err and "user id" in err
    assert bf.org(db, "acme")["byot"] is False and bf.audit(db) == []
    out = cli.json("billing", "byot", "--enable", "-w", "acme", "--as", "BOSS@acme.test")
    assert out["changed"] is True and bf.audit(db)[0]["actor"] == "BOSS@acme.test"


def test_an_actor_email_ignores_case_when_that_names_one_user(db: Database, cli: bf.Cli) -> None:
    out = cli.json("billing", "byot", "--enable", "-w", "acme", "--as", "Owner@ACME.test")
    assert out["changed"] is True and bf.audit(db)[0]["actor"] == "owner@acme.test"


def test_an_actor_id_wins_over_another_users_email(db: Database, cli: bf.Cli) -> None:
    with db.begin() as conn:
        factories.user(conn, "owner@acme.test", email="someone@else.test")  # an id that looks like an email
    cli.fails(8, "billing", "byot", "--enable", "-w", "acme", "--as", "owner@acme.test")
    assert bf.org(db, "acme")["byot"] is False
