"""`atlas entitlements` on both engines and both billing models: every reason and exit code, the
boundaries of limits and max usage, overrides and their end, and the workspace's own block first."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from atlas_cli.db.schema import audit_log, entitlement_overrides
from tests import entitlement_envs
from tests.factories import MONTH_START, NOW, events

PERIOD_END = MONTH_START.replace(month=12)


def catalog(env, *, projects=5, reports=100, seats_extra=3) -> str:
    return f"""
[features.data-explorer]
kind = "boolean"

[features.projects]
kind = "limit"
counter = {{ table = "projects", workspace_column = "org_id", where = {{ archived = false }} }}

[features.seats-extra]
kind = "limit"

[features.walls]
kind = "limit"
allow_without_count = true

[features.reports]
kind = "metered"
event_types = ["report"]

[plans.{env.paid}]
data-explorer = true
projects = {projects}
seats-extra = {seats_extra}
walls = 2
reports = {{ max_usage = {reports} }}

[plans.trial]
data-explorer = true
projects = "unlimited"
"""


@pytest.fixture(params=["classic", "per-seat"])
def env(request, db_url, tmp_path):
    made = entitlement_envs.make(request.param, db_url, tmp_path)
    with made.db.begin() as conn:
        made.workspace(conn, "acme", made.paid, members=2)
        made.workspace(conn, "globex", made.other)
    made.push(catalog(made))
    yield made
    made.db.dispose()


def check(env, ws, feature, *args, code=0, clock=None):
    cli = env.cli(clock) if clock else env.cli()
    return cli.json("entitlements", "check", "-w", ws, feature, *args, code=code)


def test_a_boolean_feature_is_on_or_not_entitled(env):
    found = check(env, "acme", "data-explorer")
    assert (found["allowed"], found["reason"], found["source"], found["kind"]) == (True, "ok", "plan", "boolean")
    assert set(found) >= {"workspaceId", "feature", "kind", "allowed", "reason", "limit", "used", "remaining",
                          "balance", "periodStart", "periodEnd", "source"}  # fmt: skip
    refused = check(env, "globex", "data-explorer", code=16)
    assert (refused["allowed"], refused["reason"]) == (False, "not_entitled")


@pytest.mark.parametrize(("quantity", "code"), [(1, 0), (2, 0), (3, 12)])
def test_a_declarative_counter_counts_its_rows_and_filters(env, quantity, code):
    with env.db.begin() as conn:
        env.projects(conn, "acme", live=3, archived=4)  # archived ones do not count
        env.projects(conn, "globex", live=9)  # nor another workspace's
    found = check(env, "acme", "projects", "--quantity", str(quantity), code=code)
    assert (found["used"], found["limit"], found["remaining"]) == (3, 5, 2)
    assert found["reason"] == ("ok" if code == 0 else "limit_reached")


def test_a_downgrade_below_the_count_blocks_only_new_additions(env):
    with env.db.begin() as conn:
        env.projects(conn, "acme", live=7)
    env.push(catalog(env, projects=5))  # was 5 already; now push 2
    env.push(catalog(env, projects=2))
    found = check(env, "acme", "projects", code=12)
    assert (found["used"], found["limit"], found["remaining"], found["reason"]) == (7, 2, 0, "limit_reached")
    assert env.count("projects") == 7  # nothing is deleted


def test_the_check_reads_the_catalog_version_in_force(env):
    with env.db.begin() as conn:
        env.projects(conn, "acme", live=3)
    assert check(env, "acme", "projects")["limit"] == 5
    env.push(catalog(env, projects=3))
    assert check(env, "acme", "projects", code=12)["limit"] == 3
    env.push(catalog(env, projects=10))
    assert check(env, "acme", "projects", "-n", "7")["allowed"] is True


@pytest.mark.parametrize(("count", "quantity", "code"), [("0", "3", 0), ("2", "1", 0), ("4", "3", 12), ("3", "1", 12)])
def test_a_limit_without_counter_takes_the_callers_count(env, count, quantity, code):
    found = check(env, "acme", "seats-extra", "--count", count, "--quantity", quantity, code=code)
    assert found["used"] == int(count) and found["limit"] == 3


def test_no_counter_and_no_count_is_denied_unless_the_feature_allows_it(env):
    found = check(env, "acme", "seats-extra", code=16)
    assert (found["allowed"], found["reason"], found["used"]) == (False, "no_counter", None)
    assert check(env, "acme", "walls", "-n", "2")["allowed"] is True
    assert check(env, "acme", "walls", "-n", "3", code=12)["reason"] == "limit_reached"


@pytest.mark.parametrize(("quantity", "code"), [("39", 0), ("40", 0), ("41", 12)])
def test_max_usage_counts_the_billing_period_half_open(env, quantity, code):
    with env.db.begin() as conn:
        events(conn, "acme", [
            ("report", 50, MONTH_START, None),                          # the first instant counts
            ("report", 10, NOW, "u1"),
            ("report", 500, MONTH_START - timedelta(microseconds=1), None),  # last period: never
            ("report", 500, PERIOD_END, None),                          # the next period: never
            ("query", 500, NOW, None),                                  # another event type
        ])  # fmt: skip
        events(conn, "globex", [("report", 90, NOW, None)])
    found = check(env, "acme", "reports", "--quantity", quantity, code=code)
    assert (found["used"], found["limit"], found["remaining"]) == (60, 100, 40)
    assert found["reason"] == ("ok" if code == 0 else "max_usage_reached")
    assert (found["periodStart"], found["periodEnd"]) == ("2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z")


def test_a_late_event_for_a_past_period_never_counts_toward_the_current_one(env):
    with env.db.begin() as conn:
        events(conn, "acme", [("report", 100, MONTH_START - timedelta(days=3), None)])
    assert check(env, "acme", "reports", "-n", "100")["used"] == 0


def test_built_in_features_answer_with_the_layouts_counters(env):
    cap = env.seat_cap
    found = check(env, "acme", env.seats_feature, "--quantity", str(cap - 2))
    assert (found["source"], found["used"], found["limit"], found["reason"]) == ("built-in", 2, cap, "ok")
    refused = check(env, "acme", env.seats_feature, "--quantity", str(cap - 1), code=12)
    assert refused["reason"] == "limit_reached"
    assert check(env, "globex", env.seats_feature, "-n", "1000")["reason"] == "unlimited"


def test_an_unknown_feature_or_workspace_is_exit_3(env):
    assert "no feature 'ghost'" in env.cli().fails(3, "entitlements", "check", "-w", "acme", "ghost")
    assert "not found" in env.cli().fails(3, "entitlements", "check", "-w", "nobody", "projects")


@pytest.mark.parametrize(
    "args", [("-n", "0"), ("--count", "-1"), ("--count", "3", "data-explorer"), ("-n", "x")], ids=str
)
def test_bad_options_are_exit_2(env, args):
    feature = () if "data-explorer" in args else ("projects",)
    env.cli().fails(2, "entitlements", "check", "-w", "acme", *feature, *args)


def test_the_workspaces_own_block_comes_first(env):
    with env.db.begin() as conn:
        env.workspace(conn, "hooli", "trial", trial_ends_at=NOW - timedelta(seconds=1))
        env.workspace(conn, "pied", "trial", trial_ends_at=NOW + timedelta(days=1))
        env.workspace(conn, "umbrella", "locked")
    assert check(env, "pied", "data-explorer")["allowed"] is True
    expired = check(env, "hooli", "data-explorer", code=13)
    assert (expired["allowed"], expired["reason"]) == (False, "trial_expired")
    assert check(env, "hooli", "projects", code=13)["reason"] == "trial_expired"  # before any count
    assert check(env, "umbrella", "data-explorer", code=15)["reason"] == "subscription_required"
    billing = env.cli().json("billing", "check", "-w", "hooli", code=13)
    assert billing["status"] == "trial_expired"


def test_a_tier_the_model_does_not_know_is_billing_check_failed(env):
    with env.db.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        else:
            name = "chk_plan_tier" if env.model == "per-seat" else "organization_plan_tier_check"
            conn.exec_driver_sql(f"ALTER TABLE organization DROP CONSTRAINT {name}")
        env.workspace(conn, "initech", "gold")  # left behind by some other server
    assert check(env, "initech", "data-explorer", code=14)["reason"] == "billing_check_failed"
    assert check(env, "initech", env.seats_feature, code=14)["reason"] == "billing_check_failed"


def test_list_shows_every_feature_its_value_source_and_use(env):
    with env.db.begin() as conn:
        env.projects(conn, "acme", live=4)
    listed = env.cli().json("entitlements", "list", "-w", "acme")
    rows = {r["feature"]: r for r in listed["features"]}
    assert rows[env.seats_feature]["source"] == "built-in" and rows[env.seats_feature]["used"] == 2
    assert (rows["projects"]["value"], rows["projects"]["used"], rows["projects"]["source"]) == (5, 4, "plan")
    assert rows["reports"]["value"] == {"max_usage": 100}
    assert rows["seats-extra"]["reason"] == "no_counter"
    assert listed["catalogVersion"] == 1 and listed["workspaceBlock"] is None
    other = {r["feature"]: r for r in env.cli().json("entitlements", "list", "-w", "globex")["features"]}
    assert other["data-explorer"]["reason"] == "not_entitled"
    table = env.cli()("entitlements", "list", "-w", "acme")
    assert table.exit_code == 0 and "projects" in table.stdout and "built-in" in table.stdout


# --- overrides ---------------------------------------------------------------------------------


def override(env, ws, feature, *args, actor="acme_u0", code=0):
    return env.cli().json("entitlements", "override", "-w", ws, feature, *args, "--as", actor, code=code)


def test_an_override_wins_until_its_end_exclusive(env):
    with env.db.begin() as conn:
        env.projects(conn, "acme", live=5)
    done = override(env, "acme", "projects", "--value", "8", "--until", "2026-11-25", "--reason", "pilot")
    assert done["before"]["value"] == 5 and done["after"]["value"] == 8 and done["after"]["source"] == "override"
    found = check(env, "acme", "projects", "-n", "3")
    assert (found["allowed"], found["limit"], found["source"]) == (True, 8, "override")
    assert found["until"] == "2026-11-25T00:00:00.000Z"
    end = entitlement_envs.at(days=3, seconds=-(15.5 * 3600))  # 2026-11-25T00:00:00Z
    just_before = check(env, "acme", "projects", clock=lambda: end() - timedelta(microseconds=1))
    assert just_before["source"] == "override"
    ended = check(env, "acme", "projects", clock=end, code=12)
    assert (ended["source"], ended["limit"]) == ("plan", 5)


def test_an_override_can_grant_or_take_away_and_clear_restores_the_plan(env):
    assert override(env, "globex", "data-explorer", "--value", "true", actor="root")["after"]["value"] is True
    assert check(env, "globex", "data-explorer")["source"] == "override"
    override(env, "acme", "data-explorer", "--value", "false")
    assert check(env, "acme", "data-explorer", code=16)["reason"] == "not_entitled"
    override(env, "acme", "reports", "--value", "unlimited")
    assert check(env, "acme", "reports", "-n", "100000")["reason"] == "unlimited"
    cleared = env.cli().json("entitlements", "clear", "-w", "acme", "data-explorer", "--as", "acme_u0")
    assert cleared["changed"] is True and cleared["after"]["source"] == "plan"
    assert check(env, "acme", "data-explorer")["source"] == "plan"
    again = env.cli().json("entitlements", "clear", "-w", "acme", "data-explorer", "--as", "acme_u0")
    assert again["changed"] is False and again["auditId"] is None


def test_overrides_are_audited_and_history_keeps_what_held_when(env):
    override(env, "acme", "projects", "--value", "7", "--reason", "first")
    override(env, "acme", "projects", "--value", "9")
    env.cli().json("entitlements", "clear", "-w", "acme", "projects", "--as", "acme_u0")
    with env.db.connect() as conn:
        o = entitlement_overrides.c
        rows = conn.execute(sa.select(o.value, o.end_reason, o.reason).order_by(o.value)).all()
        actions = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.before, audit_log.c.after).where(
                audit_log.c.workspace_id == "acme"
            )
        ).all()
    assert [tuple(r) for r in rows] == [(7, "replaced", "first"), (9, "cleared", None)]
    assert sorted(a for a, _, _ in actions) == ["entitlements.clear", "entitlements.override", "entitlements.override"]
    assert {(b["value"], a["value"]) for _, b, a in actions} == {(5, 7), (7, 9), (9, 5)}


@pytest.mark.parametrize(
    ("args", "actor", "code", "says"),
    [
        (("members", "--value", "50"), "root", 2, "built-in feature"),
        (("projects", "--value", "lots"), "root", 2, "--value"),
        (("data-explorer", "--value", "3"), "root", 2, "--value"),
        (("projects", "--value", "3", "--until", "2026-11-22"), "root", 2, "not in the future"),
        (("projects", "--value", "3", "--until", "soon"), "root", 2, "not a date"),
        (("ghost", "--value", "3"), "root", 3, "no feature 'ghost'"),
        (("projects", "--value", "3"), "acme_u1", 8, "owner or admin required"),
        (("projects", "--value", "3"), "nobody", 8, "not a user"),
    ],
)
def test_bad_overrides_change_nothing(env, args, actor, code, says):
    feature = args[0] if env.model == "classic" or args[0] != "members" else "seats"
    stderr = env.cli().fails(code, "entitlements", "override", "-w", "acme", feature, *args[1:], "--as", actor)
    assert says in stderr
    assert env.count("atlas_entitlement_overrides") == 0
    assert env.count("atlas_audit_log") == 1  # the catalog push only


def test_a_database_without_the_tables_reads_as_built_in_only(db_url, tmp_path):
    env = entitlement_envs.make("per-seat", db_url, tmp_path, upgrade=False)
    with env.db.begin() as conn:
        env.workspace(conn, "acme", "pro", members=3)
    assert check(env, "acme", "seats")["used"] == 3
    assert {r["source"] for r in env.cli().json("entitlements", "list", "-w", "acme")["features"]} == {"built-in"}
    assert "db upgrade" in env.cli().fails(
        5, "entitlements", "override", "-w", "acme", "x", "--value", "1", "--as", "root"
    )
    env.db.dispose()


def test_built_in_meters_refuse_where_billing_check_would_block(env):
    metric = "queries" if env.model == "classic" else "usd"
    if env.model == "classic":
        with env.db.begin() as conn:
            events(conn, "acme", [("query", 10_900, NOW, None)])
        assert check(env, "acme", metric, "-n", "49")["reason"] == "ok"  # 10,949: 109% rounded
        assert check(env, "acme", metric, "-n", "50", code=12)["reason"] == "max_usage_reached"  # 110%: hard
    else:
        found = check(env, "acme", metric)
        assert (found["limit"], found["source"], found["reason"]) == (40, "built-in", "ok")  # $20 x 2 seats


def test_per_seat_built_in_booleans_follow_the_tier(env):
    if env.model != "per-seat":
        pytest.skip("per-seat features")
    assert check(env, "acme", "sso", code=16)["reason"] == "not_entitled"  # pro: business only
    assert check(env, "globex", "sso")["reason"] == "ok"
    assert check(env, "acme", "custom_domain")["source"] == "built-in"


def test_the_service_entry_point_takes_a_database_or_a_connection(env):
    from atlas_cli.services.entitlements import check as decide

    with env.db.begin() as conn:
        env.projects(conn, "acme", live=4)
    by_db = decide(env.db, "acme", "projects", 1, now=NOW)
    with env.db.connect() as conn:
        by_conn = decide(conn, "acme", "projects", quantity=2, now=NOW)
    assert (by_db.allowed, by_db.used, by_conn.allowed, by_conn.reason) == (True, 4, False, "limit_reached")
    assert int(by_conn.exit_code) == 12


def test_csv_writes_structured_values_as_json(env):
    result = env.cli()("entitlements", "list", "-w", "acme", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {line.split(",")[0]: line for line in result.stdout.splitlines()}
    assert rows["reports"].startswith('reports,metered,"{""max_usage"": 100}",plan,0,100,100,true,ok')
