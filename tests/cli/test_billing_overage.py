"""`billing overage`: the overage owed this period beside what the server's overage ledger says
it reported, on a per-seat database on both engines; exit 5 on a classic one."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests import factories
from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.factories import MONTH_START, NOW


@pytest.fixture
def server(db_url):
    db = ps.database(db_url)
    yield db
    db.dispose()


def overage(server, *args: str, code: int = 0):
    return Atlas(server.url).json("billing", "overage", *args, code=code)


def one(server, ws: str) -> dict:
    (row,) = overage(server, "-w", ws)
    return row


def test_owed_beside_reported_and_the_difference(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="pro", seats=1)
        ps.cost(conn, "acme", "30")
        ps.cost(conn, "acme", "2.347")
        ps.cost(conn, "acme", "400", at=MONTH_START - timedelta(seconds=1))  # last month: not this period
        ps.overage_report(conn, "acme", period_start=MONTH_START, cents=1000)
    row = one(server, "acme")
    assert row == {
        "workspaceId": "acme",
        "billingModel": "per-seat",
        "tier": "pro",
        "byot": False,
        "seats": 1,
        "costUsd": 32.347,
        "creditUsd": 20,
        "overageCents": 1235,
        "reportedCents": 1000,
        "unreportedCents": 235,
        "periodStart": "2026-11-01T00:00:00.000Z",
        "periodEnd": "2026-12-01T00:00:00.000Z",
        "periodSource": "utc-month",
    }


def test_nothing_reported_leaves_all_of_it_unreported_and_other_periods_are_ignored(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="starter", seats=3)
        ps.cost(conn, "acme", "72.50")
        ps.overage_report(conn, "acme", period_start=MONTH_START - timedelta(days=31), cents=9999)  # October
        ps.overage_report(conn, "acme", period_start=MONTH_START + timedelta(hours=1), cents=5)  # another start
    row = one(server, "acme")
    assert (row["creditUsd"], row["overageCents"], row["reportedCents"], row["unreportedCents"]) == (60, 1250, 0, 1250)


def test_under_the_credit_nothing_is_owed(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="business", seats=0)  # the credit counts at least one seat
        ps.cost(conn, "acme", "19.999")
    row = one(server, "acme")
    assert (row["seats"], row["creditUsd"], row["overageCents"], row["unreportedCents"]) == (0, 20, 0, 0)


def test_the_period_of_an_active_subscription_keys_the_ledger(server):
    start, end = NOW - timedelta(days=3), NOW + timedelta(days=27)
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="pro", seats=2)
        ps.subscription(conn, "acme", status="active", start=start, end=end)
        ps.cost(conn, "acme", "45", at=NOW - timedelta(days=1))
        ps.cost(conn, "acme", "500", at=start - timedelta(seconds=1))  # before the period
        ps.overage_report(conn, "acme", period_start=start, cents=300)
        ps.overage_report(conn, "acme", period_start=MONTH_START, cents=7777)  # the month is not the period
    row = one(server, "acme")
    assert row["periodSource"] == "stripe" and row["periodStart"] == "2026-11-19T15:30:00.000Z"
    assert (row["overageCents"], row["reportedCents"], row["unreportedCents"]) == (500, 300, 200)


def test_byot_free_and_locked_owe_nothing(server):
    with server.begin() as conn:
        ps.workspace(conn, "byot", tier="pro", byot=True)
        ps.workspace(conn, "free", tier="free")
        ps.workspace(conn, "gone", tier="locked")
        for ws in ("byot", "free", "gone"):
            ps.cost(conn, ws, "90")
        ps.overage_report(conn, "byot", period_start=MONTH_START, cents=100)  # reported before BYOT was on
    byot = one(server, "byot")
    assert (byot["costUsd"], byot["creditUsd"], byot["overageCents"], byot["unreportedCents"]) == (90, 20, 0, -100)
    for ws in ("free", "gone"):
        row = one(server, ws)
        assert (row["costUsd"], row["creditUsd"], row["overageCents"], row["reportedCents"]) == (90, 0, 0, 0), ws


def test_all_lists_only_workspaces_with_a_credit(server):
    with server.begin() as conn:
        for ws, tier, dollars in [("a_pro", "pro", "25"), ("b_free", "free", "99"), ("c_locked", "locked", "99"),
                                  ("d_trial", "trial", "21.005"), ("e_starter", "starter", "0")]:  # fmt: skip
            ps.workspace(conn, ws, tier=tier)
            ps.cost(conn, ws, dollars)
        ps.overage_report(conn, "a_pro", period_start=MONTH_START, cents=500)
    rows = overage(server, "--all")
    assert [(r["workspaceId"], r["overageCents"], r["unreportedCents"]) for r in rows] == [
        ("a_pro", 500, 0),
        ("d_trial", 101, 101),  # 1.005 rounds half up
        ("e_starter", 0, 0),
    ]
    atlas = Atlas(server.url)
    result = atlas("billing", "overage", "--all", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0] == ["workspace", "tier", "seats", "costUsd", "creditUsd", "overageCents", "reportedCents",
                        "unreportedCents", "periodStart", "periodSource"]  # fmt: skip
    assert lines[1] == ["a_pro", "pro", "1", "25", "20", "500", "500", "0", "2026-11-01T00:00:00.000Z", "utc-month"]
    table = atlas("billing", "overage", "--all")
    assert table.exit_code == 0, table.output
    assert "d_trial" in table.stdout and "101" in table.stdout and "b_free" not in table.stdout


def test_all_on_a_database_without_such_workspaces_is_an_empty_list(server):
    assert overage(server, "--all") == []


def test_unknown_workspace_and_both_selectors_are_refused(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme")
    atlas = Atlas(server.url)
    missing = atlas("billing", "overage", "-w", "nope")
    assert missing.exit_code == 3 and missing.stderr.startswith("Error: ")
    both = atlas("billing", "overage", "-w", "acme", "--all")
    assert both.exit_code == 2 and both.stderr == "Error: give either --workspace or --all, not both\n"


def test_a_classic_database_has_no_metered_overage(db_url):
    db = factories.migrated(db_url)
    try:
        with db.begin() as conn:
            factories.workspace(conn, "acme")
        for args in (("-w", "acme"), ("--all",)):
            result = Atlas(db.url)("billing", "overage", *args)
            assert result.exit_code == 5 and result.stdout == ""
            assert result.stderr.count("\n") == 1 and "classic billing model has no metered overage" in result.stderr
    finally:
        db.dispose()


def test_all_reads_a_fixed_number_of_statements_whatever_the_workspaces(server):
    import sqlalchemy as sa

    from atlas_cli.services import Services

    def statements(count: int) -> int:
        with server.begin() as conn:
            for n in range(count):
                ws = f"ws{count}_{n}"
                ps.workspace(conn, ws, tier="pro")
                ps.subscription(
                    conn, ws, status="active", start=NOW - timedelta(days=n + 1), end=NOW + timedelta(days=9)
                )
                ps.cost(conn, ws, "25")
                ps.overage_report(conn, ws, period_start=NOW - timedelta(days=n + 1), cents=100 * n)
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(server.engine, "before_cursor_execute", listener)
        try:
            rows = Services(server, factories.clock).overage.overage(None, all_workspaces=True).rows
        finally:
            sa.event.remove(server.engine, "before_cursor_execute", listener)
        mine = [r for r in rows if r.workspace.id.startswith(f"ws{count}_")]
        assert [r.reported_cents for r in mine] == [100 * n for n in range(count)]
        assert {r.period_source for r in mine} == {"stripe"} and {r.overage_cents for r in mine} == {500}
        return len(seen)

    Services(server, factories.clock).overage.overage(None, all_workspaces=True)  # the model is detected once
    assert statements(2) == statements(7)
