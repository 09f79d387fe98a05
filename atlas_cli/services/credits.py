"""Credits: balances, the ledger, grants, voids, adjustments, allocation and verification
(DESIGN 4c, Credits). The arithmetic is `domain.credits`; the book (`credit_book`) writes it.

A unit is a credit feature of the operator catalog in force. Every change takes an idempotency key:
the same key again changes nothing (and says so); the same key with other values is a conflict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from atlas_cli.db import credits as q
from atlas_cli.db.database import Database
from atlas_cli.domain import operator_catalog as oc
from atlas_cli.errors import BadInput, Conflict, NotConfigured, NotFound
from atlas_cli.services import Clock
from atlas_cli.services.credit_book import DEFAULT_PRIORITY, Book, Stamp, to_grant
from atlas_cli.services.models import Workspace
from atlas_cli.services.workspaces import resolve

if TYPE_CHECKING:
    from atlas_cli.db.layout import Billing


@dataclass(frozen=True)
class GrantView:
    id: str
    unit: str
    amount: int
    remaining: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    source: str
    created_at: datetime
    usable: bool  # usable now (effective, not expired)


@dataclass(frozen=True)
class AccountView:
    unit: str
    balance: int  # the ledger's sum
    overage: int
    available: int  # what a check may spend now: grants usable now minus the overage
    block_overage: bool
    grants: tuple[GrantView, ...]


@dataclass(frozen=True)
class BalanceReport:
    workspace_id: str
    billing_model: str
    at: datetime
    accounts: tuple[AccountView, ...]


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    unit: str
    kind: str
    amount: int
    balance_after: int
    grant_id: str | None
    event_id: str | None
    key: str | None
    actor: str | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class LedgerReport:
    workspace_id: str
    billing_model: str
    entries: tuple[LedgerEntry, ...]


@dataclass(frozen=True)
class CreditChange:
    workspace_id: str
    unit: str
    action: str  # grant | void | adjust
    key: str
    changed: bool  # False: the key was applied before; nothing changed
    balance: int
    grant_id: str | None
    actor: str
    billing_model: str
    note: str | None = None


@dataclass(frozen=True)
class AllocationRow:
    workspace_id: str
    unit: str
    period_start: datetime
    period_end: datetime
    allocation: int
    outcome: str  # granted | already | none
    paid_overage: int
    expired: int
    balance: int


@dataclass(frozen=True)
class AllocateReport:
    billing_model: str
    at: datetime
    rows: tuple[AllocationRow, ...]


@dataclass(frozen=True)
class Mismatch:
    workspace_id: str
    unit: str
    what: str
    expected: int
    found: int


@dataclass(frozen=True)
class VerifyReport:
    billing_model: str
    accounts: int
    mismatches: tuple[Mismatch, ...] = field(default=())


def credit_features(catalog: oc.OperatorCatalog) -> dict[str, oc.OperatorFeature]:
    return {k: f for k, f in catalog.features.items() if f.kind == "credit"}


def available_now(conn: Connection, workspace_id: str, unit: str, now: datetime) -> int:
    """What a check may spend now: the remaining of the grants usable now, minus the overage
    (two index-backed reads; 0 on a database without credit tables)."""
    if not q.has_tables(conn):
        return 0
    pair = (workspace_id, unit)
    accounts = q.read_accounts(conn, workspace_id, unit)
    overage = int(accounts[0]["overage"]) if accounts else 0
    usable = sum(int(r["remaining"]) for r in q.grants(conn, [pair]) if to_grant(r).usable_at(now))
    return usable - overage


def parse_moment(text: str, option: str) -> datetime:
    """YYYY-MM-DD (its midnight UTC) or an ISO 8601 time (UTC when no offset).

    Raises: BadInput."""
    raw = text.strip()
    try:
        return datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{option}: {text!r} is not a date; use YYYY-MM-DD or an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class CreditService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    # --- reads -----------------------------------------------------------------------------

    def balance(self, workspace: str | None, unit: str | None = None) -> BalanceReport:
        """Balance, overage and grants of each unit (or of `unit`). Raises: NotFound."""
        now = self._clock()
        with self._db.connect() as conn:
            billing, ws, units = self._read(conn, workspace, unit)
            tables = q.has_tables(conn)
            accounts = {r["unit"]: r for r in q.read_accounts(conn, ws.id, unit)} if tables else {}
            rows = q.grants(conn, [], open_only=False, workspace_id=ws.id) if tables else []
        views = []
        for key in [unit] if unit else sorted(set(units) | set(accounts)):
            grants = [_grant_view(r, now) for r in rows if r["unit"] == key]
            account = accounts.get(key)
            balance = int(account["balance"]) if account else 0
            overage = int(account["overage"]) if account else 0
            usable = sum(g.remaining for g in grants if g.usable)
            feature = units.get(key)
            views.append(
                AccountView(
                    key, balance, overage, usable - overage, bool(feature and feature.block_overage), tuple(grants)
                )
            )
        return BalanceReport(ws.id, billing.model, now, tuple(views))

    def ledger(self, workspace: str | None, unit: str | None = None, since: str | None = None) -> LedgerReport:
        """Every entry, newest first. Raises: NotFound, BadInput (a malformed --since)."""
        start = parse_moment(since, "--since") if since else None
        with self._db.connect() as conn:
            billing, ws, _units = self._read(conn, workspace, unit)
            rows = q.entries(conn, ws.id, unit, start) if q.has_tables(conn) else []
        entries = tuple(
            LedgerEntry(
                int(r["id"]), r["unit"], r["kind"], int(r["amount"]), int(r["balance_after"]), r["grant_id"],
                r["event_id"], r["key"], r["actor"], r["reason"], r["created_at"],
            )
            for r in rows
        )  # fmt: skip
        return LedgerReport(ws.id, billing.model, entries)

    def verify(self, workspace: str | None, *, every: bool = False) -> VerifyReport:
        """The ledger's sums against each account's balance and overage and each grant's remaining.
        Raises: NotFound, NotConfigured (no credit tables)."""
        from atlas_cli.services.credit_audit import mismatches

        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            if not q.has_tables(conn):
                raise NotConfigured("this database has no credit tables yet: run `atlas db upgrade`")
            ids = None if every else [resolve(conn, workspace, billing.layout).id]
            found, accounts = mismatches(conn, ids)
        return VerifyReport(billing.model, accounts, tuple(found))

    # --- changes ---------------------------------------------------------------------------

    def grant(
        self,
        workspace: str | None,
        unit: str,
        amount: int,
        *,
        key: str,
        actor: str | None,
        priority: int = DEFAULT_PRIORITY,
        expires: str | None = None,
        reason: str | None = None,
    ) -> CreditChange:
        """Grant `amount` credits (it pays any overage first), optionally expiring. Raises: NotFound,
        BadInput, PermissionDenied, Conflict (the key was used with other values), NotConfigured."""
        if amount < 1:
            raise BadInput(f"AMOUNT must be 1 or more, not {amount}")
        now = self._clock()
        ends = parse_moment(expires, "--expires") if expires else None
        if ends is not None and ends <= now:
            raise BadInput(f"--expires: {expires!r} is not in the future; nothing changed")
        request = {"amount": amount, "priority": priority, "expires": _iso(ends), "reason": reason}
        with self._db.begin() as conn:
            ctx = self._writable(conn, workspace, unit, actor, key, "grant", request, now)
            if isinstance(ctx, CreditChange):
                return ctx
            book, stamp = ctx.book, Stamp(key, ctx.actor, reason)
            grant_id = book.add(
                ctx.pair, amount, source="grant", kind="grant", stamp=stamp, priority=priority, expires_at=ends
            )
            return ctx.finish(grant_id, {"grant": grant_id, **request})

    def void(self, workspace: str | None, grant_id: str, *, key: str, actor: str | None) -> CreditChange:
        """Void a grant: only its remaining goes. Raises: as `grant`; NotFound: unknown grant;
        Conflict: a grant already closed."""
        now = self._clock()
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            ws = resolve(conn, workspace, billing.layout)
            found = q.grant(conn, ws.id, grant_id) if q.has_tables(conn) else None
        if found is None:
            raise NotFound(f"no grant {grant_id!r} in workspace {ws.id!r} (`atlas credits balance` lists them)")
        with self._db.begin() as conn:
            ctx = self._writable(conn, ws.id, found["unit"], actor, key, "void", {"grant": grant_id}, now)
            if isinstance(ctx, CreditChange):
                return ctx
            row = next((r for r in ctx.book.open_grants(ctx.pair) if r["id"] == grant_id), None)
            if row is None or row["closed_at"] is not None:
                raise Conflict(f"grant {grant_id!r} is already closed (used up, voided or expired); nothing changed")
            removed = ctx.book.close(ctx.pair, grant_id, "voided", Stamp(key, ctx.actor, None))
            return ctx.finish(grant_id, {"grant": grant_id, "removed": removed})

    def adjust(
        self, workspace: str | None, unit: str, amount: int, *, key: str, actor: str | None, reason: str | None = None
    ) -> CreditChange:
        """Add (a grant of its own, paying overage first) or take (in burn order, the shortfall
        as overage) credits. Raises: as `grant`."""
        if amount == 0:
            raise BadInput("AMOUNT must not be 0: +N adds credits, -N takes them")
        now = self._clock()
        with self._db.begin() as conn:
            ctx = self._writable(conn, workspace, unit, actor, key, "adjust", {"amount": amount, "reason": reason}, now)
            if isinstance(ctx, CreditChange):
                return ctx
            stamp = Stamp(key, ctx.actor, reason)
            grant_id = None
            if amount > 0:
                grant_id = ctx.book.add(ctx.pair, amount, source="adjust", kind="adjust", stamp=stamp)
            else:
                ctx.book.debit(ctx.pair, -amount, now, kind="adjust", stamp=stamp)
            return ctx.finish(grant_id, {"amount": amount, "reason": reason})

    def allocate(
        self, workspace: str | None, *, every: bool, actor: str | None, at: str | None = None
    ) -> AllocateReport:
        """Grant each plan's allocation for the period holding `at` (default now), once per
        workspace, unit and period; expire what has expired first. Raises: NotFound, BadInput,
        PermissionDenied, NotConfigured."""
        from atlas_cli.services.credit_allocation import allocate

        moment = parse_moment(at, "--at") if at else self._clock()
        return allocate(self._db, workspace, every=every, actor=actor, at=moment, now=self._clock())

    # --- helpers ---------------------------------------------------------------------------

    def _read(
        self, conn: Connection, workspace: str | None, unit: str | None
    ) -> tuple[Billing, Workspace, dict[str, oc.OperatorFeature]]:
        from atlas_cli.services.catalogs import in_force

        billing = self._db.billing(conn)
        ws = resolve(conn, workspace, billing.layout)
        units = credit_features(in_force(conn, billing).catalog)
        if unit is not None and unit not in units:
            raise NotFound(_no_unit(unit, units))
        return billing, ws, units

    def _writable(
        self,
        conn: Connection,
        workspace: str | None,
        unit: str,
        actor: str | None,
        key: str,
        action: str,
        request: dict[str, Any],
        now: datetime,
    ) -> _Change | CreditChange:
        from atlas_cli.db import billing_queries as bq
        from atlas_cli.services.admin import authorize, find_actor
        from atlas_cli.services.catalogs import in_force

        if not key.strip():
            raise BadInput("--key must not be blank: it makes the change safe to retry")
        billing = self._db.billing(conn)
        ws = resolve(conn, workspace, billing.layout)
        if not q.has_tables(conn):
            raise NotConfigured("this database has no credit tables yet: run `atlas db upgrade`; nothing changed")
        who = find_actor(conn, actor)
        authorize(conn, who, ws, billing.catalog.policy)
        bq.lock_organization(conn, billing.layout.organization, ws.id)
        if ws.status == "deleted":
            raise Conflict(f"workspace {ws.id!r} is deleted; nothing changed")
        units = credit_features(in_force(conn, billing).catalog)
        if unit not in units:
            raise NotFound(_no_unit(unit, units))
        book = Book(conn, [(ws.id, unit)], now)
        claim = {"workspace_id": ws.id, "key": key, "unit": unit, "command": action, "request": request}
        if not q.claim_request(conn, claim | {"actor": who.label, "created_at": now}):
            earlier = q.request(conn, ws.id, key)
            assert earlier is not None
            if earlier["command"] != action or earlier["unit"] != unit or earlier["request"] != request:
                raise Conflict(
                    f"--key {key!r} was used on {_iso(earlier['created_at'])} for another change "
                    f"({earlier['command']} {earlier['unit']}); nothing changed"
                )
            note = f"--key {key!r} was applied on {_iso(earlier['created_at'])}; nothing changed"
            return CreditChange(
                ws.id, unit, action, key, False, book.balance((ws.id, unit)), request.get("grant"), who.label,
                billing.model, note,
            )  # fmt: skip
        return _Change(conn, billing, ws, unit, action, key, who.label, book, now, book.balance((ws.id, unit)))


@dataclass
class _Change:
    conn: Connection
    billing: Billing
    ws: Workspace
    unit: str
    action: str
    key: str
    actor: str
    book: Book
    now: datetime
    before: int

    @property
    def pair(self) -> tuple[str, str]:
        return (self.ws.id, self.unit)

    def finish(self, grant_id: str | None, after: dict[str, Any]) -> CreditChange:
        """Writes the book and the audit row (same transaction)."""
        from atlas_cli.db import billing_queries as bq
        from atlas_cli.services.admin import audit_row

        before = {"unit": self.unit, "balance": self.before}
        self.book.save()
        balance = self.book.balance(self.pair)
        after = {"unit": self.unit, "balance": balance, "key": self.key, **after}
        bq.insert_audit(
            self.conn, [audit_row(self.ws.id, self.actor, f"credits.{self.action}", before, after, self.now)]
        )
        return CreditChange(
            self.ws.id, self.unit, self.action, self.key, True, balance, grant_id, self.actor, self.billing.model
        )


def _grant_view(row: Any, now: datetime) -> GrantView:
    grant = to_grant(row)
    usable = row["closed_at"] is None and grant.usable_at(now)
    return GrantView(
        row["id"], row["unit"], grant.amount, grant.remaining, grant.priority, grant.effective_at, grant.expires_at,
        row["source"], row["created_at"], usable,
    )  # fmt: skip


def _no_unit(unit: str, units: Sequence[str] | dict[str, Any]) -> str:
    known = ", ".join(sorted(units)) or 'none: add a feature of kind "credit" with `atlas plans push`'
    return f"no credit feature {unit!r} in the operator catalog (credit features: {known})"


def _iso(moment: datetime | None) -> str | None:
    from atlas_cli.domain.periods import iso_millis

    return iso_millis(moment) if moment is not None else None
