"""The Stripe rules as catalog data: price ids -> tiers, the suspension ladder, plan overrides."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atlas_cli.catalogs import builtin
from atlas_cli.domain.catalog import CatalogError, parse
from atlas_cli.domain.stripe_mapping import override_holds, price_tiers, suspension_change

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
PER_SEAT = {
    "STRIPE_STARTER_PRICE_ID": "p_starter",
    "STRIPE_STARTER_ANNUAL_PRICE_ID": "p_starter_y",
    "STRIPE_PRO_PRICE_ID": "p_pro",
    "STRIPE_PRO_ANNUAL_PRICE_ID": "p_pro_y",
    "STRIPE_BUSINESS_ANNUAL_PRICE_ID": "p_business_y",  # without its monthly price
}


@pytest.mark.parametrize(
    ("price", "tier"),
    [("p_starter", "starter"), ("p_starter_y", "starter"), ("p_pro_y", "pro"), ("p_business_y", None), (None, None)],
)
def test_per_seat_prices_from_the_catalog(price: str | None, tier: str | None) -> None:
    assert price_tiers(builtin("per-seat"), PER_SEAT.get).tier_name(price) == tier


def test_first_tier_wins_a_shared_price() -> None:
    shared = {"STRIPE_STARTER_PRICE_ID": "p", "STRIPE_PRO_PRICE_ID": "p"}
    assert price_tiers(builtin("per-seat"), shared.get).tier_name("p") == "starter"


def test_classic_prices_from_the_catalog() -> None:
    env = {"STRIPE_TEAM_ANNUAL_PRICE_ID": "p_team_y", "STRIPE_ENTERPRISE_PRICE_ID": "p_ent"}
    prices = price_tiers(builtin("classic"), env.get)
    assert (prices.tier_name("p_team_y"), prices.tier_name("p_ent")) == ("team", "enterprise")


def _per_seat(**policy: Any) -> dict[str, Any]:
    from importlib import resources

    data = tomllib.loads(resources.files("atlas_cli.catalogs").joinpath("per-seat.toml").read_text())
    data["policy"]["stripe"] = policy
    return data


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"suspension": {"unpaid": "delete"}}, "policy.stripe.suspension.unpaid"),
        ({"suspension": ["unpaid"]}, "policy.stripe.suspension"),
        ({"live_statuses": "active"}, "policy.stripe.live_statuses"),
        ({"later_prices_need_first": "yes"}, "policy.stripe.later_prices_need_first"),
    ],
)
def test_stripe_policy_is_validated(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(message)):
        parse(_per_seat(**policy))


def test_price_settings_are_validated() -> None:
    data = _per_seat()
    data["plans"]["pro"]["price_settings"] = ["STRIPE_PRO_PRICE_ID", ""]
    with pytest.raises(CatalogError, match=r"plans\.pro\.price_settings"):
        parse(data)


LADDER = builtin("per-seat").policy.stripe.suspension
SUSPENDED = {"workspace_status": "suspended", "suspended_at": NOW, "suspension_source": "billing"}
RESUMED = {"workspace_status": "active", "suspended_at": None, "suspension_source": None}


@pytest.mark.parametrize(
    ("status", "source", "stripe_status", "values"),
    [
        ("active", None, "unpaid", SUSPENDED),
        ("suspended", "billing", "unpaid", {}),
        ("suspended", "operator", "unpaid", {}),
        ("suspended", "billing", "active", RESUMED),
        ("suspended", "operator", "active", {}),
        ("active", None, "active", {}),
        ("active", None, "past_due", {}),
    ],
)
def test_suspension_ladder(status: str, source: str | None, stripe_status: str, values: dict[str, Any]) -> None:
    row = {"workspace_status": status, "suspension_source": source}
    assert suspension_change(LADDER, "billing", stripe_status, row, NOW) == values


def test_classic_has_no_ladder() -> None:
    assert builtin("classic").policy.stripe.suspension == {}


@pytest.mark.parametrize(
    ("until", "holds"),
    [(None, False), (NOW, False), (NOW + timedelta(seconds=1), True), (NOW - timedelta(days=1), False)],
)
def test_override_holds_strictly_after_now(until: datetime | None, holds: bool) -> None:
    assert override_holds(until, NOW) is holds
