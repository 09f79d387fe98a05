"""The plan table of a billing model's catalog (DESIGN sections 4 and 4c)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from atlas_cli.errors import NotFound

if TYPE_CHECKING:
    from atlas_cli.domain.catalog import Catalog, Plan
    from atlas_cli.domain.operator_catalog import OperatorCatalog


@dataclass(frozen=True)
class PlanTable:
    catalog: Catalog
    plans: tuple[Plan, ...]
    operator: OperatorCatalog | None = None  # the operator catalog in force (`plans show`), if any


class PlanService:
    """Plans of the billing model `model()` names: the detected one of the configured database,
    ATLAS_BILLING_MODEL, or classic when there is no database to ask."""

    def __init__(self, model: Callable[[], str], operator: Callable[[], OperatorCatalog | None] | None = None) -> None:
        self._model = model
        self._operator = operator

    def _catalog(self) -> Catalog:
        from atlas_cli.catalogs import builtin

        return builtin(self._model())

    def list(self) -> PlanTable:
        """Every plan a workspace can be on (not those that only block, such as locked)."""
        catalog = self._catalog()
        return PlanTable(catalog, tuple(p for p in catalog.plans.values() if p.block is None))

    def show(self, tier: str) -> PlanTable:
        """One plan, with the operator catalog's values beside the built-in ones.

        Raises: NotFound: no plan has that tier."""
        table = self.list()
        found = [p for p in table.plans if p.tier == tier.strip().lower()]
        if not found:
            names = ", ".join(p.tier for p in table.plans)
            raise NotFound(f"no plan {tier!r} in the {table.catalog.model} billing model; tiers are {names}")
        return PlanTable(table.catalog, tuple(found), self._operator() if self._operator else None)
