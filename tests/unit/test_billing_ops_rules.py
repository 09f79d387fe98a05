"""Pure billing-operation rules: price -> tier, subscription -> plan change, trial changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from atlas_cli.domain import trial_changes
from atlas_cli.domain.stripe_mapping import (
    Outcome,
    PriceMap,
    StripeSubscription,
    current_subscription,
    plan_change,
)
from atlas_cli.services.admin import first_role
from atlas_cli.services.doctor import mask_secret

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
PRICES = PriceMap("price_team", "price_team_year", "price_ent")
WITH_LOCKED = ("free", "trial", "team", "enterprise", "locked")
WITHOUT_LOCKED = ("free", "trial", "team", "enterprise")


def sub(
    status: str = "active",
    price: str | None = "price_team",
    *,
    cancel: bool = False,
    ended_at: datetime | None = None,
    end: datetime = END,
    sub_id: str = "sub_1",
) -> StripeSubscription:
    return StripeSubscription(sub_id, "cus_1", status, price, end - timedelta(days=30), end, cancel, "month", ended_at)


@pytest.mark.parametrize(
    ("price", "tier"),
    [
        ("price_team", "team"),
        ("price_team_year", "team"),
        ("price_ent", "enterprise"),
        ("price_x", None),
        (None, None),
    ],
)
def test_price_to_tier(price: str | None, tier: str | None) -> None:
    found = PRICES.tier_for(price)
    assert (found.value if found else None) == tier


def test_unset_price_ids_match_nothing() -> None:
    assert PriceMap().tier_for("price_team") is None


@pytest.mark.parametrize(
    ("status", "price", "tier", "outcome", "values"),
    [
        ("active", "price_team", "trial", Outcome.TIER, {"plan_tier": "team"}),
        ("trialing", "price_ent", "team", Outcome.TIER, {"plan_tier": "enterprise"}),
        ("past_due", "price_team", "team", Outcome.TIER, {}),
        ("active", "price_other", "trial", Outcome.UNKNOWN_PRICE, {}),
        ("unpaid", "price_team", "team", Outcome.NOT_LIVE, {}),
        ("incomplete", "price_team", "trial", Outcome.NOT_LIVE, {}),
        ("canceled", "price_other", "team", Outcome.ENDED, {"plan_tier": "locked"}),
        ("incomplete_expired", "price_team", "free", Outcome.ENDED, {"plan_tier": "locked"}),
        ("canceled", "price_team", "locked", Outcome.ENDED, {}),
    ],
)
def test_plan_change(status: str, price: str, tier: str, outcome: Outcome, values: dict) -> None:
    change = plan_change(sub(status, price), PRICES, tier=tier, trial_ends_at=None, allowed_tiers=WITH_LOCKED)
    assert (change.outcome, change.values) == (outcome, values)
    assert change.writes_subscription is (outcome is not Outcome.UNKNOWN_PRICE)


def test_scheduled_cancellation_keeps_the_tier() -> None:
    change = plan_change(sub(cancel=True), PRICES, tier="team", trial_ends_at=None, allowed_tiers=WITH_LOCKED)
    assert change.outcome is Outcome.SCHEDULED and change.values == {}


@pytest.mark.parametrize("allowed", [WITHOUT_LOCKED, None])
def test_ended_without_locked_is_an_expired_trial_never_free(allowed: tuple[str, ...] | None) -> None:
    ended = datetime(2026, 10, 15, tzinfo=UTC)
    change = plan_change(
        sub("canceled", ended_at=ended), PRICES, tier="free", trial_ends_at=None, allowed_tiers=allowed
    )
    assert change.values == {"plan_tier": "trial", "trial_ends_at": ended}
    again = plan_change(
        sub("canceled", ended_at=ended), PRICES, tier="trial", trial_ends_at=ended, allowed_tiers=allowed
    )
    assert again.values == {}
    no_end_stamp = plan_change(sub("canceled"), PRICES, tier="team", trial_ends_at=None, allowed_tiers=allowed)
    assert no_end_stamp.values["trial_ends_at"] == END


def test_current_subscription_prefers_live_then_latest_end() -> None:
    old = sub("canceled", sub_id="sub_old", end=datetime(2026, 12, 1, tzinfo=UTC))
    live = sub("active", sub_id="sub_live")
    assert current_subscription([old, live]) == live
    later = sub("canceled", sub_id="sub_later", end=datetime(2027, 1, 1, tzinfo=UTC))
    assert current_subscription([old, later]) == later
    assert current_subscription([]) is None


def test_trial_start() -> None:
    assert trial_changes.start(NOW, tier="free", trial_ends_at=None, created_at=None, days=14) == {
        "plan_tier": "trial",
        "trial_ends_at": NOW + timedelta(days=14),
    }
    expired = trial_changes.start(NOW, tier="trial", trial_ends_at=NOW - timedelta(seconds=1), created_at=None, days=3)
    assert expired["trial_ends_at"] == NOW + timedelta(days=3)
    for tier in ("team", "enterprise"):
        with pytest.raises(trial_changes.TrialRefused, match="paid"):
            trial_changes.start(NOW, tier=tier, trial_ends_at=None, created_at=None, days=14)
    with pytest.raises(trial_changes.TrialRefused, match="already running"):
        trial_changes.start(NOW, tier="trial", trial_ends_at=NOW, created_at=None, days=14)


def test_trial_extend_counts_from_the_later_of_now_and_the_end() -> None:
    later = NOW + timedelta(days=5)
    assert trial_changes.extend(NOW, tier="trial", trial_ends_at=later, created_at=None, days=2) == {
        "trial_ends_at": later + timedelta(days=2)
    }
    assert trial_changes.extend(NOW, tier="trial", trial_ends_at=NOW - timedelta(days=9), created_at=None, days=2) == {
        "trial_ends_at": NOW + timedelta(days=2)
    }
    created = NOW - timedelta(days=10)  # no end stored: 14 days after creation
    assert trial_changes.extend(NOW, tier="trial", trial_ends_at=None, created_at=created, days=1) == {
        "trial_ends_at": created + timedelta(days=15)
    }
    with pytest.raises(trial_changes.TrialRefused):
        trial_changes.extend(NOW, tier="team", trial_ends_at=None, created_at=None, days=1)


def test_trial_end() -> None:
    running = NOW + timedelta(days=1)
    assert trial_changes.end(NOW, tier="trial", trial_ends_at=running, created_at=None) == {"trial_ends_at": NOW}
    past = NOW - timedelta(days=1)
    assert trial_changes.end(NOW, tier="trial", trial_ends_at=past, created_at=None) == {"trial_ends_at": past}
    with pytest.raises(trial_changes.TrialRefused):
        trial_changes.end(NOW, tier="free", trial_ends_at=None, created_at=None)


@pytest.mark.parametrize(
    ("role", "first"), [("admin", "admin"), ("user,admin", "user"), (" Owner , user", "owner"), (None, ""), ("", "")]
)
def test_first_role_wins(role: str | None, first: str) -> None:
    assert first_role(role) == first


@pytest.mark.parametrize(
    ("secret", "shown"), [("sk_test_abc123", "sk_test_****"), ("whsec_xyz", "whsec_****"), ("plain", "****")]
)
def test_mask_secret(secret: str, shown: str) -> None:
    assert mask_secret(secret) == shown
