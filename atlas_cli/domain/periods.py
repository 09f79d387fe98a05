"""Billing periods and history buckets. Every window is half-open: [start, end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum


class PeriodKind(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


ACTIVE_SUBSCRIPTION_STATUSES = frozenset({"active", "trialing"})

# The dates a command takes: no usage predates 1970, and the day and month after the last one
# must still be representable (Python's datetime ends with the year 9999).
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(9998, 12, 31)


@dataclass(frozen=True)
class Window:
    """A half-open span of time [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a window ends after it starts")

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class SubscriptionPeriod:
    """A subscription's status and current period, as stored (any of them may be missing)."""

    status: str | None
    start: datetime | None
    end: datetime | None


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso_millis(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as the Atlas API writes times; the year always has
    four digits (strftime's %Y does not pad years before 1000)."""
    return utc(moment).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def month_start(moment: datetime) -> datetime:
    moment = utc(moment)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + (start.month - 1) + months
    return start.replace(year=index // 12, month=index % 12 + 1, day=1)


def calendar_month(now: datetime) -> Window:
    start = month_start(now)
    return Window(start, add_months(start, 1))


def holds(
    now: datetime,
    subscription: SubscriptionPeriod,
    statuses: frozenset[str] | tuple[str, ...] = ACTIVE_SUBSCRIPTION_STATUSES,
) -> bool:
    """Whether the subscription has one of `statuses` (active, trialing) and its [start, end) contains now."""
    if subscription.status not in statuses:
        return False
    if subscription.start is None or subscription.end is None:
        return False
    return utc(subscription.start) <= utc(now) < utc(subscription.end)


def billing_period(
    now: datetime,
    subscription: SubscriptionPeriod | None,
    statuses: frozenset[str] | tuple[str, ...] = ACTIVE_SUBSCRIPTION_STATUSES,
) -> Window:
    """The subscription's period when it has one of `statuses` and contains now, else the month."""
    if subscription is not None and holds(now, subscription, statuses):
        assert subscription.start is not None and subscription.end is not None
        return Window(utc(subscription.start), utc(subscription.end))
    return calendar_month(now)


def bucket_start(kind: PeriodKind, moment: datetime) -> datetime:
    moment = utc(moment)
    if kind is PeriodKind.MONTHLY:
        return month_start(moment)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def next_bucket(kind: PeriodKind, start: datetime) -> datetime:
    if kind is PeriodKind.MONTHLY:
        return add_months(start, 1)
    return start + timedelta(days=1)


def previous_bucket(kind: PeriodKind, start: datetime) -> datetime:
    if kind is PeriodKind.MONTHLY:
        return add_months(start, -1)
    return start - timedelta(days=1)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def history_buckets(
    kind: PeriodKind,
    *,
    now: datetime,
    start: date | None,
    end: date | None,
    limit: int,
    floor: datetime | None = None,
) -> list[Window]:
    """The periods of a history request, newest first, at most `limit` of them.

    A period is included when it overlaps the requested days: `start` and `end` are inclusive
    calendar dates (UTC). Without `end` the range ends with the current period; without `start`
    it reaches back `limit` periods. It never reaches before the period holding `floor` (when
    the workspace's usage can begin: its creation, or its first event if that is earlier).
    """
    last_moment = day_start(end) if end is not None else utc(now)
    newest = bucket_start(kind, last_moment)
    oldest = bucket_start(kind, day_start(start)) if start is not None else None
    if floor is not None:
        lowest = bucket_start(kind, floor)
        oldest = lowest if oldest is None else max(oldest, lowest)
    buckets: list[Window] = []
    cursor = newest
    while len(buckets) < limit and (oldest is None or cursor >= oldest):
        buckets.append(Window(cursor, next_bucket(kind, cursor)))
        cursor = previous_bucket(kind, cursor)
    return buckets


def date_range(start: date | None, end: date | None, default: Window) -> Window:
    """The window of inclusive dates `start`..`end`; missing ends come from `default`."""
    lower = day_start(start) if start is not None else default.start
    upper = day_start(end) + timedelta(days=1) if end is not None else default.end
    return Window(lower, upper)


def subscription_period(
    now: datetime, subscriptions: list[SubscriptionPeriod], statuses: tuple[str, ...], pick: str
) -> SubscriptionPeriod | None:
    """The subscription row whose period is the billing period, by a catalog's policy: of the rows
    with one of `statuses`, `holding` takes the first whose [start, end) contains now, `newest`
    only the newest by start (None when that one does not contain now)."""
    candidates = [s for s in subscriptions if s.status in statuses and s.start is not None and s.end is not None]
    if pick == "newest":
        candidates = sorted(candidates, key=lambda s: utc(s.start), reverse=True)[:1]  # type: ignore[arg-type]
    for sub in candidates:
        assert sub.start is not None and sub.end is not None
        if utc(sub.start) <= utc(now) < utc(sub.end):
            return sub
    return None


# How long after a period closes its stored summary is still not trusted: the writers' clocks may
# run behind the reader's, and a transaction stamped before the close may commit after it.
SUMMARY_GRACE = timedelta(hours=1)


def settled(bucket: Window, computed_at: datetime | None, now: datetime, *, marked: bool = False) -> bool:
    """Whether a stored summary of `bucket` computed at `computed_at` can be served as it is: the
    period has closed, the summary was computed at least SUMMARY_GRACE after it closed, and no
    late write of atlas's own marked it since. Everything else is recomputed."""
    if computed_at is None or marked or bucket.end > now:
        return False
    return utc(computed_at) >= bucket.end + SUMMARY_GRACE
