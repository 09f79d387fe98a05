"""What services return: frozen dataclasses, never ORM rows or terminal objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from atlas_cli.domain.enforcement import Decision, MetricCheck
from atlas_cli.domain.periods import PeriodKind, SubscriptionPeriod, Window
from atlas_cli.domain.plans import Plan, Tier, parse_tier, plan_for
from atlas_cli.domain.trial import TrialState

if TYPE_CHECKING:
    from atlas_cli.db.layout import Layout
    from atlas_cli.domain import catalog


@dataclass(frozen=True)
class Workspace:
    """An organization row as atlas reads it: a workspace, its tier and its billing model."""

    id: str
    name: str
    slug: str | None
    created_at: datetime | None
    status: str
    tier_value: str
    byot: bool
    stripe_customer_id: str | None
    trial_ends_at: datetime | None
    suspended_at: datetime | None
    deleted_at: datetime | None
    billing_model: str = "classic"
    suspension_source: str | None = None
    plan_override_until: datetime | None = None

    @classmethod
    def from_row(cls, row: Any, layout: Layout | None = None) -> Workspace:
        """A workspace from its organization row, read with the billing model's layout."""
        customer = layout.customer_column if layout else "stripe_customer_id"
        return cls(
            id=row["id"],
            name=row["name"],
            slug=row["slug"],
            created_at=row["createdAt"],
            status=row["workspace_status"] or "active",
            tier_value=row["plan_tier"] or "",
            byot=bool(row["byot"]),
            stripe_customer_id=row[customer],
            trial_ends_at=row["trial_ends_at"],
            suspended_at=row["suspended_at"],
            deleted_at=row["deleted_at"],
            billing_model=layout.model if layout else "classic",
            suspension_source=row.get("suspension_source"),
            plan_override_until=row.get("plan_override_until"),
        )

    @property
    def definition(self) -> catalog.Plan | None:
        """The workspace's plan in its billing model's catalog; None for a tier the model does not know."""
        from atlas_cli.catalogs import builtin

        return builtin(self.billing_model).plan(self.tier_value)

    @property
    def tier(self) -> Tier | None:
        """The tier, or None when the stored value names no tier atlas knows."""
        return parse_tier(self.tier_value)

    @property
    def plan(self) -> Plan | None:
        tier = self.tier
        return plan_for(tier) if tier is not None else None


@dataclass(frozen=True)
class WorkspaceRow:
    """A workspace as `workspace list` shows it: where its billing check stands, and its trial."""

    workspace: Workspace
    decision: Decision
    trial: TrialState | None  # None: not on a trial plan
    metrics: tuple[MetricCheck, ...] = ()  # every metered feature, whatever the decision

    @property
    def id(self) -> str:
        return self.workspace.id

    @property
    def name(self) -> str:
        return self.workspace.name

    @property
    def tier(self) -> str:
        return self.workspace.tier_value

    @property
    def byot(self) -> bool:
        return self.workspace.byot

    @property
    def created_at(self) -> datetime | None:
        return self.workspace.created_at

    @property
    def billing_status(self) -> str:
        return str(self.decision.status)

    @property
    def worst_percent(self) -> int | None:
        """The highest usage percent among the enforced metrics (None: none has a limit)."""
        found = [m.usage_percent for m in self.metrics if m.enforced and m.usage_percent is not None]
        return max(found, default=None)

    @property
    def trial_end(self) -> datetime | None:
        return self.trial.ends_at if self.trial is not None else None


@dataclass(frozen=True)
class Subscription:
    """A workspace's Stripe subscription row."""

    id: str
    plan: str
    stripe_customer_id: str | None
    stripe_subscription_id: str | None
    status: str | None
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool
    billing_interval: str | None

    @classmethod
    def from_row(cls, row: Any) -> Subscription:
        return cls(
            id=row["id"],
            plan=row["plan"],
            stripe_customer_id=row["stripeCustomerId"],
            stripe_subscription_id=row["stripeSubscriptionId"],
            status=row["status"],
            period_start=row["periodStart"],
            period_end=row["periodEnd"],
            cancel_at_period_end=bool(row["cancelAtPeriodEnd"]),
            billing_interval=row["billingInterval"],
        )

    @property
    def period(self) -> SubscriptionPeriod:
        return SubscriptionPeriod(self.status, self.period_start, self.period_end)


@dataclass(frozen=True)
class WorkspaceDetail:
    """A workspace with its counts, its trial and its subscription (`workspace show`)."""

    workspace: Workspace
    counts: Mapping[str, int]  # members, pending_invitations, seats and each built-in counter
    trial: TrialState | None
    subscription: Subscription | None


@dataclass(frozen=True)
class SummaryRow:
    """One period of `usage history`: stored in usage_summaries, or computed from the events."""

    period_start: datetime
    query_count: int
    token_count: int
    active_users: int
    id: str | None = None  # the usage_summaries row's; None when computed and not stored
    storage_bytes: int = 0
    updated_at: datetime | None = None  # when the stored row was last computed; None when not stored


@dataclass(frozen=True)
class HistoryReport:
    """A workspace's usage per period (`usage history`)."""

    workspace: Workspace
    kind: PeriodKind
    rows: tuple[SummaryRow, ...]
    note: str | None = None  # for the person at the terminal (stderr), e.g. "not stored"
    zone: tzinfo = UTC  # whose days or months the periods are


@dataclass(frozen=True)
class UserUsage:
    """One user's usage in a window (`usage breakdown`)."""

    user_id: str | None
    email: str | None
    name: str | None
    query_count: int
    token_count: int
    login_count: int


@dataclass(frozen=True)
class EventTotals:
    """Totals of events that belong to no one in particular (usage_events.user_id NULL)."""

    query_count: int = 0
    token_count: int = 0
    login_count: int = 0


@dataclass(frozen=True)
class BreakdownReport:
    """A workspace's usage per user in a window (`usage breakdown`)."""

    workspace: Workspace
    window: Window
    sort: str
    users: tuple[UserUsage, ...]
    no_user: EventTotals = EventTotals()  # events without a user: never a row of `users`
    zone: tzinfo = UTC  # whose days the dates typed were


@dataclass(frozen=True)
class CheckReport:
    """A workspace's enforcement decision and the exit code it makes (`billing check`)."""

    workspace: Workspace
    decision: Decision
    exit_code: int
    resource: str | None = None


@dataclass(frozen=True)
class TrialReport:
    """Where a workspace's trial stands (`trial status`)."""

    workspace: Workspace
    on_trial: bool
    state: TrialState
