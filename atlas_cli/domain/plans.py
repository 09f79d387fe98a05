"""Plan tiers and their limits (DESIGN section 4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Tier(StrEnum):
    FREE = "free"
    TRIAL = "trial"
    TEAM = "team"
    ENTERPRISE = "enterprise"
    LOCKED = "locked"


TRIAL_DAYS = 14


@dataclass(frozen=True)
class Plan:
    """A tier's limits; `None` means unlimited."""

    tier: Tier
    display_name: str
    queries_per_month: int | None
    tokens_per_month: int | None
    max_members: int | None
    max_connections: int | None
    trial_days: int | None = None

    @property
    def metered(self) -> bool:
        """Whether usage is enforced against limits at all (free and enterprise are skipped)."""
        return self.tier in (Tier.TRIAL, Tier.TEAM)


_TEAM_LIMITS = {
    "queries_per_month": 10_000,
    "tokens_per_month": 5_000_000,
    "max_members": 25,
    "max_connections": 5,
}
_UNLIMITED = {
    "queries_per_month": None,
    "tokens_per_month": None,
    "max_members": None,
    "max_connections": None,
}

PLANS: dict[Tier, Plan] = {
    Tier.FREE: Plan(Tier.FREE, "Self-Hosted", **_UNLIMITED),
    Tier.TRIAL: Plan(Tier.TRIAL, "Trial", trial_days=TRIAL_DAYS, **_TEAM_LIMITS),
    Tier.TEAM: Plan(Tier.TEAM, "Team", **_TEAM_LIMITS),
    Tier.ENTERPRISE: Plan(Tier.ENTERPRISE, "Enterprise", **_UNLIMITED),
    # A workspace whose subscription ended: blocked before any limit is looked at.
    Tier.LOCKED: Plan(Tier.LOCKED, "Locked", 0, 0, 0, 0),
}

SELLABLE_TIERS = (Tier.FREE, Tier.TRIAL, Tier.TEAM, Tier.ENTERPRISE)


def parse_tier(value: str) -> Tier | None:
    """The Tier named by `value` (case-insensitive), or None when it names none."""
    try:
        return Tier(value.strip().lower())
    except ValueError:
        return None


def plan_for(tier: Tier) -> Plan:
    return PLANS[tier]
