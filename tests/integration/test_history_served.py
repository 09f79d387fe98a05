"""History served from stored summaries (DESIGN 4a, History), on SQLite and PostgreSQL, for both
billing models: settled closed periods are read back, everything else is recomputed, and the
numbers are always exactly the recomputation's, late events included."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db import schema
from atlas_cli.db.database import Database
from tests import billing_factories as bf
from tests import factories
from tests import per_seat_factories as ps
from tests.factories import NOW

Counts = list[tuple[str, int, int, int]]


@pytest.fixture(params=["classic", "per-seat"])
def db(request: pytest.FixtureRequest, db_url: str) -> Any:
    """A database of either billing model (atlas's tables added), with workspace acme and a few
    events on closed days (Oct 30, Nov 2, Nov 10) and today (Nov 22)."""
    if request.param == "classic":
        database = factories.migrated(db_url)
        with database.begin() as conn:
            factories.workspace(conn, "acme")
    else:
        database = ps.database(db_url)
        assert bf.Cli(database.url)("db", "upgrade").exit_code == 0
        with database.begin() as conn:
            ps.workspace(conn, "acme")
    with database.begin() as conn:
        factories.events(
            conn,
            "acme",
            [
                ("query", 3, datetime(2026, 10, 30, 9, tzinfo=UTC), "u1"),
                ("login", 1, datetime(2026, 11, 2, 8, tzinfo=UTC), "u1"),
                ("token", 1_000, datetime(2026, 11, 10, 23, 59, tzinfo=UTC), "u2"),
                ("query", 2, NOW - timedelta(hours=1), "u2"),
            ],
        )
    yield database
    database.dispose()


def counts(cli: bf.Cli, period: str, *extra: str) -> Counts:
    out = cli.json("usage", "history", "-w", "acme", "--period", period, "--limit", "40", *extra)
    return [(r["period_start"][:10], r["query_count"], r["token_count"], r["active_users"]) for r in out["summaries"]]


def on(rows: Counts, day: str) -> tuple[int, int, int]:
    return next((q, t, a) for start, q, t, a in rows if start == day)


def marks(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.stale_periods)).scalar_one())


def test_late_events_atlas_writes_are_read_from_the_events_not_the_stale_summary(db: Database) -> None:
    cli = bf.Cli(db.url)
    before_daily, before_monthly = counts(cli, "daily"), counts(cli, "monthly")
    assert on(before_daily, "2026-11-10") == (0, 1_000, 0) and on(before_monthly, "2026-11-01") == (2, 1_000, 1)
    assert marks(db) == 0  # events written by plain SQL: nothing marked
    # Late events into closed, settled periods: one recorded, two ingested (stdin), all by atlas.
    recorded = cli("usage", "record", "-w", "acme", "-t", "query", "-q", "5", "-u", "u3", "--at", "2026-11-02T10:00Z")
    assert recorded.exit_code == 0, recorded.stdout + recorded.stderr
    lines = [
        {"id": str(uuid.UUID(int=1)), "workspace_id": "acme", "event_type": "token", "quantity": 40,
         "created_at": "2026-11-10T12:00:00Z"},
        {"id": str(uuid.UUID(int=2)), "workspace_id": "acme", "event_type": "login", "user_id": "u9",
         "created_at": "2026-10-30T23:59:59.999999Z"},
    ]  # fmt: skip
    ingested = cli("usage", "ingest", "-", stdin="\n".join(json.dumps(line) for line in lines) + "\n")
    assert ingested.exit_code == 0, ingested.stdout + ingested.stderr
    assert marks(db) == 5  # three days (Oct 30, Nov 2, Nov 10) and two months (Oct, Nov)
    daily, monthly = counts(cli, "daily"), counts(cli, "monthly")
    assert on(daily, "2026-11-02") == (5, 0, 1) and on(daily, "2026-11-10") == (0, 1_040, 0)
    assert on(daily, "2026-10-30") == (3, 0, 1)
    assert on(monthly, "2026-11-01") == (7, 1_040, 1) and on(monthly, "2026-10-01") == (3, 0, 1)
    assert marks(db) == 0  # recomputed, so no longer marked
    assert daily == counts(cli, "daily", "--recompute") and monthly == counts(cli, "monthly", "--recompute")
    assert counts(cli, "daily") == daily  # and now served as stored


def test_events_written_behind_atlas_back_are_found_by_verify_and_fixed_by_aggregate(db: Database) -> None:
    cli = bf.Cli(db.url)
    before = counts(cli, "daily")
    with db.begin() as conn:  # a backfill in plain SQL: atlas cannot know
        factories.events(conn, "acme", [("query", 11, datetime(2026, 11, 10, 8, tzinfo=UTC), "u1")])
    assert counts(cli, "daily") == before  # the settled day is served as it was stored
    found = cli.json("usage", "verify", "-w", "acme", "--since", "2026-11-01", "--period", "daily", code=4)
    assert [m["period_start"][:10] for m in found["mismatches"]] == ["2026-11-10"]
    assert cli("usage", "aggregate", "-w", "acme", "--since", "2026-11-01", "--period", "daily").exit_code == 0
    after = counts(cli, "daily")
    assert on(after, "2026-11-10") == (11, 1_000, 0)
    assert after == counts(cli, "daily", "--recompute")
    assert cli("usage", "verify", "-w", "acme", "--since", "2026-11-01", "--period", "daily").exit_code == 0


def test_aggregate_clears_the_marks_it_recomputes_and_only_those(db: Database) -> None:
    cli = bf.Cli(db.url)
    counts(cli, "daily")
    for at in ("2026-11-03T00:00Z", "2026-10-20T12:00Z"):
        assert cli("usage", "record", "-w", "acme", "-t", "query", "-q", "4", "--at", at).exit_code == 0
    assert marks(db) == 4  # Nov 3, Oct 20, and their months
    assert cli("usage", "aggregate", "-w", "acme", "--since", "2026-11-01", "--period", "daily").exit_code == 0
    assert marks(db) == 3  # Nov 3 recomputed; Oct 20 (before --since) and both months still marked
    daily = counts(cli, "daily")
    assert on(daily, "2026-11-03") == (4, 0, 0) and on(daily, "2026-10-20") == (4, 0, 0)
    assert daily == counts(cli, "daily", "--recompute")


def test_a_summary_computed_within_the_grace_is_recomputed_later(db: Database) -> None:
    just_after = datetime(2026, 11, 11, 0, 30, tzinfo=UTC)  # Nov 10 closed 30 minutes ago
    early = bf.Cli(db.url, clock=lambda: just_after)
    assert on(counts(early, "daily"), "2026-11-10") == (0, 1_000, 0)
    with db.begin() as conn:  # a writer whose transaction committed after the close
        factories.events(conn, "acme", [("token", 5, datetime(2026, 11, 10, 23, 59, 59, tzinfo=UTC), "u2")])
    assert on(counts(bf.Cli(db.url), "daily"), "2026-11-10") == (0, 1_005, 0)


def test_without_the_marks_table_every_period_is_recomputed(db_url: str) -> None:
    """A per-seat server's database atlas has not upgraded: no marks are kept, nothing is served."""
    db = ps.database(db_url)
    with db.begin() as conn:
        ps.workspace(conn, "acme")
        factories.events(conn, "acme", [("query", 1, datetime(2026, 11, 2, tzinfo=UTC), "u1")])
    cli = bf.Cli(db.url)
    assert on(counts(cli, "daily"), "2026-11-02") == (1, 0, 0)
    assert cli("usage", "record", "-w", "acme", "-t", "query", "--at", "2026-11-02T05:00Z").exit_code == 0
    with db.begin() as conn:
        factories.events(conn, "acme", [("query", 10, datetime(2026, 11, 2, 6, tzinfo=UTC), "u1")])
    assert on(counts(cli, "daily"), "2026-11-02") == (12, 0, 0)
    db.dispose()


def test_a_late_event_committed_while_history_recomputes_is_never_lost(pg_url: str) -> None:
    """PostgreSQL: a writer holding a mark of a period (its transaction open) makes a history that
    recomputes that period wait, so the recomputation sees its event; nothing is served stale."""
    import threading

    from atlas_cli.db import events as sql
    from atlas_cli.services import Services

    db = factories.migrated(pg_url)
    with db.begin() as conn:
        factories.workspace(conn, "acme")
    cli = bf.Cli(db.url)
    counts(cli, "daily")
    late = datetime(2026, 11, 10, 12, tzinfo=UTC)
    assert cli("usage", "record", "-w", "acme", "-t", "query", "-q", "2", "--at", late.isoformat()).exit_code == 0
    shown: list[Any] = []
    with db.begin() as conn:  # a second late event, not committed yet: it holds the day's mark
        assert sql.insert_events(conn, [(str(uuid.UUID(int=7)), "acme", None, "query", 3, None, late, None)]) == 1
        reader = threading.Thread(
            target=lambda: shown.append(Services(db, factories.clock).usage.history("acme", period="daily", limit=40))
        )
        reader.start()
        reader.join(0.5)  # it waits for this transaction; the outcome does not depend on how long
    reader.join()
    day = next(r for r in shown[0].rows if r.period_start == datetime(2026, 11, 10, tzinfo=UTC))
    assert day.query_count == 5
    assert counts(cli, "daily") == counts(cli, "daily", "--recompute")
    db.dispose()
