"""Trial expiry (DESIGN section 4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from atlas_cli.domain.periods import utc
from atlas_cli.domain.plans import TRIAL_DAYS

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class TrialState:
    """When a workspace's trial ends, whether it has, and the days left."""

    ends_at: datetime | None
    expired: bool
    days_left: int | None


def effective_trial_end(trial_ends_at: datetime | None, created_at: datetime | None) -> datetime | None:
    """`trial_ends_at`, or 14 days after the workspace was created when it is not set."""
    if trial_ends_at is not None:
        return utc(trial_ends_at)
    if created_at is not None:
        return utc(created_at) + timedelta(days=TRIAL_DAYS)
    return None


def trial_state(now: datetime, trial_ends_at: datetime | None, created_at: datetime | None) -> TrialState:
    """Expired strictly after the end: at exactly 14 days the trial is still running.

    Days left are whole days rounded up, so a trial with an hour to go has 1 day left.
    """
    end = effective_trial_end(trial_ends_at, created_at)
    if end is None:
        return TrialState(None, False, None)
    now = utc(now)
    expired = end < now
    remaining = end - now
    days_left = 0 if expired else -(-remaining // _DAY)
    return TrialState(end, expired, days_left)
