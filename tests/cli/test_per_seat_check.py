"""`billing check` on a database laid out by a per-seat Atlas server, on both engines: the
decision, status and exit code the server would give."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.factories import MONTH_START, NOW


@pytest.fixture
def server(db_url):
    db = ps.database(db_url)
    yield db
    db.dispose()


def check(server, ws: str, *args: str, code: int = 0) -> dict:
    return Atlas(server.url).json("billing", "check", "-w", ws, *args, code=code)


@pytest.mark.parametrize(
    ("dollars", "status", "code", "soft_code"),
    [("15.899", "ok", 0, 0), ("15.90", "warning", 0, 0), ("19.899", "warning", 0, 0), ("19.90", "metered", 0, 11),
     ("99.899", "metered", 0, 11), ("99.90", "hard_limit", 12, 12)],
)  # fmt: skip
def test_dollar_bands_at_one_seat(server, dollars, status, code, soft_code):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="pro", seats=1)
        ps.cost(conn, "acme", dollars)
        ps.cost(conn, "acme", "500", at=MONTH_START - timedelta(seconds=1))  # last month: not counted
    found = check(server, "acme", code=code)
    assert found["status"] == status and found["billingModel"] == "per-seat"
    usd = next(m for m in found["metrics"] if m["metric"] == "usd")
    assert usd["limit"] == 20
    check(server, "acme", "--fail-on", "soft", code=soft_code)


@pytest.mark.parametrize(
    ("seats", "dollars", "status"), [(3, "47.699", "ok"), (3, "47.70", "warning"), (5, "99.90", "metered")]
)
def test_the_credit_scales_with_seats(server, seats, dollars, status):
    with server.begin() as conn:
        ps.workspace(conn, "acme", seats=seats)
        ps.cost(conn, "acme", dollars)
    assert check(server, "acme")["status"] == status


@pytest.mark.parametrize(
    ("rows", "dollars", "status"),
    [
        ([("ATLAS_SPEND_POLICY", "cutoff", None)], "19.90", "hard_limit"),
        ([("ATLAS_SPEND_POLICY", "cutoff", None), ("ATLAS_SPEND_POLICY", "continue", "acme")], "19.90", "metered"),
        ([("ATLAS_ABUSE_CEILING", "250", "acme")], "49.90", "hard_limit"),
        ([("ATLAS_ABUSE_CEILING", "250", "acme")], "49.899", "metered"),
        ([("ATLAS_ABUSE_CEILING", "0", None)], "5000", "metered"),
    ],
)
def test_spend_policy_and_ceiling_from_the_settings_table(server, rows, dollars, status):
    with server.begin() as conn:
        ps.workspace(conn, "acme")
        ps.cost(conn, "acme", dollars)
        for key, value, org in rows:
            ps.setting(conn, key, value, org)
    assert check(server, "acme", code=12 if status == "hard_limit" else 0)["status"] == status


def test_enforcement_order(server):
    expired = NOW - timedelta(days=1)
    with server.begin() as conn:
        ps.workspace(conn, "free", tier="free")
        ps.workspace(conn, "gone", tier="locked", byot=True)
        ps.workspace(conn, "byot", tier="trial", byot=True, trial_ends_at=expired)
        ps.workspace(conn, "late", tier="trial", trial_ends_at=expired)
        ps.cost(conn, "free", "10000")
    assert check(server, "free")["status"] == "ok"
    assert check(server, "gone", code=15)["errorCode"] == "subscription_required"
    assert check(server, "byot")["allowed"] is True
    assert check(server, "late", code=13)["errorCode"] == "trial_expired"


def test_only_an_active_subscription_anchors_the_period(server):
    start, end = NOW - timedelta(days=40), NOW - timedelta(days=10)
    with server.begin() as conn:
        ps.workspace(conn, "acme")
        ps.subscription(conn, "acme", status="trialing", start=NOW - timedelta(days=2), end=NOW + timedelta(days=5))
        ps.cost(conn, "acme", "19.90", at=MONTH_START)  # in the calendar month, before the trialing start
        ps.workspace(conn, "globex")
        ps.subscription(conn, "globex", status="active", start=start, end=end)
        ps.cost(conn, "globex", "19.90", at=NOW - timedelta(days=25))  # in the old period, before the month
        ps.workspace(conn, "initech")  # two active rows: only the newest counts, and it does not hold now
        ps.subscription(conn, "initech", status="active", start=NOW - timedelta(days=3), end=NOW + timedelta(days=27))
        ps.subscription(conn, "initech", status="active", start=NOW + timedelta(days=1), end=NOW + timedelta(days=31))
        ps.cost(conn, "initech", "19.90", at=MONTH_START + timedelta(hours=1))
        ps.workspace(conn, "hooli")
        ps.subscription(conn, "hooli", status="active", start=NOW - timedelta(days=3), end=NOW + timedelta(days=27))
        ps.cost(conn, "hooli", "19.90", at=NOW - timedelta(days=4))  # this month, before the period
    assert check(server, "acme")["status"] == "metered"  # the UTC month, not the trialing period
    assert check(server, "globex")["status"] == "ok"  # the active row does not hold now: the month
    assert check(server, "initech")["status"] == "metered"  # the UTC month
    assert check(server, "hooli")["status"] == "ok"  # the active period holds now


@pytest.mark.parametrize(
    ("tier", "resource", "count", "code"),
    [("starter", "connections", 0, 0), ("starter", "connections", 1, 12), ("pro", "chat", 2, 0),
     ("pro", "chat", 3, 12), ("pro", "knowledge", 3, 12), ("business", "connections", 40, 0)],
)  # fmt: skip
def test_resource_caps_in_workspace_plugins(server, tier, resource, count, code):
    pillar = {"connections": "datasource", "chat": "chat", "knowledge": "knowledge"}[resource]
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier=tier)
        for _ in range(count):
            ps.plugin(conn, "acme", pillar)
        ps.plugin(conn, "acme", pillar, status="archived")
    found = check(server, "acme", "--resource", resource, code=code)
    assert found["allowed"] is (code == 0)


def test_seats_count_members_and_pending_unexpired_invitations(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="starter", seats=8)
        ps.invitation(conn, "acme")
        ps.invitation(conn, "acme", expires=NOW - timedelta(minutes=1))
        ps.invitation(conn, "acme", status="canceled")
    assert check(server, "acme", "--resource", "members")["allowed"] is True  # 9 of 10
    with server.begin() as conn:
        ps.invitation(conn, "acme")
    found = check(server, "acme", "--resource", "members", code=12)
    assert "Your Starter plan allows up to 10 seats" in found["message"]


def test_a_tier_the_model_does_not_know_blocks_only_that_workspace(server, monkeypatch):
    with server.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        else:
            conn.exec_driver_sql("ALTER TABLE organization DROP CONSTRAINT chk_plan_tier")
        ps.workspace(conn, "acme", tier="team")  # a classic tier, left behind by an old server
        ps.workspace(conn, "homelab", tier="free")
        ps.workspace(conn, "globex", tier="pro")
    atlas = Atlas(server.url)
    failed = atlas.json("billing", "check", "-w", "acme", code=14)
    assert (failed["errorCode"], failed["billingModel"]) == ("billing_check_failed", "per-seat")
    assert atlas.json("billing", "check", "-w", "homelab")["allowed"] is True
    monkeypatch.setenv("ATLAS_BILLING_MODEL", "metered")
    result = atlas("billing", "check", "-w", "acme")
    assert result.exit_code == 2 and "ATLAS_BILLING_MODEL: 'metered' is not a billing model" in result.stderr


def test_shown_only_metrics_say_so_and_not_byot(server):
    with server.begin() as conn:
        ps.workspace(conn, "acme", tier="pro", seats=1)
        ps.cost(conn, "acme", "1")
    result = Atlas(server.url)("billing", "check", "-w", "acme")
    assert result.exit_code == 0, result.output
    tokens = next(line for line in result.stdout.splitlines() if line.strip().startswith("tokens:"))
    assert "not enforced (shown only)" in tokens and "BYOT" not in result.stdout
    metrics = {m["metric"]: m for m in check(server, "acme")["metrics"]}
    assert metrics["tokens"]["enforced"] is False and metrics["usd"]["enforced"] is True
