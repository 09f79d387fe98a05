"""Validation of what operators type: one clear BadInput per mistake."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from atlas_cli.domain.periods import EARLIEST_DATE, LATEST_DATE
from atlas_cli.errors import BadInput

E = TypeVar("E", bound=StrEnum)


def parse_date(value: str | None, option: str) -> date | None:
    """A calendar date (YYYY-MM-DD), or the date of an ISO 8601 time, from 1970 to 9998.

    Raises:
        BadInput: not a date, or one outside that range (a typo such as 0202 for 2020).
    """
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            day = datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            raise BadInput(f"{option}: {value!r} is not a date; use YYYY-MM-DD") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise BadInput(
            f"{option}: {value!r} is out of range; dates run from {EARLIEST_DATE.isoformat()} "
            f"to {LATEST_DATE.isoformat()}"
        )
    return day


def date_span(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    first, last = parse_date(start, "--start"), parse_date(end, "--end")
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
