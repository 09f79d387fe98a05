"""`atlas credits` on both engines and both billing models: grants, voids, adjustments, idempotency
keys, allocation once per period with overage paid first and expiry, the ledger and verification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from atlas_cli.db.schema import audit_log, credit_accounts, credit_grants
from tests import entitlement_envs
from tests.factories import NOW

CATALOG = """
[features.ai-credits]
kind = "credit"
costs = {{ query = 1, token = {{ credits = 1, per = 1000 }} }}
block_overage = true

[features.soft-credits]
kind = "credit"
costs = {{ report = 5 }}

[plans.{paid}]
ai-credits = {{ allocation = 1000, period = "month" }}
soft-credits = {{ allocation = 100 }}

[plans.{other}]
ai-credits = true
"""


@pytest.fixture(params=["classic", "per-seat"])
def env(request, db_url, tmp_path):
    made = entitlement_envs.make(request.param, db_url, tmp_path)
    with made.db.begin() as conn:
        made.workspace(conn, "acme", made.paid, members=2)
        made.workspace(conn, "globex", made.other)
    made.push(CATALOG.format(paid=made.paid, other=made.other))
    yield made
    made.db.dispose()


def run(env, *args, code=0, clock=None):
    cli = env.cli(clock) if clock else env.cli()
    return cli.json("credits", *args, code=code)


def grant(env, ws, unit, amount, key, *extra, code=0, clock=None):
    return run(
        env, "grant", "-w", ws, unit, str(amount), "--key", key, "--as", f"{ws}_u0", *extra, code=code, clock=clock
    )


def balance(env, ws, unit="ai-credits", clock=None):
    found = run(env, "balance", "-w", ws, unit, clock=clock)
    (account,) = found["accounts"]
    return account


def verify_ok(env):
    assert run(env, "verify", "--all")["ok"] is True


def test_grant_then_the_same_key_again_changes_nothing_and_other_values_conflict(env):
    first = grant(env, "acme", "ai-credits", 500, "promo-1")
    assert (first["changed"], first["balance"]) == (True, 500)
    again = env.cli()("credits", "grant", "-w", "acme", "ai-credits", "500", "--key", "promo-1", "--as", "acme_u0")
    assert again.exit_code == 0 and "was applied on" in again.stderr and "nothing changed" in again.stderr
    assert balance(env, "acme")["balance"] == 500
    error = env.cli().fails(
        4, "credits", "grant", "-w", "acme", "ai-credits", "501", "--key", "promo-1", "--as", "acme_u0"
    )
    assert "promo-1" in error
    assert balance(env, "acme")["balance"] == 500
    verify_ok(env)


def test_a_change_needs_an_actor_with_a_role_and_is_audited(env):
    env.cli().fails(8, "credits", "grant", "-w", "acme", "ai-credits", "5", "--key", "k")
    env.cli().fails(8, "credits", "grant", "-w", "acme", "ai-credits", "5", "--key", "k", "--as", "acme_u1")
    grant(env, "acme", "ai-credits", 5, "k")
    with env.db.connect() as conn:
        query = sa.select(audit_log.c.action, audit_log.c.after).where(audit_log.c.action.like("credits.%"))
        actions = conn.execute(query).all()
    assert [a for a, _ in actions] == ["credits.grant"]
    assert actions[0][1]["balance"] == 5


def test_bad_input_is_one_line_and_changes_nothing(env):
    cli = env.cli()
    assert "no credit feature 'nope'" in cli.fails(
        3, "credits", "grant", "-w", "acme", "nope", "5", "--key", "k", "--as", "root"
    )
    cli.fails(2, "credits", "grant", "-w", "acme", "ai-credits", "0", "--key", "k", "--as", "root")
    cli.fails(2, "credits", "grant", "-w", "acme", "ai-credits", "5", "--key", "k", "--as", "root", "--expires", "soon")
    past = (NOW - timedelta(days=1)).date().isoformat()
    cli.fails(2, "credits", "grant", "-w", "acme", "ai-credits", "5", "--key", "k", "--as", "root", "--expires", past)
    cli.fails(3, "credits", "grant", "-w", "nobody", "ai-credits", "5", "--key", "k", "--as", "root")
    cli.fails(3, "credits", "void", "-w", "acme", "no-such-grant", "--key", "v", "--as", "root")
    cli.fails(2, "credits", "ledger", "-w", "acme", "--since", "yesterday")
    assert env.count("atlas_credit_ledger") == 0 and env.count("atlas_credit_requests") == 0


def test_void_removes_only_the_remaining(env):
    made = grant(env, "acme", "ai-credits", 100, "g")
    adjust = run(env, "adjust", "-w", "acme", "ai-credits", "-30", "--key", "use", "--as", "root")
    assert adjust["balance"] == 70
    voided = run(env, "void", "-w", "acme", made["grantId"], "--key", "v", "--as", "root")
    assert voided["balance"] == 0
    with env.db.connect() as conn:
        row = conn.execute(sa.select(credit_grants).where(credit_grants.c.id == made["grantId"])).mappings().one()
    assert (row["amount"], row["remaining"], row["closed_as"]) == (100, 0, "voided")
    run(env, "void", "-w", "acme", made["grantId"], "--key", "v", "--as", "root")  # same key: no change
    env.cli().fails(4, "credits", "void", "-w", "acme", made["grantId"], "--key", "v2", "--as", "root")
    ledger = run(env, "ledger", "-w", "acme")["entries"]
    assert [(e["kind"], e["amount"], e["balanceAfter"]) for e in ledger] == [
        ("void", -70, 0),
        ("adjust", -30, 70),
        ("grant", 100, 100),
    ]
    verify_ok(env)


def test_a_negative_adjustment_beyond_the_grants_is_overage_and_the_next_grant_pays_it(env):
    grant(env, "acme", "ai-credits", 10, "g1")
    run(env, "adjust", "-w", "acme", "ai-credits", "-25", "--key", "a", "--as", "root")
    account = balance(env, "acme")
    assert (account["balance"], account["overage"]) == (-15, 15)
    assert [g["remaining"] for g in account["grants"]] == [0]  # never negative
    grant(env, "acme", "ai-credits", 40, "g2")
    account = balance(env, "acme")
    assert (account["balance"], account["overage"], account["available"]) == (25, 0, 25)
    verify_ok(env)


def test_allocate_once_per_period_pays_overage_first_and_expires_the_last_period(env):
    root = ("--as", "root")
    run(env, "adjust", "-w", "acme", "ai-credits", "-300", "--key", "a", *root)  # overage 300 before any grant
    first = run(env, "allocate", "--all", *root)
    rows = {(r["workspaceId"], r["unit"]): r for r in first["allocations"]}
    acme = rows[("acme", "ai-credits")]
    assert (acme["outcome"], acme["paidOverage"], acme["balance"]) == ("granted", 300, 700)
    assert acme["periodStart"] == "2026-11-01T00:00:00.000Z" and acme["periodEnd"] == "2026-12-01T00:00:00.000Z"
    assert rows[("acme", "soft-credits")]["balance"] == 100
    assert rows[("globex", "ai-credits")]["outcome"] == "none"  # entitled, no allocation
    again = run(env, "allocate", "--all", *root, clock=lambda: NOW + timedelta(days=3))
    assert {r["outcome"] for r in again["allocations"] if r["workspaceId"] == "acme"} == {"already"}
    assert balance(env, "acme")["balance"] == 700
    # the first instant of December belongs to December: a new allocation, November's expires
    december = datetime(2026, 12, 1, tzinfo=UTC)
    new = run(env, "allocate", "-w", "acme", *root, clock=lambda: december)
    acme = {r["unit"]: r for r in new["allocations"]}["ai-credits"]
    assert (acme["outcome"], acme["expired"], acme["balance"]) == ("granted", 700, 1000)
    assert acme["periodStart"] == "2026-12-01T00:00:00.000Z"
    kinds = [e["kind"] for e in run(env, "ledger", "-w", "acme", "ai-credits", clock=lambda: december)["entries"]]
    assert kinds[:2] == ["expire", "grant"] or kinds[:2] == ["grant", "expire"]
    verify_ok(env)


def test_allocate_at_a_given_time_and_the_last_instant_of_a_period(env):
    last = "2026-11-30T23:59:59.999999+00:00"
    found = run(env, "allocate", "-w", "acme", "--at", last, "--as", "root")
    assert {r["periodStart"] for r in found["allocations"]} == {"2026-11-01T00:00:00.000Z"}
    env.cli().fails(2, "credits", "allocate", "-w", "acme", "--all", "--as", "root")
    env.cli().fails(8, "credits", "allocate", "--all", "--as", "acme_u0")  # --all: a global admin


def test_ledger_csv_is_newest_first_with_the_balance_after(env):
    grant(env, "acme", "ai-credits", 50, "g1", "--reason", "=cmd")
    run(env, "adjust", "-w", "acme", "ai-credits", "+7", "--key", "a", "--as", "root")
    result = env.cli()("credits", "ledger", "-w", "acme", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("createdAt,unit,id,kind,amount,balanceAfter")
    assert ",adjust,7,57," in lines[1] and ",grant,50,50," in lines[2]
    assert "'=cmd" in lines[2]  # a formula made inert


def test_verify_finds_a_tampered_balance_and_exits_4(env):
    grant(env, "acme", "ai-credits", 50, "g1")
    with env.db.begin() as conn:
        conn.execute(sa.update(credit_accounts).values(balance=49))
    result = env.cli()("credits", "verify", "-w", "acme", "--json")
    assert result.exit_code == 4
    checks = {m["check"] for m in __import__("json").loads(result.stdout)["mismatches"]}
    assert "balance = sum of the ledger" in checks


def test_balance_shows_grants_and_a_table(env):
    grant(env, "acme", "ai-credits", 50, "g1", "--priority", "5", "--expires", "2027-01-01")
    account = balance(env, "acme")
    (g,) = account["grants"]
    assert (g["amount"], g["remaining"], g["priority"], g["expiresAt"]) == (50, 50, 5, "2027-01-01T00:00:00.000Z")
    table = env.cli()("credits", "balance", "-w", "acme")
    assert table.exit_code == 0 and "ai-credits" in table.stdout and "soft-credits" in table.stdout


def check(env, ws, feature, *args, code=0):
    return env.cli().json("entitlements", "check", "-w", ws, feature, *args, code=code)


def test_check_with_block_overage_refuses_below_the_cost_at_the_boundary(env):
    grant(env, "acme", "ai-credits", 5, "g")
    exact = check(env, "acme", "ai-credits", "--quantity", "5")
    assert (exact["allowed"], exact["reason"], exact["balance"], exact["kind"]) == (True, "ok", 5, "credit")
    over = check(env, "acme", "ai-credits", "--quantity", "6", code=12)
    assert (over["allowed"], over["reason"], over["balance"]) == (False, "insufficient_credits", 5)
    # 5000 tokens cost ceil(5000 / 1000) = 5; 5001 cost 6
    assert check(env, "acme", "ai-credits", "--event-type", "token", "--quantity", "5000")["allowed"] is True
    check(env, "acme", "ai-credits", "--event-type", "token", "--quantity", "5001", code=12)
    env.cli().fails(2, "entitlements", "check", "-w", "acme", "ai-credits", "--event-type", "login")


def test_check_without_block_overage_always_allows_even_below_zero(env):
    run(env, "adjust", "-w", "acme", "soft-credits", "-10", "--key", "a", "--as", "root")
    found = check(env, "acme", "soft-credits", "--quantity", "1000")
    assert (found["allowed"], found["reason"], found["balance"]) == (True, "ok", -10)


def test_check_of_a_plan_without_the_feature_is_not_entitled_and_a_grant_not_yet_usable_does_not_count(env):
    env.push(CATALOG.format(paid=env.paid, other=env.other).replace(f"[plans.{env.other}]\nai-credits = true", ""))
    assert check(env, "globex", "ai-credits", code=16)["reason"] == "not_entitled"
    grant(env, "acme", "ai-credits", 5, "g", "--expires", (NOW + timedelta(hours=1)).isoformat())
    later = env.cli(lambda: NOW + timedelta(hours=1))
    found = later.json("entitlements", "check", "-w", "acme", "ai-credits", code=12)
    assert (found["reason"], found["balance"]) == ("insufficient_credits", 0)  # the expiry is exclusive


def test_entitlements_list_shows_the_balance(env):
    grant(env, "acme", "ai-credits", 42, "g")
    rows = {r["feature"]: r for r in env.cli().json("entitlements", "list", "-w", "acme")["features"]}
    assert rows["ai-credits"]["balance"] == 42 and rows["ai-credits"]["kind"] == "credit"
