"""Finding workspaces and describing where each stands."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from atlas_cli.db import queries
from atlas_cli.db.database import Database
from atlas_cli.db.schema import organization
from atlas_cli.domain.listing import Filters
from atlas_cli.domain.periods import Window, billing_period, holds, subscription_period
from atlas_cli.domain.trial import TrialState, trial_state
from atlas_cli.errors import BadInput, NotFound
from atlas_cli.services import Clock
from atlas_cli.services.models import Subscription, Workspace, WorkspaceDetail, WorkspaceRow

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing, Layout


def resolve(conn: Connection, key: str | None, layout: Layout | None = None) -> Workspace:
    """The workspace named by id or slug; without a name, the database's only workspace.

    Raises:
        NotFound: no workspace has that id or slug, or the database holds none.
        BadInput: no name was given and the database holds several workspaces.
    """
    table = layout.organization if layout else organization
    if key:
        row = queries.workspace_by_key(conn, key, table)
        if row is None:
            raise NotFound(f"workspace {key!r} not found (give its id or slug; `atlas workspace list`)")
        return Workspace.from_row(row, layout)
    rows = queries.first_workspaces(conn, 2, table)
    if not rows:
        raise NotFound("the database holds no workspace yet (try `atlas demo`)")
    if len(rows) > 1:
        raise BadInput("several workspaces: name one with --workspace/-w or ATLAS_WORKSPACE")
    return Workspace.from_row(rows[0], layout)


def trial_of(workspace: Workspace, now: datetime) -> TrialState | None:
    """The trial's state for a workspace whose plan is a trial; None on any other plan."""
    plan = workspace.definition
    if plan is None or not plan.trial:
        return None
    return trial_state(now, workspace.trial_ends_at, workspace.created_at)


def period_of(billing: Billing, subs: list[Subscription], now: datetime) -> tuple[Window, str]:
    """The billing period by the catalog's policy, and where it comes from (`stripe`/`utc-month`)."""
    policy = billing.catalog.policy
    anchor = subscription_period(now, [s.period for s in subs], policy.period_statuses, policy.period_pick)
    return billing_period(now, anchor, policy.period_statuses), "stripe" if anchor else "utc-month"


def subscriptions(conn: Connection, workspace: Workspace) -> list[Subscription]:
    return [Subscription.from_row(row) for row in queries.subscriptions_for(conn, workspace.id)]


def active_subscription(subs: list[Subscription], now: datetime) -> Subscription | None:
    """The active or trialing row whose period holds now: the one that sets the billing period."""
    return next((sub for sub in subs if holds(now, sub.period)), None)


def shown_subscription(subs: list[Subscription], now: datetime) -> Subscription | None:
    """The row to show for a workspace: the active one, else the latest."""
    return active_subscription(subs, now) or (subs[0] if subs else None)


class WorkspaceService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    @staticmethod
    def filters(
        *,
        tiers: list[str] | None = None,
        status: str | None = None,
        byot: bool | None = None,
        trial_ending: str | None = None,
        sort: str = "name",
    ) -> Filters:
        """The filters of `workspace list`, from what the operator typed.

        Raises:
            BadInput: an unknown status or sort key, or a span that is not a duration.
        """
        from atlas_cli.domain.listing import parse_duration, parse_sort, parse_status

        return Filters(
            tiers=tuple(t.strip().lower() for t in tiers or ()),
            status=parse_status(status) if status is not None else None,
            byot=byot,
            trial_ending=parse_duration(trial_ending, "--trial-ending") if trial_ending is not None else None,
            sort=parse_sort(sort),
        )

    def overview(self, filters: Filters | None = None) -> list[WorkspaceRow]:
        """Every workspace with its billing check's status and its trial, filtered and sorted.

        The checks are measured as `billing check --all` measures them (one statement per batch).

        Raises:
            BadInput: a tier the database's billing model does not know.
        """
        from atlas_cli.domain import engine
        from atlas_cli.domain.listing import select
        from atlas_cli.services.fleet import facts_of, measure

        filters = filters or Filters()
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            unknown = [tier for tier in filters.tiers if tier not in billing.catalog.plans]
            if unknown:
                raise BadInput(
                    f"--tier: {unknown[0]!r} is not a tier of the {billing.model} billing model "
                    f"({', '.join(billing.catalog.plans)})"
                )
            layout = billing.layout
            targets = [Workspace.from_row(row, layout) for row in queries.all_workspaces(conn, layout.organization)]
            measured = measure(conn, billing, targets, now)
        rows = []
        for ws in targets:
            plan = billing.catalog.plan(ws.tier_value)
            facts = facts_of(billing, ws, measured, now)
            decision = engine.decide(billing.catalog, plan, facts)
            # Every metered feature, even where the decision stopped before usage (a blocked workspace).
            metrics = engine.measurements(billing.catalog, plan, facts) if plan is not None else ()
            rows.append(WorkspaceRow(ws, decision, trial_of(ws, now), metrics))
        return select(rows, filters, now)

    def list(self) -> list[Workspace]:
        """Every workspace, by name, without measuring anything."""
        with self._db.connect() as conn:
            layout = self._db.billing(conn).layout
            return [Workspace.from_row(row, layout) for row in queries.all_workspaces(conn, layout.organization)]

    def show(self, key: str | None) -> WorkspaceDetail:
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            workspace = resolve(conn, key, billing.layout)
            subs = subscriptions(conn, workspace)
            counts = billing.layout.counts(conn, workspace.id, now)
            return WorkspaceDetail(workspace, counts, trial_of(workspace, now), shown_subscription(subs, now))
