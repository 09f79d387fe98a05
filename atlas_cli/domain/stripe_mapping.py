"""Stripe -> Atlas rules (DESIGN section 4, "Stripe"). Pure: no I/O, no SDK objects.

A Stripe subscription is described by `StripeSubscription`; `plan_change` decides what the
workspace's plan columns become, and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from atlas_cli.domain.plans import Tier

if TYPE_CHECKING:
    from atlas_cli.domain.catalog import Catalog

LIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PriceMap:
    """The price ids the Atlas server sells (STRIPE_*_PRICE_ID)."""

    team: str | None = None
    team_annual: str | None = None
    enterprise: str | None = None

    def tier_for(self, price_id: str | None) -> Tier | None:
        """team or team-annual price -> team; enterprise price -> enterprise; else None."""
        if not price_id:
            return None
        if price_id in (self.team, self.team_annual):
            return Tier.TEAM
        if price_id == self.enterprise:
            return Tier.ENTERPRISE
        return None

    def tier_name(self, price_id: str | None) -> str | None:
        found = self.tier_for(price_id)
        return found.value if found else None


class Prices(Protocol):
    def tier_name(self, price_id: str | None) -> str | None: ...


@dataclass(frozen=True)
class PriceTiers:
    """Price id -> tier, built from a catalog's plans (`price_settings`): the first match wins."""

    entries: tuple[tuple[str, str], ...] = ()

    def tier_name(self, price_id: str | None) -> str | None:
        if not price_id:
            return None
        return next((tier for price, tier in self.entries if price == price_id), None)


def price_tiers(catalog: Catalog, lookup: Callable[[str], str | None]) -> PriceTiers:
    """The price map of `catalog`: each plan's `price_settings`, valued by `lookup` (the
    environment, else the platform settings rows), in catalog order. With the catalog's
    `later_prices_need_first`, a plan's later (annual) prices count only when its first is set."""
    entries: list[tuple[str, str]] = []
    for plan in catalog.plans.values():
        values = [(lookup(name) or "").strip() for name in plan.price_settings]
        if values and catalog.policy.stripe.later_prices_need_first and not values[0]:
            continue
        entries.extend((value, plan.tier) for value in values if value)
    return PriceTiers(tuple(entries))


def price_setting_names(catalog: Catalog) -> tuple[str, ...]:
    return tuple(name for plan in catalog.plans.values() for name in plan.price_settings)


@dataclass(frozen=True)
class StripeSubscription:
    id: str
    customer: str | None
    status: str
    price_id: str | None
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool
    interval: str | None
    ended_at: datetime | None = None
    reference_id: str | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def ended(self) -> bool:
        return self.status in ENDED_STATUSES

    @property
    def end(self) -> datetime | None:
        """When service stopped (or stops): ended_at, else the end of the current period."""
        return self.ended_at or self.period_end


class Outcome(StrEnum):
    TIER = "tier"  # a live subscription with a known price
    SCHEDULED = "scheduled"  # live, cancels at period end: tier kept
    ENDED = "ended"  # ended: the workspace is blocked
    UNKNOWN_PRICE = "unknown_price"
    NOT_LIVE = "not_live"  # incomplete, unpaid, paused: tier left alone


@dataclass(frozen=True)
class PlanChange:
    """The organization columns to set (only those that differ) and why."""

    outcome: Outcome
    why: str
    values: dict[str, Any] = field(default_factory=dict)
    tier: str | None = None  # the tier this subscription puts the workspace on, changed or not

    @property
    def writes_subscription(self) -> bool:
        """An unknown price changes nothing at all, not even the subscription row."""
        return self.outcome is not Outcome.UNKNOWN_PRICE


def current_subscription(subs: list[StripeSubscription]) -> StripeSubscription | None:
    """The subscription that decides the tier: the live one ending last, else the last to end."""
    live = [s for s in subs if s.live]
    pool = live or subs
    if not pool:
        return None
    return max(pool, key=lambda s: (s.end or _EPOCH, s.id))


def plan_change(
    sub: StripeSubscription,
    prices: Prices,
    *,
    tier: str,
    trial_ends_at: datetime | None,
    allowed_tiers: tuple[str, ...] | None,
) -> PlanChange:
    """What the workspace's `plan_tier`/`trial_ends_at` become for `sub` (only changed columns)."""
    if sub.ended:
        return _blocked(sub, tier=tier, trial_ends_at=trial_ends_at, allowed_tiers=allowed_tiers)
    if not sub.live:
        return PlanChange(Outcome.NOT_LIVE, f"subscription {sub.id} is {sub.status}: tier unchanged")
    target = prices.tier_name(sub.price_id)
    if target is None:
        return PlanChange(
            Outcome.UNKNOWN_PRICE, f"price {sub.price_id} is not a configured Atlas price: nothing changed"
        )
    values = {"plan_tier": target} if tier != target else {}
    if sub.cancel_at_period_end:
        return PlanChange(
            Outcome.SCHEDULED,
            f"{sub.status} on {target}; cancels at period end: tier kept until it ends",
            values,
            target,
        )
    return PlanChange(Outcome.TIER, f"{sub.status} on the {target} price", values, target)


def _blocked(
    sub: StripeSubscription, *, tier: str, trial_ends_at: datetime | None, allowed_tiers: tuple[str, ...] | None
) -> PlanChange:
    """Ended: `locked` where the constraint lists it, else an expired trial; never free."""
    if allowed_tiers is not None and Tier.LOCKED.value in allowed_tiers:
        values: dict[str, Any] = {"plan_tier": Tier.LOCKED.value} if tier != Tier.LOCKED.value else {}
        return PlanChange(Outcome.ENDED, f"subscription {sub.id} {sub.status}: workspace locked", values, "locked")
    values = {}
    if tier != Tier.TRIAL.value:
        values["plan_tier"] = Tier.TRIAL.value
    if sub.end is not None and trial_ends_at != sub.end:
        values["trial_ends_at"] = sub.end
    return PlanChange(
        Outcome.ENDED,
        f"subscription {sub.id} {sub.status}: blocked as an expired trial (this database's plan_tier has no 'locked')",
        values,
        Tier.TRIAL.value,
    )


def override_holds(until: datetime | None, now: datetime) -> bool:
    """An operator's plan override holds while `plan_override_until` is after now."""
    return until is not None and until > now


def suspension_change(
    ladder: Mapping[str, str], source: str, sub_status: str, row: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """The organization columns the suspension ladder sets for a subscription's Stripe status.

    `suspend` suspends an active workspace with `source`; `resume` lifts only a suspension of that
    source (an operator's stays); a status not in the ladder changes nothing."""
    action = ladder.get(sub_status)
    status, held_by = row.get("workspace_status"), row.get("suspension_source")
    if action == "suspend" and status == "active":
        return {"workspace_status": "suspended", "suspended_at": now, "suspension_source": source}
    if action == "resume" and status == "suspended" and held_by == source:
        return {"workspace_status": "active", "suspended_at": None, "suspension_source": None}
    return {}
