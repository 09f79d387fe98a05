"""`usage show` and `billing status`: where a workspace stands, in either billing model.

The JSON keys are the Atlas admin API's own and come from the catalog (each feature's `api`
names), so both models share one renderer: classic prints exactly the API's classic shape, and a
per-seat database adds the server's per-seat keys.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from atlas_cli.render.base import NOT_ENFORCED, STATUS_STYLE, Output, iso, number, zone_name

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from atlas_cli.domain.catalog import Catalog, Feature, Plan
    from atlas_cli.domain.engine import MetricCheck
    from atlas_cli.domain.forecast import DimensionForecast
    from atlas_cli.services.standing import Standing

# The JSON key of each built-in counter's count (members and invitations are always shown).
COUNT_KEYS = {"connections": "connections", "chat": "chatIntegrations", "knowledge": "knowledgeCollections"}


def _metered(s: Standing) -> list[tuple[Feature, Any, MetricCheck | None]]:
    """Each metered feature with its usage this period and, when the plan has it, its measurement."""
    usage = s.facts.usage or {}
    return [(f, usage.get(f.key, 0), s.metric(f.key)) for f in s.catalog.of_kind("metered") if f.api]


def _per_seat(s: Standing) -> bool:
    return any(f.per_seat for f in s.catalog.features.values())


def limits_json(s: Standing) -> dict[str, Any] | None:
    return plan_limits(s.catalog, s.plan, s.facts.seats)


def plan_limits(catalog: Catalog, plan: Plan | None, seats: int | None) -> dict[str, Any] | None:
    """Each feature's limit under its API key(s); per-seat amounts scaled by `seats` (None: the
    plan's value per seat is shown under the feature's per-seat key instead)."""
    from atlas_cli.domain.engine import limit_of

    if plan is None:
        return None
    limits: dict[str, Any] = {}
    for feature in catalog.features.values():
        if feature.key not in plan.values:
            continue
        if seats is None and feature.per_seat and "per_seat" in feature.api:
            limits[feature.api["per_seat"][0]] = plan.values[feature.key]
            continue
        value = limit_of(catalog, plan, feature, seats)
        for key in feature.api.get("limit", ()):
            limits[key] = value
    return limits


def counts_json(counts: Mapping[str, int]) -> dict[str, int]:
    shown = {"members": counts["members"], "pendingInvitations": counts["pending_invitations"]}
    return shown | {key: counts[counter] for counter, key in COUNT_KEYS.items() if counter in counts}


def _extras(s: Standing) -> dict[str, Any]:
    """The per-seat server's own usage keys, where the catalog has what they describe."""
    extras: dict[str, Any] = {}
    if _per_seat(s):
        extras["seatCount"] = s.facts.seats
    if s.catalog.policy.ceiling is not None:
        from atlas_cli.domain.engine import overage_cents

        credit = next((m for f, _u, m in _metered(s) if m is not None and f.per_seat and f.bands), None)
        cents = overage_cents(credit.current_usage, credit.limit) if credit else 0
        extras["overageCost"] = Decimal(cents) / 100
        extras["spendPolicy"] = s.ceiling.spend_policy
        extras["ceilingPercent"] = s.ceiling.percent
    extras["periodSource"] = s.period_source
    return extras


def forecast_json(dimensions: Sequence[DimensionForecast]) -> list[dict[str, Any]]:
    """When each enforced metered dimension reaches each band at the period's rate so far."""
    return [
        {
            "metric": d.metric,
            "currentUsage": d.current_usage,
            "limit": d.limit,
            "ratePerDay": d.rate_per_day,
            "warningAt": iso(d.at("warning")),
            "limitAt": iso(d.at("limit")),
            "hardLimitAt": iso(d.at("hard_limit")),
            "reached": [c.role for c in d.crossings if c.reached],
        }
        for d in dimensions
    ]


def usage_json(s: Standing) -> dict[str, Any]:
    ws = s.workspace
    data: dict[str, Any] = {"workspaceId": ws.id, "billingModel": ws.billing_model}
    for feature, used, _metric in _metered(s):
        data[feature.api["usage"][0]] = used
    data |= {
        "activeUsers": s.active_users,
        "periodStart": iso(s.period.start),
        "periodEnd": iso(s.period.end),
        "tier": ws.tier_value,
        "status": str(s.decision.status),
        "limits": limits_json(s),
        **counts_json(s.counts),
    }
    data["trialEndsAt"] = iso(s.trial.ends_at) if s.trial else None
    for feature, _used, metric in _metered(s):
        if "enforced" in feature.api:
            data[feature.api["enforced"][0]] = metric.enforced if metric else not feature.byot_exempt
    return data | _extras(s) | {"forecast": forecast_json(s.forecast)}


def billing_status_json(s: Standing) -> dict[str, Any]:
    ws, plan, sub = s.workspace, s.plan, s.subscription
    plan_json: dict[str, Any] = {
        "tier": ws.tier_value,
        "displayName": plan.display_name if plan else ws.tier_value,
        "byot": ws.byot,
        "trialEndsAt": iso(s.trial.ends_at if s.trial else ws.trial_ends_at),
    }
    if _per_seat(s):
        plan_json["pricePerSeat"] = plan.price_per_seat if plan else None
        for feature in s.catalog.features.values():
            if "per_seat" in feature.api:
                plan_json[feature.api["per_seat"][0]] = plan.values.get(feature.key) if plan else None
    usage: dict[str, Any] = {}
    for role in ("usage", "percent", "status", "enforced"):
        for feature, used, metric in _metered(s):
            if role in feature.api:
                usage[feature.api[role][0]] = _role_value(role, feature, used, metric)
    usage |= {"periodStart": iso(s.period.start), "periodEnd": iso(s.period.end)} | _extras(s)
    return {
        "workspaceId": ws.id,
        "billingModel": ws.billing_model,
        "plan": plan_json,
        "limits": limits_json(s),
        "usage": usage,
        "subscription": None
        if sub is None
        else {
            "stripeSubscriptionId": sub.stripe_subscription_id,
            "plan": sub.plan,
            "status": sub.status,
            "periodStart": iso(sub.period_start),
            "periodEnd": iso(sub.period_end),
            "cancelAtPeriodEnd": sub.cancel_at_period_end,
        },
    }


def _role_value(role: str, feature: Feature, used: Any, metric: MetricCheck | None) -> Any:
    if role == "usage":
        return used
    if metric is None:
        return None if role != "enforced" else not feature.byot_exempt
    return {"percent": metric.usage_percent, "status": metric.status.value, "enforced": metric.enforced}[role]


def billing_status_row(s: Standing) -> tuple[list[str], list[Any]]:
    """The CSV of `billing status`: the workspace, then each metered feature's keys, the period."""
    data = billing_status_json(s)
    header = ["workspaceId", "tier", "byot"]
    for feature, _used, _metric in _metered(s):
        header += [feature.api[role][0] for role in ("usage", "percent", "status", "enforced") if role in feature.api]
    header += [k for k in data["usage"] if k not in header]
    flat = {**data, **data["usage"], "tier": s.workspace.tier_value, "byot": s.workspace.byot}
    return header, [flat[k] for k in header]


def _amount(value: Any, feature: Feature) -> str:
    if value is None:
        return number(None)
    if feature.unit == "usd":
        return f"${Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    return f"{value:,}"


_ROLE_WORDS = {"warning": "warning", "limit": "the limit", "hard_limit": "the hard limit"}


def forecast_lines(dimensions: Sequence[DimensionForecast], zone: tzinfo = UTC) -> list[str]:
    """One line per dimension that reaches a band before the period ends, at the rate so far; the
    times in `zone` (a table's --tz), named."""
    lines = []
    for d in dimensions:
        ahead = [
            f"{_ROLE_WORDS[c.role]} {c.at.astimezone(zone):%Y-%m-%d %H:%M}" for c in d.crossings if c.at is not None
        ]
        if ahead:
            lines.append(f"Forecast ({d.metric}, at the rate so far): " + ", ".join(ahead) + f" {zone_name(zone)}")
    return lines


class StandingViews(Output):
    def usage_report(self, s: Standing, fmt: str) -> None:
        data = usage_json(s)
        header = [k for k, v in data.items() if not isinstance(v, dict | list)]
        self._emit(fmt, data, header, [[data[k] for k in header]], lambda: self._standing_table(s, usage=True))

    def billing_status(self, s: Standing, fmt: str) -> None:
        header, row = billing_status_row(s)
        self._emit(fmt, billing_status_json(s), header, [row], lambda: self._standing_table(s, usage=False))

    def _standing_table(self, s: Standing, *, usage: bool) -> None:
        from rich.text import Text

        ws, plan = s.workspace, s.plan
        title = f"{ws.name} ({ws.slug or ws.id}) · {plan.display_name if plan else ws.tier_value} plan"
        rows = [self._metered_row(s, feature, used, metric) for feature, used, metric in _metered(s)]
        if usage:
            rows += self._resource_rows(s)
            rows.append(["Active users", f"{s.active_users:,}", "", "", "", ""])
        self._print_table(
            title + (" · BYOT" if ws.byot else ""), ["Metric~", "Used#", "Limit#", "", "%#", "Status"], rows
        )
        if usage:
            self.out.print(Text(f"Billing period {self.days(s.period)}", style="dim"))
        else:
            self.out.print(f"Period {self.when(s.period.start)} → {self.when(s.period.end)}")
        extras = _extras(s)
        if "seatCount" in extras:
            policy = f" · spend policy {extras['spendPolicy']}" if extras.get("spendPolicy") else ""
            ceiling = extras.get("ceilingPercent")
            cap = f" (ceiling {ceiling}% of the credit)" if ceiling else " (no ceiling)" if policy else ""
            owed = f" · overage ${extras['overageCost']:.2f}" if extras.get("overageCost") else ""
            source = "the subscription's" if s.period_source == "stripe" else "the UTC month"
            self.out.print(f"Seats {extras['seatCount']:,}{policy}{cap}{owed} · period: {source}")
        if s.trial is not None:
            state = "expired" if s.trial.expired else f"{s.trial.days_left} day(s) left"
            self.out.print(f"Trial ends {self.when(s.trial.ends_at)} ({state})")
        if usage:
            for note in forecast_lines(s.forecast, self.zone):
                self.out.print(note)
        if not usage:
            sub = s.subscription
            if sub is None:
                self.out.print("No subscription")
            else:
                cancel = ", cancels at period end" if sub.cancel_at_period_end else ""
                self.out.print(f"Subscription {sub.stripe_subscription_id or sub.id}: {sub.plan}, {sub.status}{cancel}")
        line = Text("Overall: ")
        line.append(str(s.decision.status), style=STATUS_STYLE.get(str(s.decision.status), ""))
        line.append(f" · {s.decision.message}")
        self.out.print(line)

    def _metered_row(self, s: Standing, feature: Feature, used: Any, metric: MetricCheck | None) -> list[Any]:
        limit = metric.limit if metric else None
        enforced = metric is None or metric.enforced
        status = (metric.status.value if metric else "ok") if enforced else NOT_ENFORCED
        label = feature.title + (" (BYOT)" if feature.byot_exempt and s.workspace.byot else "")
        percent = metric.usage_percent if metric else None
        return [
            label,
            _amount(used, feature),
            _amount(limit, feature),
            self._bar(used, limit, status),
            "" if percent is None else f"{percent}%",
            self._status(status),
        ]

    def _resource_rows(self, s: Standing) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for feature in s.catalog.of_kind("limit"):
            if feature.counter is None or feature.counter not in s.counts:
                continue
            used = s.counts[feature.counter]
            limit = s.plan.values.get(feature.key, 0) if s.plan else None
            limit = None if isinstance(limit, bool) else limit
            status = "at limit" if limit is not None and used >= limit else "ok"
            percent = None if limit is None or limit <= 0 else (200 * used + limit) // (2 * limit)
            rows.append(
                [
                    feature.title,
                    f"{used:,}",
                    number(limit),
                    self._bar(used, limit, status),
                    "" if percent is None else f"{percent}%",
                    self._status(status),
                ]
            )
        return rows
