"""Stripe -> Atlas rules (DESIGN section 4, "Stripe"). Pure: no I/O, no SDK objects.

A Stripe subscription is described by `StripeSubscription`; `plan_change` decides what the
workspace's plan columns become, and says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from atlas_cli.domain.plans import Tier

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
    prices: PriceMap,
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
    target = prices.tier_for(sub.price_id)
    if target is None:
        return PlanChange(
            Outcome.UNKNOWN_PRICE, f"price {sub.price_id} is not a configured Atlas price: nothing changed"
        )
    values = {"plan_tier": target.value} if tier != target.value else {}
    if sub.cancel_at_period_end:
        return PlanChange(
            Outcome.SCHEDULED, f"{sub.status} on {target.value}; cancels at period end: tier kept until it ends", values
        )
    return PlanChange(Outcome.TIER, f"{sub.status} on the {target.value} price", values)


def _blocked(
    sub: StripeSubscription, *, tier: str, trial_ends_at: datetime | None, allowed_tiers: tuple[str, ...] | None
) -> PlanChange:
    """Ended: `locked` where the constraint lists it, else an expired trial; never free."""
    if allowed_tiers is not None and Tier.LOCKED.value in allowed_tiers:
        values: dict[str, Any] = {"plan_tier": Tier.LOCKED.value} if tier != Tier.LOCKED.value else {}
        return PlanChange(Outcome.ENDED, f"subscription {sub.id} {sub.status}: workspace locked", values)
    values = {}
    if tier != Tier.TRIAL.value:
        values["plan_tier"] = Tier.TRIAL.value
    if sub.end is not None and trial_ends_at != sub.end:
        values["trial_ends_at"] = sub.end
    return PlanChange(
        Outcome.ENDED,
        f"subscription {sub.id} {sub.status}: blocked as an expired trial (this database's plan_tier has no 'locked')",
        values,
    )
