"""--tz (and ATLAS_TZ): whose days the typed dates are, how tables show times, and a history of
that zone's days or months computed from the events and never stored. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from atlas_cli.db.schema import usage_summaries
from tests import factories


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Europe/Paris moves its clocks forward on 2026-03-29 at 02:00 (UTC+1 -> UTC+2): that day has 23 hours.
DST_EVENTS = [
    ("query", 1, at("2026-03-28T22:30"), "u_a"),  # Paris 28th 23:30 (UTC: the 28th)
    ("query", 10, at("2026-03-28T23:30"), "u_a"),  # Paris 29th 00:30 (UTC: still the 28th)
    ("login", 1, at("2026-03-28T23:40"), "u_a"),
    ("query", 100, at("2026-03-29T21:30"), "u_b"),  # Paris 29th 23:30 CEST
    ("login", 1, at("2026-03-29T21:40"), "u_b"),
    ("query", 1000, at("2026-03-29T22:30"), "u_b"),  # Paris 30th 00:30 (UTC: still the 29th)
    # Tokyo (UTC+9): already 1 November there, still October in UTC
    ("token", 7, at("2026-10-31T16:00"), None),
]


@pytest.fixture
def acme(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.user(conn, "root", role="admin")
        factories.events(conn, "acme", DST_EVENTS)
    return atlas


def stored(atlas_db) -> int:
    with atlas_db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(usage_summaries)).scalar_one()


def days(found) -> list[tuple[str, int, int]]:
    return [(s["period_start"], s["query_count"], s["active_users"]) for s in found["summaries"]]


def test_a_daily_history_in_a_zone_uses_its_days_and_is_not_stored(acme, atlas_db):
    args = ("usage", "history", "-w", "acme", "--period", "daily", "--start", "2026-03-28", "--end", "2026-03-30")
    paris = acme.json(*args, "--tz", "Europe/Paris")
    assert paris["timeZone"] == "Europe/Paris"
    assert days(paris) == [
        ("2026-03-29T22:00:00.000Z", 1000, 0),  # the 30th, summer time
        ("2026-03-28T23:00:00.000Z", 110, 2),  # the 29th: 23 hours long, both users logged in
        ("2026-03-27T23:00:00.000Z", 1, 0),  # the 28th
    ]
    assert all(s["id"] is None and s["updated_at"] is None for s in paris["summaries"])
    assert stored(atlas_db) == 0

    utc = acme.json(*args)
    assert utc["timeZone"] == "UTC"
    assert days(utc) == [
        ("2026-03-30T00:00:00.000Z", 0, 0),
        ("2026-03-29T00:00:00.000Z", 1100, 1),
        ("2026-03-28T00:00:00.000Z", 11, 1),
    ]
    assert stored(atlas_db) == 3  # the UTC days are stored, as before


def test_the_table_labels_the_zone_days(acme):
    result = acme("usage", "history", "-w", "acme", "-p", "daily", "--since", "2026-03-28", "--end", "2026-03-30",
                  "--tz", "Europe/Paris")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "daily usage (Europe/Paris)" in result.stdout
    assert [line.split()[1] for line in result.stdout.splitlines() if "2026-03-" in line] == [
        "2026-03-30",
        "2026-03-29",
        "2026-03-28",
    ]


def test_months_in_a_zone_and_the_global_option_and_env(acme, monkeypatch):
    args = ("usage", "history", "-w", "acme", "--start", "2026-10-01", "--end", "2026-11-30")
    tokyo = acme.json("--tz", "Asia/Tokyo", *args)  # the root option
    assert [(s["period_start"], s["token_count"]) for s in tokyo["summaries"]] == [
        ("2026-10-31T15:00:00.000Z", 7),
        ("2026-09-30T15:00:00.000Z", 0),
    ]
    monkeypatch.setenv("ATLAS_TZ", "Asia/Tokyo")
    assert acme.json(*args)["summaries"] == tokyo["summaries"]
    utc = acme.json(*args, "--tz", "UTC")  # the command's flag wins over the environment
    assert [(s["period_start"], s["token_count"]) for s in utc["summaries"]] == [
        ("2026-11-01T00:00:00.000Z", 0),
        ("2026-10-01T00:00:00.000Z", 7),
    ]


def test_typed_days_are_the_zone_days(acme):
    # NOW is 2026-11-22 15:30 UTC: already the 23rd in Tokyo
    tokyo = acme.json("usage", "breakdown", "-w", "acme", "--start", "today", "--tz", "Asia/Tokyo")
    assert tokyo["startDate"] == "2026-11-22T15:00:00.000Z" and tokyo["timeZone"] == "Asia/Tokyo"
    paris = acme.json("usage", "breakdown", "-w", "acme", "--since", "2026-03-29", "--end", "2026-03-29",
                      "--tz", "Europe/Paris")  # fmt: skip
    assert (paris["startDate"], paris["endDate"]) == ("2026-03-28T23:00:00.000Z", "2026-03-29T22:00:00.000Z")
    assert {u["user_id"]: u["query_count"] for u in paris["users"]} == {"u_a": 10, "u_b": 100}

    exported = acme("usage", "export", "-w", "acme", "--start", "2026-03-30", "--end", "2026-03-30",
                    "--tz", "Europe/Paris")  # fmt: skip
    assert exported.exit_code == 0, exported.stderr
    assert [line for line in exported.stdout.splitlines() if '"quantity": 1000' in line or '"quantity":1000' in line]
    assert len(exported.stdout.splitlines()) == 1


def test_tables_show_times_in_the_zone(acme):
    assert acme("billing", "byot", "--enable", "-w", "acme", "--as", "root").exit_code == 0
    table = acme("audit", "list", "--tz", "Europe/Paris")
    assert "2026-11-22T16:30:00.000+01:00" in table.stdout
    assert acme.json("audit", "list", "--tz", "Europe/Paris")[0]["createdAt"] == "2026-11-22T15:30:00.000Z"
    shown = acme("usage", "show", "-w", "acme", "--tz", "America/New_York")
    assert "2026-10-31T20:00:00.000-04:00 → 2026-11-30T19:00:00.000-05:00" in shown.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("usage", "history", "-w", "acme", "--tz", "Mars/Olympus"),
        ("--tz", "Europe/Nowhere", "usage", "show", "-w", "acme"),
        ("audit", "list", "--tz", "../../etc/passwd"),
        ("usage", "export", "-w", "acme", "--tz", ""),
    ],
)
def test_an_unknown_zone_is_one_line_and_exit_2(acme, args):
    result = acme(*args)
    if args[-1] == "":  # an empty --tz is UTC
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: --tz: ") and "is not a time zone" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_a_bad_atlas_tz_names_the_variable(acme, monkeypatch):
    monkeypatch.setenv("ATLAS_TZ", "Nowhere/Land")
    result = acme("usage", "history", "-w", "acme")
    assert result.exit_code == 2 and result.stderr.startswith("Error: ATLAS_TZ: 'Nowhere/Land' is not a time zone")
