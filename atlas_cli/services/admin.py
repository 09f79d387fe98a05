"""Who may change things, and the audit trail (DESIGN section 6).

Every write goes through `AdminService.change`: in ONE transaction it resolves the workspace,
checks the actor's role, computes the new values, writes them and their audit row.
A dry run does all of that except the writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import billing_queries as bq
from atlas_cli.db.database import Database
from atlas_cli.domain.periods import iso_millis
from atlas_cli.errors import Conflict, PermissionDenied
from atlas_cli.services import Clock
from atlas_cli.services.models import Workspace
from atlas_cli.services.workspaces import resolve

ADMIN_ROLES = frozenset({"owner", "admin"})
WEBHOOK_ACTOR = "stripe-webhook"

# organization column -> the key scripts see in JSON
COLUMN_KEYS = {
    "plan_tier": "tier",
    "byot": "byot",
    "trial_ends_at": "trialEndsAt",
    "stripe_customer_id": "stripeCustomerId",
}

Compute = Callable[[Connection, Workspace, datetime], dict[str, Any]]


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
    """A global role may be a comma separated list: the first value wins."""
    return (role or "").split(",")[0].strip().lower()


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


def is_global_admin(actor: Actor) -> bool:
    return first_role(actor.global_role) in ADMIN_ROLES


def authorize(conn: Connection, actor: Actor, workspace: Workspace) -> None:
    """Raises PermissionDenied unless the actor is owner/admin of `workspace` or globally."""
    if is_global_admin(actor):
        return
    role = (bq.member_role(conn, workspace.id, actor.user_id) or "").strip().lower()
    if role not in ADMIN_ROLES:
        held = f"role {role!r}" if role else "no membership"
        raise PermissionDenied(
            f"{actor.label} has {held} in workspace {workspace.id!r}: owner or admin required; nothing changed"
        )


def require_global_admin(actor: Actor, what: str) -> None:
    if not is_global_admin(actor):
        raise PermissionDenied(
            f"{what} needs an actor whose global role is admin or owner; "
            f"{actor.label} has {first_role(actor.global_role) or 'none'}; nothing changed"
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
) -> ChangeResult:
    """Write the organization columns in `values` that differ, and their audit row."""
    changed = {k: v for k, v in values.items() if row[k] != v}
    before = keyed({k: row[k] for k in changed})
    after = keyed(changed)
    shown = keyed(values)
    if dry_run or not changed:
        return ChangeResult(ws.id, action, actor, before, after, dry_run, values=shown)
    bq.update_workspace(conn, ws.id, changed)
    audit = audit_row(ws.id, actor, action, before, after, now)
    bq.insert_audit(conn, [audit])
    return ChangeResult(ws.id, action, actor, before, after, dry_run, audit["id"], shown)


class AdminService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def change(
        self, workspace: str | None, *, actor: str | None, action: str, compute: Compute, dry_run: bool = False
    ) -> ChangeResult:
        """Resolve, authorize, compute and write one workspace change with its audit row.

        Raises:
            NotFound: unknown workspace. PermissionDenied: actor missing, unknown or not allowed.
            Conflict: the workspace is deleted. BadInput/Conflict from `compute`.
        """
        with self._db.begin() as conn:
            ws = resolve(conn, workspace)
            who = find_actor(conn, actor)
            authorize(conn, who, ws)
            row = bq.lock_workspace(conn, ws.id)
            now = self._clock()  # after the lock: one workspace's audit rows are in the order of its changes
            ws = Workspace.from_row(row)
            if ws.status == "deleted":
                raise Conflict(f"workspace {ws.id!r} is deleted; nothing changed")
            values = compute(conn, ws, now)
            return apply_values(conn, ws, row, values, actor=who.label, action=action, now=now, dry_run=dry_run)

    def audit(self, workspace: str | None, *, since: date | None, limit: int) -> list[AuditEntry]:
        """The audit log, newest first; of one workspace when it is named.

        Raises:
            NotFound: unknown workspace.
        """
        start = datetime.combine(since, time.min, tzinfo=UTC) if since else None
        with self._db.connect() as conn:
            ws_id = resolve(conn, workspace).id if workspace else None
            rows = bq.audit_rows(conn, ws_id, start, limit)
        return [
            AuditEntry(
                str(r["id"]), r["workspace_id"], r["created_at"], r["actor"], r["action"], r["before"], r["after"]
            )
            for r in rows
        ]
