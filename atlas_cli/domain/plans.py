"""Plan tiers of the classic model and their limits (DESIGN section 4a).

The figures are data: `atlas_cli/catalogs/classic.toml`. `Plan` is the classic view of one of
its plans, with the four limits by name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atlas_cli.domain import catalog


class Tier(StrEnum):
    FREE = "free"
    TRIAL = "trial"
    TEAM = "team"
    ENTERPRISE = "enterprise"
    LOCKED = "locked"


TRIAL_DAYS = 14


def classic_catalog() -> catalog.Catalog:
    from atlas_cli.catalogs import builtin

    return builtin("classic")


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
        return self.definition().enforced

    def definition(self) -> catalog.Plan:
        """This plan as the engine reads it: the catalog's plan of the tier, with these limits."""
        base = classic_catalog().plans[self.tier.value]
        limits = {
            "queries": self.queries_per_month,
            "tokens": self.tokens_per_month,
            "members": self.max_members,
            "connections": self.max_connections,
        }
        return replace(base, display_name=self.display_name, values={**base.values, **limits})


def _from_catalog(tier: Tier) -> Plan:
    plan = classic_catalog().plans[tier.value]
    limit = plan.values.get

    def whole(key: str) -> int | None:
        value = limit(key)
        return None if value is None else int(value)

    return Plan(
        tier,
        plan.display_name,
        whole("queries"),
        whole("tokens"),
        whole("members"),
        whole("connections"),
        trial_days=classic_catalog().policy.trial_days if plan.trial else None,
    )


class _Plans(Mapping[Tier, Plan]):
    """The classic plans, read from the catalog on first use (nothing is built at import)."""

    def __getitem__(self, tier: Tier) -> Plan:
        return _from_catalog(Tier(tier))

    def __iter__(self) -> Iterator[Tier]:
        return iter(Tier)

    def __len__(self) -> int:
        return len(Tier)


PLANS: Mapping[Tier, Plan] = _Plans()

SELLABLE_TIERS = (Tier.FREE, Tier.TRIAL, Tier.TEAM, Tier.ENTERPRISE)


def parse_tier(value: str) -> Tier | None:
    """The Tier named by `value` (case-insensitive), or None when it names none."""
    try:
        return Tier(value.strip().lower())
    except ValueError:
        return None


def plan_for(tier: Tier) -> Plan:
    return PLANS[tier]
