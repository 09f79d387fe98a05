"""The dates an operator types: ISO dates and times, and relative days (`today`, `7d`, `3m`).

Pure: "now" and the time zone are always passed in, never read from the machine.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, tzinfo

from atlas_cli.domain.periods import EARLIEST_DATE, LATEST_DATE

RELATIVE_HELP = "YYYY-MM-DD, today, yesterday, or days/weeks/months ago as 7d, 2w, 3m"
_AGO = re.compile(r"(\d{1,6})([dwm])")
_WORDS = {"today": 0, "yesterday": 1}


class DateError(ValueError):
    """A date that cannot be read; its message says why, without the option's name."""


def today_in(now: datetime, zone: tzinfo = UTC) -> date:
    """The calendar date of `now` in `zone` (a naive `now` is taken to be UTC)."""
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


def months_before(day: date, months: int) -> date:
    """`day` moved back `months` calendar months; a day the target month lacks becomes its last
    (31 March less one month is 28 or 29 February)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    if year < 1:
        raise DateError("is out of range")
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _relative(text: str, today: date) -> date | None:
    if text in _WORDS:
        return today - timedelta(days=_WORDS[text])
    match = _AGO.fullmatch(text)
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2)
    if unit == "m":
        return months_before(today, count)
    days = count * (7 if unit == "w" else 1)
    if days >= (today - date.min).days:
        raise DateError("is out of range")
    return today - timedelta(days=days)


def _absolute(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()  # the date as written
    except ValueError:
        return None


def parse_day(text: str, *, now: datetime, zone: tzinfo = UTC) -> date:
    """The calendar date `text` names: an ISO date, the date of an ISO time as written, or a day
    relative to today in `zone` (`today`, `yesterday`, `Nd`, `Nw`, `Nm`: N days, weeks or calendar
    months ago). Dates run from 1970-01-01 to 9998-12-31.

    Raises:
        DateError: not a date in any of these forms, or outside that range.
    """
    cleaned = text.strip().lower()
    day = _absolute(text.strip())
    if day is None:
        day = _relative(cleaned, today_in(now, zone))
    if day is None:
        raise DateError(f"is not a date; use {RELATIVE_HELP}")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise DateError(f"is out of range; dates run from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}")
    return day


def midnight(day: date, zone: tzinfo = UTC) -> datetime:
    """The instant (in UTC) that `day` begins in `zone`. Where a zone skips its midnight (a DST
    change at 00:00), the day begins at the first instant that exists: fold=0 reads a missing
    wall time with the offset before the change, which lands just after the gap; a repeated
    midnight is its first occurrence."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def day_bounds(first: date | None, last: date | None, zone: tzinfo = UTC) -> tuple[datetime | None, datetime | None]:
    """The half-open instants [start of `first`, start of the day after `last`) in `zone`; a
    missing day leaves its side open (None)."""
    lower = midnight(first, zone) if first is not None else None
    upper = midnight(last + timedelta(days=1), zone) if last is not None else None
    return lower, upper


def _next_day(kind: str, day: date) -> date:
    if kind == "monthly":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=1)


def _first_day(kind: str, day: date) -> date:
    return day.replace(day=1) if kind == "monthly" else day


def zone_buckets(
    kind: str,
    *,
    now: datetime,
    zone: tzinfo,
    start: date | None,
    end: date | None,
    limit: int,
    floor: datetime | None = None,
) -> list[tuple[date, datetime, datetime]]:
    """The days or months (`kind` daily/monthly) of a history in `zone`, newest first, at most
    `limit`: each its first local day and its [start, end) instants in UTC. As the UTC history:
    without `end` the range ends with the current period, without `start` it reaches back `limit`
    periods, and never before the period holding `floor`. A day on which the zone changes its
    clocks lasts 23 or 25 hours.
    """
    newest = _first_day(kind, end if end is not None else today_in(now, zone))
    oldest = _first_day(kind, start) if start is not None else None
    if floor is not None:
        lowest = _first_day(kind, today_in(floor, zone))
        oldest = lowest if oldest is None else max(oldest, lowest)
    buckets: list[tuple[date, datetime, datetime]] = []
    cursor = newest
    while len(buckets) < limit and (oldest is None or cursor >= oldest):
        buckets.append((cursor, midnight(cursor, zone), midnight(_next_day(kind, cursor), zone)))
        if cursor <= EARLIEST_DATE:
            break
        cursor = _first_day(kind, cursor - timedelta(days=1))
    return buckets
