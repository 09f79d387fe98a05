"""Overage tiers: percent of a limit, rounded half up, and the status it puts a metric in."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    SOFT_LIMIT = "soft_limit"
    METERED = "metered"  # per-seat: past the included credit, billed at cost
    HARD_LIMIT = "hard_limit"


SEVERITY = {Status.OK: 0, Status.WARNING: 1, Status.SOFT_LIMIT: 2, Status.METERED: 3, Status.HARD_LIMIT: 4}

WARNING_PERCENT = 80
SOFT_LIMIT_PERCENT = 100
HARD_LIMIT_PERCENT = 110


def usage_percent(usage: int | Decimal, limit: int | Decimal | None) -> int | None:
    """`usage / limit * 100` rounded half up; None for an unlimited or non-positive limit.

    Exact arithmetic (ints, or Decimal dollars), so 79.5% is exactly 80 and never 79 by float error.
    """
    if limit is None or limit <= 0:
        return None
    return int((200 * usage + limit) // (2 * limit))


def status_for(usage: int, limit: int | None) -> Status:
    """The overage status of one metric. A limit <= 0 that is not unlimited fails safe."""
    if limit is None:
        return Status.OK
    if limit <= 0:
        return Status.HARD_LIMIT
    percent = usage_percent(usage, limit)
    assert percent is not None
    if percent >= HARD_LIMIT_PERCENT:
        return Status.HARD_LIMIT
    if percent >= SOFT_LIMIT_PERCENT:
        return Status.SOFT_LIMIT
    if percent >= WARNING_PERCENT:
        return Status.WARNING
    return Status.OK


def worst(statuses: list[Status]) -> int | None:
    """Index of the most severe status; the first wins a tie. None when the list is empty."""
    if not statuses:
        return None
    best = 0
    for index, status in enumerate(statuses):
        if SEVERITY[status] > SEVERITY[statuses[best]]:
            best = index
    return best
