"""`usage show` carries the forecast (JSON key `forecast`, a line under the table), on a pinned clock."""

from __future__ import annotations

from datetime import timedelta

from tests import factories
from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.factories import MONTH_START, NOW


def test_classic_forecast_in_usage_show(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.events(conn, "acme", [("query", 6_000, MONTH_START + timedelta(days=1), None),
                                        ("token", 4_000_000, NOW - timedelta(hours=1), None)])  # fmt: skip
    shown = atlas.json("usage", "show", "-w", "acme")
    queries, tokens = shown["forecast"]
    # 6,000 in 21 days 15.5 hours: the 1,950 left to 80 % take 607,815 s more; the limit comes after the period
    assert queries == {
        "metric": "queries",
        "currentUsage": 6_000,
        "limit": 10_000,
        "ratePerDay": 277.19,
        "warningAt": "2026-11-29T16:20:15.000Z",
        "limitAt": None,
        "hardLimitAt": None,
        "reached": [],
    }
    assert tokens["reached"] == ["warning"] and tokens["limitAt"] == "2026-11-27T22:07:42.000Z"
    table = atlas("usage", "show", "-w", "acme")
    assert "Forecast (queries, at the rate so far): warning 2026-11-29 16:20 UTC" in table.stdout
    zoned = atlas("usage", "show", "-w", "acme", "--tz", "America/New_York").stdout  # EST, UTC-5
    assert "Forecast (queries, at the rate so far): warning 2026-11-29 11:20 America/New_York" in zoned
    assert atlas.json("usage", "show", "-w", "acme", "--tz", "Asia/Kolkata")["forecast"][0]["warningAt"] == (
        "2026-11-29T16:20:15.000Z"  # JSON keeps the API's UTC
    )
    assert atlas("usage", "show", "-w", "acme", "--format", "csv").stdout.splitlines()[0].count("forecast") == 0


def test_no_usage_no_forecast_moments(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "idle")
        factories.workspace(conn, "big", tier="enterprise")
    idle = atlas.json("usage", "show", "-w", "idle")["forecast"]
    assert [(f["metric"], f["warningAt"], f["limitAt"], f["hardLimitAt"]) for f in idle] == [
        ("queries", None, None, None),
        ("tokens", None, None, None),
    ]
    assert atlas.json("usage", "show", "-w", "big")["forecast"] == []
    assert "Forecast" not in atlas("usage", "show", "-w", "idle").stdout


def test_per_seat_forecast_toward_the_credit_and_the_ceiling(db_url):
    db = ps.database(db_url)
    try:
        with db.begin() as conn:
            ps.workspace(conn, "acme", tier="pro", seats=1)
            ps.cost(conn, "acme", "10", at=MONTH_START + timedelta(hours=1))
            ps.setting(conn, "ATLAS_SPEND_POLICY", "cutoff", org_id="acme")
        (usd,) = Atlas(db.url).json("usage", "show", "-w", "acme")["forecast"]
        assert (usd["metric"], usd["limit"], usd["currentUsage"], usd["reached"]) == ("usd", 20, 10, [])
        # $10 in 1,870,200 s: $5.90 more to 80 % of $20 takes 1,103,418 s: after the period ends
        assert (usd["warningAt"], usd["limitAt"], usd["hardLimitAt"]) == (None, None, None)
        with db.begin() as conn:
            ps.cost(conn, "acme", "5")
        (usd,) = Atlas(db.url).json("usage", "show", "-w", "acme")["forecast"]
        assert usd["warningAt"] == "2026-11-23T22:40:12.000Z"  # $15.90: 0.9 / 15 of 1,870,200 s later
        assert (
            usd["limitAt"] == usd["hardLimitAt"] == "2026-11-29T17:12:12.000Z"
        )  # $19.90; cutoff: the ceiling is 100 %
    finally:
        db.dispose()
