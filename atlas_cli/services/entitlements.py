"""Entitlements: may a workspace use N more of a feature now, every feature of its plan, and
per-workspace overrides (DESIGN 4c).

One entry point decides: `check(source, workspace, feature, quantity=1, count=None, now=...)`
(the CLI, and later the library and the benchmarks, call it). The workspace's own block comes
first, exactly as `billing check` decides it (the engine over `measure_facts`); then the feature:
built-in ones (the Atlas server's) from the built-in catalog and counters of the detected layout,
operator ones from the catalog version in force, an override taking precedence until it ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import entitlements as q
from atlas_cli.db.database import Database
from atlas_cli.domain import engine
from atlas_cli.domain import entitlements as ent
from atlas_cli.domain import operator_catalog as oc
from atlas_cli.domain.catalog import UNLIMITED, CatalogError, Feature, Plan
from atlas_cli.errors import BadInput, Conflict, NotConfigured, NotFound
from atlas_cli.services import Clock, utc_now
from atlas_cli.services.catalogs import InForce, in_force
from atlas_cli.services.models import Workspace
from atlas_cli.services.standing import measure_facts_in_period
from atlas_cli.services.workspaces import period_of, resolve, subscriptions

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing
    from atlas_cli.domain.periods import Window

BUILT_IN = "built-in"
OVERRIDE_ACTION, CLEAR_ACTION = "entitlements.override", "entitlements.clear"


@dataclass
class _Context:
    """One workspace, now: what every feature's decision reads, each measured at most once."""

    conn: Connection
    billing: Billing
    ws: Workspace
    now: datetime
    operator: InForce
    overrides: Mapping[str, RowMapping]
    event_type: str | None = None  # a credit check: the request is N units of this event type

    @cached_property
    def plan(self) -> Plan | None:
        return self.billing.catalog.plan(self.ws.tier_value)

    @cached_property
    def standing(self) -> tuple[engine.Facts, Window | None]:
        """The workspace's facts without its usage, and its billing period."""
        return measure_facts_in_period(self.conn, self.billing, self.ws, self.plan, self.now, usage=False)

    @cached_property
    def facts(self) -> engine.Facts:
        """The facts with the built-in meters' usage in the billing period (None: unreadable)."""
        from dataclasses import replace

        from sqlalchemy.exc import DBAPIError

        from atlas_cli.db.layout import meter_totals
        from atlas_cli.services.standing import meters_of

        try:
            with self.conn.begin_nested():
                usage = meter_totals(
                    self.conn, self.billing.layout, self.ws.id, self.window, meters_of(self.billing.catalog)
                )
        except DBAPIError:
            usage = None
        return replace(self.standing[0], usage=usage)

    @cached_property
    def block(self) -> engine.Decision | None:
        """The workspace's own block, as `billing check` decides it; None when it is not blocked.
        No block depends on usage (locked, an expired trial, a tier or seats that cannot be read:
        DESIGN 4a/4b's order), so the month's usage is not summed for it."""
        decision = engine.decide(self.billing.catalog, self.plan, self.standing[0])
        return decision if decision.status in ent.WORKSPACE_BLOCKS else None

    @cached_property
    def counts(self) -> dict[str, int]:
        return self.billing.layout.counts(self.conn, self.ws.id, self.now)

    @cached_property
    def window(self) -> Window:
        """The billing period: the one the workspace's facts were measured in, else read now."""
        measured = self.standing[1]
        return measured or period_of(self.billing, subscriptions(self.conn, self.ws), self.now)[0]


def _context(
    conn: Connection, billing: Billing, workspace: str | None, now: datetime, event_type: str | None = None
) -> _Context:
    ws = resolve(conn, workspace, billing.layout)
    tables = q.has_tables(conn)
    overrides = q.active_overrides(conn, ws.id, now) if tables else {}
    return _Context(conn, billing, ws, now, in_force(conn, billing, tables=tables), overrides, event_type)


def check(
    source: Database | Connection,
    workspace: str | None,
    feature: str,
    quantity: int = 1,
    count: int | None = None,
    *,
    now: datetime | None = None,
    event_type: str | None = None,
) -> ent.Decision:
    """Whether `workspace` may use `quantity` more of `feature` now.

    `source` is a Database (a connection is opened) or an open Connection (its billing model is
    detected). `count` is the caller's current count of a limit feature (it wins over a counter).

    Raises:
        NotFound: unknown workspace or feature. BadInput: a quantity below 1, a negative count, or
            a count for a feature that is not a limit.
    """
    if quantity < 1:
        raise BadInput(f"--quantity must be 1 or more, not {quantity}")
    if count is not None and count < 0:
        raise BadInput(f"--count must be 0 or more, not {count}")
    moment = now or utc_now()
    if isinstance(source, Database):
        with source.connect() as conn:
            ctx = _context(conn, source.billing(conn), workspace, moment, event_type)
            return decide(ctx, feature, quantity, count)
    from atlas_cli.db.layout import billing_for

    return decide(_context(source, billing_for(source), workspace, moment, event_type), feature, quantity, count)


def decide(ctx: _Context, key: str, quantity: int, count: int | None) -> ent.Decision:
    """The workspace's own block first; then the feature's value, use and cap."""
    feature = _feature(ctx, key)
    if count is not None and feature.kind != "limit":
        raise BadInput(f"--count: {key!r} is a {feature.kind} feature; only a limit feature takes a count")
    if ctx.event_type is not None and feature.kind != "credit":
        raise BadInput(f"--event-type: {key!r} is a {feature.kind} feature; only a credit feature prices event types")
    if ctx.block is not None:
        block = ctx.block
        source = BUILT_IN if key in ctx.billing.catalog.features else "plan"
        return ent.Decision(
            ctx.ws.id, key, feature.kind, False, str(block.status), source, block.message, ctx.billing.model
        )
    return evaluate(ctx, key, quantity, count)


def evaluate(ctx: _Context, key: str, quantity: int = 1, count: int | None = None) -> ent.Decision:
    """The feature's decision for the workspace, whatever the workspace's own standing."""
    feature = _feature(ctx, key)
    if isinstance(feature, Feature):
        value, source, until = _builtin_value(ctx, key), BUILT_IN, None
        verdict = _builtin(ctx, feature, quantity, count)
    else:
        value, source, until = _operator_value(ctx, feature)
        verdict = _operator(ctx, feature, value, quantity, count)
    period = ctx.window if feature.kind == "metered" else None
    return ent.Decision(
        workspace_id=ctx.ws.id,
        feature=key,
        kind=feature.kind,
        allowed=verdict.allowed,
        reason=verdict.reason,
        source=source,
        message=ent.message(verdict.reason, key, verdict, quantity),
        billing_model=ctx.billing.model,
        limit=verdict.limit,
        used=verdict.used,
        remaining=verdict.remaining,
        balance=verdict.balance,
        period_start=period.start if period else None,
        period_end=period.end if period else None,
        value=value,
        until=until,
    )


def _feature(ctx: _Context, key: str) -> Feature | oc.OperatorFeature:
    found: Feature | oc.OperatorFeature | None = ctx.billing.catalog.features.get(key)
    found = found or ctx.operator.catalog.features.get(key)
    if found is None:
        raise NotFound(
            f"no feature {key!r} in the {ctx.billing.model} catalog or the operator catalog "
            "(`atlas entitlements list -w WS` names them)"
        )
    return found


# --- built-in features: the Atlas server's ----------------------------------------------------


def _builtin_value(ctx: _Context, key: str) -> Any:
    if ctx.plan is None or key not in ctx.plan.values:
        return None
    value = ctx.plan.values[key]
    return UNLIMITED if value is None else value


def _builtin(ctx: _Context, feature: Feature, quantity: int, count: int | None) -> ent.Verdict:
    plan = ctx.plan
    if plan is None or not plan.entitled(feature.key):
        return ent.not_entitled()
    value = plan.value(feature.key)
    if feature.kind == "boolean":
        return ent.boolean(True)
    if feature.kind == "limit":
        used = count if count is not None else ctx.counts.get(feature.counter or "")
        cap = None if not plan.enforced or value is None else int(value)
        return ent.limit(cap, used, quantity)
    return _builtin_metered(ctx, plan, feature, quantity)


def _builtin_metered(ctx: _Context, plan: Plan, feature: Feature, quantity: int) -> ent.Verdict:
    """A built-in meter decides as `billing check` would after `quantity` more: refused when that
    reaches the hard band (the server's block); a meter the server does not enforce never refuses."""
    catalog, facts = ctx.billing.catalog, ctx.facts
    used = (facts.usage or {}).get(feature.key, 0)
    cap = engine.limit_of(catalog, plan, feature, facts.seats) if plan.enforced else None
    if cap is None:
        return ent.Verdict(True, ent.UNLIMITED, None, used, None)
    remaining = max(0, cap - used)
    if not feature.enforced or (feature.byot_exempt and ctx.ws.byot):
        return ent.Verdict(True, ent.OK, cap, used, remaining)
    after = engine.Facts(byot=facts.byot, seats=facts.seats, usage={feature.key: used + quantity})
    ceiling = engine.resolve_ceiling(catalog.policy.ceiling, facts.spend_policy, facts.abuse_ceiling)
    status = engine.measure(catalog, plan, feature, after, ceiling).status
    if status == engine.HARD_LIMIT:
        return ent.Verdict(False, ent.MAX_USAGE_REACHED, cap, used, remaining)
    return ent.Verdict(True, ent.OK, cap, used, remaining)


# --- operator features ------------------------------------------------------------------------


def _operator_value(ctx: _Context, feature: oc.OperatorFeature) -> tuple[Any, str, datetime | None]:
    """The value in force: an override's (while it holds and still fits the feature), else the plan's."""
    override = ctx.overrides.get(feature.key)
    if override is not None:
        try:
            return oc.plan_value(override["value"], feature, "override"), "override", override["until"]
        except CatalogError:
            pass  # the feature changed kind since: the override no longer applies
    return ctx.operator.catalog.value(ctx.ws.tier_value, feature.key), "plan", None


def _operator(ctx: _Context, feature: oc.OperatorFeature, value: Any, quantity: int, count: int | None) -> ent.Verdict:
    if not oc.entitled(value):
        return ent.not_entitled()
    if feature.kind == "boolean":
        return ent.boolean(True)
    if feature.kind == "credit":
        return _credit(ctx, feature, quantity)
    cap = oc.cap_of(value)
    if feature.kind == "limit":
        used = count
        if used is None and feature.counter is not None:
            used = q.count(ctx.conn, feature.counter, ctx.ws.id)
        return ent.limit(cap, used, quantity, allow_without_count=feature.allow_without_count)
    used = q.metered_usage(ctx.conn, ctx.billing.layout, ctx.ws.id, feature.event_types, ctx.window)
    return ent.metered(cap, used, quantity)


def _credit(ctx: _Context, feature: oc.OperatorFeature, quantity: int) -> ent.Verdict:
    """Balance now (grants usable now minus overage) against N credits, or N units of --event-type."""
    from atlas_cli.services.credits import available_now

    cost = quantity
    if ctx.event_type is not None:
        price = feature.cost_of(ctx.event_type)
        if price is None:
            priced = ", ".join(t for t, _c in feature.costs)
            raise BadInput(f"--event-type: {feature.key!r} has no cost for {ctx.event_type!r} (it prices {priced})")
        cost = price.of(quantity)
    balance = available_now(ctx.conn, ctx.ws.id, feature.key, ctx.now)
    return ent.credit(balance, cost, block_overage=feature.block_overage)


# --- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntitlementList:
    workspace: Workspace
    billing_model: str
    catalog_version: int | None
    block: str | None  # the workspace's own block (trial_expired, ...), None when it is not blocked
    rows: tuple[ent.Decision, ...]


@dataclass(frozen=True)
class OverrideResult:
    workspace_id: str
    feature: str
    action: str
    actor: str
    before: dict[str, Any]
    after: dict[str, Any]
    audit_id: str | None
    billing_model: str
    changed: bool = True
    notes: tuple[str, ...] = field(default=())


class EntitlementService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def check(
        self,
        workspace: str | None,
        feature: str,
        quantity: int = 1,
        count: int | None = None,
        event_type: str | None = None,
    ) -> ent.Decision:
        """See `check`. Raises: NotFound, BadInput."""
        return check(self._db, workspace, feature, quantity, count, now=self._clock(), event_type=event_type)

    def list(self, workspace: str | None) -> EntitlementList:
        """Every feature of the workspace's billing model (built-in first, then the operator's):
        value, where it comes from, and current use. Raises: NotFound: unknown workspace."""
        with self._db.connect() as conn:
            ctx = _context(conn, self._db.billing(conn), workspace, self._clock())
            keys = [*ctx.billing.catalog.features, *sorted(ctx.operator.catalog.features)]
            rows = tuple(evaluate(ctx, key) for key in keys)
            block = str(ctx.block.status) if ctx.block is not None else None
            return EntitlementList(ctx.ws, ctx.billing.model, ctx.operator.version, block, rows)

    def override(
        self,
        workspace: str | None,
        feature: str,
        value: str,
        *,
        actor: str | None,
        until: str | None = None,
        reason: str | None = None,
    ) -> OverrideResult:
        """Set a per-workspace value of an operator feature, in force until `until` (exclusive;
        a date is its midnight UTC) or a clear; audited. It replaces the override in force.

        Raises:
            NotFound: unknown workspace or feature. BadInput: a built-in feature, a value the
            feature does not take, an `until` not in the future. PermissionDenied: actor.
            NotConfigured: no override table (run `atlas db upgrade`). Conflict: deleted workspace.
        """
        with self._db.begin() as conn:
            ctx, who = self._writable(conn, workspace, feature, actor)
            spec = ctx.operator.catalog.features[feature]
            try:
                parsed = oc.plan_value(oc.parse_value_text(value, spec), spec, "--value")
            except CatalogError as exc:
                raise BadInput(str(exc)) from None
            ends = _until(until, ctx.now)
            before = _state(ctx, spec)
            q.end_overrides(conn, ctx.ws.id, feature, ctx.now, who.label, "replaced")
            row = {
                "workspace_id": ctx.ws.id,
                "id": str(uuid.uuid4()),
                "feature": feature,
                "value": parsed,
                "until": ends,
                "reason": reason,
                "actor": who.label,
                "created_at": ctx.now,
            }
            q.insert_override(conn, row)
            after = {"feature": feature, "value": parsed, "source": "override", "until": _iso(ends), "reason": reason}
            return self._audited(conn, ctx, who.label, OVERRIDE_ACTION, before, after)

    def clear(self, workspace: str | None, feature: str, *, actor: str | None) -> OverrideResult:
        """End the workspace's override of `feature`: the plan's value applies again; audited.
        Without an override in force nothing changes (and nothing is audited).

        Raises: as `override`.
        """
        with self._db.begin() as conn:
            ctx, who = self._writable(conn, workspace, feature, actor)
            spec = ctx.operator.catalog.features[feature]
            before = _state(ctx, spec)
            if not q.end_overrides(conn, ctx.ws.id, feature, ctx.now, who.label, "cleared"):
                return OverrideResult(
                    ctx.ws.id, feature, CLEAR_ACTION, who.label, before, before, None, ctx.billing.model, False
                )
            value = ctx.operator.catalog.value(ctx.ws.tier_value, feature)
            after = {"feature": feature, "value": value, "source": "plan", "until": None, "reason": None}
            return self._audited(conn, ctx, who.label, CLEAR_ACTION, before, after)

    def _writable(
        self, conn: Connection, workspace: str | None, feature: str, actor: str | None
    ) -> tuple[_Context, Any]:
        from atlas_cli.db import billing_queries as bq
        from atlas_cli.services.admin import authorize, find_actor

        billing = self._db.billing(conn)
        ws = resolve(conn, workspace, billing.layout)
        if not q.has_tables(conn):
            raise NotConfigured("this database has no entitlement tables yet: run `atlas db upgrade`; nothing changed")
        who = find_actor(conn, actor)
        authorize(conn, who, ws, billing.catalog.policy)
        bq.lock_organization(conn, billing.layout.organization, ws.id)  # one workspace's changes in order
        ctx = _context(conn, billing, ws.id, self._clock())
        if ctx.ws.status == "deleted":
            raise Conflict(f"workspace {ws.id!r} is deleted; nothing changed")
        if feature in billing.catalog.features:
            raise BadInput(
                f"{feature!r} is a built-in feature of the {billing.model} billing model, enforced by the Atlas "
                "server: it cannot be overridden (change the workspace's plan with `atlas workspace set-plan`)"
            )
        _feature(ctx, feature)
        return ctx, who

    def _audited(
        self, conn: Connection, ctx: _Context, actor: str, action: str, before: dict[str, Any], after: dict[str, Any]
    ) -> OverrideResult:
        from atlas_cli.db import billing_queries as bq
        from atlas_cli.services.admin import audit_row

        audit = audit_row(ctx.ws.id, actor, action, before, after, ctx.now)
        bq.insert_audit(conn, [audit])
        return OverrideResult(ctx.ws.id, after["feature"], action, actor, before, after, audit["id"], ctx.billing.model)


def _state(ctx: _Context, feature: oc.OperatorFeature) -> dict[str, Any]:
    value, source, until = _operator_value(ctx, feature)
    override = ctx.overrides.get(feature.key)
    reason = override["reason"] if override is not None and source == "override" else None
    return {"feature": feature.key, "value": value, "source": source, "until": _iso(until), "reason": reason}


def _iso(moment: datetime | None) -> str | None:
    from atlas_cli.domain.periods import iso_millis

    return iso_millis(moment) if moment is not None else None


def _until(text: str | None, now: datetime) -> datetime | None:
    """`--until`: a date (its midnight UTC) or an ISO 8601 time; it must lie ahead of now.

    Raises: BadInput."""
    if text is None:
        return None
    raw = text.strip()
    moment: datetime
    try:
        moment = datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC)
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(f"--until: {text!r} is not a date; use YYYY-MM-DD or an ISO 8601 time") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment <= now:
        raise BadInput(f"--until: {text!r} is not in the future (the override would never hold); nothing changed")
    return moment
