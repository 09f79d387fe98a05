"""Every report reads the same dates: ISO, today/yesterday, 7d/2w/3m; --since means --start."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests import factories
from tests.factories import NOW

DAY = timedelta(days=1)


@pytest.fixture
def acme(atlas, atlas_db):
    """acme with one query a day on each of the ten days up to NOW (2026-11-22), n queries on day n ago."""
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.user(conn, "root", role="admin")
        factories.events(conn, "acme", [("query", 1 + n, NOW - n * DAY, "u_a") for n in range(10)])
    return atlas


def test_history_takes_relative_days(acme):
    found = acme.json("usage", "history", "-w", "acme", "--period", "daily", "--since", "2d", "--end", "yesterday")
    assert [(s["period_start"][:10], s["query_count"]) for s in found["summaries"]] == [
        ("2026-11-21", 2),
        ("2026-11-20", 3),
    ]
    same = acme.json("usage", "history", "-w", "acme", "--period", "daily", "--start", "2026-11-20", "--end", "1d")
    assert same["summaries"] == found["summaries"]


def test_breakdown_and_export_take_relative_days(acme):
    week = acme.json("usage", "breakdown", "-w", "acme", "--since", "1w")
    assert week["users"][0]["query_count"] == sum(1 + n for n in range(8))  # 2026-11-15 .. today
    assert week["startDate"] == "2026-11-15T00:00:00.000Z"
    today = acme.json("usage", "breakdown", "-w", "acme", "--start", "today", "--end", "today")
    assert today["users"][0]["query_count"] == 1

    exported = acme("usage", "export", "-w", "acme", "--since", "yesterday", "--end", "yesterday")
    assert exported.exit_code == 0, exported.stderr
    assert [json.loads(line)["quantity"] for line in exported.stdout.splitlines()] == [2]


def test_aggregate_and_verify_take_a_start_and_an_end(acme):
    done = acme.json("usage", "aggregate", "-w", "acme", "--period", "daily", "--since", "3d", "--end", "yesterday")
    assert done["since"] == "2026-11-19T00:00:00.000Z" and done["until"] == "2026-11-21T23:59:59.999Z"
    assert done["periods"] == [{"period": "daily", "periods": 3, "rowsUpserted": 3}]  # 19, 20, 21 November
    checked = acme.json("usage", "verify", "-w", "acme", "--period", "daily", "--start", "3d", "--end", "yesterday")
    assert checked["mismatches"] == []


def test_audit_list_takes_start_end_and_since(acme):
    changed = acme("billing", "byot", "--enable", "-w", "acme", "--as", "root")
    assert changed.exit_code == 0, changed.output
    assert len(acme.json("audit", "list", "--since", "today")) == 1
    assert len(acme.json("audit", "list", "--start", "7d", "--end", "today")) == 1
    assert acme.json("audit", "list", "--end", "yesterday") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("usage", "history", "-w", "acme", "--since", "soon"), "Error: --start: 'soon' is not a date; use YYYY-MM-DD"),
        (("usage", "breakdown", "-w", "acme", "--end", "7x"), "Error: --end: '7x' is not a date"),
        (("usage", "export", "-w", "acme", "--start", "999999m"), "Error: --start: '999999m' is out of range"),
        (("audit", "list", "--since", "today", "--end", "2d"), "Error: --end 2026-11-20 is before --start 2026-11-22"),
        (("usage", "verify", "-w", "acme", "--since", "2d", "--end", "3d"), "Error: --end 3d is before --start"),
    ],
)
def test_bad_days_are_one_line_and_exit_2(acme, args, message):
    result = acme(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert result.stdout == ""
