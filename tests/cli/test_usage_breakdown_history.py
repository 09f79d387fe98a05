"""`usage breakdown` keeps events without a user apart, and `usage history` rows carry the stored
row's id, storage_bytes and updated_at: on both billing models' layouts and both engines."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests import factories
from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.factories import NOW


def classic_events(db, ws, rows):
    with db.begin() as conn:
        factories.workspace(conn, ws)
        factories.events(conn, ws, rows)


def per_seat_events(db, ws, rows):
    with db.begin() as conn:
        ps.workspace(conn, ws, seats=0)
        factories.events(conn, ws, rows)


@pytest.fixture(params=["classic", "per-seat"])
def layout(request, db_url):
    """(database, a function that adds a workspace and its events) on either billing model's layout."""
    if request.param == "classic":
        db, add = factories.migrated(db_url), classic_events
    else:
        db, add = ps.database(db_url), per_seat_events
    yield db, add
    db.dispose()


BREAKDOWN_EVENTS = [
    ("query", 40, NOW, None),
    ("token", 1_500, NOW, None),
    ("login", 1, NOW, None),
    ("query", 3, NOW, "u_a"),
    ("token", 10, NOW, "u_a"),
]


def test_breakdown_reports_events_without_a_user_apart(layout):
    db, add = layout
    add(db, "acme", BREAKDOWN_EVENTS)
    atlas = Atlas(db.url)
    found = atlas.json("usage", "breakdown", "-w", "acme")
    assert [u["user_id"] for u in found["users"]] == ["u_a"]
    assert found["noUser"] == {"query_count": 40, "token_count": 1_500, "login_count": 1}
    assert set(found["users"][0]) >= {"user_id", "query_count", "token_count", "login_count"}

    table = atlas("usage", "breakdown", "-w", "acme")
    assert table.exit_code == 0, table.output
    assert "Without a user: 40 queries, 1,500 tokens, 1 logins" in table.stdout
    assert "(no user)" not in table.stdout

    result = atlas("usage", "breakdown", "-w", "acme", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["user_id"] for r in rows] == ["u_a"]  # users only


def test_breakdown_without_such_events_reports_zeros(layout):
    db, add = layout
    add(db, "acme", [("query", 3, NOW, "u_a")])
    atlas = Atlas(db.url)
    assert atlas.json("usage", "breakdown", "-w", "acme")["noUser"] == {
        "query_count": 0,
        "token_count": 0,
        "login_count": 0,
    }
    assert "Without a user" not in atlas("usage", "breakdown", "-w", "acme").stdout


SERVER_ROW_ID = "5f0c8a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"


def test_history_rows_carry_the_stored_rows_id_storage_bytes_and_updated_at(layout):
    db, add = layout
    add(db, "acme", [("query", 3, NOW - timedelta(days=40), "u_a"), ("query", 5, NOW, "u_a")])
    october = NOW.replace(month=10, day=1, hour=0, minute=0)
    with db.begin() as conn:  # a row the server stored, with its own id and storage figure
        ps.run(
            conn,
            "INSERT INTO usage_summaries (id, workspace_id, period, period_start, query_count, token_count,"
            " active_users, storage_bytes, updated_at) VALUES (:id, 'acme', 'monthly', :start, 1, 0, 0, 4096, :at)",
            id=SERVER_ROW_ID,
            start=october,
            at=october + timedelta(days=3),
        )
    found = Atlas(db.url).json("usage", "history", "-w", "acme", "--limit", "2")["summaries"]
    assert [(s["period_start"][:7], s["query_count"]) for s in found] == [("2026-11", 5), ("2026-10", 3)]
    november, kept = found
    assert kept["id"] == SERVER_ROW_ID and kept["storage_bytes"] == 4096
    assert kept["updated_at"] == "2026-11-22T15:30:00.000Z"  # recomputed now
    assert november["id"] and november["id"] != SERVER_ROW_ID and november["storage_bytes"] == 0
    assert november["updated_at"] == "2026-11-22T15:30:00.000Z"
    assert set(november) >= {"workspace_id", "period", "period_start", "query_count", "token_count", "active_users"}
