"""Billing status and the enforcement decision."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from atlas_cli.db.database import Database
from atlas_cli.domain import engine
from atlas_cli.domain.enforcement import FailOn
from atlas_cli.errors import BadInput
from atlas_cli.services import Clock, inputs
from atlas_cli.services.models import CheckReport, Workspace
from atlas_cli.services.standing import Standing, measure_facts, standing
from atlas_cli.services.workspaces import (
    resolve,
    trial_of,
)

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing
    from atlas_cli.domain import catalog


class BillingService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def status(self, workspace: str | None) -> Standing:
        """Plan, limits, usage with percent and status per metered feature, and the subscription.

        Raises:
            NotFound: unknown workspace.
        """
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            return standing(conn, billing, resolve(conn, workspace, billing.layout), now)

    def check(
        self, workspace: str | None, *, fail_on: str | None = None, resource: str | None = None, recompute: bool = False
    ) -> CheckReport:
        """The enforcement decision of the database's billing model, in its server's order, and
        the exit code it maps to. The usage's closed days come from the daily rollup where it is
        fresh (`db.usage_days`); `recompute`: all from the raw events.

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
                facts = measure_facts(conn, billing, ws, plan, now, recompute=recompute)
                decision = engine.decide(billing.catalog, plan, facts)
        code = engine.exit_code(decision, threshold.value if threshold else None)
        return CheckReport(ws, decision, code, resource)

    @staticmethod
    def _resource(
        conn: Connection, billing: Billing, ws: Workspace, plan: catalog.Plan | None, resource: str, now: datetime
    ) -> engine.Decision:
        feature = resource_feature(billing, resource)
        trial = trial_of(ws, now)
        count = billing.layout.counts(conn, ws.id, now)[RESOURCES[resource]]
        facts = engine.Facts(byot=ws.byot, trial_expired=bool(trial and trial.expired))
        return engine.decide_resource(billing.catalog, plan, facts, feature.key, count)


def resource_feature(billing: Billing, resource: str) -> catalog.Feature:
    """The catalog's limit feature that `--resource NAME` counts.

    Raises:
        BadInput: a name this billing model has no counter for.
    """
    named = {name: billing.catalog.limit_for(counter) for name, counter in RESOURCES.items()}
    known = {name: feature for name, feature in named.items() if feature is not None}
    if resource not in known:
        raise BadInput(f"--resource: {resource!r} is not one of {', '.join(known)} (the {billing.model} billing model)")
    return known[resource]


# `billing check --resource NAME`: the built-in counter each name counts.
RESOURCES = {"members": "seats", "connections": "connections", "chat": "chat", "knowledge": "knowledge"}
