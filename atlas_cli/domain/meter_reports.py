"""Usage-based billing in arrears: what to send to a Stripe meter, and under which identifier
(DESIGN 4c). Pure: no I/O.

A workspace's usage of a metered feature in a billing period is sent as cumulative deltas: each
meter event carries what was used beyond what was already sent. Its identifier is derived from the
workspace, the feature, the meter, the period's start and the cumulative total it brings the period
to, so sending the same delta again (a crash between Stripe's answer and the ledger's commit, two
runs at once) carries the same identifier, which Stripe deduplicates.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from atlas_cli.domain import dates
from atlas_cli.domain.periods import Window, utc

# Stripe accepts a meter event's timestamp within the past 35 calendar days, or up to 5 minutes ahead.
OLDEST_TIMESTAMP = timedelta(days=35)
IDENTIFIER_PREFIX = "atlas_"

SEND, UNCHANGED, OVER_REPORTED, TOO_OLD = "send", "unchanged", "over_reported", "too_old"


@dataclass(frozen=True)
class PeriodChoice:
    """`--period`: the current period only, a past or present one by a date it holds, or (default)
    the current period and the previous one."""

    current_only: bool = False
    day: date | None = None

    @property
    def default(self) -> bool:
        return not self.current_only and self.day is None


def parse_period(text: str | None, *, now: datetime | None = None) -> PeriodChoice:
    """`current`, a date (YYYY-MM-DD; with `now`, also a relative day: yesterday, 7d, 1m), or
    nothing (the current and the previous period).

    Raises:
        ValueError: anything else (the caller says which option).
    """
    if text is None:
        return PeriodChoice()
    raw = text.strip().lower()
    if raw == "current":
        return PeriodChoice(current_only=True)
    try:
        if now is None:
            return PeriodChoice(day=date.fromisoformat(raw))
        return PeriodChoice(day=dates.parse_day(raw, now=now))
    except ValueError:
        forms = "YYYY-MM-DD" if now is None else dates.RELATIVE_HELP
        raise ValueError(f"{text!r} is neither 'current' nor a date ({forms})") from None


def day_moment(day: date) -> datetime:
    """The first instant of a date, UTC: the moment whose billing period `--period DATE` names."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def previous_window(current: Window, before: Window) -> Window | None:
    """The period before `current`: `before` is the period that held the instant just before
    `current` began, cut at `current`'s start so that two periods never overlap (a subscription
    that began mid-month follows part of a calendar month). None when nothing is left."""
    end = min(before.end, current.start)
    if end <= before.start:
        return None
    return Window(before.start, end)


def event_timestamp(window: Window, now: datetime) -> datetime:
    """When the meter event says the usage happened: now while the period is open, else the last
    whole second inside the period, so Stripe counts it in the period it belongs to."""
    now = utc(now)
    if window.contains(now):
        return now.replace(microsecond=0)
    last = window.end - timedelta(seconds=1)
    return max(window.start, last).replace(microsecond=0)


def sendable(timestamp: datetime, now: datetime) -> bool:
    """Whether Stripe still takes a meter event with this timestamp (at most 35 days old)."""
    return utc(timestamp) >= utc(now) - OLDEST_TIMESTAMP


def outcome(usage: int, sent: int, timestamp: datetime, now: datetime) -> str:
    """What to do with one workspace's feature in one period: send the delta, nothing (unchanged),
    nothing because more was sent than is now measured (events deleted since; a meter takes no
    negative correction from atlas), or nothing because Stripe no longer accepts the period."""
    if usage == sent:
        return UNCHANGED
    if usage < sent:
        return OVER_REPORTED
    return SEND if sendable(timestamp, now) else TOO_OLD


def identifier(workspace_id: str, feature: str, meter: str, period_start: datetime, cumulative: int) -> str:
    """The meter event's identifier: the same inputs always give the same one (at most 100
    characters, as Stripe allows)."""
    key = "\x1f".join([workspace_id, feature, meter, utc(period_start).isoformat(), str(cumulative)])
    return IDENTIFIER_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
