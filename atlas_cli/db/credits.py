"""SQL of credits (DESIGN 4c, Credits): accounts, grants, the ledger and idempotency keys.

Every change to one workspace's unit happens holding its account row (`locked_accounts`): on
PostgreSQL a row lock per (workspace, unit), taken in key order so two writers never deadlock; on
SQLite the writer lock that `BEGIN IMMEDIATE` already holds. Statements are set-based: one per table
whatever the number of accounts, grants or entries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from atlas_cli.db import dialect
from atlas_cli.db.schema import credit_accounts, credit_grants, credit_ledger, credit_requests

Pair = tuple[str, str]  # (workspace_id, unit)


def has_tables(conn: Connection) -> bool:
    """Whether the credit tables exist (a database not yet upgraded has none)."""
    return sa.inspect(conn).has_table(credit_ledger.name)


def locked_accounts(
    conn: Connection, pairs: Iterable[Pair], now: datetime, locked: Mapping[Pair, dict[str, Any]] | None = None
) -> dict[Pair, dict[str, Any]]:
    """The accounts of `pairs`, created (balance 0) where missing, and locked until the transaction
    ends: every change to a workspace's unit holds its account row (SELECT ... FOR UPDATE, in key
    order, so two writers never deadlock). On SQLite, BEGIN IMMEDIATE already holds the one writer
    lock. `locked`: accounts this transaction already holds (read by their locking statement), not
    read again; without any other pair, no statement at all."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    held = {pair: dict(locked[pair]) for pair in wanted if locked and pair in locked}
    if len(held) == len(wanted):
        return held
    found = _accounts(conn, wanted, lock=True)
    missing = [{"workspace_id": w, "unit": u, "updated_at": now} for w, u in wanted if (w, u) not in found]
    if missing:
        conn.execute(dialect.insert_for(conn, credit_accounts).on_conflict_do_nothing(), missing)
        found = _accounts(conn, wanted, lock=True)
    return found


def _accounts(conn: Connection, wanted: Sequence[Pair], *, lock: bool = False) -> dict[Pair, dict[str, Any]]:
    """By workspace IN and unit IN (simple lists, compiled once), then exactly `wanted`."""
    a = credit_accounts.c
    keep = set(wanted)
    query = (
        sa.select(credit_accounts)
        .where(a.workspace_id.in_(sorted({w for w, _u in keep})), a.unit.in_(sorted({u for _w, u in keep})))
        .order_by(a.workspace_id, a.unit)
    )
    if lock:
        query = query.with_for_update()
    rows = conn.execute(query).mappings()
    return {(r["workspace_id"], r["unit"]): dict(r) for r in rows if (r["workspace_id"], r["unit"]) in keep}


def read_accounts(conn: Connection, workspace_id: str | None, unit: str | None = None) -> Sequence[RowMapping]:
    """Accounts, without creating any (a read)."""
    a = credit_accounts.c
    query = sa.select(credit_accounts).order_by(a.workspace_id, a.unit)
    if workspace_id is not None:
        query = query.where(a.workspace_id == workspace_id)
    if unit is not None:
        query = query.where(a.unit == unit)
    return conn.execute(query).mappings().all()


def grants(
    conn: Connection, pairs: Iterable[Pair], *, open_only: bool = True, workspace_id: str | None = None
) -> Sequence[RowMapping]:
    """The grants of `pairs` (open ones: remaining above zero and not closed), oldest first."""
    g = credit_grants.c
    query = sa.select(credit_grants).order_by(g.workspace_id, g.unit, g.created_at, g.id)
    keep = set(pairs)
    if keep:
        query = query.where(
            g.workspace_id.in_(sorted({w for w, _u in keep})), g.unit.in_(sorted({u for _w, u in keep}))
        )
    elif workspace_id is not None:
        query = query.where(g.workspace_id == workspace_id)
    if open_only:
        query = query.where(g.remaining > 0, g.closed_at.is_(None))
    rows = conn.execute(query).mappings().all()
    return [r for r in rows if (r["workspace_id"], r["unit"]) in keep] if keep else rows


def grant(conn: Connection, workspace_id: str, grant_id: str) -> RowMapping | None:
    g = credit_grants.c
    query = sa.select(credit_grants).where(g.workspace_id == workspace_id, g.id == grant_id)
    return conn.execute(query).mappings().first()


def expired_pairs(conn: Connection, workspace_ids: Sequence[str] | None, now: datetime) -> list[Pair]:
    """(workspace, unit) of every open grant whose expiry has passed at `now`."""
    g = credit_grants.c
    query = (
        sa.select(g.workspace_id, g.unit).where(g.remaining > 0, g.closed_at.is_(None), g.expires_at <= now).distinct()
    )
    if workspace_ids is not None:
        query = query.where(g.workspace_id.in_(list(workspace_ids)))
    return [(w, u) for w, u in conn.execute(query).all()]


def insert_grants(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(credit_grants), list(rows))


def update_grants(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Each row: workspace_id, id, remaining, closed_at, closed_as (one executemany)."""
    _update_many(conn, credit_grants, ("workspace_id", "id"), ("remaining", "closed_at", "closed_as"), rows)


def insert_entries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(credit_ledger), list(rows))


def update_accounts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Each row: workspace_id, unit, balance, overage, last_entry, updated_at (one executemany)."""
    _update_many(
        conn, credit_accounts, ("workspace_id", "unit"), ("balance", "overage", "last_entry", "updated_at"), rows
    )


def _update_many(
    conn: Connection, table: sa.Table, keys: Sequence[str], columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """One executemany UPDATE of `columns` on the rows matched by `keys` (bound as `k_<key>`, since
    SQLAlchemy reserves a column's own name for its SET value)."""
    if not rows:
        return
    stmt = (
        sa.update(table)
        .where(*(table.c[k] == sa.bindparam(f"k_{k}") for k in keys))
        .values({c: sa.bindparam(c) for c in columns})
    )
    conn.execute(stmt, [{**{f"k_{k}": r[k] for k in keys}, **{c: r[c] for c in columns}} for r in rows])


def entries(
    conn: Connection, workspace_id: str, unit: str | None, since: datetime | None, limit: int | None = None
) -> Sequence[RowMapping]:
    """Ledger entries of a workspace, newest first."""
    e = credit_ledger.c
    query = sa.select(credit_ledger).where(e.workspace_id == workspace_id)
    if unit is not None:
        query = query.where(e.unit == unit)
    if since is not None:
        query = query.where(e.created_at >= since)
    query = query.order_by(e.created_at.desc(), e.unit, e.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return conn.execute(query).mappings().all()


def request(conn: Connection, workspace_id: str, key: str) -> RowMapping | None:
    r = credit_requests.c
    query = sa.select(credit_requests).where(r.workspace_id == workspace_id, r.key == key)
    return conn.execute(query).mappings().first()


def claim_request(conn: Connection, row: dict[str, Any]) -> bool:
    """Record an idempotency key; False when the workspace already has it (race-safe)."""
    stmt = dialect.insert_for(conn, credit_requests).values(**row).on_conflict_do_nothing()
    return conn.execute(stmt.returning(credit_requests.c.key)).first() is not None


def ledger_sums(conn: Connection, workspace_ids: Sequence[str] | None) -> dict[tuple[str, str, str | None], int]:
    """Sum of the ledger per (workspace, unit, grant id; None: overage entries)."""
    e = credit_ledger.c
    query = sa.select(e.workspace_id, e.unit, e.grant_id, sa.func.sum(e.amount)).group_by(
        e.workspace_id, e.unit, e.grant_id
    )
    if workspace_ids is not None:
        query = query.where(e.workspace_id.in_(list(workspace_ids)))
    return {(w, u, g): int(total) for w, u, g, total in conn.execute(query).all()}


def last_entries(conn: Connection, workspace_ids: Sequence[str] | None) -> dict[Pair, tuple[int, int]]:
    """Per (workspace, unit): the highest entry id and the balance after it."""
    e = credit_ledger.c
    top = sa.select(e.workspace_id, e.unit, sa.func.max(e.id).label("top")).group_by(e.workspace_id, e.unit)
    if workspace_ids is not None:
        top = top.where(e.workspace_id.in_(list(workspace_ids)))
    t = top.subquery()
    query = sa.select(e.workspace_id, e.unit, e.id, e.balance_after).join(
        t, sa.and_(e.workspace_id == t.c.workspace_id, e.unit == t.c.unit, e.id == t.c.top)
    )
    return {(w, u): (int(i), int(b)) for w, u, i, b in conn.execute(query).all()}


def workspaces_with_credits(conn: Connection) -> list[str]:
    a = credit_accounts.c
    return [w for (w,) in conn.execute(sa.select(a.workspace_id).distinct().order_by(a.workspace_id)).all()]


def tiers(conn: Connection, workspace_ids: Sequence[str]) -> dict[str, str]:
    """The plan tier of each workspace (either billing model's organization table: both have these)."""
    org = sa.table("organization", sa.column("id", sa.Text), sa.column("plan_tier", sa.Text))
    found: dict[str, str] = {}
    ids = sorted(set(workspace_ids))
    for start in range(0, len(ids), 500):
        query = sa.select(org.c.id, org.c.plan_tier).where(org.c.id.in_(ids[start : start + 500]))
        found.update({w: t for w, t in conn.execute(query).all()})
    return found


def overrides(conn: Connection, workspace_ids: Sequence[str], units: Sequence[str], now: datetime) -> dict[Pair, Any]:
    """The value of the override in force at `now` of each (workspace, credit unit) that has one
    (the overrides table must exist: `entitlements.has_tables`)."""
    from atlas_cli.db.schema import entitlement_overrides as eo

    o = eo.c
    query = (
        sa.select(o.workspace_id, o.feature, o.value)
        .where(
            o.workspace_id.in_(sorted(set(workspace_ids))),
            o.feature.in_(list(units)),
            o.created_at <= now,
            sa.or_(o.until.is_(None), o.until > now),
            sa.or_(o.ended_at.is_(None), o.ended_at > now),
        )
        .order_by(o.workspace_id, o.feature, o.created_at.desc(), o.id)
    )
    found: dict[Pair, Any] = {}
    for ws, feature, value in conn.execute(query).all():
        found.setdefault((ws, feature), value)
    return found


_SAVE_POSTGRESQL = """
WITH g AS (
    UPDATE atlas_credit_grants AS t
    SET remaining = v.remaining, closed_at = v.closed_at, closed_as = v.closed_as
    FROM jsonb_to_recordset(%(grants)s::jsonb)
         AS v(workspace_id text, id text, remaining bigint, closed_at timestamptz, closed_as text)
    WHERE t.workspace_id = v.workspace_id AND t.id = v.id
    RETURNING 1
), a AS (
    UPDATE atlas_credit_accounts AS t
    SET balance = v.balance, overage = v.overage, last_entry = v.last_entry, updated_at = v.updated_at
    FROM jsonb_to_recordset(%(accounts)s::jsonb)
         AS v(workspace_id text, unit text, balance bigint, overage bigint, last_entry bigint, updated_at timestamptz)
    WHERE t.workspace_id = v.workspace_id AND t.unit = v.unit
    RETURNING 1
)
INSERT INTO atlas_credit_ledger
    (workspace_id, unit, id, kind, amount, balance_after, grant_id, event_id, key, actor, reason, created_at)
SELECT workspace_id, unit, id, kind, amount, balance_after, grant_id, event_id, key, actor, reason, created_at
FROM jsonb_to_recordset(%(entries)s::jsonb)
     AS v(workspace_id text, unit text, id bigint, kind text, amount bigint, balance_after bigint, grant_id text,
          event_id text, key text, actor text, reason text, created_at timestamptz)
"""
_SAVED = {
    "grants": ("workspace_id", "id", "remaining", "closed_at", "closed_as"),
    "accounts": ("workspace_id", "unit", "balance", "overage", "last_entry", "updated_at"),
    "entries": (
        "workspace_id", "unit", "id", "kind", "amount", "balance_after", "grant_id", "event_id", "key", "actor",
        "reason", "created_at",
    ),
}  # fmt: skip


def save(
    conn: Connection,
    grants_changed: Sequence[dict[str, Any]],
    entries_new: Sequence[dict[str, Any]],
    accounts_changed: Sequence[dict[str, Any]],
) -> None:
    """Writes changed grants, new ledger entries and changed accounts: on PostgreSQL in ONE
    statement (data-modifying CTEs over JSON documents, which the driver passes as one string
    each), elsewhere one executemany per table."""
    if conn.dialect.name != "postgresql":
        update_grants(conn, grants_changed)
        insert_entries(conn, entries_new)
        update_accounts(conn, accounts_changed)
        return
    given = {"grants": grants_changed, "accounts": accounts_changed, "entries": entries_new}
    params = {name: json.dumps(_only(rows, _SAVED[name]), default=_iso) for name, rows in given.items()}
    conn.exec_driver_sql(_SAVE_POSTGRESQL, params)


def _only(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Sequence[dict[str, Any]]:
    """`rows` with only `columns` (as they are when they hold nothing else, as ledger entries do)."""
    wanted = set(columns)
    if all(r.keys() == wanted for r in rows):
        return rows
    return [{c: r[c] for c in columns} for r in rows]


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# --- charges reported by the insert's own statement (PostgreSQL) ------------------------------

Sum = tuple[datetime, int, int, str | None]  # (first event's time, cost, events, the event's id when one)
Charge = tuple[datetime, str, int]  # (event time, event id, cost)


@dataclass
class Charges:
    """What the statement inserting a batch of events reports for deduction on PostgreSQL, in the
    same round trip: each inserted event is costed by the database (`prices`: event type, unit,
    credits, per), the accounts of every (workspace, unit) charged are locked in key order, and

    - where an account's row is the same in the statement's snapshot as the locked (latest) one, no
      change to its grants committed since the snapshot (every change to a grant writes a ledger
      entry, so moves the account's `last_entry`): its open `grants` are current; and when no
      grant's effective or expiry instant falls between its first and last event, the same grants
      are usable for every event, so its costs come back summed (`sums`);
    - elsewhere (a new account, one changed while the statement waited for its lock, a grant
      starting or ending among the events) each event's cost comes back (`events`), for a Book that
      reads the grants after the lock where they are not `grants`.
    """

    prices: Sequence[tuple[str, str, int, int]]
    reported: bool = False
    count: int = 0  # rows inserted
    accounts: dict[Pair, dict[str, Any]] = field(default_factory=dict)
    grants: dict[Pair, list[dict[str, Any]]] = field(default_factory=dict)
    sums: dict[Pair, Sum] = field(default_factory=dict)
    events: dict[Pair, list[Charge]] = field(default_factory=dict)

    def run(self, conn: Connection, move: str) -> int:
        """Execute `move` (an INSERT ... SELECT into usage_events) reporting the charges; rows inserted."""
        params = {
            "types": [p[0] for p in self.prices],
            "units": [p[1] for p in self.prices],
            "credits": [p[2] for p in self.prices],
            "per": [p[3] for p in self.prices],
        }
        statement = _CHARGES.format(move=move)
        for part, ws, unit, id_, b1, b2, b3, b4, t1, t2, t3 in conn.exec_driver_sql(statement, params):
            pair = (ws, unit)
            if part == 0:
                self.count = int(b1)
            elif part == 1:
                self.accounts[pair] = {
                    "workspace_id": ws,
                    "unit": unit,
                    "balance": int(b1),
                    "overage": int(b2),
                    "last_entry": int(b3),
                    "updated_at": t1,
                }
                if b4:
                    self.grants.setdefault(pair, [])
            elif part == 2:
                self.grants[pair].append(
                    {
                        "workspace_id": ws,
                        "unit": unit,
                        "id": id_,
                        "amount": int(b1),
                        "remaining": int(b2),
                        "priority": int(b3),
                        "effective_at": t1,
                        "expires_at": t2,
                        "created_at": t3,
                        "closed_at": None,
                        "closed_as": None,
                    }
                )
            elif part == 3:
                self.sums[pair] = (t1, int(b1), int(b2), id_)
            else:
                self.events.setdefault(pair, []).append((t1, id_, int(b1)))
        self.reported = True
        return self.count


# part 0: rows inserted; 1: the accounts locked (b4: unchanged since the snapshot); 2: their open
# grants; 3: a pair's summed charges; 4: one event's charge. Rows of parts 1-2 come before 3-4.
_CHARGES = """
WITH ins AS ({move} RETURNING id, workspace_id, event_type, quantity, created_at),
price AS (  -- small: integer arithmetic cannot overflow (a quantity is a 32-bit integer)
    SELECT p.*, p.credits <= 2147483647 AND p.per <= 2147483647 AS small,
           CASE WHEN p.credits <= 2147483647 AND p.per <= 2147483647 THEN p.credits::bigint END AS c,
           CASE WHEN p.credits <= 2147483647 AND p.per <= 2147483647 THEN p.per::bigint END AS d
    FROM unnest(%(types)s::text[], %(units)s::text[], %(credits)s::numeric[], %(per)s::numeric[])
        AS p(event_type, unit, credits, per)
), charge AS (  -- ceil(quantity x credits / per)
    SELECT i.workspace_id, p.unit, i.id::text AS id, i.created_at,
           CASE WHEN p.small THEN (i.quantity * p.c + p.d - 1) / p.d
                ELSE div(i.quantity * p.credits + p.per - 1, p.per)::bigint END AS cost
    FROM ins AS i JOIN price AS p ON p.event_type = i.event_type
    WHERE i.quantity > 0 AND p.credits > 0
), agg AS (
    SELECT workspace_id, unit, min(created_at) AS first, max(created_at) AS last, sum(cost)::bigint AS cost,
           count(*) AS events, min(id) AS id
    FROM charge GROUP BY workspace_id, unit
), lk AS (
    SELECT a.workspace_id, a.unit, a.balance, a.overage, a.last_entry, a.updated_at
    FROM atlas_credit_accounts AS a
    WHERE (a.workspace_id, a.unit) IN (SELECT workspace_id, unit FROM agg)
    ORDER BY a.workspace_id, a.unit FOR UPDATE
), acc AS (
    SELECT lk.*, (s.last_entry = lk.last_entry) AS same
    FROM lk JOIN atlas_credit_accounts AS s ON s.workspace_id = lk.workspace_id AND s.unit = lk.unit
), g AS (
    SELECT g.workspace_id, g.unit, g.id, g.amount, g.remaining, g.priority, g.effective_at, g.expires_at,
           g.created_at
    FROM atlas_credit_grants AS g JOIN acc ON g.workspace_id = acc.workspace_id AND g.unit = acc.unit
    WHERE acc.same AND g.remaining > 0 AND g.closed_at IS NULL
), each AS (
    SELECT agg.workspace_id, agg.unit FROM agg
    WHERE NOT EXISTS (
        SELECT FROM acc WHERE acc.workspace_id = agg.workspace_id AND acc.unit = agg.unit AND acc.same
    ) OR EXISTS (
        SELECT FROM g WHERE g.workspace_id = agg.workspace_id AND g.unit = agg.unit
            AND (g.effective_at > agg.first AND g.effective_at <= agg.last
                 OR g.expires_at > agg.first AND g.expires_at <= agg.last)
    )
)
SELECT 0 AS part, NULL::text AS workspace_id, NULL::text AS unit, NULL::text AS id, count(*)::bigint AS b1,
       NULL::bigint AS b2, NULL::bigint AS b3, NULL::bool AS b4, NULL::timestamptz AS t1,
       NULL::timestamptz AS t2, NULL::timestamptz AS t3
FROM ins
UNION ALL SELECT 1, workspace_id, unit, NULL, balance, overage, last_entry, same, updated_at, NULL, NULL FROM acc
UNION ALL
SELECT 2, workspace_id, unit, id, amount, remaining, priority, NULL, effective_at, expires_at, created_at FROM g
UNION ALL
SELECT 3, workspace_id, unit, CASE WHEN events = 1 THEN id END, cost, events, NULL, NULL, first, NULL, NULL FROM agg
WHERE NOT EXISTS (SELECT FROM each WHERE each.workspace_id = agg.workspace_id AND each.unit = agg.unit)
UNION ALL
SELECT 4, workspace_id, unit, id, cost, NULL, NULL, NULL, created_at, NULL, NULL FROM charge
WHERE EXISTS (SELECT FROM each WHERE each.workspace_id = charge.workspace_id AND each.unit = charge.unit)
"""
