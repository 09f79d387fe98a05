"""Who may change things, and the audit trail (DESIGN section 6).

Every write goes through `AdminService.change`: in ONE transaction it resolves the workspace,
checks the actor's role, computes the new values, writes them and their audit row.
A dry run does all of that except the writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import billing_queries as bq
from atlas_cli.db.database import Database
from atlas_cli.domain import dates
from atlas_cli.domain.periods import iso_millis
from atlas_cli.errors import Conflict, PermissionDenied
from atlas_cli.services import Clock, inputs
from atlas_cli.services.models import Workspace
from atlas_cli.services.workspaces import resolve

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing
    from atlas_cli.domain.catalog import Policy

AUDIT_MAX = 1000
ADMIN_ROLES = frozenset({"owner", "admin"})
WEBHOOK_ACTOR = "stripe-webhook"

# organization column -> the key scripts see in JSON
COLUMN_KEYS = {
    "plan_tier": "tier",
    "byot": "byot",
    "trial_ends_at": "trialEndsAt",
    "stripe_customer_id": "stripeCustomerId",
    "stripeCustomerId": "stripeCustomerId",
    "suspension_source": "suspensionSource",
    "plan_override_until": "planOverrideUntil",
}

Compute = Callable[[Connection, Workspace, datetime], dict[str, Any]]
# Writes that go with a change in its transaction (not on a dry run), after the organization row.
Also = Callable[[Connection, Workspace, datetime], None]


@dataclass(frozen=True)
class Actor:
    key: str
    user_id: str
    email: str
    global_role: str | None

    @property
    def label(self) -> str:
        """How the actor is written in the audit log."""
        return self.email or self.user_id


@dataclass(frozen=True)
class ChangeResult:
    workspace_id: str
    action: str
    actor: str
    before: dict[str, Any]
    after: dict[str, Any]
    dry_run: bool
    audit_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # every column the command sets, as keyed JSON
    billing_model: str = "classic"

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class AuditEntry:
    id: str
    workspace_id: str
    created_at: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None = field(default=None)


def first_role(role: str | None) -> str:
    """A classic global role may be a comma separated list: the first value wins."""
    return _policy_of("classic").global_role(role)


def find_actor(conn: Connection, key: str | None) -> Actor:
    """The user named by `--as`/ATLAS_ACTOR.

    Raises:
        PermissionDenied: no actor given, or no user has that id or email (exit 8 either way:
            an actor atlas cannot identify may not change anything).
    """
    if not key:
        raise PermissionDenied(
            "this command changes data: name who you are with --as or ATLAS_ACTOR "
            "(a user id or email of an owner/admin)"
        )
    row = pick_actor(key.strip(), bq.users_by_key(conn, key.strip()))
    return Actor(key, row["id"], row["email"], row["role"])


def pick_actor(key: str, candidates: Sequence[RowMapping]) -> RowMapping:
    """The one user `key` names among `candidates` (users whose id is `key` or whose email is `key`
    ignoring case): the id, else the exact email, else the email ignoring case, each only when it
    names exactly one user. A guess could act as someone with more rights.

    Raises:
        PermissionDenied: no such user, or `key` names several (exit 8).
    """
    folded = key.lower()
    for matches in (
        [r for r in candidates if r["id"] == key],
        [r for r in candidates if r["email"] == key],
        [r for r in candidates if (r["email"] or "").lower() == folded],
    ):
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = ", ".join(str(r["id"]) for r in matches)
            raise PermissionDenied(
                f"actor {key!r} is ambiguous: it is the email of {len(matches)} users ({ids}); "
                "name the actor by user id; nothing changed"
            )
    raise PermissionDenied(f"actor {key!r} is not a user of this Atlas database; nothing changed")


def _policy_of(model: str) -> Policy:
    from atlas_cli.catalogs import builtin

    return builtin(model).policy


def is_global_admin(actor: Actor, policy: Policy | None = None) -> bool:
    """Whether the actor's global role makes them an admin of every workspace, by the billing
    model's policy (`global_admin_roles`; the classic model's when none is given)."""
    return (policy or _policy_of("classic")).is_global_admin(actor.global_role)


def authorize(conn: Connection, actor: Actor, workspace: Workspace, policy: Policy | None = None) -> None:
    """Raises PermissionDenied unless the actor is owner/admin of `workspace` or a global admin
    (by `policy`, else the policy of the workspace's billing model)."""
    if is_global_admin(actor, policy or _policy_of(workspace.billing_model)):
        return
    role = (bq.member_role(conn, workspace.id, actor.user_id) or "").strip().lower()
    if role not in ADMIN_ROLES:
        held = f"role {role!r}" if role else "no membership"
        raise PermissionDenied(
            f"{actor.label} has {held} in workspace {workspace.id!r}: owner or admin required; nothing changed"
        )


def require_global_admin(actor: Actor, what: str, policy: Policy | None = None) -> None:
    """Raises PermissionDenied unless the actor is a global admin by `policy` (classic's when None)."""
    rule = policy or _policy_of("classic")
    if not rule.is_global_admin(actor.global_role):
        roles = " or ".join(rule.global_admin_roles) or "a global admin role"
        raise PermissionDenied(
            f"{what} needs an actor whose global role is {roles}; "
            f"{actor.label} has {rule.global_role(actor.global_role) or 'none'}; nothing changed"
        )


def jsonable(value: Any) -> Any:
    """Times as ISO 8601 UTC with milliseconds (as the Atlas API writes them); the rest as is."""
    if not isinstance(value, datetime):
        return value
    return iso_millis(value)


def keyed(values: dict[str, Any]) -> dict[str, Any]:
    return {COLUMN_KEYS.get(k, k): jsonable(v) for k, v in values.items()}


def audit_row(
    workspace_id: str, actor: str, action: str, before: dict[str, Any], after: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "id": str(uuid.uuid4()),
        "created_at": now,
        "actor": actor,
        "action": action,
        "before": before,
        "after": after,
    }


def apply_values(
    conn: Connection,
    ws: Workspace,
    row: Any,
    values: dict[str, Any],
    *,
    actor: str,
    action: str,
    now: datetime,
    dry_run: bool,
    billing: Billing | None = None,
) -> ChangeResult:
    """Write the organization columns in `values` that differ (in the layout's organization table),
    and their audit row."""
    changed = {k: v for k, v in values.items() if row[k] != v}
    before = keyed({k: row[k] for k in changed})
    after = keyed(changed)
    shown = keyed(values)
    model = billing.model if billing else "classic"
    if dry_run or not changed:
        return ChangeResult(ws.id, action, actor, before, after, dry_run, values=shown, billing_model=model)
    if billing is None:
        bq.update_workspace(conn, ws.id, changed)
    else:
        bq.update_organization(conn, billing.layout.organization, ws.id, changed)
    audit = audit_row(ws.id, actor, action, before, after, now)
    bq.insert_audit(conn, [audit])
    return ChangeResult(ws.id, action, actor, before, after, dry_run, audit["id"], shown, model)


class AdminService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def billing(self, conn: Connection) -> Billing:
        """The database's billing model, catalog and layout."""
        return self._db.billing(conn)

    def change(
        self,
        workspace: str | None,
        *,
        actor: str | None,
        action: str,
        compute: Compute,
        dry_run: bool = False,
        also: Also | None = None,
    ) -> ChangeResult:
        """Resolve, authorize, compute and write one workspace change with its audit row; `also`
        writes what goes with it (in the same transaction; not on a dry run).

        Everything is read and written through the database's layout, and who may act is the
        billing model's policy.

        Raises:
            NotFound: unknown workspace. PermissionDenied: actor missing, unknown or not allowed.
            Conflict: the workspace is deleted. BadInput/Conflict from `compute`.
        """
        with self._db.begin() as conn:
            billing = self._db.billing(conn)
            ws = resolve(conn, workspace, billing.layout)
            who = find_actor(conn, actor)
            authorize(conn, who, ws, billing.catalog.policy)
            row = bq.lock_organization(conn, billing.layout.organization, ws.id)
            now = self._clock()  # after the lock: one workspace's audit rows are in the order of its changes
            ws = Workspace.from_row(row, billing.layout)
            if ws.status == "deleted":
                raise Conflict(f"workspace {ws.id!r} is deleted; nothing changed")
            values = compute(conn, ws, now)
            result = apply_values(
                conn, ws, row, values, actor=who.label, action=action, now=now, dry_run=dry_run, billing=billing
            )
            if also is not None and not dry_run:
                also(conn, ws, now)
            return result

    def audit(
        self,
        workspace: str | None,
        *,
        start: str | None = None,
        end: str | None = None,
        limit: int = 50,
        zone: tzinfo = UTC,
    ) -> list[AuditEntry]:
        """The audit log of the days `start`..`end` (inclusive), newest first; of one workspace
        when it is named.

        Raises:
            BadInput: a malformed or reversed date, limit out of 1..1000.
            NotFound: unknown workspace.
        """
        first, last = inputs.date_span(start, end, now=self._clock(), zone=zone)
        inputs.bounded(limit, "--limit", high=AUDIT_MAX)
        lower, upper = dates.day_bounds(first, last, zone)
        with self._db.connect() as conn:
            ws_id = resolve(conn, workspace, self._db.billing(conn).layout).id if workspace else None
            rows = bq.audit_rows(conn, ws_id, lower, limit, upper)
        return [
            AuditEntry(
                str(r["id"]), r["workspace_id"], r["created_at"], r["actor"], r["action"], r["before"], r["after"]
            )
            for r in rows
        ]
