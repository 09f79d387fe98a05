"""`billing check` reads closed days from the daily rollup (DESIGN 8, billing check), on SQLite and
PostgreSQL, for both billing models: the fresh closed days of each window come from
atlas_usage_days, the rest from the raw events, and the totals (the fleet's and the single
check's alike) are always exactly the raw computation's, late events included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db import schema, usage_days, workspace_sets
from atlas_cli.db.database import Database
from atlas_cli.domain.periods import Window
from atlas_cli.services.fleet import measure
from atlas_cli.services.models import Workspace
from atlas_cli.services.standing import measure_facts
from tests import billing_factories as bf
from tests import factories
from tests import per_seat_factories as ps
from tests.factories import NOW


def day(d: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 11, d, hour, minute, tzinfo=UTC)


PERIOD_START = day(3, 10, 30)  # acme's Stripe period began mid-day: Nov 3 10:30 to Dec 3 10:30


@pytest.fixture(params=["classic", "per-seat"])
def db(request: pytest.FixtureRequest, db_url: str) -> Any:
    """Workspace acme (a Stripe period starting mid-day) and plain (the UTC month), with events
    before acme's period, on its first partial day, on closed days, today and after now."""
    if request.param == "classic":
        database = factories.migrated(db_url)
        with database.begin() as conn:
            factories.workspace(conn, "acme")
            factories.workspace(conn, "plain")
            factories.subscription(conn, "acme", status="active", start=PERIOD_START, end=PERIOD_START + timedelta(30))
    else:
        database = ps.database(db_url)
        assert bf.Cli(database.url)("db", "upgrade").exit_code == 0
        with database.begin() as conn:
            ps.workspace(conn, "acme", tier="pro", seats=2)
            ps.workspace(conn, "plain", tier="pro", seats=1)
            ps.subscription(conn, "acme", status="active", start=PERIOD_START, end=PERIOD_START + timedelta(30))
    with database.begin() as conn:
        for ws in ("acme", "plain"):
            factories.events(
                conn,
                ws,
                [
                    ("query", 7, day(2, 12), "u1"),
                    ("query", 5, day(3, 9), "u1"),  # before acme's period began
                    ("query", 11, day(3, 11), "u2"),  # acme's partial first day
                    ("token", 1_000, day(4), "u1"),
                    ("login", 1, day(9, 8), "u1"),
                    ("query", 13, day(12, 23, 59), "u2"),
                    ("token", 250, day(21, 23, 59), "u2"),
                    ("query", 17, NOW - timedelta(hours=2), "u1"),  # today
                    ("query", 19, NOW + timedelta(hours=3), "u1"),  # after now, inside the period
                ],
            )
        if request.param == "per-seat":
            for ws in ("acme", "plain"):
                for dollars, at in [("0.123457", day(3, 9)), ("1.000001", day(3, 12)), ("2.5", day(10, 1))]:
                    ps.cost(conn, ws, dollars, at=at)
                ps.cost(conn, ws, "0.000003", at=NOW - timedelta(minutes=5))
    yield database
    database.dispose()


def measured(db: Database, *, now: datetime = NOW) -> dict[str, dict[str, Any]]:
    """Each workspace's meters as the fleet and as the single check measure them (equal), also
    equal to the raw recomputation's; returned as served."""
    with db.connect() as conn:
        billing = db.billing(conn)
        live = workspace_sets.live_workspaces(conn, billing.layout.organization)
        targets = [Workspace.from_row(row, billing.layout) for row in live]
        found = {}
        for recompute in (False, True):
            fleet = measure(conn, billing, targets, now, recompute=recompute).usage
            assert fleet is not None
            single = {
                ws.id: measure_facts(conn, billing, ws, billing.catalog.plan(ws.tier_value), now, recompute=recompute)
                for ws in targets
            }
            assert fleet == {ws_id: facts.usage for ws_id, facts in single.items()}
            found[recompute] = fleet
    assert found[False] == found[True], "served differs from the raw recomputation"
    return found[False]


def served(db: Database, *, now: datetime = NOW) -> dict[str, tuple[int, int]]:
    """The days of each window read from the rollup, as (first day, day after the last) of November."""
    windows = {
        ws: Window(start, start + timedelta(days=30)) for ws, start in (("acme", PERIOD_START), ("plain", day(1)))
    }
    with db.connect() as conn:
        spans = usage_days.served_days(conn, windows, now)
    return {ws: (first.day, split.day) for ws, (first, split) in spans.items()}


def aggregate(db: Database, *args: str, clock: Any = factories.clock) -> None:
    result = bf.Cli(db.url, clock=clock)("usage", "aggregate", "--all", "--since", "2026-10-25", *args)
    assert result.exit_code == 0, result.stdout + result.stderr


def queries(usage: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {ws: int(u["queries"]) for ws, u in usage.items()}


def test_never_aggregated_everything_is_read_raw(db: Database) -> None:
    assert served(db) == {}
    usage = measured(db)
    assert queries(usage) == {"acme": 11 + 13 + 17 + 19, "plain": 7 + 5 + 11 + 13 + 17 + 19}


def test_closed_days_are_served_and_the_rest_is_raw(db: Database) -> None:
    aggregate(db)
    # acme: from the first midnight of its period (Nov 4); plain: from Nov 1; both up to today.
    assert served(db) == {"acme": (4, 22), "plain": (1, 22)}
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.usage_days)).scalar_one() > 0
    usage = measured(db)
    assert queries(usage) == {"acme": 11 + 13 + 17 + 19, "plain": 7 + 5 + 11 + 13 + 17 + 19}
    if ps_model(db):  # the per-seat model's dollars: exact, the partial first day's included
        assert {ws: u["usd"] for ws, u in usage.items()} == {"acme": Decimal("3.500004"), "plain": Decimal("3.623461")}
    # An hour's grace after a day closes: at 00:30 the day before is not served yet.
    assert served(db, now=day(22, 0, 30)) == {"acme": (4, 21), "plain": (1, 21)}


def test_a_day_computed_within_the_grace_breaks_the_served_days(db: Database) -> None:
    aggregate(db, clock=lambda: day(10, 0, 30))  # Nov 9 closed 30 minutes before: not computed
    assert served(db) == {"acme": (4, 9), "plain": (1, 9)}
    measured(db)
    aggregate(db)
    assert served(db) == {"acme": (4, 22), "plain": (1, 22)}
    measured(db)


def test_late_events_atlas_writes_are_read_raw_until_aggregated(db: Database) -> None:
    aggregate(db)
    before = queries(measured(db))
    cli = bf.Cli(db.url)
    cost = ["--cost-usd", "0.000007"] if ps_model(db) else []
    late = cli("usage", "record", "-w", "acme", "-t", "query", "-q", "23", "--at", "2026-11-10T12:00Z", *cost)
    assert late.exit_code == 0, late.stdout + late.stderr
    assert served(db) == {"acme": (4, 10), "plain": (1, 22)}  # Nov 10 is marked: read raw from there
    usage = measured(db)
    assert queries(usage) == {"acme": before["acme"] + 23, "plain": before["plain"]}
    # History recomputes the day's summary and clears its mark: the rollup's day is forgotten too.
    assert cli("usage", "history", "-w", "acme", "--period", "daily", "--json").exit_code == 0
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.stale_periods)).scalar_one() == 1  # month
    assert served(db)["acme"] == (4, 10)
    assert measured(db) == usage
    aggregate(db)
    assert served(db) == {"acme": (4, 22), "plain": (1, 22)}
    assert measured(db) == usage


def test_events_written_in_plain_sql_are_served_once_aggregated(db: Database) -> None:
    aggregate(db)
    with db.begin() as conn:  # a backfill behind atlas's back: verify finds it, aggregate fixes it
        factories.events(conn, "plain", [("query", 29, day(5, 6), "u1")])
    assert bf.Cli(db.url)("usage", "verify", "--all", "--since", "2026-11-01", "--period", "daily").exit_code == 4
    aggregate(db)
    assert queries(measured(db))["plain"] == 7 + 5 + 11 + 13 + 17 + 19 + 29


def test_the_cli_check_equals_its_recomputation(db: Database) -> None:
    aggregate(db)
    cli = bf.Cli(db.url)
    for args in (["--all"], ["-w", "acme"], ["-w", "plain"]):
        served_out = cli("billing", "check", *args, "--json")
        raw_out = cli("billing", "check", *args, "--recompute", "--json")
        assert served_out.exit_code == raw_out.exit_code, served_out.stderr
        assert served_out.stdout == raw_out.stdout


def ps_model(db: Database) -> bool:
    with db.connect() as conn:
        return db.billing(conn).model == "per-seat"


def test_a_late_event_committed_while_aggregate_runs_is_never_lost(pg_url: str) -> None:
    """PostgreSQL: a writer holding the mark of a closed day (its transaction open) makes an
    aggregate that recomputes the day wait, so the rollup it writes has the event, or the mark
    stays; either way the check's totals are the raw ones."""
    import threading
    import uuid

    from atlas_cli.db import events as sql
    from atlas_cli.services import Services

    db = factories.migrated(pg_url)
    with db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.events(conn, "acme", [("query", 1, day(5), "u1")])
    aggregate(db)
    cli = bf.Cli(db.url)
    late = day(10, 12)
    assert cli("usage", "record", "-w", "acme", "-t", "query", "-q", "2", "--at", late.isoformat()).exit_code == 0
    with db.begin() as conn:  # a second late event, not committed yet: it holds the day's mark
        assert sql.insert_events(conn, [(str(uuid.UUID(int=9)), "acme", None, "query", 3, None, late, None)]) == 1
        nightly = threading.Thread(target=lambda: Services(db, factories.clock).events.aggregate(None, every=True))
        nightly.start()
        nightly.join(0.5)  # it waits for this transaction; the outcome does not depend on how long
    nightly.join()
    assert served(db)["acme"] == (4, 22)  # the marks were cleared, the day recomputed with the event
    usage = measured(db)
    assert usage["acme"]["queries"] == 6
    db.dispose()
