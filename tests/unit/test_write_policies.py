"""Who may change things and what an operator's plan change writes, as catalog policy data
(DESIGN 4b, 6): the classic and per-seat catalogs read by the same code."""

from datetime import UTC, datetime, timedelta

import pytest

from atlas_cli.catalogs import builtin
from atlas_cli.domain import trial_changes
from atlas_cli.domain.catalog import CatalogError, parse

CLASSIC, SEAT = builtin("classic"), builtin("per-seat")
NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("role", "classic", "per_seat"),
    [
        ("admin", True, False),
        ("owner", True, False),
        (" Owner , user", True, False),
        ("user,admin", False, False),
        ("platform_admin", False, True),
        ("PLATFORM_ADMIN", False, False),
        ("platform_admin,member", False, False),
        (" platform_admin", False, False),
        ("member", False, False),
        (None, False, False),
        ("", False, False),
    ],
)
def test_global_admin_roles(role: str | None, classic: bool, per_seat: bool) -> None:
    assert CLASSIC.policy.is_global_admin(role) is classic
    assert SEAT.policy.is_global_admin(role) is per_seat


@pytest.mark.parametrize("tier", ["starter", "pro", "business", "free", "locked"])
def test_a_per_seat_plan_change_holds_an_override_for_90_days(tier: str) -> None:
    assert SEAT.policy.plan_change(SEAT.plans[tier], NOW) == {
        "plan_tier": tier,
        "plan_override_until": NOW + timedelta(days=90),
    }


def test_a_change_to_trial_clears_the_override_and_classic_has_none() -> None:
    assert SEAT.policy.plan_change(SEAT.plans["trial"], NOW) == {"plan_tier": "trial", "plan_override_until": None}
    assert CLASSIC.policy.plan_change(CLASSIC.plans["team"], NOW) == {"plan_tier": "team"}


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"plan_override_days": 0}, "positive"),
        ({"plan_override_days": "90"}, "whole number"),
        ({"global_role_match": "fuzzy"}, "global_role_match"),
        ({"global_admin_roles": "admin"}, "list"),
    ],
)
def test_malformed_write_policies_are_refused(policy: dict, message: str) -> None:
    data = {"model": "x", "features": {}, "plans": {}, "policy": {"order": ["usage"], **policy}}
    with pytest.raises(CatalogError, match=message):
        parse(data)


@pytest.mark.parametrize("tier", ["starter", "pro", "business"])
def test_trial_start_refuses_the_paid_per_seat_tiers(tier: str) -> None:
    with pytest.raises(trial_changes.TrialRefused, match="paid"):
        trial_changes.start(NOW, tier=tier, trial_ends_at=None, created_at=None, days=14, catalog=SEAT)
    started = trial_changes.start(NOW, tier="locked", trial_ends_at=None, created_at=None, days=14, catalog=SEAT)
    assert started == {"plan_tier": "trial", "trial_ends_at": NOW + timedelta(days=14)}
