"""A billing catalog: plans, features and the policies of the enforcement decision, as data.

DESIGN section 4c. A catalog is parsed from plain data (the TOML of `atlas_cli/catalogs/`, later
an operator's file) and validated here; `atlas_cli.domain.engine` decides from it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

# A plan's value for a feature: a cap or limit (int or Decimal), True/False for a boolean
# feature, None for unlimited. A feature absent from a plan is not entitled.
Value = int | Decimal | bool | None

UNLIMITED = "unlimited"
KINDS = ("boolean", "limit", "metered")
BAND_STATUSES = ("warning", "soft_limit", "metered", "hard_limit")
CEILING = "ceiling"
STEPS = (
    "unknown_tier",
    "unlimited",
    "locked",
    "byot",
    "trial_expired",
    "seats_unreadable",
    "usage_unreadable",
    "usage",
)
METER_SUMS = ("quantity", "cost")
PERIOD_PICKS = ("holding", "newest")
SUSPENSION_ACTIONS = ("suspend", "resume")
# How a "user".role is read: `first_of_list` (a comma separated list, the first value wins, case and
# spacing ignored) or `exact` (the whole value, as stored).
ROLE_MATCHES = ("first_of_list", "exact")


class CatalogError(ValueError):
    """A catalog that cannot be used; the message names the entry at fault."""


@dataclass(frozen=True)
class Band:
    """Usage at or above `percent` of the limit puts a metered feature in `status`.

    `percent` None: the band sits at the ceiling the spend policy resolves (per-seat)."""

    status: str
    percent: int | None


@dataclass(frozen=True)
class Meter:
    """What a metered feature counts over `usage_events` in the billing period."""

    sum: str  # "quantity" or "cost" (gateway_cost_usd)
    event_types: tuple[str, ...]


@dataclass(frozen=True)
class Feature:
    """A feature of the catalog: boolean, a limit on a counter, or metered over usage_events."""

    key: str
    kind: str
    metric: str = ""  # its name in `billing check` metrics
    label: str = ""  # the plural noun in messages
    singular: str = ""
    unit: str = "count"  # "count" or "usd"
    meter: Meter | None = None
    counter: str | None = None
    bands: tuple[Band, ...] = ()
    per_seat: bool = False
    enforced: bool = True
    byot_exempt: bool = False
    zero_limit_percent: int | None = None
    counted: str = ""  # what the count covers, for messages
    title: str = ""  # its row's label in tables
    api: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # its keys in the admin API's JSON


@dataclass(frozen=True)
class Plan:
    """A tier of the catalog: its name and each feature's value."""

    tier: str
    display_name: str
    values: Mapping[str, Value]
    enforced: bool = True
    trial: bool = False
    block: str | None = None
    price_per_seat: int = 0
    # The settings (environment variables, or platform rows of a `settings` table) that hold the
    # Stripe price ids of this plan, monthly first.
    price_settings: tuple[str, ...] = ()
    paid: bool = False  # a tier a customer pays for: `trial start` refuses it (change it with set-plan)

    def value(self, feature: str) -> Value:
        """The plan's value for `feature` (None: unlimited). KeyError: not entitled."""
        return self.values[feature]

    def entitled(self, feature: str) -> bool:
        return feature in self.values and self.values[feature] is not False


@dataclass(frozen=True)
class CeilingPolicy:
    """How the settings of a spend policy and an abuse ceiling set the `ceiling` band."""

    policy_setting: str
    ceiling_setting: str
    default_policy: str
    cutoff_policy: str
    cutoff_percent: int
    default_percent: int
    floor_percent: int
    disable_values: tuple[str, ...]


@dataclass(frozen=True)
class StripePolicy:
    """How Stripe drives a workspace: which price ids match, what keeps an ended subscription from
    locking, and the suspension ladder (a subscription status -> `suspend` or `resume`)."""

    later_prices_need_first: bool = False  # an annual price matches only when the monthly is set
    live_statuses: tuple[str, ...] = ("active", "past_due", "trialing")
    suspension: Mapping[str, str] = field(default_factory=dict)
    suspension_source: str = "billing"


@dataclass(frozen=True)
class Policy:
    """The policies of the enforcement decision: the order of its steps, periods, trials, roles."""

    order: tuple[str, ...]
    resource_order: tuple[str, ...]
    period_statuses: tuple[str, ...]
    period_pick: str
    trial_days: int
    seat_minimum: int
    ceiling: CeilingPolicy | None = None
    stripe: StripePolicy = field(default_factory=StripePolicy)
    global_admin_roles: tuple[str, ...] = ()
    global_role_match: str = "exact"
    plan_override_days: int | None = None  # an operator's tier change holds this long; None: no override

    def global_role(self, role: str | None) -> str:
        """The global role a `"user".role` value stands for, read the way this model stores it."""
        if self.global_role_match == "first_of_list":
            return (role or "").split(",")[0].strip().lower()
        return role or ""

    def is_global_admin(self, role: str | None) -> bool:
        """Whether a `"user".role` value makes its user an admin of every workspace."""
        return self.global_role(role) in self.global_admin_roles

    def plan_change(self, plan: Plan, now: datetime) -> dict[str, Any]:
        """The organization columns an operator's change to `plan` writes: the tier, and where the
        model has a plan override, `plan_override_until` (now + plan_override_days; cleared by a
        change to a trial plan, as the server does)."""
        values: dict[str, Any] = {"plan_tier": plan.tier}
        if self.plan_override_days is not None:
            values["plan_override_until"] = None if plan.trial else now + timedelta(days=self.plan_override_days)
        return values


@dataclass(frozen=True)
class Catalog:
    """A billing model's plans, features, policies and messages."""

    model: str
    plans: Mapping[str, Plan]
    features: Mapping[str, Feature]
    policy: Policy
    messages: Mapping[str, str] = field(default_factory=dict)

    def plan(self, tier: str | None) -> Plan | None:
        """The plan of `tier`, or None when this catalog does not know it."""
        return self.plans.get(tier) if tier is not None else None

    def of_kind(self, kind: str) -> tuple[Feature, ...]:
        return tuple(f for f in self.features.values() if f.kind == kind)

    def limit_for(self, counter: str) -> Feature | None:
        """The limit feature counted by the built-in `counter`, if the catalog has one."""
        return next((f for f in self.of_kind("limit") if f.counter == counter), None)

    def message(self, key: str, variant: str | None = None) -> str:
        if variant is not None and f"{key}.{variant}" in self.messages:
            return self.messages[f"{key}.{variant}"]
        return self.messages[key]


def parse(data: Mapping[str, Any]) -> Catalog:
    """A Catalog from plain data (a parsed TOML document).

    Raises:
        CatalogError: an unknown kind, band, step or value, naming the entry at fault.
    """
    model = _text(data, "model", "catalog")
    features = {key: _feature(key, spec) for key, spec in _table(data, "features", "catalog").items()}
    plans = {tier: _plan(tier, spec, features) for tier, spec in _table(data, "plans", "catalog").items()}
    policy = _policy(_table(data, "policy", "catalog"))
    messages = {str(k): str(v) for k, v in _table(data, "messages", "catalog", required=False).items()}
    return Catalog(model, plans, features, policy, messages)


def _feature(key: str, spec: Any) -> Feature:
    where = f"features.{key}"
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}: must be a table")
    kind = _text(spec, "kind", where)
    if kind not in KINDS:
        raise CatalogError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    meter = _meter(spec.get("meter"), where) if kind == "metered" else None
    if kind == "metered" and meter is None:
        raise CatalogError(f"{where}: a metered feature needs a meter")
    label = str(spec.get("label", spec.get("metric", key)))
    return Feature(
        key=key,
        kind=kind,
        metric=str(spec.get("metric", key)),
        label=label,
        singular=str(spec.get("singular", label)),
        unit=_choice(spec.get("unit", "count"), ("count", "usd"), f"{where}.unit"),
        meter=meter,
        counter=str(spec["counter"]) if "counter" in spec else None,
        bands=_bands(spec.get("bands", {}), where),
        per_seat=bool(spec.get("per_seat", False)),
        enforced=bool(spec.get("enforced", True)),
        byot_exempt=bool(spec.get("byot_exempt", False)),
        zero_limit_percent=_int_or_none(spec.get("zero_limit_percent"), f"{where}.zero_limit_percent"),
        counted=str(spec.get("counted", "")),
        title=str(spec.get("title", label.capitalize())),
        api=_api(spec.get("api", {}), where),
    )


API_ROLES = ("limit", "per_seat", "usage", "percent", "status", "enforced")


def _api(spec: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}.api: must be a table")
    keys: dict[str, tuple[str, ...]] = {}
    for role, names in spec.items():
        _choice(role, API_ROLES, f"{where}.api")
        listed = [names] if isinstance(names, str) else names
        if not isinstance(listed, list) or not listed or not all(isinstance(n, str) and n for n in listed):
            raise CatalogError(f"{where}.api.{role}: must be a key name or a list of them")
        keys[role] = tuple(listed)
    return keys


def _meter(spec: Any, where: str) -> Meter | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}.meter: must be a table")
    types = spec.get("event_types")
    if not isinstance(types, list) or not types or not all(isinstance(t, str) and t for t in types):
        raise CatalogError(f"{where}.meter.event_types: must be a non-empty list of event types")
    return Meter(_choice(spec.get("sum", "quantity"), METER_SUMS, f"{where}.meter.sum"), tuple(types))


def _bands(spec: Any, where: str) -> tuple[Band, ...]:
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}.bands: must be a table")
    bands = []
    for status, percent in spec.items():
        _choice(status, BAND_STATUSES, f"{where}.bands")
        if percent == CEILING:
            bands.append(Band(status, None))
        elif isinstance(percent, int) and not isinstance(percent, bool) and percent > 0:
            bands.append(Band(status, percent))
        else:
            raise CatalogError(f"{where}.bands.{status}: must be a positive whole percent or {CEILING!r}")
    return tuple(bands)


def _plan(tier: str, spec: Any, features: Mapping[str, Feature]) -> Plan:
    where = f"plans.{tier}"
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}: must be a table")
    settings = {"display_name", "enforced", "trial", "block", "price_per_seat", "price_settings", "paid"}
    values: dict[str, Value] = {}
    for key, raw in spec.items():
        if key in settings:
            continue
        if key not in features:
            raise CatalogError(f"{where}.{key}: no feature {key!r} in this catalog")
        values[key] = _value(raw, features[key], f"{where}.{key}")
    block = spec.get("block")
    return Plan(
        tier=tier,
        display_name=str(spec.get("display_name", tier.title())),
        values=values,
        enforced=bool(spec.get("enforced", True)),
        trial=bool(spec.get("trial", False)),
        block=_choice(block, ("subscription_required",), f"{where}.block") if block is not None else None,
        price_per_seat=_int_or_none(spec.get("price_per_seat", 0), f"{where}.price_per_seat") or 0,
        price_settings=_names(spec.get("price_settings", []), f"{where}.price_settings"),
        paid=bool(spec.get("paid", False)),
    )


def _value(raw: Any, feature: Feature, where: str) -> Value:
    if feature.kind == "boolean":
        if not isinstance(raw, bool):
            raise CatalogError(f"{where}: a boolean feature takes true or false")
        return raw
    if raw == UNLIMITED:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise CatalogError(f"{where}: must be a number or {UNLIMITED!r}")
    try:
        number = Decimal(str(raw))
    except ArithmeticError:
        raise CatalogError(f"{where}: {raw!r} is not a number") from None
    if not number.is_finite() or number < 0:
        raise CatalogError(f"{where}: must be zero or more")
    return int(number) if number == number.to_integral_value() else number


def _policy(spec: Mapping[str, Any]) -> Policy:
    ceiling = spec.get("ceiling")
    return Policy(
        order=_steps(spec.get("order"), "policy.order"),
        resource_order=_steps(spec.get("resource_order", []), "policy.resource_order"),
        period_statuses=tuple(str(s) for s in spec.get("period_statuses", ["active"])),
        period_pick=_choice(spec.get("period_pick", "holding"), PERIOD_PICKS, "policy.period_pick"),
        trial_days=_int_or_none(spec.get("trial_days", 14), "policy.trial_days") or 0,
        seat_minimum=_int_or_none(spec.get("seat_minimum", 0), "policy.seat_minimum") or 0,
        ceiling=_ceiling(ceiling) if ceiling is not None else None,
        stripe=_stripe(spec.get("stripe", {})),
        global_admin_roles=_names(spec.get("global_admin_roles", []), "policy.global_admin_roles"),
        global_role_match=_choice(spec.get("global_role_match", "exact"), ROLE_MATCHES, "policy.global_role_match"),
        plan_override_days=_override_days(spec.get("plan_override_days")),
    )


def _override_days(raw: Any) -> int | None:
    days = _int_or_none(raw, "policy.plan_override_days")
    if days is not None and days <= 0:
        raise CatalogError("policy.plan_override_days: must be a positive number of days")
    return days


def _stripe(spec: Any) -> StripePolicy:
    if not isinstance(spec, Mapping):
        raise CatalogError("policy.stripe: must be a table")
    ladder = spec.get("suspension", {})
    if not isinstance(ladder, Mapping):
        raise CatalogError("policy.stripe.suspension: must be a table of Stripe status = action")
    suspension = {str(k): _choice(v, SUSPENSION_ACTIONS, f"policy.stripe.suspension.{k}") for k, v in ladder.items()}
    later = spec.get("later_prices_need_first", False)
    if not isinstance(later, bool):
        raise CatalogError("policy.stripe.later_prices_need_first: must be true or false")
    default = StripePolicy()
    return StripePolicy(
        later_prices_need_first=later,
        live_statuses=_names(spec.get("live_statuses", list(default.live_statuses)), "policy.stripe.live_statuses"),
        suspension=suspension,
        suspension_source=_text(spec, "suspension_source", "policy.stripe")
        if "suspension_source" in spec
        else "billing",
    )


def _names(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(n, str) and n.strip() for n in raw):
        raise CatalogError(f"{where}: must be a list of non-empty names")
    return tuple(raw)


def _ceiling(spec: Any) -> CeilingPolicy:
    if not isinstance(spec, Mapping):
        raise CatalogError("policy.ceiling: must be a table")
    try:
        return CeilingPolicy(
            policy_setting=str(spec["policy_setting"]),
            ceiling_setting=str(spec["ceiling_setting"]),
            default_policy=str(spec["default_policy"]),
            cutoff_policy=str(spec["cutoff_policy"]),
            cutoff_percent=int(spec["cutoff_percent"]),
            default_percent=int(spec["default_percent"]),
            floor_percent=int(spec["floor_percent"]),
            disable_values=tuple(str(v) for v in spec.get("disable_values", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"policy.ceiling: missing or malformed {exc}") from None


def _steps(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise CatalogError(f"{where}: must be a list of steps")
    return tuple(_choice(step, STEPS, where) for step in raw)


def _table(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Mapping[str, Any]:
    value = data.get(key, None if required else {})
    if not isinstance(value, Mapping):
        raise CatalogError(f"{where}: [{key}] must be a table")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise CatalogError(f"{where}: {key} must be a non-empty string")
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise CatalogError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _int_or_none(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogError(f"{where}: must be a whole number")
    return value
