"""Credits arithmetic (DESIGN 4c, Credits): pure, integers only, no I/O.

A workspace holds, per unit (a credit feature's key), grants: an amount, what remains of it, a
priority, an effective instant (inclusive) and an expiry (exclusive). An event draws its cost from
the grants usable at the EVENT's time, in burn order; what they cannot cover is overage (a grant
never goes negative). Whatever adds credits (an allocation, a grant, a positive adjustment) pays the
overage first. The balance is the sum of the ledger: the grants' remaining minus the overage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

PERIODS = ("day", "week", "month", "year")


class CreditError(ValueError):
    """A malformed cost, allocation or period."""


@dataclass(frozen=True)
class Cost:
    """What one unit of an event type costs: `credits` per `per` units (a token cost of 1 per 1000)."""

    credits: int
    per: int = 1

    def of(self, quantity: int) -> int:
        """ceil(quantity x credits / per), in integers; a quantity of zero or less costs nothing."""
        if quantity <= 0:
            return 0
        return -(-quantity * self.credits // self.per)

    def canonical(self) -> int | dict[str, int]:
        return self.credits if self.per == 1 else {"credits": self.credits, "per": self.per}


def parse_cost(raw: Any, where: str) -> Cost:
    """`1` or `{ credits = 1, per = 1000 }`.

    Raises:
        CreditError: anything else (credits must be >= 0, per >= 1).
    """
    if _whole(raw):
        return Cost(int(raw))
    if isinstance(raw, Mapping) and set(raw) <= {"credits", "per"} and "credits" in raw:
        credits, per = raw["credits"], raw.get("per", 1)
        if _whole(credits) and _whole(per) and per >= 1:
            return Cost(int(credits), int(per))
    raise CreditError(f"{where}: a cost is a whole number or {{ credits = N, per = M }} (N >= 0, M >= 1)")


@dataclass(frozen=True)
class Allocation:
    """A plan's credit value: `amount` granted each `period`."""

    amount: int
    period: str = "month"

    def canonical(self) -> dict[str, Any]:
        return {"allocation": self.amount, "period": self.period}


def parse_allocation(raw: Any, where: str) -> Allocation:
    """`{ allocation = N, period = "month" }` (period optional: a month).

    Raises:
        CreditError: a missing or negative allocation, an unknown period, another key.
    """
    if not isinstance(raw, Mapping) or "allocation" not in raw or set(raw) - {"allocation", "period"}:
        raise CreditError(f'{where}: a credit feature takes {{ allocation = N, period = "month" }}, true or false')
    if not _whole(raw["allocation"]):
        raise CreditError(f"{where}.allocation: must be a whole number, zero or more")
    period = raw.get("period", "month")
    if period not in PERIODS:
        raise CreditError(f"{where}.period: {period!r} is not one of {', '.join(PERIODS)}")
    return Allocation(int(raw["allocation"]), period)


def _whole(raw: Any) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0


# --- periods ----------------------------------------------------------------------------------


def period_containing(period: str, moment: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar period [start, end) holding `moment`: its first instant belongs to it.
    Weeks start on Monday.

    Raises:
        CreditError: an unknown period.
    """
    at = moment.astimezone(UTC)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        return start, _next_month(start)
    if period == "year":
        start = day.replace(month=1, day=1)
        return start, start.replace(year=start.year + 1)
    raise CreditError(f"period: {period!r} is not one of {', '.join(PERIODS)}")


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


# --- grants and deduction ---------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    id: str
    amount: int
    remaining: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    created_at: datetime

    def usable_at(self, moment: datetime) -> bool:
        """Effective from `effective_at` (inclusive) until `expires_at` (exclusive)."""
        return self.effective_at <= moment and (self.expires_at is None or moment < self.expires_at)

    def expired_at(self, moment: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= moment


def burn_key(grant: Grant) -> tuple[Any, ...]:
    """Lower priority number first, then earliest expiry (none: last), then oldest, then id."""
    expiry = grant.expires_at
    return (grant.priority, expiry is None, expiry or grant.created_at, grant.created_at, grant.id)


def burn_order(grants: Iterable[Grant]) -> list[Grant]:
    return sorted(grants, key=burn_key)


@dataclass(frozen=True)
class Draw:
    grant_id: str | None  # None: the part no grant covered (overage)
    amount: int  # credits taken, > 0


@dataclass(frozen=True)
class Deduction:
    draws: tuple[Draw, ...]
    grants: tuple[Grant, ...]  # every grant, with its remaining after the deduction

    @property
    def shortfall(self) -> int:
        return sum(d.amount for d in self.draws if d.grant_id is None)


def deduct(grants: Sequence[Grant], cost: int, at: datetime) -> Deduction:
    """Take `cost` from the grants usable at `at`, in burn order; the rest is a shortfall."""
    left = cost
    draws: list[Draw] = []
    after = {g.id: g for g in grants}
    for grant in burn_order(g for g in grants if g.remaining > 0 and g.usable_at(at)):
        if left <= 0:
            break
        take = min(grant.remaining, left)
        draws.append(Draw(grant.id, take))
        after[grant.id] = replace(grant, remaining=grant.remaining - take)
        left -= take
    if left > 0:
        draws.append(Draw(None, left))
    return Deduction(tuple(draws), tuple(after[g.id] for g in grants))


@dataclass(frozen=True)
class Credit:
    """An addition of `amount` credits split between the overage it pays and what the grant keeps."""

    pays_overage: int
    kept: int


def credit(amount: int, overage: int) -> Credit:
    """An allocation (or any addition) pays the overage first; the grant keeps the rest."""
    paid = min(amount, max(overage, 0))
    return Credit(paid, amount - paid)


def void(grant: Grant) -> int:
    """A void removes only what remains of the grant (what was used stays used)."""
    return grant.remaining


def available(grants: Iterable[Grant], overage: int, at: datetime) -> int:
    """What a check at `at` may spend: the remaining of the grants usable then, minus the overage."""
    return sum(g.remaining for g in grants if g.usable_at(at)) - overage
