"""Which billing model a database was laid out for (DESIGN section 4, Detection).

Per-seat when the `organization.plan_tier` CHECK constraint lists a tier only the per-seat
catalog knows (`starter`, ...); classic otherwise, and on a database without the constraint
(SQLite) unless a workspace already holds such a tier. `ATLAS_BILLING_MODEL` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from atlas_cli.errors import BadInput

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CLASSIC, PER_SEAT = "classic", "per-seat"
MODELS = (CLASSIC, PER_SEAT)


@dataclass(frozen=True)
class Detection:
    model: str
    reason: str


def per_seat_only_tiers() -> tuple[str, ...]:
    """The tiers the per-seat catalog knows and the classic one does not, in catalog order."""
    from atlas_cli.catalogs import builtin

    classic = builtin(CLASSIC).plans
    return tuple(tier for tier in builtin(PER_SEAT).plans if tier not in classic)


def parse_model(value: str, source: str = "ATLAS_BILLING_MODEL") -> str:
    """`classic` or `per-seat` (case and spacing ignored; `per_seat` and `perseat` accepted).

    Raises:
        BadInput: any other value.
    """
    model = value.strip().lower().replace("_", "-")
    model = PER_SEAT if model == "perseat" else model
    if model not in MODELS:
        raise BadInput(f"{source}: {value.strip()!r} is not a billing model; use classic or per-seat")
    return model


def detect(conn: Connection, override: str | None = None) -> Detection:
    """The billing model of this database, and why.

    Raises:
        BadInput: an override that names no billing model.
    """
    if override is not None and override.strip():
        model = parse_model(override)
        return Detection(model, f"ATLAS_BILLING_MODEL={model} overrides detection")
    import sqlalchemy as sa

    from atlas_cli.db.migrate import tier_values

    if not sa.inspect(conn).has_table("organization"):
        return Detection(CLASSIC, "no organization table yet: the classic model is the default")
    marker = per_seat_only_tiers()
    listed = tier_values(conn)
    if listed is not None:
        found = [tier for tier in marker if tier in listed]
        if found:
            return Detection(PER_SEAT, f"the organization.plan_tier constraint lists {found[0]!r}")
        return Detection(CLASSIC, f"the organization.plan_tier constraint lists no per-seat tier ({marker[0]!r})")
    from atlas_cli.db.schema import organization

    holder = conn.execute(
        sa.select(organization.c.id, organization.c.plan_tier).where(organization.c.plan_tier.in_(marker)).limit(1)
    ).first()
    if holder is not None:
        return Detection(PER_SEAT, f"no plan_tier constraint, and workspace {holder[0]} holds the tier {holder[1]!r}")
    return Detection(CLASSIC, "no plan_tier constraint and no workspace on a per-seat tier")
