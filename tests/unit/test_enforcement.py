import pytest

from atlas_cli.domain.enforcement import FailOn, Resource, decide, decide_resource, exit_code
from atlas_cli.domain.plans import PLANS, Tier
from atlas_cli.errors import ExitCode

TEAM, TRIAL = PLANS[Tier.TEAM], PLANS[Tier.TRIAL]


def check(plan=TEAM, *, queries=0, tokens=0, byot=False, trial_expired=False):
    return decide(plan, trial_expired=trial_expired, byot=byot, queries=queries, tokens=tokens)


@pytest.mark.parametrize(
    ("queries", "tokens", "status", "allowed", "metric"),
    [
        (7_949, 0, "ok", True, None),
        (7_950, 0, "warning", True, "queries"),
        (9_950, 0, "soft_limit", True, "queries"),
        (10_949, 0, "soft_limit", True, "queries"),
        (10_950, 0, "hard_limit", False, "queries"),
        (0, 3_974_999, "ok", True, None),
        (0, 3_975_000, "warning", True, "tokens"),
        (0, 4_975_000, "soft_limit", True, "tokens"),
        (0, 5_475_000, "hard_limit", False, "tokens"),
        (8_000, 5_475_000, "hard_limit", False, "tokens"),  # worst dimension decides
        (10_950, 5_475_000, "hard_limit", False, "queries"),  # tie: queries is reported
        (8_000, 4_000_000, "warning", True, "queries"),
    ],
)
def test_usage_tiers_and_ties(queries, tokens, status, allowed, metric):
    decision = check(queries=queries, tokens=tokens)
    assert (decision.status, decision.allowed) == (status, allowed)
    if metric:
        assert f"plan's {metric} limit" in decision.message
    if status == "hard_limit":
        assert (decision.http_status, decision.error_code) == (429, "plan_limit_exceeded")


def test_warning_message_reads_like_the_server():
    assert check(queries=8_000).message == "You are approaching your plan's queries limit (80% used: 8,000 / 10,000)."


def test_byot_tokens_are_metered_but_not_enforced():
    decision = check(tokens=50_000_000, byot=True)
    assert decision.allowed and decision.status == "ok"
    tokens = decision.metrics[1]
    assert (tokens.metric, tokens.status, tokens.enforced) == ("tokens", "hard_limit", False)
    assert check(queries=10_950, tokens=50_000_000, byot=True).status == "hard_limit"


def test_order_locked_before_everything():
    decision = check(PLANS[Tier.LOCKED], trial_expired=True)
    assert (decision.status, decision.http_status, decision.allowed) == ("subscription_required", 403, False)


@pytest.mark.parametrize("tier", [Tier.FREE, Tier.ENTERPRISE])
def test_unlimited_tiers_are_skipped(tier):
    decision = check(PLANS[tier], queries=10**9, tokens=10**12, trial_expired=True)
    assert decision.allowed and decision.status == "ok"
    assert all(m.limit is None for m in decision.metrics)


def test_expired_trial_blocks_before_usage_but_only_on_trial_tier():
    assert check(TRIAL, trial_expired=True).status == "trial_expired"
    assert check(TRIAL, trial_expired=True).http_status == 403
    assert check(TEAM, trial_expired=True).status == "ok"


def test_unreadable_plan_fails_closed_and_unreadable_usage_fails_open():
    failed = decide(None, trial_expired=False, byot=False, queries=0, tokens=0)
    assert (failed.allowed, failed.status, failed.http_status) == (False, "billing_check_failed", 503)
    unread = decide(TEAM, trial_expired=False, byot=False, queries=None, tokens=None)
    assert unread.allowed and "usage tracking may be inaccurate" in unread.warnings[0]


def test_non_positive_limit_fails_safe():
    from atlas_cli.domain.plans import Plan

    broken = Plan(Tier.TEAM, "Team", 0, 5_000_000, 25, 5)
    assert check(broken).status == "hard_limit"


@pytest.mark.parametrize(
    ("resource", "count", "allowed"),
    [
        (Resource.MEMBERS, 24, True),
        (Resource.MEMBERS, 25, False),
        (Resource.CONNECTIONS, 4, True),
        (Resource.CONNECTIONS, 5, False),
        (Resource.CONNECTIONS, 9, False),
    ],
)
def test_one_more_resource_blocked_at_the_limit(resource, count, allowed):
    decision = decide_resource(TEAM, trial_expired=False, resource=resource, count=count)
    assert decision.allowed is allowed
    assert exit_code(decision, None) == (ExitCode.OK if allowed else ExitCode.CHECK_HARD_LIMIT)


def test_resource_unlimited_on_enterprise():
    assert decide_resource(PLANS[Tier.ENTERPRISE], trial_expired=False, resource=Resource.MEMBERS, count=10**6).allowed


@pytest.mark.parametrize(
    ("queries", "fail_on", "code"),
    [
        (7_000, None, 0),
        (7_000, FailOn.WARNING, 0),
        (8_000, None, 0),
        (8_000, FailOn.SOFT, 0),
        (8_000, FailOn.WARNING, 10),
        (10_000, None, 0),
        (10_000, FailOn.SOFT, 11),
        (10_000, FailOn.WARNING, 11),
        (11_000, None, 12),
        (11_000, FailOn.SOFT, 12),
        (11_000, FailOn.WARNING, 12),
    ],
)
def test_exit_codes_by_tier_and_fail_on(queries, fail_on, code):
    assert exit_code(check(queries=queries), fail_on) == code


def test_exit_codes_for_blocked_workspaces():
    assert exit_code(check(TRIAL, trial_expired=True), None) == 13
    assert exit_code(decide(None, trial_expired=False, byot=False, queries=0, tokens=0), None) == 14
    assert exit_code(check(PLANS[Tier.LOCKED]), None) == 15
