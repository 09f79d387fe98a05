"""An operator's catalog: features of their own on top of a billing model's built-in catalog.

DESIGN section 4c. The file an operator keeps in git is parsed and validated here, merged with the
built-in catalog of the detected billing model (whose features a push may never change: the Atlas
server enforces them), written back as TOML, and compared version to version. Pure: no I/O; the
database checks a declarative counter's table and columns (`atlas_cli.services.catalogs`).

Plan values, canonical form (as stored and compared):
  boolean  true                      (false or absent: not entitled)
  limit    N (the cap) | "unlimited"
  metered  {"max_usage": N} | "unlimited" (metered only, never blocked)
  credit   {"allocation": N, "period": "month"} | true (entitled, credits only by grant)
`false` is kept only in an override (an override that takes the feature away).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from atlas_cli.domain.catalog import UNLIMITED, Catalog, CatalogError
from atlas_cli.domain.credits import Allocation, Cost, CreditError, parse_allocation, parse_cost

OPERATOR_KINDS = ("boolean", "limit", "metered", "credit")
KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
FEATURE_SETTINGS = {
    "boolean": {"kind", "description"},
    "limit": {"kind", "description", "counter", "allow_without_count"},
    "metered": {"kind", "description", "event_types", "stripe_meter"},
    "credit": {"kind", "description", "costs", "block_overage"},
}
PlanValue = Any  # True/False, an int cap, "unlimited", or {"max_usage": N}


@dataclass(frozen=True)
class Counter:
    """COUNT(*) of `table` rows whose `workspace_column` is the workspace and every `where`
    column equals its value (bound as a parameter, never SQL text)."""

    table: str
    workspace_column: str
    where: tuple[tuple[str, str | int | bool], ...] = ()

    def canonical(self) -> dict[str, Any]:
        return {"table": self.table, "workspace_column": self.workspace_column, "where": dict(self.where)}


@dataclass(frozen=True)
class OperatorFeature:
    key: str
    kind: str
    description: str = ""
    counter: Counter | None = None
    allow_without_count: bool = False  # a limit checked with neither counter nor --count: allowed
    event_types: tuple[str, ...] = ()
    stripe_meter: str | None = None
    costs: tuple[tuple[str, Cost], ...] = ()  # a credit feature: event type -> cost per event
    block_overage: bool = False

    def cost_of(self, event_type: str) -> Cost | None:
        return dict(self.costs).get(event_type)

    def canonical(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.description:
            data["description"] = self.description
        if self.counter is not None:
            data["counter"] = self.counter.canonical()
        if self.allow_without_count:
            data["allow_without_count"] = True
        if self.event_types:
            data["event_types"] = list(self.event_types)
        if self.stripe_meter:
            data["stripe_meter"] = self.stripe_meter
        if self.kind == "credit":
            data["costs"] = {event: cost.canonical() for event, cost in self.costs}
            data["block_overage"] = self.block_overage
        return data


@dataclass(frozen=True)
class OperatorCatalog:
    model: str
    features: Mapping[str, OperatorFeature] = field(default_factory=dict)
    plans: Mapping[str, Mapping[str, PlanValue]] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """The document stored and compared: sorted, plans without values dropped."""
        return {
            "model": self.model,
            "features": {k: self.features[k].canonical() for k in sorted(self.features)},
            "plans": {t: dict(sorted(v.items())) for t, v in sorted(self.plans.items()) if v},
        }

    def same_as(self, other: OperatorCatalog | None) -> bool:
        other_doc = other.canonical() if other is not None else empty(self.model).canonical()
        return json.dumps(self.canonical(), sort_keys=True) == json.dumps(other_doc, sort_keys=True)

    def value(self, tier: str, feature: str) -> PlanValue | None:
        """The plan's value; None when the plan does not name the feature (not entitled)."""
        return self.plans.get(tier, {}).get(feature)


def empty(model: str) -> OperatorCatalog:
    return OperatorCatalog(model)


def entitled(value: PlanValue | None) -> bool:
    return value is not None and value is not False


def cap_of(value: PlanValue) -> int | None:
    """The cap of a limit or the max usage of a metered value; None: unlimited."""
    if isinstance(value, Mapping):
        return int(value["max_usage"])
    if value == UNLIMITED or value is True:
        return None
    return int(value)


def shown(value: PlanValue | None) -> str:
    """A value as a person reads it."""
    if value is None or value is False:
        return "not entitled"
    if value is True:
        return "yes"
    if isinstance(value, Mapping) and "allocation" in value:
        return f"{value['allocation']:,} per {value.get('period', 'month')}"
    if isinstance(value, Mapping):
        return f"max usage {value['max_usage']:,}"
    return UNLIMITED if value == UNLIMITED else f"{value:,}"


# --- parsing ---------------------------------------------------------------------------------


def parse(data: Mapping[str, Any], builtin: Catalog) -> OperatorCatalog:
    """An operator catalog from a parsed TOML document, for the billing model of `builtin`.

    Raises:
        CatalogError: naming the entry at fault: an unknown or unsupported kind, a feature key a
            built-in feature has, a tier the model does not know, a malformed value or counter.
    """
    unknown = sorted(set(data) - {"model", "features", "plans"})
    if unknown:
        raise CatalogError(f"{unknown[0]}: unknown top-level entry; a catalog has features and plans")
    model = data.get("model", builtin.model)
    if model != builtin.model:
        raise CatalogError(f"model: this catalog is for the {model!r} billing model; the database's is {builtin.model}")
    features = {key: _feature(key, spec, builtin) for key, spec in _table(data, "features").items()}
    plans = {tier: _plan(tier, spec, features, builtin) for tier, spec in _table(data, "plans").items()}
    return OperatorCatalog(builtin.model, features, {t: v for t, v in plans.items() if v})


def from_document(document: Mapping[str, Any], builtin: Catalog) -> OperatorCatalog:
    """A stored canonical document, read back (it was validated when pushed)."""
    return parse(document, builtin)


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise CatalogError(f"{key}: must be a table ([{key}.NAME])")
    return value


def _feature(key: str, spec: Any, builtin: Catalog) -> OperatorFeature:
    where = f"features.{key}"
    if key in builtin.features:
        raise CatalogError(
            f"{where}: {key!r} is a built-in feature of the {builtin.model} billing model, enforced by the "
            "Atlas server; a catalog cannot change it (it is shown in `plans pull` as a comment)"
        )
    if not KEY.match(key):
        raise CatalogError(f"{where}: a feature key is lowercase letters, digits, '-' and '_' (at most 63)")
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}: must be a table")
    kind = spec.get("kind")
    if kind not in OPERATOR_KINDS:
        raise CatalogError(f"{where}.kind: {kind!r} is not one of {', '.join(OPERATOR_KINDS)}")
    extra = sorted(set(spec) - FEATURE_SETTINGS[kind])
    if extra:
        raise CatalogError(f"{where}.{extra[0]}: not a setting of a {kind} feature")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise CatalogError(f"{where}.description: must be a string")
    if kind == "limit":
        allow = spec.get("allow_without_count", False)
        if not isinstance(allow, bool):
            raise CatalogError(f"{where}.allow_without_count: must be true or false")
        counter = _counter(spec["counter"], where) if "counter" in spec else None
        return OperatorFeature(key, kind, description, counter=counter, allow_without_count=allow)
    if kind == "metered":
        types = spec.get("event_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) and t.strip() for t in types):
            raise CatalogError(f"{where}.event_types: must be a non-empty list of event types")
        meter = spec.get("stripe_meter")
        if meter is not None and (not isinstance(meter, str) or not meter.strip()):
            raise CatalogError(f"{where}.stripe_meter: must be a Stripe meter's event name")
        return OperatorFeature(key, kind, description, event_types=tuple(dict.fromkeys(types)), stripe_meter=meter)
    if kind == "credit":
        return _credit(key, spec, description, where)
    return OperatorFeature(key, kind, description)


def _credit(key: str, spec: Mapping[str, Any], description: str, where: str) -> OperatorFeature:
    costs = spec.get("costs")
    if not isinstance(costs, Mapping) or not costs:
        raise CatalogError(f"{where}.costs: must be a table of event type = cost ({{ query = 1 }})")
    parsed: list[tuple[str, Cost]] = []
    for event, raw in sorted(costs.items()):
        if not event.strip():
            raise CatalogError(f"{where}.costs: an event type cannot be blank")
        try:
            parsed.append((event, parse_cost(raw, f"{where}.costs.{event}")))
        except CreditError as exc:
            raise CatalogError(str(exc)) from None
    block = spec.get("block_overage", False)
    if not isinstance(block, bool):
        raise CatalogError(f"{where}.block_overage: must be true or false")
    return OperatorFeature(key, "credit", description, costs=tuple(parsed), block_overage=block)


def allocation_of(value: PlanValue) -> Allocation | None:
    """A credit feature's allocation per period; None: entitled without one (grants only)."""
    if isinstance(value, Mapping) and "allocation" in value:
        return Allocation(int(value["allocation"]), str(value.get("period", "month")))
    return None


def _counter(spec: Any, where: str) -> Counter:
    where = f"{where}.counter"
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}: must be a table {{ table, workspace_column, where }}")
    extra = sorted(set(spec) - {"table", "workspace_column", "where"})
    if extra:
        raise CatalogError(f"{where}.{extra[0]}: a counter has table, workspace_column and where (never SQL)")
    for name in ("table", "workspace_column"):
        if not isinstance(spec.get(name), str) or not IDENTIFIER.match(spec[name]):
            raise CatalogError(f"{where}.{name}: must be a table or column name (letters, digits, '_')")
    filters = spec.get("where", {})
    if not isinstance(filters, Mapping):
        raise CatalogError(f"{where}.where: must be a table of column = value")
    pairs: list[tuple[str, str | int | bool]] = []
    for column, value in sorted(filters.items()):
        if not IDENTIFIER.match(column):
            raise CatalogError(f"{where}.where.{column}: must be a column name (letters, digits, '_')")
        if not isinstance(value, str | int | bool):
            raise CatalogError(f"{where}.where.{column}: must be a string, a whole number, true or false")
        pairs.append((column, value))
    return Counter(spec["table"], spec["workspace_column"], tuple(pairs))


def _plan(tier: str, spec: Any, features: Mapping[str, OperatorFeature], builtin: Catalog) -> dict[str, PlanValue]:
    where = f"plans.{tier}"
    if tier not in builtin.plans:
        tiers = ", ".join(builtin.plans)
        raise CatalogError(f"{where}: the {builtin.model} billing model has no tier {tier!r}; its tiers are {tiers}")
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{where}: must be a table of feature = value")
    values: dict[str, PlanValue] = {}
    for key, raw in spec.items():
        if key in builtin.features:
            raise CatalogError(
                f"{where}.{key}: {key!r} is a built-in feature; its value is the Atlas server's and cannot be changed"
            )
        if key not in features:
            raise CatalogError(f"{where}.{key}: no feature {key!r} in this catalog ([features.{key}])")
        value = plan_value(raw, features[key], f"{where}.{key}")
        if value is not False:
            values[key] = value
    return values


def plan_value(raw: Any, feature: OperatorFeature, where: str) -> PlanValue:
    """One value of `feature` in canonical form (False: not entitled).

    Raises:
        CatalogError: a value the feature's kind does not take.
    """
    if raw is False:
        return False
    if feature.kind == "boolean":
        if raw is not True:
            raise CatalogError(f"{where}: a boolean feature takes true or false")
        return True
    if feature.kind == "credit":
        if raw is True:
            return True
        try:
            return parse_allocation(raw, where).canonical()
        except CreditError as exc:
            raise CatalogError(str(exc)) from None
    if raw == UNLIMITED or (feature.kind == "metered" and raw is True):
        return UNLIMITED
    if feature.kind == "metered":
        if isinstance(raw, Mapping) and set(raw) == {"max_usage"}:
            return {"max_usage": _whole(raw["max_usage"], f"{where}.max_usage")}
        raise CatalogError(f"{where}: a metered feature takes {{ max_usage = N }}, {UNLIMITED!r}, true or false")
    return _whole(raw, where, also=f" or {UNLIMITED!r}")


def _whole(raw: Any, where: str, also: str = "") -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise CatalogError(f"{where}: must be a whole number, zero or more{also}")
    return raw


def parse_value_text(text: str, feature: OperatorFeature) -> PlanValue:
    """A value typed on the command line (`--value`): true, false, unlimited or a whole number
    (for a metered feature, its max usage).

    Raises:
        CatalogError: a value the feature's kind does not take.
    """
    word = text.strip().lower()
    raw: Any = {"true": True, "false": False}.get(word, word)
    if isinstance(raw, str) and re.fullmatch(r"\d+", raw):
        raw = int(raw)
        if feature.kind == "metered":
            raw = {"max_usage": raw}
        elif feature.kind == "credit":
            raw = {"allocation": raw}
    return plan_value(raw, feature, "--value")


# --- differences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference between two catalog versions: a feature's definition or a plan's value."""

    scope: str  # "feature" or "plan"
    key: str  # the feature key, or "TIER.FEATURE"
    before: Any
    after: Any

    @property
    def action(self) -> str:
        return "added" if self.before is None else "removed" if self.after is None else "changed"


def diff(before: OperatorCatalog, after: OperatorCatalog) -> tuple[Change, ...]:
    """Feature by feature, then plan by plan (every tier either names)."""
    old, new = before.canonical(), after.canonical()
    changes = list(_changes("feature", old["features"], new["features"]))
    for tier in sorted(set(old["plans"]) | set(new["plans"])):
        values = _changes("plan", old["plans"].get(tier, {}), new["plans"].get(tier, {}))
        changes += [Change("plan", f"{tier}.{c.key}", c.before, c.after) for c in values]
    return tuple(changes)


def _changes(scope: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            yield Change(scope, key, old.get(key), new.get(key))


# --- TOML -------------------------------------------------------------------------------------


def to_toml(catalog: OperatorCatalog, builtin: Catalog) -> str:
    """The whole catalog as the file an operator edits: built-in features and values commented
    (read-only), operator features and values live. `parse(tomllib.loads(text))` reads it back."""
    lines = [
        f"# The {builtin.model} billing model's catalog: push it back with `atlas plans push FILE`.",
        "# Lines starting with '#' are the built-in features, enforced by the Atlas server (read-only).",
        f'model = "{builtin.model}"',
        "",
    ]
    for feature in builtin.features.values():
        lines.append(f"# [features.{feature.key}]  built-in {feature.kind}" + _builtin_note(feature))
    lines.append("")
    for key in sorted(catalog.features):
        lines += [f"[features.{key}]", *_entries(catalog.features[key].canonical()), ""]
    for tier, plan in builtin.plans.items():
        lines.append(f"[plans.{tier}]" + (f"  # {plan.display_name}" if plan.display_name != tier else ""))
        for key, value in plan.values.items():
            lines.append(f"# {key} = {_builtin_value(value)}  (built-in)")
        lines += [f"{key} = {_toml(value)}" for key, value in sorted(catalog.plans.get(tier, {}).items())]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _builtin_note(feature: Any) -> str:
    if feature.counter:
        return f", counts {feature.counter}"
    if feature.meter is not None:
        return f", sums {feature.meter.sum} of {', '.join(feature.meter.event_types)} events"
    return ""


def _builtin_value(value: Any) -> str:
    if value is None:
        return _toml(UNLIMITED)
    return _toml(value) if isinstance(value, bool | int) else str(value)  # a Decimal, as a number


def _entries(data: Mapping[str, Any]) -> list[str]:
    return [f"{key} = {_toml(value)}" for key, value in data.items()]


def _toml(value: Any) -> str:
    """`value` as TOML (tables inline). C1 controls and bidi overrides, which TOML allows raw in a
    string, are escaped too, so the file never sends them raw to a terminal."""
    import tomlkit

    text = tomlkit.item(_inline(value)).as_string()
    return _RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _inline(value: Any) -> Any:
    import tomlkit

    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        table.update({k: _inline(v) for k, v in value.items()})
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_inline(v) for v in value)
        return array
    return value


_RAW = re.compile("[\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
