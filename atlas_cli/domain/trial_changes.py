"""What `atlas trial start | extend | end` write (pure rules; DESIGN section 4 "Trial").

- start: tier trial, ends now + days (default 14). Refused on a running trial (use extend) and
  on a paid tier (team/enterprise: use `workspace set-plan`).
- extend: only on the trial tier; the end moves N days past the later of now and the current
  effective end (an expired trial restarts from now).
- end: only on the trial tier; the end becomes now, the tier stays trial, so the Atlas server
  blocks the workspace as an expired trial from the next request on. An already expired trial is
  left as it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from atlas_cli.domain.plans import TRIAL_DAYS, Tier
from atlas_cli.domain.trial import effective_trial_end

MAX_TRIAL_DAYS = 365
DEFAULT_TRIAL_DAYS = TRIAL_DAYS


class TrialRefused(Exception):
    """The change does not apply to the workspace as it stands (a conflict)."""


def start(
    now: datetime, *, tier: str, trial_ends_at: datetime | None, created_at: datetime | None, days: int
) -> dict[str, Any]:
    if tier in (Tier.TEAM.value, Tier.ENTERPRISE.value):
        raise TrialRefused(f"the workspace is on the paid {tier} tier; change it with `atlas workspace set-plan`")
    end = effective_trial_end(trial_ends_at, created_at)
    if tier == Tier.TRIAL.value and end is not None and end >= now:
        raise TrialRefused("a trial is already running; use `atlas trial extend --days N`")
    return {"plan_tier": Tier.TRIAL.value, "trial_ends_at": now + timedelta(days=days)}


def extend(
    now: datetime, *, tier: str, trial_ends_at: datetime | None, created_at: datetime | None, days: int
) -> dict[str, Any]:
    if tier != Tier.TRIAL.value:
        raise TrialRefused(f"the workspace is on the {tier} tier, not on a trial; use `atlas trial start`")
    end = effective_trial_end(trial_ends_at, created_at)
    base = max(now, end) if end is not None else now
    return {"trial_ends_at": base + timedelta(days=days)}


def end(now: datetime, *, tier: str, trial_ends_at: datetime | None, created_at: datetime | None) -> dict[str, Any]:
    if tier != Tier.TRIAL.value:
        raise TrialRefused(f"the workspace is on the {tier} tier, not on a trial")
    current = effective_trial_end(trial_ends_at, created_at)
    if current is not None and current <= now:
        return {"trial_ends_at": trial_ends_at}
    return {"trial_ends_at": now}
