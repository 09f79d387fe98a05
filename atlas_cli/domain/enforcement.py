"""The enforcement decision, in the server's order (DESIGN section 4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from atlas_cli.domain.overage import SEVERITY, Status, status_for, usage_percent, worst
from atlas_cli.domain.plans import Plan, Tier
from atlas_cli.errors import ExitCode


class Blocked(StrEnum):
    TRIAL_EXPIRED = "trial_expired"
    SUBSCRIPTION_REQUIRED = "subscription_required"
    BILLING_CHECK_FAILED = "billing_check_failed"


class Resource(StrEnum):
    MEMBERS = "members"
    CONNECTIONS = "connections"


class FailOn(StrEnum):
    WARNING = "warning"
    SOFT = "soft"


PLAN_LIMIT_EXCEEDED = "plan_limit_exceeded"
USAGE_UNREADABLE_WARNING = "Usage data could not be read; usage tracking may be inaccurate."


@dataclass(frozen=True)
class MetricCheck:
    metric: str
    current_usage: int
    limit: int | None
    usage_percent: int | None
    status: Status
    enforced: bool = True


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: str
    message: str
    http_status: int = 200
    error_code: str | None = None
    metrics: tuple[MetricCheck, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def measure(metric: str, usage: int, limit: int | None, *, enforced: bool = True) -> MetricCheck:
    return MetricCheck(metric, usage, limit, usage_percent(usage, limit), status_for(usage, limit), enforced)


def _limit_message(check: MetricCheck) -> str:
    used = f"{check.usage_percent}% used: {check.current_usage:,} / {check.limit:,}"
    if check.limit is not None and check.limit <= 0:
        return f"Your plan does not allow any {check.metric} ({check.current_usage:,} used)."
    if check.status is Status.HARD_LIMIT:
        return f"You have exceeded your plan's {check.metric} limit ({used}). Upgrade your plan to continue."
    if check.status is Status.SOFT_LIMIT:
        return (
            f"You have reached your plan's {check.metric} limit ({used}). "
            "A 10% grace buffer applies before requests are blocked."
        )
    return f"You are approaching your plan's {check.metric} limit ({used})."


def _blocked_before_usage(plan: Plan | None, trial_expired: bool) -> Decision | None:
    if plan is None:
        return Decision(
            False,
            Blocked.BILLING_CHECK_FAILED,
            "Unable to verify the workspace's plan; requests are blocked until it can be read.",
            503,
            Blocked.BILLING_CHECK_FAILED,
        )
    if plan.tier is Tier.LOCKED:
        return Decision(
            False,
            Blocked.SUBSCRIPTION_REQUIRED,
            "This workspace's subscription has ended. Subscribe to a plan to continue.",
            403,
            Blocked.SUBSCRIPTION_REQUIRED,
        )
    if not plan.metered:
        return None
    if plan.tier is Tier.TRIAL and trial_expired:
        return Decision(
            False,
            Blocked.TRIAL_EXPIRED,
            "Your trial has expired. Subscribe to a plan to continue.",
            403,
            Blocked.TRIAL_EXPIRED,
        )
    return None


def decide(
    plan: Plan | None,
    *,
    trial_expired: bool,
    byot: bool,
    queries: int | None,
    tokens: int | None,
) -> Decision:
    """Whether the workspace may keep using Atlas. `queries`/`tokens` None: usage unreadable.

    `plan` None means the workspace's plan could not be read (fail closed).
    """
    blocked = _blocked_before_usage(plan, trial_expired)
    if blocked is not None:
        return blocked
    assert plan is not None
    if queries is None or tokens is None:
        return Decision(True, Status.OK, USAGE_UNREADABLE_WARNING, warnings=(USAGE_UNREADABLE_WARNING,))
    if not plan.metered:
        metrics = (measure("queries", queries, None), measure("tokens", tokens, None))
        return Decision(True, Status.OK, f"The {plan.display_name} plan has no usage limits.", metrics=metrics)
    metrics = (
        measure("queries", queries, plan.queries_per_month),
        measure("tokens", tokens, plan.tokens_per_month, enforced=not byot),
    )
    enforced = [m for m in metrics if m.enforced]
    decisive = enforced[worst([m.status for m in enforced]) or 0]
    status = decisive.status
    if status is Status.OK:
        return Decision(True, status, "Usage is within the plan's limits.", metrics=metrics)
    message = _limit_message(decisive)
    if status is Status.HARD_LIMIT:
        return Decision(False, status, message, 429, PLAN_LIMIT_EXCEEDED, metrics)
    return Decision(True, status, message, metrics=metrics)


def decide_resource(plan: Plan | None, *, trial_expired: bool, resource: Resource, count: int) -> Decision:
    """Whether one more member (counting pending invitations) or connection may be added."""
    blocked = _blocked_before_usage(plan, trial_expired)
    if blocked is not None:
        return blocked
    assert plan is not None
    limit = plan.max_members if resource is Resource.MEMBERS else plan.max_connections
    noun = "members" if resource is Resource.MEMBERS else "datasource connections"
    counted = " (members and pending invitations)" if resource is Resource.MEMBERS else ""
    check = MetricCheck(resource.value, count, limit, usage_percent(count, limit), Status.OK)
    if limit is None:
        return Decision(True, Status.OK, f"The {plan.display_name} plan has no limit on {noun}.", metrics=(check,))
    if count >= limit:
        check = MetricCheck(resource.value, count, limit, check.usage_percent, Status.HARD_LIMIT)
        message = (
            f"Your plan allows {limit:,} {noun}; {count:,} already in use{counted}. Upgrade your plan to add more."
        )
        return Decision(False, Status.HARD_LIMIT, message, 403, PLAN_LIMIT_EXCEEDED, (check,))
    left = limit - count
    return Decision(
        True, Status.OK, f"{count:,} of {limit:,} {noun} in use{counted}; {left:,} more can be added.", metrics=(check,)
    )


_BLOCKED_EXIT = {
    Blocked.TRIAL_EXPIRED: ExitCode.CHECK_TRIAL_EXPIRED,
    Blocked.BILLING_CHECK_FAILED: ExitCode.CHECK_FAILED,
    Blocked.SUBSCRIPTION_REQUIRED: ExitCode.CHECK_SUBSCRIPTION_REQUIRED,
}


def exit_code(decision: Decision, fail_on: FailOn | None) -> ExitCode:
    """The exit code of `billing check`: 0 allowed, 10-15 by tier (DESIGN section 5)."""
    if decision.status in _BLOCKED_EXIT:
        return _BLOCKED_EXIT[Blocked(decision.status)]
    status = Status(decision.status)
    if status is Status.HARD_LIMIT:
        return ExitCode.CHECK_HARD_LIMIT
    threshold = {
        None: SEVERITY[Status.HARD_LIMIT],
        FailOn.SOFT: SEVERITY[Status.SOFT_LIMIT],
        FailOn.WARNING: SEVERITY[Status.WARNING],
    }[fail_on]
    if SEVERITY[status] < threshold:
        return ExitCode.OK
    return ExitCode.CHECK_SOFT_LIMIT if status is Status.SOFT_LIMIT else ExitCode.CHECK_WARNING
