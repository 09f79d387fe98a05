"""Admin writes on a workspace's plan: BYOT, the plan override, trials. Each is role-checked,
audited, and has a dry run (see services/admin.py).

The billing model's catalog says which tiers exist, which are paid, which plan is the trial and
how long an operator's tier change holds (`plan_override_days`); its layout says where the
workspace's columns and the per-user trial grants live. Nothing here branches on the model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from atlas_cli.db import migrate
from atlas_cli.domain import trial_changes
from atlas_cli.errors import BadInput, Conflict
from atlas_cli.services import inputs
from atlas_cli.services.admin import AdminService, Also, ChangeResult, Compute
from atlas_cli.services.models import Workspace

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing
    from atlas_cli.domain.catalog import Catalog


def _catalog_of(conn: Connection, catalog: Catalog | None) -> Catalog:
    """`catalog`, else the built-in catalog of the billing model detected here."""
    if catalog is not None:
        return catalog
    from atlas_cli.catalogs import builtin
    from atlas_cli.db.layout import detect

    return builtin(detect(conn).model)


def allowed_tiers(conn: Connection, catalog: Catalog | None = None) -> tuple[str, ...]:
    """The tiers atlas may write here: those the billing model's catalog knows (the detected
    model's when none is given) that the plan_tier constraint lists (without one, all but the
    blocking `locked`, which only newer Atlas servers enforce)."""
    rules = _catalog_of(conn, catalog)
    listed = migrate.tier_values(conn)
    if listed is None:
        return tuple(tier for tier, plan in rules.plans.items() if plan.block is None)
    return tuple(tier for tier in rules.plans if tier in listed)


def checked_tier(conn: Connection, value: str, catalog: Catalog | None = None) -> str:
    """Raises BadInput for a name that is no tier of the billing model, or a tier this database cannot hold."""
    rules = _catalog_of(conn, catalog)
    tier = value.strip().lower()
    if tier not in rules.plans:
        raise BadInput(
            f"{value!r} is not a tier of the {rules.model} billing model this database uses; "
            f"use one of {', '.join(rules.plans)}"
        )
    allowed = allowed_tiers(conn, rules)
    if tier not in allowed:
        raise BadInput(
            f"this database's plan_tier constraint does not accept {tier!r} (it allows "
            f"{', '.join(allowed)}): the Atlas server it belongs to would not enforce it"
        )
    return tier


BillingOf = Callable[[Connection], "Billing"]


def _plan_change(billing_of: BillingOf, tier: str) -> Compute:
    def compute(conn: Connection, _ws: Workspace, now: datetime) -> dict[str, Any]:
        catalog = billing_of(conn).catalog
        plan = catalog.plans[checked_tier(conn, tier, catalog)]
        return catalog.policy.plan_change(plan, now)

    return compute


def _trial_rule(billing_of: BillingOf, rule: Any, **kwargs: Any) -> Compute:
    def compute(conn: Connection, ws: Workspace, now: datetime) -> dict[str, Any]:
        catalog = billing_of(conn).catalog
        try:
            values: dict[str, Any] = rule(
                now,
                tier=ws.tier_value,
                trial_ends_at=ws.trial_ends_at,
                created_at=ws.created_at,
                catalog=catalog,
                **kwargs,
            )
        except trial_changes.TrialRefused as exc:
            raise Conflict(f"workspace {ws.id!r}: {exc}") from None
        if "plan_tier" in values:
            plan = catalog.plans[checked_tier(conn, values["plan_tier"], catalog)]
            values = {**catalog.policy.plan_change(plan, now), **values}
        return values

    return compute


def _refuse_a_second_trial(conn: Connection, billing: Billing, ws: Workspace) -> None:
    """Raises Conflict when an owner of the workspace holds a trial grant for another workspace."""
    elsewhere = billing.layout.trial_grants_elsewhere(conn, ws.id)
    if elsewhere:
        owner, other = next(iter(elsewhere.items()))
        raise Conflict(
            f"workspace {ws.id!r}: its owner {owner!r} already had a trial on workspace {other!r} "
            "(one trial per user); nothing changed"
        )


def _one_trial_per_user(billing_of: BillingOf, compute: Compute) -> Compute:
    """`compute`, refused when an owner of the workspace already used their trial elsewhere."""

    def checked(conn: Connection, ws: Workspace, now: datetime) -> dict[str, Any]:
        values = compute(conn, ws, now)
        _refuse_a_second_trial(conn, billing_of(conn), ws)
        return values

    return checked


def _grant(billing_of: BillingOf) -> Also:
    """Claim the owners' grants, then check again: a concurrent trial start of another workspace of
    the same owner may have claimed first (its row wins, ON CONFLICT DO NOTHING), and then this
    change rolls back with the conflict, as the server refuses an unclaimed grant."""

    def also(conn: Connection, ws: Workspace, now: datetime) -> None:
        billing = billing_of(conn)
        billing.layout.grant_trial(conn, ws.id, now)
        _refuse_a_second_trial(conn, billing, ws)

    return also


class BillingOpsService:
    def __init__(self, admin: AdminService) -> None:
        self._admin = admin

    def byot(self, workspace: str | None, *, enable: bool, actor: str | None, dry_run: bool = False) -> ChangeResult:
        """Turn bring-your-own-token on or off (a BYOT workspace's token limit is not enforced)."""
        return self._admin.change(
            workspace, actor=actor, action="billing.byot", dry_run=dry_run, compute=lambda _c, _w, _n: {"byot": enable}
        )

    def set_plan(self, workspace: str | None, tier: str, *, actor: str | None, dry_run: bool = False) -> ChangeResult:
        """The admin override of `plan_tier` (and, where the model has one, of `plan_override_until`).

        Raises:
            BadInput: not a tier of the billing model, or one the database's constraint lacks.
            Conflict: deleted workspace.
        """
        return self._admin.change(
            workspace,
            actor=actor,
            action="workspace.set_plan",
            dry_run=dry_run,
            compute=_plan_change(self._admin.billing, tier),
        )

    def trial_start(
        self, workspace: str | None, *, days: int, actor: str | None, dry_run: bool = False
    ) -> ChangeResult:
        """Start a trial; where the layout keeps trial grants, one trial per user (the owners').

        Raises:
            Conflict: a running trial, a paid tier, or an owner who had a trial on another workspace.
        """
        days = inputs.bounded(days, "--days", high=trial_changes.MAX_TRIAL_DAYS)
        billing_of = self._admin.billing
        return self._admin.change(
            workspace,
            actor=actor,
            action="trial.start",
            dry_run=dry_run,
            compute=_one_trial_per_user(billing_of, _trial_rule(billing_of, trial_changes.start, days=days)),
            also=_grant(billing_of),
        )

    def trial_extend(
        self, workspace: str | None, *, days: int, actor: str | None, dry_run: bool = False
    ) -> ChangeResult:
        days = inputs.bounded(days, "--days", high=trial_changes.MAX_TRIAL_DAYS)
        return self._admin.change(
            workspace,
            actor=actor,
            action="trial.extend",
            dry_run=dry_run,
            compute=_trial_rule(self._admin.billing, trial_changes.extend, days=days),
        )

    def trial_end(self, workspace: str | None, *, actor: str | None, dry_run: bool = False) -> ChangeResult:
        return self._admin.change(
            workspace,
            actor=actor,
            action="trial.end",
            dry_run=dry_run,
            compute=_trial_rule(self._admin.billing, trial_changes.end),
        )
