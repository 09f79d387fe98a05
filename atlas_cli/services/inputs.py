"""Validation of what operators type: one clear BadInput per mistake."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import TypeVar

from atlas_cli.domain import dates
from atlas_cli.errors import BadInput

E = TypeVar("E", bound=StrEnum)


def parse_date(value: str | None, option: str, *, now: datetime, zone: tzinfo = UTC) -> date | None:
    """A calendar date: YYYY-MM-DD, the date of an ISO 8601 time, or a day relative to today in
    `zone` (today, yesterday, 7d, 2w, 3m), from 1970 to 9998.

    Raises:
        BadInput: not a date, or one outside that range (a typo such as 0202 for 2020).
    """
    if value is None or value == "":
        return None
    try:
        return dates.parse_day(value, now=now, zone=zone)
    except dates.DateError as exc:
        raise BadInput(f"{option}: {value!r} {exc}") from None


def date_span(
    start: str | None, end: str | None, *, now: datetime, zone: tzinfo = UTC
) -> tuple[date | None, date | None]:
    """The inclusive days --start (or --since) .. --end.

    Raises:
        BadInput: a malformed date, or --end before --start.
    """
    first = parse_date(start, "--start", now=now, zone=zone)
    last = parse_date(end, "--end", now=now, zone=zone)
    if first is not None and last is not None and last < first:
        raise BadInput(f"--end {last.isoformat()} is before --start {first.isoformat()}")
    return first, last


UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT"}
    | {"Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "GMT+0", "GMT-0", "Etc/Greenwich", "Greenwich"}
)


def parse_zone(value: str | None, option: str = "--tz") -> tzinfo:
    """An IANA time zone (Europe/Paris); UTC and its aliases, or nothing, are UTC itself.

    Raises:
        BadInput: not a time zone the system's tz database knows.
    """
    if value is None or not value.strip() or value.strip() in UTC_NAMES:
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = value.strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            f"{option}: {value!r} is not a time zone; use an IANA name such as Europe/Paris or UTC"
        ) from None


_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_interval(value: str, option: str = "--interval", *, low: float = 0.5, high: float = 3600.0) -> float:
    """A duration in seconds: 5s, 500ms, 2m, 1h, or a plain number of seconds, from `low` to `high`.

    Raises:
        BadInput: not a duration, or outside that range.
    """
    import re

    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)?", value.strip().lower())
    if match is None:
        raise BadInput(f"{option}: {value!r} is not a duration; use seconds, or 5s, 500ms, 2m")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not low <= seconds <= high:
        raise BadInput(f"{option}: {value!r} is out of range; use {low:g}s to {high:g}s")
    return seconds


def bounded(value: int, option: str, *, low: int = 1, high: int) -> int:
    if not low <= value <= high:
        raise BadInput(f"{option} must be between {low} and {high}, not {value}")
    return value


def choice(enum: type[E], value: str, option: str) -> E:
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise BadInput(f"{option}: {value!r} is not one of {allowed}") from None
