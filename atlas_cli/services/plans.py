"""The plan table (DESIGN section 4)."""

from __future__ import annotations

from atlas_cli.domain.plans import PLANS, SELLABLE_TIERS, Plan, parse_tier
from atlas_cli.errors import NotFound


class PlanService:
    def list(self) -> list[Plan]:
        return [PLANS[tier] for tier in SELLABLE_TIERS]

    def show(self, tier: str) -> Plan:
        """Raises: NotFound: no plan has that tier."""
        found = parse_tier(tier)
        if found is None or found not in SELLABLE_TIERS:
            names = ", ".join(t.value for t in SELLABLE_TIERS)
            raise NotFound(f"no plan {tier!r}; tiers are {names}")
        return PLANS[found]
