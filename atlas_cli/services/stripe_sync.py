"""Reconcile workspaces with Stripe (DESIGN section 4, "Stripe"), and the billing portal.

Stripe is read first, outside any transaction; then every change is written in ONE transaction
with its audit rows, so a Stripe failure half-way leaves the database as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.config import Settings, named_value
from atlas_cli.db import billing_queries as bq
from atlas_cli.db.database import Database
from atlas_cli.db.layout import Billing
from atlas_cli.domain.stripe_mapping import (
    PriceTiers,
    StripeSubscription,
    current_subscription,
    override_holds,
    plan_change,
    price_setting_names,
    price_tiers,
    suspension_change,
)
from atlas_cli.errors import BadInput, Conflict, NotFound
from atlas_cli.services import Clock
from atlas_cli.services.admin import audit_row, authorize, find_actor, jsonable, keyed, require_global_admin
from atlas_cli.services.billing_ops import allowed_tiers
from atlas_cli.services.workspaces import resolve
from atlas_cli.stripe_gateway import StripeGateway

NO_CUSTOMER = "No Stripe customer associated with this workspace. Subscribe to a plan first."
Progress = Callable[[int, int], None]
SUBSCRIPTION_KEYS = ("plan", "status", "periodStart", "periodEnd", "cancelAtPeriodEnd", "billingInterval")


@dataclass(frozen=True)
class SyncRow:
    workspace_id: str
    customer_id: str | None
    subscription_id: str | None
    status: str | None
    outcome: str
    before: dict[str, Any]
    after: dict[str, Any]
    why: str
    tier: str | None = None  # the tier the subscription puts the workspace on (for the webhook ledger)

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class SyncReport:
    rows: tuple[SyncRow, ...]
    dry_run: bool


@dataclass(frozen=True)
class Apply:
    """How changes are written: when (the clock is read once the workspace is locked, so its
    audit rows are in the order of its changes), by whom, under which action, whether at all."""

    clock: Clock
    actor: str
    action: str
    dry_run: bool
    prices: PriceTiers
    tiers: tuple[str, ...]
    billing: Billing


def price_map(conn: Connection, settings: Settings, billing: Billing) -> PriceTiers:
    """Price id -> tier from the catalog's plans: each price variable from the environment (or
    `.env`), else the platform row of the database's `settings` table (DESIGN section 2)."""
    names = price_setting_names(billing.catalog)
    rows = billing.layout.platform_settings(conn, names)
    return price_tiers(billing.catalog, lambda name: named_value(settings, name) or rows.get(name))


def subscription_values(sub: StripeSubscription, plan: str) -> dict[str, Any]:
    return {
        "plan": plan,
        "stripeCustomerId": sub.customer,
        "stripeSubscriptionId": sub.id,
        "status": sub.status,
        "periodStart": sub.period_start,
        "periodEnd": sub.period_end,
        "cancelAtPeriodEnd": sub.cancel_at_period_end,
        "billingInterval": sub.interval,
    }


def _subscription_diff(
    conn: Connection, ws_id: str, sub: StripeSubscription, prices: PriceTiers
) -> tuple[str | None, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(row id or None for a new row, the row's values, before, after of its changed columns)."""
    existing = bq.subscription_row(conn, ws_id, sub.id)
    mapped = prices.tier_name(sub.price_id)
    plan = mapped if mapped else (existing["plan"] if existing else "unknown")
    wanted = subscription_values(sub, plan)
    old: dict[str, Any] = dict(existing) if existing else {}
    changed = {k: v for k, v in wanted.items() if old.get(k) != v}
    before = {k: old.get(k) for k in changed if k in SUBSCRIPTION_KEYS}
    after = {k: v for k, v in changed.items() if k in SUBSCRIPTION_KEYS}
    if changed and existing is None:
        after = {k: wanted[k] for k in SUBSCRIPTION_KEYS}
    return (existing["id"] if existing else None), wanted, before, after if changed else {}


def reconcile(
    conn: Connection, ws_id: str, customer: str | None, subs: list[StripeSubscription], how: Apply
) -> SyncRow:
    """Bring one workspace in line with its Stripe subscriptions (DESIGN section 4).

    Raises:
        Conflict: the subscription is of another customer than the workspace's own.
    """
    layout, policy = how.billing.layout, how.billing.catalog.policy.stripe
    row = bq.lock_organization(conn, layout.organization, ws_id)
    now = how.clock()
    sub = current_subscription(subs)
    if sub is None:
        return SyncRow(
            ws_id,
            customer,
            None,
            None,
            "no_subscription",
            {},
            {},
            f"customer {customer} has no subscription in Stripe: nothing changed",
        )
    owner = row[layout.customer_column]
    if sub.customer and owner and owner != sub.customer:
        raise Conflict(
            f"Stripe subscription {sub.id} is of customer {sub.customer}, but workspace {ws_id!r} has "
            f"customer {owner}: atlas does not replace a workspace's customer; nothing changed"
        )
    change = plan_change(
        sub, how.prices, tier=row["plan_tier"], trial_ends_at=row["trial_ends_at"], allowed_tiers=how.tiers
    )
    if not change.writes_subscription:
        return SyncRow(ws_id, sub.customer, sub.id, sub.status, change.outcome.value, {}, {}, change.why)
    values = dict(change.values)
    outcome, why = change.outcome.value, change.why
    until = row["plan_override_until"] if layout.has_column("plan_override_until") else None
    if "plan_tier" in values and override_holds(until, now):
        values = {k: v for k, v in values.items() if k not in ("plan_tier", "trial_ends_at")}
        outcome = "override"
        why = (
            f"{why}; but an operator's plan override holds until {jsonable(until)}: "
            f"tier stays {row['plan_tier']} (Stripe says {change.tier})"
        )
    if policy.suspension and layout.has_column("suspension_source"):
        values.update(suspension_change(policy.suspension, policy.suspension_source, sub.status, dict(row), now))
    if sub.customer and not owner:  # an empty customer is filled; a different one is a conflict (above)
        values[layout.customer_column] = sub.customer
    row_id, wanted, sub_before, sub_after = _subscription_diff(conn, ws_id, sub, how.prices)
    before = {**keyed({k: row[k] for k in values}), **{k: jsonable(v) for k, v in sub_before.items()}}
    after = {**keyed(values), **{k: jsonable(v) for k, v in sub_after.items()}}
    result = SyncRow(ws_id, sub.customer, sub.id, sub.status, outcome, before, after, why, change.tier)
    if how.dry_run or not result.changed:
        return result
    if values:
        bq.update_organization(conn, layout.organization, ws_id, values)
    if sub_after:
        fresh = {} if row_id else {"id": str(uuid.uuid4()), "referenceId": ws_id}
        bq.save_subscription(conn, row_id, {**wanted, **fresh})
    bq.insert_audit(conn, [audit_row(ws_id, how.actor, how.action, before, after, now)])
    return result


class StripeSyncService:
    def __init__(self, db: Database, clock: Clock, settings: Settings, gateway: StripeGateway | None = None) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._stripe = gateway or StripeGateway(settings)

    def portal(self, workspace: str | None, *, return_url: str | None) -> str:
        """A billing portal session URL for the workspace's Stripe customer.

        Raises:
            NotConfigured: no STRIPE_SECRET_KEY. NotFound: unknown workspace, or no customer.
            BadInput: a return URL that is not http(s). StripeFailure: Stripe refused.
        """
        if return_url and not return_url.startswith(("https://", "http://")):
            raise BadInput(f"--return-url: {return_url!r} is not an http(s) URL")
        self._stripe.client  # noqa: B018 -- exit 5 before anything else without a key
        with self._db.connect() as conn:
            layout = self._db.billing(conn).layout
            ws = resolve(conn, workspace, layout)
            customer = bq.billed_customer(
                bq.billed_organizations(conn, layout.organization, layout.customer_column, ws.id)
            )
        if customer is None:
            raise NotFound(NO_CUSTOMER)
        return self._stripe.portal_url(customer, return_url)

    def sync(
        self,
        workspace: str | None,
        *,
        all_workspaces: bool,
        actor: str | None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> SyncReport:
        """Reconcile one workspace (or, for a global admin, every one with a customer) with Stripe.

        Raises:
            NotConfigured: no STRIPE_SECRET_KEY. NotFound: unknown workspace, or no customer.
            PermissionDenied: actor missing or not allowed. StripeFailure: Stripe refused.
        """
        if all_workspaces and workspace:
            raise BadInput("give either --workspace or --all, not both")
        self._stripe.client  # noqa: B018
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            who, targets, tiers = self._targets(conn, billing, workspace, all_workspaces, actor)
        fetched = self._fetch(targets, progress)
        with self._db.begin() as conn:
            prices = price_map(conn, self._settings, billing)
            how = Apply(self._clock, who, "billing.sync", dry_run, prices, tiers, billing)
            rows = [
                reconcile(conn, t["id"], t["customer_id"], subs, how) for t, subs in zip(targets, fetched, strict=True)
            ]
        return SyncReport(tuple(rows), dry_run)

    def _targets(
        self, conn: Connection, billing: Billing, workspace: str | None, all_workspaces: bool, actor: str | None
    ) -> tuple[str, list[RowMapping], tuple[str, ...]]:
        layout = billing.layout
        who = find_actor(conn, actor)
        if all_workspaces:
            require_global_admin(who, "billing sync --all", billing.catalog.policy)
            billed = bq.billed_organizations(conn, layout.organization, layout.customer_column, None)
            return who.label, list(billed), allowed_tiers(conn)
        ws = resolve(conn, workspace, layout)
        authorize(conn, who, ws)
        targets = list(bq.billed_organizations(conn, layout.organization, layout.customer_column, ws.id))
        if not targets:
            raise NotFound(NO_CUSTOMER)
        return who.label, targets, allowed_tiers(conn)

    def _fetch(self, targets: list[RowMapping], progress: Progress | None) -> list[list[StripeSubscription]]:
        fetched = []
        for done, target in enumerate(targets, start=1):
            fetched.append(self._stripe.subscriptions(target["customer_id"]))
            if progress is not None:
                progress(done, len(targets))
        return fetched
