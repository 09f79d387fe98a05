"""What `atlas trial start | extend | end` write (pure rules; DESIGN sections 4a and 4b "Trial").

The billing model's catalog says which tiers are paid and which plan is the trial; without one,
the classic catalog's.

- start: the catalog's trial tier, ends now + days (default 14). Refused on a running trial (use
  extend) and on a paid tier (classic team/enterprise, per-seat starter/pro/business: use
  `workspace set-plan`).
- extend: only on the trial tier; the end moves N days past the later of now and the current
  effective end (an expired trial restarts from now).
- end: only on the trial tier; the end becomes now, the tier stays trial, so the Atlas server
  blocks the workspace as an expired trial from the next request on. An already expired trial is
  left as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from atlas_cli.domain.plans import TRIAL_DAYS
from atlas_cli.domain.trial import effective_trial_end

if TYPE_CHECKING:
    from atlas_cli.domain.catalog import Catalog

MAX_TRIAL_DAYS = 365
DEFAULT_TRIAL_DAYS = TRIAL_DAYS


class TrialRefused(Exception):
    """The change does not apply to the workspace as it stands (a conflict)."""


def _catalog(catalog: Catalog | None) -> Catalog:
    if catalog is not None:
        return catalog
    from atlas_cli.catalogs import builtin

    return builtin("classic")


def trial_tier(catalog: Catalog | None = None) -> str:
    """The tier of the catalog's trial plan."""
    return next(tier for tier, plan in _catalog(catalog).plans.items() if plan.trial)


def _on_trial(catalog: Catalog, tier: str) -> bool:
    plan = catalog.plan(tier)
    return plan is not None and plan.trial


def start(
    now: datetime,
    *,
    tier: str,
    trial_ends_at: datetime | None,
    created_at: datetime | None,
    days: int,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    rules = _catalog(catalog)
    plan = rules.plan(tier)
    if plan is not None and plan.paid:
        raise TrialRefused(f"the workspace is on the paid {tier} tier; change it with `atlas workspace set-plan`")
    end = effective_trial_end(trial_ends_at, created_at)
    if _on_trial(rules, tier) and end is not None and end >= now:
        raise TrialRefused("a trial is already running; use `atlas trial extend --days N`")
    return {"plan_tier": trial_tier(rules), "trial_ends_at": now + timedelta(days=days)}


def extend(
    now: datetime,
    *,
    tier: str,
    trial_ends_at: datetime | None,
    created_at: datetime | None,
    days: int,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    if not _on_trial(_catalog(catalog), tier):
        raise TrialRefused(f"the workspace is on the {tier} tier, not on a trial; use `atlas trial start`")
    end = effective_trial_end(trial_ends_at, created_at)
    base = max(now, end) if end is not None else now
    return {"trial_ends_at": base + timedelta(days=days)}


def end(
    now: datetime,
    *,
    tier: str,
    trial_ends_at: datetime | None,
    created_at: datetime | None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    if not _on_trial(_catalog(catalog), tier):
        raise TrialRefused(f"the workspace is on the {tier} tier, not on a trial")
    current = effective_trial_end(trial_ends_at, created_at)
    if current is not None and current <= now:
        return {"trial_ends_at": trial_ends_at}
    return {"trial_ends_at": now}
