"""Admin writes on a workspace's plan: BYOT, the plan override, trials. Each is role-checked,
audited, and has a dry run (see services/admin.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from atlas_cli.db import migrate
from atlas_cli.domain import trial_changes
from atlas_cli.domain.plans import Tier, parse_tier
from atlas_cli.errors import BadInput, Conflict
from atlas_cli.services import inputs
from atlas_cli.services.admin import AdminService, ChangeResult, Compute
from atlas_cli.services.models import Workspace


def allowed_tiers(conn: Connection) -> tuple[str, ...]:
    """The tiers atlas may write here: those the plan_tier constraint lists (without one, all
    but `locked`, which only newer Atlas servers enforce)."""
    listed = migrate.tier_values(conn)
    known = tuple(t.value for t in Tier)
    if listed is None:
        return tuple(t for t in known if t != Tier.LOCKED.value)
    return tuple(t for t in known if t in listed)


def checked_tier(conn: Connection, value: str) -> str:
    """Raises BadInput for a name that is no tier, or a tier this database cannot hold."""
    tier = parse_tier(value)
    if tier is None:
        raise BadInput(f"{value!r} is not a tier; use one of free, trial, team, enterprise, locked")
    allowed = allowed_tiers(conn)
    if tier.value not in allowed:
        raise BadInput(
            f"this database's plan_tier constraint does not accept {tier.value!r} (it allows "
            f"{', '.join(allowed)}): the Atlas server it belongs to would not enforce it"
        )
    return tier.value


def _trial_rule(rule: Any, **kwargs: Any) -> Compute:
    def compute(conn: Connection, ws: Workspace, now: datetime) -> dict[str, Any]:
        try:
            values: dict[str, Any] = rule(
                now, tier=ws.tier_value, trial_ends_at=ws.trial_ends_at, created_at=ws.created_at, **kwargs
            )
        except trial_changes.TrialRefused as exc:
            raise Conflict(f"workspace {ws.id!r}: {exc}") from None
        if "plan_tier" in values:
            checked_tier(conn, values["plan_tier"])
        return values

    return compute


class BillingOpsService:
    def __init__(self, admin: AdminService) -> None:
        self._admin = admin

    def byot(self, workspace: str | None, *, enable: bool, actor: str | None, dry_run: bool = False) -> ChangeResult:
        """Turn bring-your-own-token on or off (a BYOT workspace's token limit is not enforced)."""
        return self._admin.change(
            workspace, actor=actor, action="billing.byot", dry_run=dry_run, compute=lambda _c, _w, _n: {"byot": enable}
        )

    def set_plan(self, workspace: str | None, tier: str, *, actor: str | None, dry_run: bool = False) -> ChangeResult:
        """The admin override of `plan_tier`.

        Raises:
            BadInput: not a tier, or one the database's constraint lacks. Conflict: deleted workspace.
        """
        return self._admin.change(
            workspace,
            actor=actor,
            action="workspace.set_plan",
            dry_run=dry_run,
            compute=lambda c, _w, _n: {"plan_tier": checked_tier(c, tier)},
        )

    def trial_start(
        self, workspace: str | None, *, days: int, actor: str | None, dry_run: bool = False
    ) -> ChangeResult:
        days = inputs.bounded(days, "--days", high=trial_changes.MAX_TRIAL_DAYS)
        return self._admin.change(
            workspace,
            actor=actor,
            action="trial.start",
            dry_run=dry_run,
            compute=_trial_rule(trial_changes.start, days=days),
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
            compute=_trial_rule(trial_changes.extend, days=days),
        )

    def trial_end(self, workspace: str | None, *, actor: str | None, dry_run: bool = False) -> ChangeResult:
        return self._admin.change(
            workspace, actor=actor, action="trial.end", dry_run=dry_run, compute=_trial_rule(trial_changes.end)
        )
