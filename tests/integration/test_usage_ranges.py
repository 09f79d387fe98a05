"""History and aggregation ranges start with the workspace's usage; reads work read-only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from atlas_cli.db import schema
from atlas_cli.db.database import Database
from tests import billing_factories as bf
from tests import factories

S = schema.usage_summaries.c
CREATED = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)  # NOW is 2026-11-22


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = factories.migrated(db_url)
    with database.begin() as conn:
        factories.workspace(conn, "acme", createdAt=CREATED)
        factories.workspace(conn, "globex", createdAt=datetime(2026, 11, 20, tzinfo=UTC))
        factories.events(
            conn,
            "acme",
            [
                ("query", 3, datetime(2026, 9, 2, tzinfo=UTC), "u1"),
                ("login", 1, datetime(2026, 9, 2, tzinfo=UTC), "u1"),
                ("token", 40, datetime(2026, 11, 21, tzinfo=UTC), "u2"),
            ],
        )
    yield database
    database.dispose()


@pytest.fixture
def cli(db: Database) -> bf.Cli:
    return bf.Cli(db.url)


def summaries(db: Database, workspace_id: str | None = None, period: str | None = None) -> list[tuple[str, str, str]]:
    """(workspace, period, first day) of every stored summary, oldest first."""
    query = sa.select(S.workspace_id, S.period, S.period_start).order_by(S.workspace_id, S.period, S.period_start)
    if workspace_id:
        query = query.where(S.workspace_id == workspace_id)
    if period:
        query = query.where(S.period == period)
    with db.connect() as conn:
        return [(w, p, start.date().isoformat()) for w, p, start in conn.execute(query)]


def months(out: dict[str, Any]) -> list[str]:
    return [row["period_start"][:7] for row in out["summaries"]]


# --- history: never before the workspace's creation ---------------------------------------


def test_monthly_history_with_the_default_limit_starts_at_the_workspace_creation(db: Database, cli: bf.Cli) -> None:
    out = cli.json("usage", "history", "-w", "acme", "--period", "monthly")
    assert months(out) == ["2026-11", "2026-10", "2026-09", "2026-08"]
    assert [r["query_count"] for r in out["summaries"]] == [0, 0, 3, 0]
    assert [start for _w, _p, start in summaries(db, "acme")] == [
        "2026-08-01",
        "2026-09-01",
        "2026-10-01",
        "2026-11-01",
    ]


def test_daily_history_and_an_early_start_stop_at_the_creation_day(db: Database, cli: bf.Cli) -> None:
    out = cli.json("usage", "history", "-w", "globex", "--period", "daily", "--start", "2019-01-01")
    assert [r["period_start"][:10] for r in out["summaries"]] == ["2026-11-22", "2026-11-21", "2026-11-20"]
    assert len(summaries(db, "globex", "daily")) == 3


def test_history_reaches_back_to_events_older_than_the_workspace(db: Database, cli: bf.Cli) -> None:
    with db.begin() as conn:
        factories.events(conn, "acme", [("query", 5, datetime(2026, 6, 30, 23, tzinfo=UTC), "u1")])
    out = cli.json("usage", "history", "-w", "acme")
    assert months(out)[-2:] == ["2026-07", "2026-06"] and out["summaries"][-1]["query_count"] == 5


def test_history_ending_before_the_workspace_existed_is_empty(db: Database, cli: bf.Cli) -> None:
    out = cli.json("usage", "history", "-w", "acme", "--end", "2026-07-31")
    assert out["summaries"] == [] and summaries(db) == []


# --- aggregate and verify: the same floor, per workspace -----------------------------------


def test_aggregate_since_long_ago_writes_only_periods_each_workspace_existed(db: Database, cli: bf.Cli) -> None:
    out = cli.json("usage", "aggregate", "--all", "--since", "1970-01-01")
    stored = summaries(db)
    acme_months = [s for w, p, s in stored if (w, p) == ("acme", "monthly")]
    assert acme_months == ["2026-08-01", "2026-09-01", "2026-10-01", "2026-11-01"]
    acme_days = [s for w, p, s in stored if (w, p) == ("acme", "daily")]
    assert (acme_days[0], acme_days[-1], len(acme_days)) == ("2026-08-10", "2026-11-22", 105)
    assert [s for w, p, s in stored if (w, p) == ("globex", "monthly")] == ["2026-11-01"]
    assert len([1 for w, p, _s in stored if (w, p) == ("globex", "daily")]) == 3
    assert out["rowsUpserted"] == len(stored) and out["since"] == "2026-08-10T09:00:00.000Z"
    assert cli.json("usage", "verify", "--all", "--since", "1970-01-01")["mismatches"] == []


def test_aggregate_of_one_workspace_starts_at_its_creation(db: Database, cli: bf.Cli) -> None:
    cli.json("usage", "aggregate", "-w", "globex", "--since", "2020-02-02", "--period", "monthly")
    assert summaries(db) == [("globex", "monthly", "2026-11-01")]


# --- bad dates: exit 2, nothing written -----------------------------------------------------

BAD_DATES = ["0202-01-01", "1969-12-31", "0001-01-01", "0001-01-01T00:00:00+05:00", "9999-12-31"]


@pytest.mark.parametrize("value", BAD_DATES)
@pytest.mark.parametrize(
    "args",
    [
        ("usage", "history", "-w", "acme", "--start"),
        ("usage", "history", "-w", "acme", "--period", "daily", "--end"),
        ("usage", "history", "-w", "acme", "--period", "monthly", "--end"),
        ("usage", "breakdown", "-w", "acme", "--start"),
        ("usage", "breakdown", "-w", "acme", "--end"),
        ("usage", "aggregate", "--all", "--since"),
        ("usage", "verify", "--all", "--since"),
        ("usage", "export", "--start"),
        ("usage", "export", "--end"),
        ("audit", "list", "--since"),
    ],
)
def test_dates_out_of_range_are_bad_input(db: Database, cli: bf.Cli, args: tuple[str, ...], value: str) -> None:
    error = cli.fails(2, *args, value)
    assert "out of range" in error and "1970-01-01" in error
    assert summaries(db) == []


# --- read-only credentials -------------------------------------------------------------------


@contextmanager
def read_only(db: Database, pg_cluster: Any) -> Iterator[str]:
    """A URL of `db` that may only read: a PostgreSQL role with SELECT and USAGE only; on
    SQLite, connections with `query_only` set (as a read-only file would be)."""
    if db.dialect == "sqlite":

        def query_only(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA query_only = ON")

        sa.event.listen(Engine, "connect", query_only)
        try:
            yield db.url
        finally:
            sa.event.remove(Engine, "connect", query_only)
        return
    role = f"reader_{uuid.uuid4().hex[:8]}"
    pg_cluster.execute(f"CREATE ROLE {role} LOGIN")
    with db.begin() as conn:
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    try:
        yield db.engine.url.set(username=role).render_as_string(hide_password=False)
    finally:
        with db.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
        pg_cluster.execute(f"DROP ROLE {role}")


def test_history_with_a_select_only_role_shows_what_it_would_store(
    db: Database, request: pytest.FixtureRequest
) -> None:
    cluster = request.getfixturevalue("pg_cluster") if db.dialect == "postgresql" else None
    with read_only(db, cluster) as url:
        reader = bf.Cli(url)
        result = reader("usage", "history", "-w", "acme", "--json")
        assert result.exit_code == 0, result.stdout + result.stderr
        assert result.stderr.count("\n") == 1 and "not stored" in result.stderr, result.stderr
        out = json.loads(result.stdout)
        assert months(out) == ["2026-11", "2026-10", "2026-09", "2026-08"]
        assert [(r["query_count"], r["token_count"], r["active_users"]) for r in out["summaries"]] == [
            (0, 40, 0),
            (0, 0, 0),
            (3, 0, 1),
            (0, 0, 0),
        ]
        daily = reader("usage", "history", "-w", "acme", "--period", "daily", "--limit", "3")
        assert daily.exit_code == 0 and "not stored" in daily.stderr
        for args in (
            ("usage", "show", "-w", "acme"),
            ("usage", "breakdown", "-w", "acme"),
            ("usage", "verify", "-w", "acme", "--since", "2026-11-22", "--period", "daily"),  # no events today
            ("usage", "export", "-w", "acme"),
            ("billing", "status", "-w", "acme"),
            ("billing", "check", "-w", "acme"),
            ("trial", "status", "-w", "acme"),
            ("workspace", "list"),
            ("audit", "list"),
            ("db", "status"),
        ):
            other = reader(*args)
            assert other.exit_code == 0 and "Error" not in other.stderr, (args, other.stdout, other.stderr)
        assert "may only read" in reader.fails(8, "usage", "aggregate", "-w", "acme")  # a write is refused
    assert summaries(db) == []
    writer = bf.Cli(db.url)("usage", "history", "-w", "acme", "--json")
    assert writer.exit_code == 0 and writer.stderr == "" and len(summaries(db)) == 4


def test_history_read_only_rows_have_no_id_nor_updated_at_but_the_stored_storage_bytes(
    db: Database, request: pytest.FixtureRequest
) -> None:
    assert bf.Cli(db.url)("usage", "history", "-w", "acme").exit_code == 0  # stores the four months
    with db.begin() as conn:
        conn.execute(
            schema.usage_summaries.update()
            .where(S.period_start == datetime(2026, 9, 1, tzinfo=UTC))
            .values(storage_bytes=4096)
        )
    cluster = request.getfixturevalue("pg_cluster") if db.dialect == "postgresql" else None
    with read_only(db, cluster) as url:
        result = bf.Cli(url)("usage", "history", "-w", "acme", "--json", "--recompute")
        served = bf.Cli(url)("usage", "history", "-w", "acme", "--json")
    assert result.exit_code == 0 and "not stored" in result.stderr, result.stdout + result.stderr
    rows = json.loads(result.stdout)["summaries"]
    assert [(r["id"], r["updated_at"]) for r in rows] == [(None, None)] * 4
    assert [r["storage_bytes"] for r in rows] == [0, 0, 4096, 0]
    # Without --recompute the three closed months are settled: read back, as stored, with their ids.
    assert served.exit_code == 0 and "not stored" in served.stderr, served.stdout + served.stderr
    shown = json.loads(served.stdout)["summaries"]
    assert [(r["id"] is None, r["updated_at"]) for r in shown] == [(True, None)] + [
        (False, "2026-11-22T15:30:00.000Z")
    ] * 3
    assert [(r["query_count"], r["token_count"], r["storage_bytes"]) for r in shown] == [
        (r["query_count"], r["token_count"], r["storage_bytes"]) for r in rows
    ]


# --- ISO 8601 output: four-digit years ----------------------------------------------------------


def test_times_before_the_year_1000_print_with_four_digits(db: Database, cli: bf.Cli) -> None:
    with db.begin() as conn:
        bf.update_org(conn, "acme", plan_tier="trial", trial_ends_at=datetime(202, 3, 4, 5, 6, 7, 8000, tzinfo=UTC))
        factories.user(conn, "root", role="admin")
    (acme,) = [w for w in cli.json("workspace", "list") if w["id"] == "acme"]
    assert acme["trialEndsAt"] == "0202-03-04T05:06:07.008Z"
    extended = cli.json("trial", "extend", "--days", "1", "-w", "acme", "--as", "root")
    assert extended["before"]["trialEndsAt"] == "0202-03-04T05:06:07.008Z"
    (audit,) = cli.json("audit", "list")
    assert audit["before"]["trialEndsAt"] == "0202-03-04T05:06:07.008Z"
