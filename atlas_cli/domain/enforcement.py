"""The enforcement decision of the classic model, in the server's order (DESIGN section 4a).

A thin view over the one engine (`atlas_cli.domain.engine`) and the classic catalog: the rules
themselves are data in `atlas_cli/catalogs/classic.toml`.
"""

from __future__ import annotations

from enum import StrEnum

from atlas_cli.domain import engine
from atlas_cli.domain.engine import PLAN_LIMIT_EXCEEDED, Decision, Facts, MetricCheck
from atlas_cli.domain.overage import Status
from atlas_cli.domain.plans import Plan, classic_catalog
from atlas_cli.errors import ExitCode

__all__ = [
    "PLAN_LIMIT_EXCEEDED",
    "USAGE_UNREADABLE_WARNING",
    "Blocked",
    "Decision",
    "FailOn",
    "MetricCheck",
    "Resource",
    "decide",
    "decide_resource",
    "exit_code",
]


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


USAGE_UNREADABLE_WARNING = "Usage data could not be read; usage tracking may be inaccurate."


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
    usage = None if queries is None or tokens is None else {"queries": queries, "tokens": tokens}
    facts = Facts(byot=byot, trial_expired=trial_expired, usage=usage)
    return engine.decide(classic_catalog(), plan.definition() if plan else None, facts)


def decide_resource(plan: Plan | None, *, trial_expired: bool, resource: Resource, count: int) -> Decision:
    """Whether one more member (counting pending invitations) or connection may be added."""
    facts = Facts(trial_expired=trial_expired)
    definition = plan.definition() if plan else None
    return engine.decide_resource(classic_catalog(), definition, facts, resource.value, count)


def exit_code(decision: Decision, fail_on: FailOn | None) -> ExitCode:
    """The exit code of `billing check`: 0 allowed, 10-15 by tier (DESIGN section 5)."""
    return engine.exit_code(decision, fail_on.value if fail_on else None)


assert Status.OK == engine.OK  # one status vocabulary for every model
