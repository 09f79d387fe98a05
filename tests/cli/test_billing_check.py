"""`atlas billing check`, `billing status` and `trial status`: every boundary, through the CLI."""

from datetime import timedelta

import pytest

from tests import factories
from tests.factories import NOW


def seed(atlas_db, *, tier="team", queries=0, tokens=0, byot=False, **columns):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme", tier=tier, byot=byot, **columns)
        rows = []
        if queries:
            rows.append(("query", queries, NOW - timedelta(hours=1), "u1"))
        if tokens:
            rows.append(("token", tokens, NOW - timedelta(hours=1), "u1"))
        factories.events(conn, "acme", rows)


@pytest.mark.parametrize(
    ("queries", "tokens", "status", "plain", "warning", "soft"),
    [
        (7_949, 0, "ok", 0, 0, 0),
        (7_950, 0, "warning", 0, 10, 0),
        (9_949, 0, "warning", 0, 10, 0),
        (9_950, 0, "soft_limit", 0, 11, 11),
        (10_949, 0, "soft_limit", 0, 11, 11),
        (10_950, 0, "hard_limit", 12, 12, 12),
        (0, 3_974_999, "ok", 0, 0, 0),
        (0, 3_975_000, "warning", 0, 10, 0),
        (0, 4_974_999, "warning", 0, 10, 0),
        (0, 4_975_000, "soft_limit", 0, 11, 11),
        (0, 5_474_999, "soft_limit", 0, 11, 11),
        (0, 5_475_000, "hard_limit", 12, 12, 12),
    ],
)
def test_check_boundaries_and_exit_codes(atlas, atlas_db, queries, tokens, status, plain, warning, soft):
    seed(atlas_db, queries=queries, tokens=tokens)
    body = atlas.json("billing", "check", "-w", "acme", code=plain)
    assert body["status"] == status
    assert body["allowed"] is (status != "hard_limit")
    assert [m["metric"] for m in body["metrics"]] == ["queries", "tokens"]
    assert atlas("billing", "check", "-w", "acme", "--fail-on", "warning").exit_code == warning
    assert atlas("billing", "check", "-w", "acme", "--fail-on", "soft").exit_code == soft


def test_check_json_shape_and_server_message(atlas, atlas_db):
    seed(atlas_db, queries=8_000)
    body = atlas.json("billing", "check", "-w", "acme")
    assert {"workspaceId", "allowed", "status", "errorCode", "httpStatus", "message", "metrics"} <= set(body)
    assert body["message"] == "You are approaching your plan's queries limit (80% used: 8,000 / 10,000)."
    assert body["metrics"][0] == {
        "metric": "queries",
        "currentUsage": 8_000,
        "limit": 10_000,
        "usagePercent": 80,
        "status": "warning",
        "enforced": True,
    }


def test_tie_between_dimensions_reports_queries(atlas, atlas_db):
    seed(atlas_db, queries=10_950, tokens=5_475_000)
    body = atlas.json("billing", "check", "-w", "acme", code=12)
    assert (body["errorCode"], body["httpStatus"]) == ("plan_limit_exceeded", 429)
    assert "queries limit" in body["message"]


def test_byot_token_limit_is_not_enforced(atlas, atlas_db):
    seed(atlas_db, tokens=50_000_000, byot=True)
    body = atlas.json("billing", "check", "-w", "acme", "--fail-on", "warning")
    assert body["status"] == "ok" and body["metrics"][1]["enforced"] is False
    status = atlas.json("billing", "status", "-w", "acme")
    assert status["plan"]["byot"] is True and status["usage"]["tokenCount"] == 50_000_000


@pytest.mark.parametrize(
    ("created_ago", "code", "expired"),
    [(timedelta(days=14), 0, False), (timedelta(days=14, seconds=1), 13, True), (timedelta(days=13), 0, False)],
)
def test_trial_expires_after_exactly_fourteen_days(atlas, atlas_db, created_ago, code, expired):
    seed(atlas_db, tier="trial", createdAt=NOW - created_ago)
    assert atlas("billing", "check", "-w", "acme").exit_code == code
    trial = atlas.json("trial", "status", "-w", "acme", code=13 if expired else 0)
    assert trial["expired"] is expired
    assert trial["trialEndsAt"] == factories_iso(NOW - created_ago + timedelta(days=14))


def factories_iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_trial_ends_at_wins_and_days_left(atlas, atlas_db):
    seed(atlas_db, tier="trial", createdAt=NOW - timedelta(days=100), trial_ends_at=NOW + timedelta(days=2, hours=1))
    trial = atlas.json("trial", "status", "-w", "acme")
    assert (trial["expired"], trial["daysLeft"], trial["tier"]) == (False, 3, "trial")
    assert atlas("billing", "check", "-w", "acme").exit_code == 0


def test_expired_trial_blocks_before_usage(atlas, atlas_db):
    seed(atlas_db, tier="trial", queries=1, trial_ends_at=NOW - timedelta(seconds=1))
    body = atlas.json("billing", "check", "-w", "acme", code=13)
    assert (body["status"], body["errorCode"], body["httpStatus"]) == ("trial_expired", "trial_expired", 403)


def test_locked_workspace_needs_a_subscription(atlas, atlas_db):
    seed(atlas_db, tier="locked", queries=1)
    body = atlas.json("billing", "check", "-w", "acme", code=15)
    assert body["errorCode"] == "subscription_required"


@pytest.mark.parametrize("tier", ["free", "enterprise"])
def test_unlimited_tiers_are_allowed_and_shown_unlimited(atlas, atlas_db, tier):
    seed(atlas_db, tier=tier, queries=10**7, tokens=2_000_000_000)
    assert atlas.json("billing", "check", "-w", "acme", "--fail-on", "warning")["allowed"] is True
    status = atlas.json("billing", "status", "-w", "acme")
    assert status["limits"] == {
        "queriesPerMonth": None,
        "tokensPerMonth": None,
        "maxMembers": None,
        "maxConnections": None,
    }
    assert status["plan"]["displayName"] == ("Self-Hosted" if tier == "free" else "Enterprise")
    table = atlas("billing", "status", "-w", "acme")
    assert "Unlimited" in table.stdout


def test_resource_checks_count_pending_invitations(atlas, atlas_db):
    from atlas_cli.db import schema

    seed(atlas_db)
    with atlas_db.begin() as conn:
        for n in range(24):
            factories.user(conn, f"u{n}")
        conn.execute(
            schema.member.insert(),
            [
                {"id": f"m{n}", "organizationId": "acme", "userId": f"u{n}", "role": "member", "createdAt": NOW}
                for n in range(24)
            ],
        )
        conn.execute(
            schema.invitations.insert(),
            [
                {"id": "i1", "org_id": "acme", "email": "x@x.test", "status": "pending"},
                {"id": "i2", "org_id": "acme", "email": "y@x.test", "status": "accepted"},
            ],
        )
        conn.execute(schema.connections.insert(), [{"id": f"c{n}", "org_id": "acme"} for n in range(4)])
    members = atlas.json("billing", "check", "-w", "acme", "--resource", "members", code=12)
    assert members["metrics"][0]["currentUsage"] == 25 and members["allowed"] is False
    assert atlas.json("billing", "check", "-w", "acme", "--resource", "connections")["allowed"] is True


def test_billing_status_shape(atlas, atlas_db):
    seed(atlas_db, queries=9_950, tokens=100)
    with atlas_db.begin() as conn:
        factories.subscription(
            conn, "acme", status="active", start=NOW - timedelta(days=3), end=NOW + timedelta(days=27)
        )
    body = atlas.json("billing", "status", "-w", "acme")
    assert set(body) >= {"workspaceId", "plan", "limits", "usage", "subscription"}
    assert set(body["plan"]) >= {"tier", "displayName", "byot", "trialEndsAt"}
    assert body["usage"]["queryUsagePercent"] == 100 and body["usage"]["queryOverageStatus"] == "soft_limit"
    assert body["usage"]["tokenOverageStatus"] == "ok"
    assert body["subscription"]["stripeSubscriptionId"] == "sub_acme"
    assert body["subscription"]["status"] == "active"
    assert body["usage"]["periodStart"] == factories_iso(NOW - timedelta(days=3))


def test_bad_fail_on_and_resource_values(atlas, atlas_db):
    seed(atlas_db)
    for args in (["--fail-on", "hard"], ["--resource", "seats"]):
        result = atlas("billing", "check", "-w", "acme", *args)
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
