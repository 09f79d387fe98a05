"""Filtering and ordering a fleet of workspaces (`workspace list`, `trial list`). Pure: no I/O.

A workspace's billing status is its check's status. For `--status S` ("at least S") the statuses
rank ok < warning < soft_limit = metered < hard_limit, and a blocked workspace (trial_expired,
subscription_required, billing_check_failed) ranks with hard_limit: it is blocked too. Naming a
blocked status selects exactly that status.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from atlas_cli.domain.periods import utc
from atlas_cli.errors import BadInput

USAGE_RANK = {"ok": 0, "warning": 1, "soft_limit": 2, "metered": 2, "hard_limit": 3}
BLOCKED = ("trial_expired", "subscription_required", "billing_check_failed")
STATUS_ALIASES = {"soft": "soft_limit", "hard": "hard_limit"}
STATUSES = (*USAGE_RANK, *BLOCKED)
SORTS = ("name", "id", "tier", "status", "usage", "trial-end", "created")

_DURATION = re.compile(r"^\s*(\d{1,6})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_duration(value: str, option: str) -> timedelta:
    """A span such as `3d`, `2w` or `12h` (hours, days, weeks).

    Raises:
        BadInput: anything else.
    """
    found = _DURATION.match(value)
    if found is None:
        raise BadInput(f"{option}: {value!r} is not a duration; use a number and h, d or w (12h, 3d, 2w)")
    return int(found.group(1)) * _UNITS[found.group(2).lower()]


def parse_status(value: str, option: str = "--status") -> str:
    """A billing status as `--status` takes it (`soft` and `hard` are short for the limits).

    Raises:
        BadInput: an unknown status.
    """
    status = value.strip().lower().replace("-", "_")
    status = STATUS_ALIASES.get(status, status)
    if status not in STATUSES:
        raise BadInput(f"{option}: {value!r} is not one of {', '.join(STATUSES)}")
    return status


def rank(status: str) -> int:
    """How bad a billing status is (blocked ranks with hard_limit)."""
    return USAGE_RANK.get(status, USAGE_RANK["hard_limit"])


def at_least(status: str, wanted: str) -> bool:
    """Whether `status` meets `--status wanted`: at least as bad, or exactly a named block."""
    if wanted in BLOCKED:
        return status == wanted
    return rank(status) >= rank(wanted)


class Listed(Protocol):
    """What the rules need of a listed workspace."""

    @property
    def name(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def tier(self) -> str: ...
    @property
    def byot(self) -> bool: ...
    @property
    def billing_status(self) -> str: ...
    @property
    def worst_percent(self) -> int | None: ...
    @property
    def trial_end(self) -> datetime | None: ...  # the effective end of a trial plan; None otherwise
    @property
    def created_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class Filters:
    """The filters and the sort of `workspace list`."""

    tiers: tuple[str, ...] = ()
    status: str | None = None
    byot: bool | None = None
    trial_ending: timedelta | None = None  # a trial ending from now to now + this
    sort: str = "name"


def keep(row: Listed, filters: Filters, now: datetime) -> bool:
    """Whether `row` passes every filter."""
    if filters.tiers and row.tier not in filters.tiers:
        return False
    if filters.status is not None and not at_least(row.billing_status, filters.status):
        return False
    if filters.byot is not None and row.byot != filters.byot:
        return False
    if filters.trial_ending is not None:
        end = row.trial_end
        if end is None or not now <= end <= now + filters.trial_ending:
            return False
    return True


T = TypeVar("T", bound=Listed)


def _moment(value: datetime | None) -> Any:
    """A sort key that puts None last."""
    return (1, None) if value is None else (0, utc(value))


SORT_KEYS: dict[str, Callable[[Listed], Any]] = {
    "name": lambda r: (r.name.casefold(), r.id),
    "id": lambda r: r.id,
    "tier": lambda r: (r.tier, r.name.casefold(), r.id),
    "status": lambda r: (-rank(r.billing_status), r.billing_status, r.name.casefold(), r.id),
    "usage": lambda r: (r.worst_percent is None, -(r.worst_percent or 0), r.name.casefold(), r.id),
    "trial-end": lambda r: (_moment(r.trial_end), r.name.casefold(), r.id),
    "created": lambda r: (_moment(r.created_at), r.name.casefold(), r.id),
}


def parse_sort(value: str) -> str:
    """Raises BadInput for an unknown sort key."""
    key = value.strip().lower().replace("_", "-")
    if key not in SORT_KEYS:
        raise BadInput(f"--sort: {value!r} is not one of {', '.join(SORTS)}")
    return key


def select(rows: Sequence[T], filters: Filters, now: datetime) -> list[T]:
    """The rows that pass the filters, in the order of `filters.sort` (status and usage: worst first)."""
    return sorted((r for r in rows if keep(r, filters, now)), key=SORT_KEYS[filters.sort])
