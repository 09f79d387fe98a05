"""Billing status and the enforcement decision."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from atlas_cli.db import queries
from atlas_cli.db.database import Database
from atlas_cli.domain.enforcement import (
    FailOn,
    Resource,
    decide,
    decide_resource,
    exit_code,
    measure,
)
from atlas_cli.services import Clock, inputs
from atlas_cli.services.models import BillingStatus, CheckReport, Workspace
from atlas_cli.services.workspaces import (
    billing_window,
    counts,
    resolve,
    shown_subscription,
    subscriptions,
    trial_of,
)


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
        """The enforcement decision, in the server's order, and the exit code it maps to.

        Raises:
            BadInput: unknown --fail-on or --resource value.
            NotFound: unknown workspace.
        """
        threshold = inputs.choice(FailOn, fail_on, "--fail-on") if fail_on else None
        wanted = inputs.choice(Resource, resource, "--resource") if resource else None
        now = self._clock()
        with self._db.connect() as conn:
            ws = resolve(conn, workspace)
            trial = trial_of(ws, now)
            expired = bool(trial and trial.expired)
            if wanted is not None:
                found = counts(conn, ws)
                used = found.seats if wanted is Resource.MEMBERS else found.connections
                decision = decide_resource(ws.plan, trial_expired=expired, resource=wanted, count=used)
            else:
                used_queries, used_tokens = self._usage(conn, ws, now)
                decision = decide(
                    ws.plan, trial_expired=expired, byot=ws.byot, queries=used_queries, tokens=used_tokens
                )
        return CheckReport(ws, decision, exit_code(decision, threshold), wanted.value if wanted else None)

    @staticmethod
    def _usage(conn: Connection, ws: Workspace, now: datetime) -> tuple[int | None, int | None]:
        """Current queries and tokens; (None, None) when the usage data cannot be read.

        The server lets requests through when usage tracking fails; so does the check.
        """
        from sqlalchemy.exc import DBAPIError

        try:
            with conn.begin_nested():
                window = billing_window(subscriptions(conn, ws), now)
                totals = queries.usage_totals(conn, ws.id, window)
        except DBAPIError:
            return None, None
        return int(totals["queries"]), int(totals["tokens"])
