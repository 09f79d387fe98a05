"""Credits are deducted when events are written (`usage record`, `usage ingest`, the sink the library
uses), in the same transaction, for the events actually inserted, from the grants usable at each
event's time; concurrent writers on PostgreSQL never overdraw or double-spend a grant."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from atlas_cli.db.schema import credit_grants
from atlas_cli.domain.events import Event
from atlas_cli.services.ingestion.batching import DatabaseSink
from tests import entitlement_envs
from tests.events_fixtures import new_id
from tests.factories import NOW, wait_for_a_lock_waiter

CATALOG = """
[features.ai-credits]
kind = "credit"
costs = {{ query = 1, token = {{ credits = 1, per = 1000 }} }}
block_overage = true

[plans.{paid}]
ai-credits = true
"""


@pytest.fixture(params=["classic", "per-seat"])
def env(request, db_url, tmp_path):
    made = entitlement_envs.make(request.param, db_url, tmp_path)
    with made.db.begin() as conn:
        made.workspace(conn, "acme", made.paid, members=1)
        made.workspace(conn, "globex", made.other)
    made.push(CATALOG.format(paid=made.paid))
    yield made
    made.db.dispose()


def credits(env, *args, code=0):
    return env.cli().json("credits", *args, code=code)


def grant(env, amount, key, *extra, ws="acme"):
    return credits(env, "grant", "-w", ws, "ai-credits", str(amount), "--key", key, "--as", "root", *extra)


def account(env, ws="acme"):
    (found,) = credits(env, "balance", "-w", ws, "ai-credits")["accounts"]
    return found


def record(env, *args, ws="acme"):
    result = env.cli()("usage", "record", "-w", ws, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_ledger_holds(env):
    assert credits(env, "verify", "--all")["ok"] is True


def test_record_deducts_once_and_a_duplicate_deducts_nothing(env):
    grant(env, 10, "g")
    record(env, "--type", "query", "--quantity", "3", "--id", new_id(1))
    assert account(env)["balance"] == 7
    again = record(env, "--type", "query", "--quantity", "3", "--id", new_id(1))
    assert again["duplicate"] is True
    assert account(env)["balance"] == 7
    record(env, "--type", "token", "--quantity", "1001", "--id", new_id(2))  # ceil(1001 / 1000) = 2
    record(env, "--type", "login", "--id", new_id(3))  # no price: nothing
    assert account(env)["balance"] == 5
    entries = credits(env, "ledger", "-w", "acme")["entries"]
    assert [(e["kind"], e["amount"], e["eventId"]) for e in entries[:2]] == [
        ("debit", -2, new_id(2)),
        ("debit", -3, new_id(1)),
    ]
    assert_ledger_holds(env)


def test_a_workspace_not_entitled_pays_nothing(env):
    record(env, "--type", "query", "--quantity", "3", ws="globex")
    assert credits(env, "balance", "-w", "globex")["accounts"][0]["balance"] == 0
    assert env.count("atlas_credit_ledger") == 0


def test_the_shortfall_is_overage_and_a_grant_never_goes_negative(env):
    made = grant(env, 2, "g")
    record(env, "--type", "query", "--quantity", "5")
    found = account(env)
    assert (found["balance"], found["overage"]) == (-3, 3)
    with env.db.connect() as conn:
        remaining = conn.execute(sa.select(credit_grants.c.remaining).where(credit_grants.c.id == made["grantId"]))
        assert remaining.scalar_one() == 0
    assert_ledger_holds(env)


def test_effective_and_expiry_are_judged_at_the_event_time(env):
    expiry = NOW + timedelta(days=2)
    grant(env, 100, "g", "--expires", expiry.isoformat())
    before = (expiry - timedelta(microseconds=1)).isoformat()
    record(env, "--type", "query", "--quantity", "4", "--at", before, "--id", new_id(1))
    assert account(env)["overage"] == 0
    record(env, "--type", "query", "--quantity", "4", "--at", expiry.isoformat(), "--id", new_id(2))
    assert account(env)["overage"] == 4  # expired at that instant: exclusive
    early = (NOW - timedelta(days=1)).isoformat()  # before the grant was made (effective from NOW)
    record(env, "--type", "query", "--quantity", "1", "--at", early, "--id", new_id(3))
    found = account(env)
    assert (found["overage"], found["balance"]) == (5, 100 - 4 - 5)
    assert_ledger_holds(env)


def test_ingest_deducts_for_inserted_lines_only(env, tmp_path):
    grant(env, 1000, "g")
    record(env, "--type", "query", "--quantity", "7", "--id", new_id(1))
    lines = [
        {"id": new_id(1), "workspace_id": "acme", "event_type": "query", "quantity": 7},  # duplicate
        {"id": new_id(2), "workspace_id": "acme", "event_type": "query", "quantity": 10},
        {"id": new_id(2), "workspace_id": "acme", "event_type": "query", "quantity": 10},  # repeated in the file
        {"id": new_id(3), "workspace_id": "acme", "event_type": "token", "quantity": 2500},
        {"id": new_id(4), "workspace_id": "acme", "event_type": "query", "quantity": -1},  # rejected
        {"id": new_id(5), "workspace_id": "acme", "event_type": "nope", "quantity": 50},  # rejected
        {"id": new_id(6), "workspace_id": "globex", "event_type": "query", "quantity": 50},  # not entitled
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n"
    result = env.cli()("usage", "ingest", "-", "--json", stdin=text)
    assert result.exit_code == 2, result.stderr  # lines were rejected
    assert account(env)["balance"] == 1000 - 7 - 10 - 3
    assert_ledger_holds(env)


def test_the_sink_deducts_in_its_batch_set_based(env):
    grant(env, 500, "g")
    events = [Event(new_id(n), "acme", None, "query", 2, None, NOW + timedelta(seconds=n)) for n in range(1, 301)]
    sink = DatabaseSink(env.db)
    assert sink.write(events).inserted == 300
    assert sink.write(events).inserted == 0  # a second time: all duplicates, nothing more deducted
    found = account(env)
    assert (found["balance"], found["overage"]) == (500 - 600, 100)
    # the grant, then per batch one debit per grant drawn on and one for the overage
    assert env.count("atlas_credit_ledger") == 3
    assert_ledger_holds(env)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_concurrent_writers_never_overdraw_or_double_spend(env):
    grant(env, 300, "g1", "--priority", "1")
    grant(env, 300, "g2", "--priority", "2")
    errors: list[BaseException] = []

    def writer(first: int) -> None:
        sink = DatabaseSink(env.db)
        try:
            for batch in range(10):
                start = first + batch * 20
                rows = [Event(new_id(n), "acme", None, "query", 5, None, NOW) for n in range(start, start + 20)]
                sink.write(rows)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k * 10_000,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    found = account(env)
    total = 3 * 10 * 20 * 5
    assert (found["balance"], found["overage"]) == (600 - total, total - 600)
    assert [g["remaining"] for g in found["grants"]] == [0, 0]
    assert_ledger_holds(env)


def _add_grant(conn, amount, priority, *, effective=NOW, expires=None):
    """A grant made directly (the CLI's grants are effective from the moment they are made)."""
    from atlas_cli.services.credit_book import Book, Stamp

    book = Book(conn, [("acme", "ai-credits")], NOW)
    grant_id = book.add(
        ("acme", "ai-credits"),
        amount,
        source="grant",
        kind="grant",
        stamp=Stamp(None, "root", None),
        priority=priority,
        effective_at=effective,
        expires_at=expires,
    )
    book.save()
    return grant_id


def _remaining(env):
    with env.db.connect() as conn:
        rows = conn.execute(sa.select(credit_grants.c.id, credit_grants.c.remaining)).all()
    return dict(rows)


def test_a_batch_meeting_grant_boundaries_draws_each_event_from_the_grants_usable_then(env):
    # one batch of events at NOW+1s .. NOW+20s, 10 credits each, while grant a ends at +10s
    # (exclusive) and grant c starts at +15s (inclusive): the batch's sum cannot be drawn at once
    with env.db.begin() as conn:
        a = _add_grant(conn, 100, 1, expires=NOW + timedelta(seconds=10))
        b = _add_grant(conn, 1000, 2)
        c = _add_grant(conn, 20, 0, effective=NOW + timedelta(seconds=15))
    events = [Event(new_id(n), "acme", None, "query", 10, None, NOW + timedelta(seconds=n)) for n in range(1, 21)]
    assert DatabaseSink(env.db).write(events).inserted == 20
    # +1..+9: a (90); +10..+14: a has expired, b (50); +15..+20: c first (20), then b (40)
    assert _remaining(env) == {a: 10, b: 910, c: 0}
    found = account(env)
    assert (found["balance"], found["overage"]) == (1120 - 200, 0)
    assert_ledger_holds(env)


def test_a_batch_inside_one_interval_draws_its_sum_in_burn_order(env):
    with env.db.begin() as conn:
        a = _add_grant(conn, 50, 1, expires=NOW + timedelta(seconds=30))
        b = _add_grant(conn, 100, 1)  # same priority, no expiry: after a
        late = _add_grant(conn, 500, 0, effective=NOW + timedelta(seconds=40))  # not usable by this batch
    events = [Event(new_id(n), "acme", None, "token", 2500, None, NOW + timedelta(seconds=n)) for n in range(1, 21)]
    assert DatabaseSink(env.db).write(events).inserted == 20
    # each token event of 2,500 costs ceil(2.5) = 3: 60 in all
    assert _remaining(env) == {a: 0, b: 90, late: 500}
    assert account(env)["overage"] == 0
    assert env.count("atlas_credit_ledger") == 3 + 2  # the grants, then one debit per grant drawn on
    assert_ledger_holds(env)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_grant_committed_while_the_insert_waits_for_the_account_is_drawn_on(env):
    """The insert's statement reads the grants as of its start: one that commits while it waits for
    the account's lock is missing there, so the deduction reads the grants again after the lock."""
    grant(env, 100, "old", "--priority", "5")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            events = [Event(new_id(n), "acme", None, "query", 10, None, NOW) for n in range(1, 4)]
            DatabaseSink(env.db).write(events)
        except BaseException as exc:  # reported below
            errors.append(exc)

    with env.db.begin() as conn:
        new = _add_grant(conn, 100, 1)  # holds the account's lock until committed
        worker = threading.Thread(target=write)
        worker.start()
        assert wait_for_a_lock_waiter(env.db), "the insert never waited for the account's lock"
    worker.join(timeout=30)
    assert not errors
    remaining = _remaining(env)
    assert remaining[new] == 70  # priority 1 first
    assert sorted(remaining.values()) == [70, 100]
    assert_ledger_holds(env)


def test_costs_are_exact_integers_beyond_32_bits(env):
    # ceil(quantity x credits / per) with credits past what 32-bit arithmetic holds
    big = CATALOG.format(paid=env.paid).replace("credits = 1, per = 1000", "credits = 3000000000, per = 7")
    env.push(big)
    grant(env, 10**15, "g")
    events = [
        Event(new_id(1), "acme", None, "token", 5, None, NOW + timedelta(seconds=1)),
        Event(new_id(2), "acme", None, "token", 2_000_000_000, None, NOW + timedelta(seconds=2)),
        Event(new_id(3), "acme", None, "query", 3, None, NOW + timedelta(seconds=3)),
    ]
    assert DatabaseSink(env.db).write(events).inserted == 3
    # ceil(15e9 / 7) = 2,142,857,143; ceil(6e18 / 7) = 857,142,857,142,857,143; 3 queries: 3
    assert account(env)["balance"] == 10**15 - 2_142_857_143 - 857_142_857_142_857_143 - 3
    assert_ledger_holds(env)
