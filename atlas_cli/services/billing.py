"""Billing status and the enforcement decision."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from atlas_cli.db import queries
from atlas_cli.db.database import Database
from atlas_cli.db.layout import meter_totals
from atlas_cli.domain import engine
from atlas_cli.domain.enforcement import FailOn, measure
from atlas_cli.errors import BadInput
from atlas_cli.services import Clock, inputs
from atlas_cli.services.models import BillingStatus, CheckReport, Workspace
from atlas_cli.services.workspaces import (
    billing_window,
    period_of,
    resolve,
    shown_subscription,
    subscriptions,
    trial_of,
)

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing
    from atlas_cli.domain import catalog


class BillingService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def status(self, workspace: str | None) -> BillingStatus:
        """Plan, limits, usage with percent and status per dimension, and the subscription.

        Raises:
            NotFound: unknown workspace.
        """
        now = self._clock()
        with self._db.connect() as conn:
            ws = resolve(conn, workspace)
            subs = subscriptions(conn, ws)
            window = billing_window(subs, now)
            totals = queries.usage_totals(conn, ws.id, window)
        plan = ws.plan
        query_limit = plan.queries_per_month if plan else None
        token_limit = plan.tokens_per_month if plan else None
        return BillingStatus(
            ws,
            window,
            measure("queries", int(totals["queries"]), query_limit),
            measure("tokens", int(totals["tokens"]), token_limit, enforced=not ws.byot),
            trial_of(ws, now),
            shown_subscription(subs, now),
        )

    def check(self, workspace: str | None, *, fail_on: str | None = None, resource: str | None = None) -> CheckReport:
        """The enforcement decision of the database's billing model, in its server's order, and
        the exit code it maps to.

        Raises:
            BadInput: unknown --fail-on or --resource value (for this billing model).
            NotFound: unknown workspace.
        """
        threshold = inputs.choice(FailOn, fail_on, "--fail-on") if fail_on else None
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            ws = resolve(conn, workspace, billing.layout)
            plan = billing.catalog.plan(ws.tier_value)
            if resource is not None:
                decision = self._resource(conn, billing, ws, plan, resource, now)
            else:
                decision = engine.decide(billing.catalog, plan, measure_facts(conn, billing, ws, plan, now))
        code = engine.exit_code(decision, threshold.value if threshold else None)
        return CheckReport(ws, decision, code, resource)

    @staticmethod
    def _resource(
        conn: Connection, billing: Billing, ws: Workspace, plan: catalog.Plan | None, resource: str, now: datetime
    ) -> engine.Decision:
        named = {name: billing.catalog.limit_for(counter) for name, counter in RESOURCES.items()}
        known = {name: feature for name, feature in named.items() if feature is not None}
        if resource not in known:
            raise BadInput(
                f"--resource: {resource!r} is not one of {', '.join(known)} (the {billing.model} billing model)"
            )
        trial = trial_of(ws, now)
        count = billing.layout.counts(conn, ws.id, now)[RESOURCES[resource]]
        facts = engine.Facts(byot=ws.byot, trial_expired=bool(trial and trial.expired))
        return engine.decide_resource(billing.catalog, plan, facts, known[resource].key, count)


# `billing check --resource NAME`: the built-in counter each name counts.
RESOURCES = {"members": "seats", "connections": "connections", "chat": "chat", "knowledge": "knowledge"}


def measure_facts(
    conn: Connection, billing: Billing, ws: Workspace, plan: catalog.Plan | None, now: datetime
) -> engine.Facts:
    """What the engine needs to decide for `ws`: trial, seats, usage in the billing period and the
    spend settings. Seats or usage that cannot be read are None (the catalog's order decides)."""
    from sqlalchemy.exc import DBAPIError

    trial = trial_of(ws, now)
    seats: int | None
    try:
        with conn.begin_nested():
            seats = billing.layout.counts(conn, ws.id, now)["members"]
    except DBAPIError:
        seats = None
    usage: dict[str, Any] | None
    try:
        with conn.begin_nested():
            window, _source = period_of(billing, subscriptions(conn, ws), now)
            meters = {f.key: f.meter for f in billing.catalog.of_kind("metered") if f.meter is not None}
            usage = meter_totals(conn, billing.layout, ws.id, window, meters)
    except DBAPIError:
        usage = None
    spend_policy, abuse_ceiling = _ceiling_settings(conn, billing, ws)
    return engine.Facts(
        byot=ws.byot,
        trial_expired=bool(trial and trial.expired),
        seats=seats,
        usage=usage,
        spend_policy=spend_policy,
        abuse_ceiling=abuse_ceiling,
    )


def _ceiling_settings(conn: Connection, billing: Billing, ws: Workspace) -> tuple[str | None, str | None]:
    """The spend policy and abuse ceiling: the workspace's settings row, the platform's, else the
    environment (DESIGN 4b)."""
    import os

    policy = billing.catalog.policy.ceiling
    if policy is None:
        return None, None
    keys = [policy.policy_setting, policy.ceiling_setting]
    found = billing.layout.settings(conn, ws.id, keys)
    values = [found[key] if found[key] is not None else os.environ.get(key) for key in keys]
    return values[0], values[1]
