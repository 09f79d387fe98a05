"""The read commands on a database laid out by a per-seat Atlas server, on both engines: the
per-seat figures and the server's own JSON keys (DESIGN 5), beside the classic ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.factories import MONTH_START, NOW


@pytest.fixture
def server(db_url):
    db = ps.database(db_url)
    with db.begin() as conn:
        ps.workspace(conn, "acme", tier="pro", seats=3, customer="cus_acme")
        ps.cost(conn, "acme", "32.347", tokens=120_000)
        ps.cost(conn, "acme", "40", at=MONTH_START - timedelta(seconds=1))  # last month
        ps.plugin(conn, "acme", "datasource")
        ps.plugin(conn, "acme", "chat", status="draft")
        ps.plugin(conn, "acme", "knowledge", status="archived")
        ps.invitation(conn, "acme")
        ps.setting(conn, "ATLAS_SPEND_POLICY", "continue", "acme")
        ps.workspace(conn, "hooli", tier="trial", seats=1, trial_ends_at=NOW + timedelta(hours=30))
    atlas = Atlas(db.url)
    atlas.db = db
    yield atlas
    db.dispose()


def test_billing_status_has_the_per_seat_keys(server):
    found = server.json("billing", "status", "-w", "acme")
    assert found["billingModel"] == "per-seat"
    assert found["plan"]["tier"] == "pro" and found["plan"]["displayName"] == "Pro"
    assert (found["plan"]["pricePerSeat"], found["plan"]["includedUsageDollarsPerSeat"]) == (69, 20)
    limits = found["limits"]
    assert (limits["totalUsageDollars"], limits["maxSeats"], limits["maxMembers"]) == (60, 25, 25)
    assert (limits["maxConnections"], limits["maxChatIntegrations"], limits["maxKnowledgeCollections"]) == (3, 3, 3)
    assert limits["tokensPerMonth"] == 15_000_000 and limits["queriesPerMonth"] is None
    usage = found["usage"]
    assert usage["costUsd"] == 32.347 and usage["usageDollarsPercent"] == 54
    assert usage["usageOverageStatus"] == "ok" and usage["tokenCount"] == 120_000
    assert (usage["seatCount"], usage["overageCost"], usage["spendPolicy"]) == (3, 0, "continue")
    assert usage["periodSource"] == "utc-month" and usage["periodStart"] == "2026-11-01T00:00:00.000Z"


def test_usage_show_reports_cost_seats_and_resources(server):
    found = server.json("usage", "show", "-w", "acme")
    assert (found["costUsd"], found["tokenCount"], found["status"]) == (32.347, 120_000, "ok")
    assert (found["members"], found["pendingInvitations"], found["connections"]) == (3, 1, 1)
    assert (found["chatIntegrations"], found["knowledgeCollections"], found["seatCount"]) == (1, 0, 3)
    table = server("usage", "show", "-w", "acme")
    assert table.exit_code == 0 and "Usage credit ($)" in table.stdout and "$32.35" in table.stdout
    assert "Seats 3 · spend policy continue" in table.stdout


def test_overage_in_the_metered_band(server):
    with server.db.begin() as conn:
        ps.cost(conn, "hooli", "32.347")
    found = server.json("billing", "status", "-w", "hooli")
    assert found["usage"]["usageOverageStatus"] == "metered" and found["usage"]["overageCost"] == 12.35


def test_workspace_list_and_show_read_the_per_seat_columns(server):
    listed = {w["id"]: w for w in server.json("workspace", "list")}
    assert listed["acme"]["tier"] == "pro" and listed["hooli"]["tier"] == "trial"
    shown = server.json("workspace", "show", "acme")
    assert (shown["billingModel"], shown["stripeCustomerId"], shown["displayName"]) == ("per-seat", "cus_acme", "Pro")
    assert (shown["connections"], shown["chatIntegrations"], shown["limits"]["maxSeats"]) == (1, 1, 25)
    text = server("workspace", "show", "acme").stdout
    assert "Seats" in text and "3 + 1 pending / 25" in text and "Chat integrations" in text


def test_trial_status_on_the_starter_trial(server):
    found = server.json("trial", "status", "-w", "hooli")
    assert (found["onTrial"], found["expired"], found["daysLeft"]) == (True, False, 2)
    assert server.json("trial", "status", "-w", "acme")["onTrial"] is False


def test_plans_list_and_show_the_per_seat_catalog(server):
    plans = server.json("plans", "list")
    assert [p["tier"] for p in plans] == ["free", "trial", "starter", "pro", "business"]
    pro = server.json("plans", "show", "pro")
    assert (pro["billingModel"], pro["pricePerSeat"], pro["includedUsageDollarsPerSeat"]) == ("per-seat", 69, 20)
    assert pro["maxConnections"] == 3 and pro["features"] == ["residency", "proactive", "custom_domain"]
    assert server("plans", "show", "team").exit_code == 3


def test_plans_without_a_database_are_the_classic_ones(monkeypatch):
    atlas = Atlas(None)
    assert [p["tier"] for p in atlas.json("plans", "list")] == ["free", "trial", "team", "enterprise"]
    monkeypatch.setenv("ATLAS_BILLING_MODEL", "per-seat")
    assert atlas.json("plans", "show", "business")["maxSeats"] is None


@pytest.mark.parametrize(
    "args",
    [("usage", "show"), ("usage", "history"), ("usage", "breakdown"), ("billing", "status"), ("billing", "check"),
     ("trial", "status"), ("workspace", "show", "acme")],
)  # fmt: skip
def test_every_report_says_which_billing_model_applied(server, args):
    found = server.json(*args) if "acme" in args else server.json(*args, "-w", "acme")
    assert found["billingModel"] == "per-seat"
    assert {w["billingModel"] for w in server.json("workspace", "list")} == {"per-seat"}


def test_breakdown_defaults_to_the_period_the_model_anchors(server):
    with server.db.begin() as conn:
        ps.workspace(conn, "initech")
        ps.subscription(conn, "initech", status="trialing", start=NOW - timedelta(days=2), end=NOW + timedelta(days=5))
        ps.cost(conn, "initech", "1", at=MONTH_START, tokens=700)  # the UTC month, before the trialing start
    found = server.json("usage", "breakdown", "-w", "initech")
    assert found["startDate"].startswith(MONTH_START.strftime("%Y-%m-%dT00:00:00"))  # not the trialing period
    assert sum(u["token_count"] for u in found["users"]) + found["noUser"]["token_count"] == 700
