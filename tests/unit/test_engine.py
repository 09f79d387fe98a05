"""The one engine on the per-seat catalog: every band boundary, the ceiling policies, the order."""

from decimal import Decimal

import pytest

from atlas_cli.catalogs import builtin
from atlas_cli.domain import engine
from atlas_cli.domain.catalog import CatalogError, parse
from atlas_cli.domain.engine import Facts, decide, decide_resource, exit_code, overage_cents, resolve_ceiling

SEAT = builtin("per-seat")
PLANS = SEAT.plans


def usd(cost: str, *, tier: str = "pro", seats: int = 1, **facts) -> engine.Decision:
    usage = {"usd": Decimal(cost), "tokens": 0, "queries": 0}
    return decide(SEAT, PLANS[tier], Facts(seats=seats, usage=usage, **facts))


def metric(decision: engine.Decision, name: str = "usd") -> engine.MetricCheck:
    return next(m for m in decision.metrics if m.metric == name)


@pytest.mark.parametrize(
    ("cost", "percent", "status", "allowed"),
    [
        ("15.899", 79, "ok", True),
        ("15.90", 80, "warning", True),
        ("19.899", 99, "warning", True),
        ("19.90", 100, "metered", True),
        ("99.899", 499, "metered", True),
        ("99.90", 500, "hard_limit", False),  # the default abuse ceiling under `continue`
    ],
)
def test_bands_of_the_dollar_credit_at_one_seat(cost, percent, status, allowed):
    decision = usd(cost)
    assert (decision.status, decision.allowed, metric(decision).usage_percent) == (status, allowed, percent)
    assert metric(decision).limit == 20


@pytest.mark.parametrize(("seats", "credit"), [(0, 20), (1, 20), (3, 60), (5, 100)])
def test_the_credit_is_twenty_dollars_per_seat_at_least_one(seats, credit):
    assert metric(usd("0", seats=seats)).limit == credit
    assert usd(str(credit * Decimal("0.795")), seats=seats).status == "warning"  # 79.5 % rounds up
    assert usd(str(credit * Decimal("0.795") - Decimal("0.0001")), seats=seats).status == "ok"


@pytest.mark.parametrize(
    ("policy", "ceiling", "spend_policy", "percent"),
    [
        (None, None, "continue", 500),
        ("cutoff", None, "cutoff", 100),
        ("  CutOff ", "900", "cutoff", 100),
        ("Continue", "250", "continue", 250),
        ("something", "250", "continue", 250),
        (None, "0", "continue", None),
        (None, "0.0", "continue", None),
        (None, "", "continue", None),
        (None, "  ", "continue", None),
        (None, "100", "continue", 500),
        (None, "99", "continue", 500),
        (None, "101", "continue", 101),
        (None, "abc", "continue", 500),
        (None, "-5", "continue", 500),
        (None, "NaN", "continue", 500),
    ],
)
def test_ceiling_from_the_spend_policy_and_abuse_ceiling(policy, ceiling, spend_policy, percent):
    assert resolve_ceiling(SEAT.policy.ceiling, policy, ceiling) == engine.Ceiling(spend_policy, percent)


def test_cutoff_blocks_at_the_credit_with_its_own_message():
    decision = usd("19.90", spend_policy="cutoff")
    assert (decision.status, decision.http_status, decision.error_code) == ("hard_limit", 429, "plan_limit_exceeded")
    assert "spend policy is set to stop at the credit" in decision.message
    assert usd("19.899", spend_policy="cutoff").status == "warning"


def test_custom_and_disabled_ceilings():
    assert usd("49.899", abuse_ceiling="250").status == "metered"
    assert usd("49.90", abuse_ceiling="250").status == "hard_limit"
    assert "spend ceiling ($49.90 of $20.00 credit, 250% of credit)" in usd("49.90", abuse_ceiling="250").message
    assert usd("1000000", abuse_ceiling="0").status == "metered"


def test_metered_message_carries_the_overage_so_far():
    decision = usd("32.347")
    assert decision.status == "metered" and decision.allowed
    assert "You are in overage: $12.35 so far this period." in decision.message
    assert overage_cents(Decimal("32.347"), 20) == 1235
    assert overage_cents(Decimal("12"), 20) == 0 and overage_cents(Decimal("25"), 0) == 0


def test_a_zero_credit_on_a_metered_tier_is_a_hard_limit_at_999():
    broke = PLANS["pro"].__class__(**{**PLANS["pro"].__dict__, "values": {**PLANS["pro"].values, "usd": 0}})
    decision = decide(SEAT, broke, Facts(seats=3, usage={"usd": Decimal(0)}))
    assert (decision.status, metric(decision).usage_percent) == ("hard_limit", 999)


def test_tokens_and_queries_are_shown_not_enforced():
    decision = decide(SEAT, PLANS["starter"], Facts(seats=2, usage={"usd": Decimal(1), "tokens": 10**9, "queries": 5}))
    assert decision.status == "ok" and decision.allowed
    tokens = metric(decision, "tokens")
    assert (tokens.limit, tokens.usage_percent, tokens.status, tokens.enforced) == (4_000_000, 25_000, "ok", False)


@pytest.mark.parametrize(
    ("tier", "facts", "status"),
    [
        ("free", {"byot": True, "trial_expired": True, "seats": None, "usage": None}, "ok"),
        ("locked", {"byot": True}, "subscription_required"),
        ("trial", {"byot": True, "trial_expired": True, "seats": None}, "ok"),
        ("trial", {"trial_expired": True, "seats": None}, "trial_expired"),
        ("pro", {"trial_expired": True}, "ok"),
        ("pro", {"seats": None}, "billing_check_failed"),
        ("pro", {"usage": None}, "ok"),
    ],
)
def test_enforcement_order(tier, facts, status):
    base = {"seats": 1, "usage": {"usd": Decimal(1)}}
    decision = decide(SEAT, PLANS[tier], Facts(**{**base, **facts}))
    assert decision.status == status


def test_unknown_tier_and_unreadable_usage():
    failed = decide(SEAT, SEAT.plan("team"), Facts())
    assert (failed.allowed, failed.status, failed.http_status) == (False, "billing_check_failed", 503)
    unread = decide(SEAT, PLANS["pro"], Facts(seats=1, usage=None))
    assert unread.allowed and "usage tracking may be inaccurate" in unread.warnings[0]


@pytest.mark.parametrize(
    ("cost", "fail_on", "code"),
    [("19.90", None, 0), ("19.90", "soft", 11), ("19.90", "warning", 11), ("16", "warning", 10), ("99.90", None, 12)],
)
def test_exit_codes_metered_is_eleven(cost, fail_on, code):
    assert exit_code(usd(cost), fail_on) == code


@pytest.mark.parametrize(
    ("tier", "feature", "count", "allowed", "says"),
    [
        ("starter", "connections", 0, True, "0 of 1 connection in use; 1 more can be added."),
        ("starter", "connections", 1, False, "Your Starter plan allows up to 1 connection. Upgrade to add more."),
        ("pro", "connections", 2, True, None),
        ("pro", "connections", 3, False, "Your Pro plan allows up to 3 connections. Upgrade to add more."),
        ("pro", "seats", 24, True, None),
        ("pro", "seats", 25, False, "up to 25 seats"),
        ("trial", "chat", 1, False, "up to 1 chat integration."),
        ("pro", "knowledge", 3, False, "up to 3 knowledge collections."),
        ("business", "seats", 10**6, True, "no limit on seats"),
        ("free", "connections", 10**6, True, None),
        ("locked", "seats", 0, False, "allows up to 0 seats"),
    ],
)
def test_resource_caps_block_only_one_more_at_the_cap(tier, feature, count, allowed, says):
    decision = decide_resource(SEAT, PLANS[tier], Facts(seats=1), feature, count)
    assert decision.allowed is allowed
    if says:
        assert says in decision.message
    assert exit_code(decision, None) == (0 if allowed else 12)


def test_features_by_lowest_tier():
    order = ["free", "trial", "starter", "pro", "business"]
    lowest = {
        feature.key: next((t for t in order if PLANS[t].entitled(feature.key)), None)
        for feature in SEAT.of_kind("boolean")
    }
    assert lowest["residency"] == lowest["proactive"] == "trial"
    assert lowest["custom_domain"] == "pro"
    business = "sso scim custom_roles ip_allowlist approvals audit_retention masking backups white_label"
    assert {k for k, v in lowest.items() if v == "business"} == set(business.split())
    assert not any(PLANS["locked"].entitled(f.key) for f in SEAT.of_kind("boolean"))


METER = {"event_types": ["x"]}


def _catalog(**changes):
    data = {
        "model": "test",
        "policy": {"order": ["usage"]},
        "features": {"q": {"kind": "metered", "meter": {"event_types": ["query"]}}},
        "plans": {"team": {"q": 5}},
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"features": {"q": {"kind": "magic"}}}, "features.q: kind 'magic'"),
        ({"features": {"q": {"kind": "metered"}}}, "needs a meter"),
        ({"features": {"q": {"kind": "metered", "meter": {"event_types": []}}}}, "event_types"),
        ({"features": {"q": {"kind": "metered", "meter": {"event_types": ["x"]}, "bands": {"panic": 5}}}}, "bands"),
        (
            {"features": {"q": {"kind": "metered", "meter": {"event_types": ["x"]}, "bands": {"warning": -1}}}},
            "warning",
        ),
        ({"plans": {"team": {"nope": 1}}}, "plans.team.nope"),
        ({"plans": {"team": {"q": -1}}}, "zero or more"),
        ({"plans": {"team": {"q": "lots"}}}, "plans.team.q"),
        ({"policy": {"order": ["usage", "dance"]}}, "policy.order"),
        ({"model": ""}, "model"),
    ],
)
def test_catalog_errors_name_the_entry(changes, says):
    with pytest.raises(CatalogError, match=None) as caught:
        parse(_catalog(**changes))
    assert says in str(caught.value)


def test_builtin_catalogs_parse_and_know_their_tiers():
    assert set(builtin("classic").plans) == {"free", "trial", "team", "enterprise", "locked"}
    assert set(PLANS) == {"free", "trial", "starter", "pro", "business", "locked"}
    with pytest.raises(ValueError, match="per-seat"):
        builtin("metered")
