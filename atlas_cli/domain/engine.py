"""One engine for every billing catalog: the enforcement decision (DESIGN sections 4 and 4c).

The engine knows no tier and no billing model by name. A catalog (`atlas_cli.domain.catalog`)
gives the plans, the features with their bands, the steps of the decision in the server's order,
and the messages; the caller gives the facts it measured. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from atlas_cli.domain.catalog import Catalog, CeilingPolicy, Feature, Plan
from atlas_cli.domain.overage import SEVERITY, Status, usage_percent
from atlas_cli.errors import ExitCode

Amount = int | Decimal

OK, WARNING, SOFT_LIMIT, METERED, HARD_LIMIT = (
    Status.OK,
    Status.WARNING,
    Status.SOFT_LIMIT,
    Status.METERED,
    Status.HARD_LIMIT,
)
TRIAL_EXPIRED, SUBSCRIPTION_REQUIRED, BILLING_CHECK_FAILED = (
    "trial_expired",
    "subscription_required",
    "billing_check_failed",
)
PLAN_LIMIT_EXCEEDED = "plan_limit_exceeded"
_BLOCKED_HTTP = {TRIAL_EXPIRED: 403, SUBSCRIPTION_REQUIRED: 403, BILLING_CHECK_FAILED: 503}
_BLOCKED_EXIT = {
    TRIAL_EXPIRED: ExitCode.CHECK_TRIAL_EXPIRED,
    BILLING_CHECK_FAILED: ExitCode.CHECK_FAILED,
    SUBSCRIPTION_REQUIRED: ExitCode.CHECK_SUBSCRIPTION_REQUIRED,
}
_STATUS_EXIT = {
    WARNING: ExitCode.CHECK_WARNING,
    SOFT_LIMIT: ExitCode.CHECK_SOFT_LIMIT,
    METERED: ExitCode.CHECK_SOFT_LIMIT,
    HARD_LIMIT: ExitCode.CHECK_HARD_LIMIT,
}
# --fail-on: the least severe status that fails the gate (hard limits always do).
FAIL_ON = {None: HARD_LIMIT, "soft": SOFT_LIMIT, "warning": WARNING}


@dataclass(frozen=True)
class Facts:
    """What the caller measured about one workspace, now.

    `usage` maps each metered feature's key to its usage in the billing period (None: the usage
    could not be read); `seats` is the member count (None: unreadable); `spend_policy` and
    `abuse_ceiling` are the raw settings the catalog's ceiling policy reads (None: unset).
    """

    byot: bool = False
    trial_expired: bool = False
    seats: int | None = 0
    usage: Mapping[str, Amount] | None = None
    spend_policy: str | None = None
    abuse_ceiling: str | None = None


@dataclass(frozen=True)
class MetricCheck:
    """One feature's usage against its limit, and the status that puts it in."""

    metric: str
    current_usage: Amount
    limit: Amount | None
    usage_percent: int | None
    status: Status
    enforced: bool = True
    # Why an unenforced metric is not enforced: "byot" (the workspace brings its own keys) or
    # "shown" (the catalog shows the feature without enforcing it); None when enforced.
    exemption: str | None = None


@dataclass(frozen=True)
class Decision:
    """The enforcement decision for a workspace: allowed or not, why, and each metric."""

    allowed: bool
    status: str
    message: str
    http_status: int = 200
    error_code: str | None = None
    metrics: tuple[MetricCheck, ...] = ()
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Ceiling:
    """Where the `ceiling` band sits: `percent` None means no ceiling at all."""

    spend_policy: str | None
    percent: int | None


def resolve_ceiling(policy: CeilingPolicy | None, spend_policy: str | None, abuse_ceiling: str | None) -> Ceiling:
    """The ceiling the catalog's spend policy puts on metered usage (DESIGN 4b, Status).

    An unknown policy, in any case or spacing, is the default policy; the ceiling setting unset
    is the default percent, a disable value (or any numeric zero) is no ceiling, and a value that
    is not a number or not above the floor is the default percent.
    """
    if policy is None:
        return Ceiling(None, None)
    if (spend_policy or "").strip().lower() == policy.cutoff_policy:
        return Ceiling(policy.cutoff_policy, policy.cutoff_percent)
    chosen = policy.default_policy
    if abuse_ceiling is None:
        return Ceiling(chosen, policy.default_percent)
    raw = abuse_ceiling.strip()
    if raw in policy.disable_values:
        return Ceiling(chosen, None)
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return Ceiling(chosen, policy.default_percent)
    if not number.is_finite() or number < 0:
        return Ceiling(chosen, policy.default_percent)
    if number == 0:
        return Ceiling(chosen, None)
    if number <= policy.floor_percent:
        return Ceiling(chosen, policy.default_percent)
    return Ceiling(chosen, int(number.to_integral_value(ROUND_HALF_UP)))


def overage_cents(usage: Amount, limit: Amount | None) -> int:
    """Dollars beyond the credit, in cents rounded half up (12.347 -> 1235); never negative."""
    if limit is None or limit <= 0:
        return 0
    excess = Decimal(usage) - Decimal(limit)
    if not excess.is_finite() or excess <= 0:
        return 0
    return int((excess * 100).to_integral_value(ROUND_HALF_UP))


def limit_of(catalog: Catalog, plan: Plan, feature: Feature, seats: int | None) -> Amount | None:
    """The plan's limit for `feature`, scaled by seats for a per-seat feature."""
    value = plan.value(feature.key)
    if value is None or isinstance(value, bool):
        return None
    if feature.per_seat:
        return value * max(catalog.policy.seat_minimum, seats or 0)
    return value


def measure(catalog: Catalog, plan: Plan, feature: Feature, facts: Facts, ceiling: Ceiling) -> MetricCheck:
    """One metered feature against the plan's limit, in the feature's bands."""
    usage = (facts.usage or {}).get(feature.key, 0)
    limit = limit_of(catalog, plan, feature, facts.seats) if plan.enforced else None
    exemption = "shown" if not feature.enforced else "byot" if feature.byot_exempt and facts.byot else None
    enforced = exemption is None
    if limit is None:
        return MetricCheck(feature.metric, usage, None, None, OK, enforced, exemption)
    if limit <= 0:
        return MetricCheck(feature.metric, usage, limit, feature.zero_limit_percent, HARD_LIMIT, enforced, exemption)
    percent = usage_percent(usage, limit)
    assert percent is not None
    return MetricCheck(feature.metric, usage, limit, percent, _band(feature, percent, ceiling), enforced, exemption)


def _band(feature: Feature, percent: int, ceiling: Ceiling) -> Status:
    reached = [
        (threshold, SEVERITY[Status(band.status)], Status(band.status))
        for band in feature.bands
        if (threshold := band.percent if band.percent is not None else ceiling.percent) is not None
        and threshold > 0
        and percent >= threshold
    ]
    return max(reached)[2] if reached else OK


def decide(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision:
    """Whether the workspace may keep using Atlas: the catalog's steps in order, then usage.

    `plan` None means the workspace's tier is not in the catalog (or could not be read).
    """
    for step in catalog.policy.order:
        if step == "usage":
            assert plan is not None
            return _usage(catalog, plan, facts)
        decision = _STEPS[step](catalog, plan, facts)
        if decision is not None:
            return decision
    raise ValueError(f"the {catalog.model} catalog's policy.order has no usage step")  # pragma: no cover


def decide_resource(catalog: Catalog, plan: Plan | None, facts: Facts, feature_key: str, count: int) -> Decision:
    """Whether one more of a limit feature's resource (a seat, a connection, ...) may be added:
    refused when the count already reaches the cap. Nothing is ever taken away."""
    for step in catalog.policy.resource_order:
        decision = _STEPS[step](catalog, plan, facts)
        if decision is not None:
            if decision.allowed:
                feature = catalog.features[feature_key]
                display = plan.display_name if plan else ""
                message = catalog.message("resource_unlimited").format(plan=display, label=feature.label)
                check = MetricCheck(feature.key, count, None, None, OK)
                return Decision(True, OK, message, metrics=(check,))
            return decision
    assert plan is not None
    feature = catalog.features[feature_key]
    limit = plan.value(feature.key) if feature.key in plan.values else 0
    assert not isinstance(limit, bool)
    percent = usage_percent(count, limit)
    fields = {"plan": plan.display_name, "count": f"{count:,}", "counted": feature.counted}
    if limit is None:
        message = catalog.message("resource_unlimited").format(label=feature.label, **fields)
        return Decision(True, OK, message, metrics=(MetricCheck(feature.key, count, None, None, OK),))
    label = feature.singular if limit == 1 else feature.label
    fields |= {"limit": f"{limit:,}", "label": label, "left": f"{max(0, limit - count):,}"}
    if count >= limit:
        check = MetricCheck(feature.key, count, limit, percent, HARD_LIMIT)
        message = catalog.message("resource_refused").format(**fields)
        return Decision(False, HARD_LIMIT, message, 403, PLAN_LIMIT_EXCEEDED, (check,))
    message = catalog.message("resource_ok").format(**fields)
    return Decision(True, OK, message, metrics=(MetricCheck(feature.key, count, limit, percent, OK),))


def exit_code(decision: Decision, fail_on: str | None) -> ExitCode:
    """The exit code of a check: 0 allowed, 10-15 by status (DESIGN section 5)."""
    if decision.status in _BLOCKED_EXIT:
        return _BLOCKED_EXIT[decision.status]
    if decision.status == HARD_LIMIT:
        return ExitCode.CHECK_HARD_LIMIT
    status = Status(decision.status)
    if status is OK or SEVERITY[status] < SEVERITY[FAIL_ON[fail_on]]:
        return ExitCode.OK
    return _STATUS_EXIT[status]


# --- the steps ---------------------------------------------------------------------------------

Step = Callable[[Catalog, Plan | None, Facts], Decision | None]


def _blocked(catalog: Catalog, code: str) -> Decision:
    return Decision(False, code, catalog.message(code), _BLOCKED_HTTP[code], code)


def _unknown_tier(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision | None:
    return _blocked(catalog, BILLING_CHECK_FAILED) if plan is None else None


def _unlimited(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision | None:
    if plan is None or plan.enforced:
        return None
    return Decision(True, OK, catalog.message("unlimited").format(plan=plan.display_name))


def _locked(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision | None:
    return _blocked(catalog, plan.block) if plan is not None and plan.block else None


def _byot(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision | None:
    return Decision(True, OK, catalog.message("byot")) if facts.byot else None


def _trial_expired(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision | None:
    if plan is not None and plan.trial and facts.trial_expired:
        return _blocked(catalog, TRIAL_EXPIRED)
    return None


def _seats_unreadable(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision | None:
    return _blocked(catalog, BILLING_CHECK_FAILED) if facts.seats is None else None


def _usage_unreadable(catalog: Catalog, plan: Plan | None, facts: Facts) -> Decision | None:
    if facts.usage is not None:
        return None
    warning = catalog.message("usage_unreadable")
    return Decision(True, OK, warning, warnings=(warning,))


_STEPS: dict[str, Step] = {
    "unknown_tier": _unknown_tier,
    "unlimited": _unlimited,
    "locked": _locked,
    "byot": _byot,
    "trial_expired": _trial_expired,
    "seats_unreadable": _seats_unreadable,
    "usage_unreadable": _usage_unreadable,
}


def measurements(catalog: Catalog, plan: Plan, facts: Facts) -> tuple[MetricCheck, ...]:
    """Every metered feature of the plan against its limit, whatever the decision (a blocked
    workspace's usage is still shown)."""
    ceiling = resolve_ceiling(catalog.policy.ceiling, facts.spend_policy, facts.abuse_ceiling)
    return tuple(measure(catalog, plan, f, facts, ceiling) for f in catalog.of_kind("metered") if f.key in plan.values)


def _usage(catalog: Catalog, plan: Plan, facts: Facts) -> Decision:
    ceiling = resolve_ceiling(catalog.policy.ceiling, facts.spend_policy, facts.abuse_ceiling)
    features = [f for f in catalog.of_kind("metered") if f.key in plan.values]
    metrics = measurements(catalog, plan, facts)
    if not plan.enforced:
        return Decision(True, OK, catalog.message("unlimited").format(plan=plan.display_name), metrics=metrics)
    enforced = [(m, f) for m, f in zip(metrics, features, strict=True) if m.enforced]
    if not enforced:
        return Decision(True, OK, catalog.message("ok"), metrics=metrics)
    decisive, feature = enforced[0]
    for metric, owner in enforced[1:]:
        if SEVERITY[metric.status] > SEVERITY[decisive.status]:
            decisive, feature = metric, owner
    if decisive.status == OK:
        return Decision(True, OK, catalog.message("ok"), metrics=metrics)
    message = _limit_message(catalog, feature, decisive, ceiling)
    if decisive.status == HARD_LIMIT:
        return Decision(False, HARD_LIMIT, message, 429, PLAN_LIMIT_EXCEEDED, metrics)
    return Decision(True, decisive.status, message, metrics=metrics)


def _limit_message(catalog: Catalog, feature: Feature, check: MetricCheck, ceiling: Ceiling) -> str:
    fields = {
        "metric": check.metric,
        "percent": check.usage_percent,
        "usage": _amount(check.current_usage, feature.unit),
        "limit": _amount(check.limit or 0, feature.unit),
        "overage": "",
    }
    if check.limit is not None and check.limit <= 0:
        return catalog.message("zero_limit").format(**fields)
    cents = overage_cents(check.current_usage, check.limit)
    if cents and "overage" in catalog.messages:
        fields["overage"] = catalog.message("overage").format(overage_usd=_amount(Decimal(cents) / 100, "usd"))
    return catalog.message(check.status, ceiling.spend_policy).format(**fields)


def _amount(value: Amount, unit: str) -> str:
    if unit == "usd":
        return f"${Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP)}"
    return f"{value:,}"
