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
