"""The entitlement decision at its boundaries: count + N <= cap, usage + N <= max usage."""

import pytest

from atlas_cli.domain import entitlements as ent
from atlas_cli.errors import ExitCode


@pytest.mark.parametrize(
    ("used", "quantity", "allowed", "remaining"),
    [(0, 5, True, 5), (2, 3, True, 3), (3, 2, True, 2), (3, 3, False, 2), (4, 1, True, 1), (5, 1, False, 0),
     (7, 1, False, 0)],  # 7 of 5: a downgrade below the count refuses more, nothing else
)  # fmt: skip
def test_a_limit_allows_what_stays_within_the_cap(used, quantity, allowed, remaining):
    verdict = ent.limit(5, used, quantity)
    assert (verdict.allowed, verdict.remaining) == (allowed, remaining)
    assert verdict.reason == (ent.OK if allowed else ent.LIMIT_REACHED)


def test_three_seats_at_four_of_five_are_refused():
    assert not ent.limit(5, 4, 3).allowed  # `count < cap` would have let them in


def test_no_counter_denies_unless_the_feature_allows_it():
    assert ent.limit(5, None, 1).reason == ent.NO_COUNTER
    assert not ent.limit(5, None, 1).allowed
    assert ent.limit(5, None, 5, allow_without_count=True).allowed
    assert not ent.limit(5, None, 6, allow_without_count=True).allowed
    assert ent.limit(None, None, 10**9).reason == ent.UNLIMITED


def test_a_cap_of_zero_allows_nothing():
    assert ent.limit(0, 0, 1).reason == ent.LIMIT_REACHED


@pytest.mark.parametrize(
    ("used", "quantity", "allowed"), [(0, 100, True), (99, 1, True), (100, 0, True), (100, 1, False), (60, 41, False)]
)
def test_max_usage_allows_what_stays_within_it(used, quantity, allowed):
    verdict = ent.metered(100, used, quantity)
    assert verdict.allowed is allowed
    assert verdict.reason == (ent.OK if allowed else ent.MAX_USAGE_REACHED)


def test_metered_without_max_usage_is_never_blocked():
    assert ent.metered(None, 10**12, 10**6).reason == ent.UNLIMITED


def test_not_entitled_and_exhausted_never_share_an_exit_code():
    assert ent.REASON_EXIT[ent.NOT_ENTITLED] == ent.REASON_EXIT[ent.NO_COUNTER] == ExitCode.NOT_ENTITLED == 16
    exhausted = {ent.REASON_EXIT[r] for r in (ent.LIMIT_REACHED, ent.MAX_USAGE_REACHED, ent.INSUFFICIENT_CREDITS)}
    assert exhausted == {ExitCode.CHECK_HARD_LIMIT}
    assert ent.REASON_EXIT[ent.TRIAL_EXPIRED] == 13
    assert ent.REASON_EXIT[ent.BILLING_CHECK_FAILED] == 14
    assert ent.REASON_EXIT[ent.SUBSCRIPTION_REQUIRED] == 15
