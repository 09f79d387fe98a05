"""Aggregation, verification and export on real SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db import schema
from atlas_cli.db.database import Database
from atlas_cli.domain.events import FIELDS
from atlas_cli.errors import BadInput, NotFound
from atlas_cli.services.ingestion.events import EventService
from atlas_cli.services.ingestion.ingest import IngestOptions
from tests.events_fixtures import events_db, line, new_id

__all__ = ["events_db"]

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
S = schema.usage_summaries.c


def service(db: Database, now: datetime = NOW) -> EventService:
    return EventService(db, lambda: now, sleep=lambda _s: None)


def seed(db: Database) -> None:
    """acme: Feb 27 (2 queries, login u1), Mar 1 (5 tokens, logins u1, u2, u1), Mar 15; globex: Mar 2."""
    rows = [
        ("ws_acme", "u1", "query", 2, datetime(2026, 2, 27, 23, 59, tzinfo=UTC)),
        ("ws_acme", "u1", "login", 1, datetime(2026, 2, 27, 8, tzinfo=UTC)),
        ("ws_acme", "u1", "token", 5, datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),
        ("ws_acme", "u1", "login", 1, datetime(2026, 3, 1, 9, tzinfo=UTC)),
        ("ws_acme", "u2", "login", 1, datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("ws_acme", "u1", "login", 1, datetime(2026, 3, 1, 11, tzinfo=UTC)),
        ("ws_acme", "u3", "query", 7, datetime(2026, 3, 15, 11, 59, tzinfo=UTC)),
        ("ws_globex", "g1", "query", 1, datetime(2026, 3, 2, tzinfo=UTC)),
        ("ws_acme", "u1", "query", 1000, datetime(2025, 12, 31, tzinfo=UTC)),  # before --since: untouched
    ]
    with db.begin() as conn:
        conn.execute(
            sa.insert(schema.usage_events),
            [
                {"id": new_id(i), "workspace_id": ws, "user_id": u, "event_type": t, "quantity": q, "created_at": at}
                for i, (ws, u, t, q, at) in enumerate(rows)
            ],
        )


def stored(db: Database, workspace_id: str, period: str) -> dict[str, tuple[int, int, int]]:
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(S.period_start, S.query_count, S.token_count, S.active_users).where(
                S.workspace_id == workspace_id, S.period == period
            )
        ).all()
    return {start.date().isoformat(): (q, t, a) for start, q, t, a in rows if q or t or a}


def test_aggregate_all_recomputes_every_period_of_every_workspace(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    seed(db)
    report = service(db).aggregate(None, every=True, since="2026-02-01")
    # 2 workspaces x (28 days of February + 15 of March) daily, and x 2 months monthly
    assert [(k.period, k.periods, k.rows) for k in report.kinds] == [("daily", 43, 86), ("monthly", 2, 4)]
    assert stored(db, "ws_acme", "daily") == {"2026-02-27": (2, 0, 1), "2026-03-01": (0, 5, 2), "2026-03-15": (7, 0, 0)}
    assert stored(db, "ws_acme", "monthly") == {"2026-02-01": (2, 0, 1), "2026-03-01": (7, 5, 2)}
    assert stored(db, "ws_globex", "monthly") == {"2026-03-01": (1, 0, 0)}
    again = service(db).aggregate(None, every=True, since="2026-02-01")
    assert again.rows == report.rows  # updates in place: the unique key holds


def test_aggregate_one_workspace_touches_only_it(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    seed(db)
    report = service(db).aggregate("acme", since="2026-03-01", period="monthly")
    assert (report.workspace_id, report.rows) == ("ws_acme", 1)
    assert stored(db, "ws_acme", "monthly") == {"2026-03-01": (7, 5, 2)} and stored(db, "ws_globex", "monthly") == {}


def test_the_default_since_is_the_start_of_the_previous_month(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    report = service(db).aggregate("ws_acme", period="monthly")
    assert report.since == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"workspace": "ws_acme", "every": True}, BadInput),
        ({"workspace": "nope"}, NotFound),
        ({"workspace": "ws_acme", "period": "weekly"}, BadInput),
        ({"workspace": "ws_acme", "since": "01/02/2026"}, BadInput),
        ({"workspace": "ws_acme", "since": "2026-04-01"}, BadInput),
        ({"workspace": None}, BadInput),
    ],
)
def test_bad_aggregate_requests(events_db: tuple[str, Database], kwargs: dict[str, object], error: type) -> None:
    _url, db = events_db
    options = dict(kwargs)
    workspace = options.pop("workspace")
    with pytest.raises(error):
        service(db).aggregate(workspace, **options)  # type: ignore[arg-type]


def test_verify_lists_changed_and_missing_rows_and_writes_nothing(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    seed(db)
    assert len(service(db).verify(None, every=True, since="2026-02-01").mismatches) == 7  # nothing stored yet
    service(db).aggregate(None, every=True, since="2026-02-01")
    assert service(db).verify(None, every=True, since="2026-02-01").mismatches == ()
    with db.begin() as conn:
        conn.execute(
            sa.update(schema.usage_summaries)
            .values(token_count=4)
            .where(S.workspace_id == "ws_acme", S.period == "daily", S.period_start == datetime(2026, 3, 1, tzinfo=UTC))
        )
        conn.execute(sa.delete(schema.usage_summaries).where(S.workspace_id == "ws_globex", S.period == "monthly"))
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.usage_summaries)).scalar_one()
    report = service(db).verify(None, every=True, since="2026-02-01")
    found = [
        (m.workspace_id, m.period, m.period_start.date().isoformat(), m.stored, m.actual) for m in report.mismatches
    ]
    assert found == [
        ("ws_acme", "daily", "2026-03-01", (0, 4, 2), (0, 5, 2)),
        ("ws_globex", "monthly", "2026-03-01", None, (1, 0, 0)),
    ]
    with db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.usage_summaries)).scalar_one() == before
    assert service(db).verify("ws_acme", since="2026-02-01", period="monthly").mismatches == ()


def test_aggregation_racing_with_ingestion_ends_equal_to_the_raw_events(events_db: tuple[str, Database]) -> None:
    url, db = events_db
    now = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # pinned: the test must not depend on the date
    lines = [
        line(
            "token" if i % 2 else "query",
            id=new_id(i),
            quantity=i % 7 + 1,
            user_id=f"u{i % 5}",
            ws="ws_acme" if i % 3 else "ws_globex",
            created_at=(now - timedelta(hours=i % 40)).isoformat(),
        )
        for i in range(600)
    ]
    text = ("\n".join(lines) + "\n").encode()
    done = threading.Event()
    accepted: list[int] = []

    def ingest() -> None:
        writer = Database(url)
        try:
            accepted.append(service(writer, now).ingest(io.BytesIO(text), IngestOptions(flush_at=20)).accepted)
        finally:
            writer.dispose()
            done.set()

    thread = threading.Thread(target=ingest)
    thread.start()
    rounds = 0
    while not done.is_set() or rounds < 3:
        service(db, now).aggregate(None, every=True, since=(now - timedelta(days=3)).date().isoformat())
        rounds += 1
    thread.join()
    assert accepted == [600]
    since = (now - timedelta(days=3)).date().isoformat()
    service(db, now).aggregate(None, every=True, since=since)
    assert service(db, now).verify(None, every=True, since=since).mismatches == ()
    with db.connect() as conn:
        daily = conn.execute(
            sa.select(sa.func.sum(S.query_count + S.token_count)).where(S.period == "daily")
        ).scalar_one()
    assert daily == sum(i % 7 + 1 for i in range(600))


def test_export_streams_more_rows_than_one_fetch_in_order(events_db: tuple[str, Database]) -> None:
    _url, db = events_db
    base = datetime(2026, 3, 1, tzinfo=UTC)
    with db.begin() as conn:
        conn.execute(
            sa.insert(schema.usage_events),
            [
                {
                    "id": new_id(i),
                    "workspace_id": "ws_acme" if i % 4 else "ws_globex",
                    "event_type": "query",
                    "quantity": 1,
                    "created_at": base + timedelta(minutes=i // 3),
                    "metadata": {"n": i},
                }
                for i in range(250)
            ],
        )
    rows: list[Any] = []
    count = service(db).export(None, start=None, end=None, emit=rows.append, fetch=7)
    assert count == 250 and len(rows) == 250
    keys = [(r.created_at, r.id) for r in rows]
    assert keys == sorted(keys) and {r.id for r in rows} == {new_id(i) for i in range(250)}
    assert rows[0].metadata == {"n": 0} and tuple(rows[0]._fields) == FIELDS
    acme: list[Any] = []
    assert service(db).export("acme", start="2026-03-01", end="2026-03-01", emit=acme.append, fetch=5) == 187
    assert {r.workspace_id for r in acme} == {"ws_acme"}
