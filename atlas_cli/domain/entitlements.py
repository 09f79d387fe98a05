"""Entitlement decisions: may a workspace use N more of a feature now (DESIGN section 4c, Check).

Pure: the caller measures (counts, usage in the billing period) and gives the plan's value; this
module says allowed or not, and why. A request is allowed when what it would make is within the
cap: count + N <= cap, usage + N <= max usage. Not entitled and exhausted are never the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from atlas_cli.errors import ExitCode

OK, UNLIMITED, NOT_ENTITLED, NO_COUNTER = "ok", "unlimited", "not_entitled", "no_counter"
LIMIT_REACHED, MAX_USAGE_REACHED, INSUFFICIENT_CREDITS = "limit_reached", "max_usage_reached", "insufficient_credits"
TRIAL_EXPIRED, BILLING_CHECK_FAILED, SUBSCRIPTION_REQUIRED = (
    "trial_expired",
    "billing_check_failed",
    "subscription_required",
)
WORKSPACE_BLOCKS = (TRIAL_EXPIRED, BILLING_CHECK_FAILED, SUBSCRIPTION_REQUIRED)
REASON_EXIT = {
    OK: ExitCode.OK,
    UNLIMITED: ExitCode.OK,
    LIMIT_REACHED: ExitCode.CHECK_HARD_LIMIT,
    MAX_USAGE_REACHED: ExitCode.CHECK_HARD_LIMIT,
    INSUFFICIENT_CREDITS: ExitCode.CHECK_HARD_LIMIT,
    TRIAL_EXPIRED: ExitCode.CHECK_TRIAL_EXPIRED,
    BILLING_CHECK_FAILED: ExitCode.CHECK_FAILED,
    SUBSCRIPTION_REQUIRED: ExitCode.CHECK_SUBSCRIPTION_REQUIRED,
    NOT_ENTITLED: ExitCode.NOT_ENTITLED,
    NO_COUNTER: ExitCode.NOT_ENTITLED,
}
SOURCES = ("plan", "override", "built-in")

Amount = int | Decimal


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str
    limit: Amount | None = None
    used: Amount | None = None
    remaining: Amount | None = None
    balance: Amount | None = None  # a credit feature: what may be spent now


def not_entitled() -> Verdict:
    return Verdict(False, NOT_ENTITLED)


def boolean(entitled: bool) -> Verdict:
    return Verdict(True, OK) if entitled else not_entitled()


def limit(cap: int | None, used: int | None, quantity: int, *, allow_without_count: bool = False) -> Verdict:
    """A count against a cap (None: unlimited). `used` None: nothing counted it, which denies
    (`no_counter`) unless the feature allows checks without a count (then it counts as 0).
    A cap below the current count (a downgrade) refuses only what would add more."""
    if cap is None:
        return Verdict(True, UNLIMITED, None, used, None)
    if used is None and not allow_without_count:
        return Verdict(False, NO_COUNTER, cap, None, None)
    count = used or 0
    remaining = max(0, cap - count)
    if count + quantity <= cap:
        return Verdict(True, OK, cap, used, remaining)
    return Verdict(False, LIMIT_REACHED, cap, used, remaining)


def metered(max_usage: Amount | None, used: Amount, quantity: int) -> Verdict:
    """Usage in the billing period against the max usage (None: metered only, never blocked)."""
    if max_usage is None:
        return Verdict(True, UNLIMITED, None, used, None)
    remaining = max(Decimal(0), Decimal(max_usage) - Decimal(used))
    shown = int(remaining) if remaining == remaining.to_integral_value() else remaining
    if used + quantity <= max_usage:
        return Verdict(True, OK, max_usage, used, shown)
    return Verdict(False, MAX_USAGE_REACHED, max_usage, used, shown)


def credit(balance: int, cost: int, *, block_overage: bool) -> Verdict:
    """A credit feature: with `block_overage` a request is allowed when balance >= its cost;
    without it, always (the balance may go negative)."""
    if block_overage and balance < cost:
        return Verdict(False, INSUFFICIENT_CREDITS, None, cost, None, balance)
    return Verdict(True, OK, None, cost, None, balance)


@dataclass(frozen=True)
class Decision:
    """The answer of `entitlements check`; its JSON keys are DESIGN 4c's."""

    workspace_id: str
    feature: str
    kind: str
    allowed: bool
    reason: str
    source: str
    message: str
    billing_model: str
    limit: Amount | None = None
    used: Amount | None = None
    remaining: Amount | None = None
    balance: Amount | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    value: object = None  # the value in force (plan, override or built-in), canonical form
    until: datetime | None = None  # the end of the override in force (exclusive)

    @property
    def exit_code(self) -> ExitCode:
        return REASON_EXIT[self.reason]


def message(reason: str, feature: str, verdict: Verdict, quantity: int) -> str:
    """One line for a person: why the request is allowed or refused."""
    cap, used = verdict.limit, verdict.used
    if reason == OK and verdict.balance is not None:
        return f"{feature}: allowed (balance {_amount(verdict.balance)}; {_amount(used)} needed)"
    return {
        OK: f"{feature}: allowed ({_amount(used)} used of {_amount(cap)}; {quantity:,} more asked)"
        if cap is not None
        else f"{feature}: allowed",
        UNLIMITED: f"{feature}: allowed, no limit on this plan",
        NOT_ENTITLED: f"{feature}: the workspace's plan does not include this feature",
        NO_COUNTER: f"{feature}: nothing counts this limit; pass --count N (the current count)",
        LIMIT_REACHED: f"{feature}: limit reached ({_amount(used)} of {_amount(cap)} in use; "
        f"{quantity:,} more would exceed it)",
        INSUFFICIENT_CREDITS: f"{feature}: insufficient credits (balance {_amount(verdict.balance)}; "
        f"{_amount(used)} needed)",
        MAX_USAGE_REACHED: f"{feature}: max usage reached for this period ({_amount(used)} of {_amount(cap)} used; "
        f"{quantity:,} more would exceed it)",
    }.get(reason, reason)


def _amount(value: Amount | None) -> str:
    return "-" if value is None else f"{value:,}"
