"""The credit book: the accounts and open grants of some (workspace, unit) pairs, locked, and the
changes made to them, written in one statement per table (DESIGN 4c, Credits).

Every change is a ledger entry; the account's balance is the sum of its entries, each grant's
remaining the sum of the entries naming it, and the overage minus the sum of the entries naming no
grant. `credits verify` checks exactly these three sums.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from atlas_cli.db import credits as q
from atlas_cli.domain import credits as dc

DEFAULT_PRIORITY = 100
Pair = tuple[str, str]


def to_grant(row: Any) -> dc.Grant:
    return dc.Grant(
        row["id"],
        int(row["amount"]),
        int(row["remaining"]),
        int(row["priority"]),
        row["effective_at"],
        row["expires_at"],
        row["created_at"],
    )


@dataclass(frozen=True)
class Stamp:
    """Who and why, on each entry of one change."""

    key: str | None = None
    actor: str | None = None
    reason: str | None = None


class Book:
    """Locks the accounts of `pairs` (in order: never a deadlock), reads them and their open grants; `save`
    writes what changed. Call inside the transaction that makes the change."""

    def __init__(
        self,
        conn: Connection,
        pairs: Iterable[Pair],
        now: datetime,
        locked: Mapping[Pair, dict[str, Any]] | None = None,
        current: Mapping[Pair, Sequence[dict[str, Any]]] | None = None,
    ) -> None:
        """`locked`: accounts this transaction already holds; `current`: the open grants of pairs
        read after their account's lock was taken (or known unchanged since), not read again."""
        wanted = sorted(set(pairs))
        self.conn, self.now = conn, now
        self.accounts = q.locked_accounts(conn, wanted, now, locked)
        known = current or {}
        self.grants: dict[Pair, list[dict[str, Any]]] = {
            pair: [dict(r) for r in known.get(pair, ())] for pair in wanted
        }
        unread = [pair for pair in wanted if pair not in known]
        for row in q.grants(conn, unread) if unread else ():
            self.grants[(row["workspace_id"], row["unit"])].append(dict(row))
        self._entries: list[dict[str, Any]] = []
        self._new: list[dict[str, Any]] = []
        self._changed: dict[tuple[str, str], dict[str, Any]] = {}

    # --- changes ---------------------------------------------------------------------------

    def debit(
        self,
        pair: Pair,
        cost: int,
        at: datetime,
        *,
        event_id: str | None = None,
        kind: str = "debit",
        stamp: Stamp = Stamp(),
    ) -> None:
        """Take `cost` from the grants usable at `at` (the event's time), in burn order; what they
        cannot cover is overage."""
        if cost <= 0:
            return
        rows = {row["id"]: row for row in self.grants[pair]}
        result = dc.deduct([to_grant(r) for r in rows.values() if r["remaining"] > 0], cost, at)
        for draw in result.draws:
            if draw.grant_id is None:
                self.accounts[pair]["overage"] += draw.amount
            else:
                row = rows[draw.grant_id]
                row["remaining"] -= draw.amount
                self._touch(row)
            self._entry(pair, kind, -draw.amount, draw.grant_id, event_id, stamp)

    def debit_events(self, pair: Pair, charges: Sequence[tuple[datetime, str, int]]) -> None:
        """Deduct a batch of events' costs, (event time, event id, cost) in event-time order: each
        from the grants usable at its own time, in burn order (see `debit_runs`)."""
        event_id = charges[0][1] if len(charges) == 1 else None
        self.debit_runs(pair, _by_interval(self._burn_order(pair), charges), len(charges), event_id)

    def debit_runs(self, pair: Pair, runs: Sequence[tuple[datetime, int]], events: int, event_id: str | None) -> None:
        """Deduct `events` events' costs given as runs, (first event's time, summed cost) in time
        order, each run within one interval between the grants' effective and expiry instants;
        then one `debit` entry per grant drawn on and one for the overage (`event_id` on them when
        the batch is one event)."""
        order = self._burn_order(pair)
        rows = {row["id"]: row for row in self.grants[pair]}
        left = [int(rows[g.id]["remaining"]) for g in order]
        drawn: dict[str | None, int] = {}
        for at, cost in runs:
            for index, grant in enumerate(order):
                if cost <= 0:
                    break
                if left[index] and grant.usable_at(at):
                    take = min(left[index], cost)
                    left[index] -= take
                    cost -= take
                    drawn[grant.id] = drawn.get(grant.id, 0) + take
            if cost > 0:
                drawn[None] = drawn.get(None, 0) + cost
        stamp = Stamp(reason=None if event_id else f"{events} events")
        for grant_id, amount in drawn.items():
            if grant_id is None:
                self.accounts[pair]["overage"] += amount
            else:
                rows[grant_id]["remaining"] -= amount
                self._touch(rows[grant_id])
        for grant_id, amount in sorted(drawn.items(), key=lambda d: d[0] is None):
            self._entry(pair, "debit", -amount, grant_id, event_id, stamp)

    def _burn_order(self, pair: Pair) -> list[dc.Grant]:
        return dc.burn_order(to_grant(r) for r in self.grants[pair] if r["remaining"] > 0)

    def add(
        self,
        pair: Pair,
        amount: int,
        *,
        source: str,
        kind: str,
        stamp: Stamp,
        priority: int = DEFAULT_PRIORITY,
        effective_at: datetime | None = None,
        expires_at: datetime | None = None,
        period_start: datetime | None = None,
    ) -> str:
        """A new grant of `amount`; it pays the account's overage first and keeps the rest."""
        account = self.accounts[pair]
        split = dc.credit(amount, int(account["overage"]))
        grant_id = str(uuid.uuid4())
        row = {
            "workspace_id": pair[0],
            "id": grant_id,
            "unit": pair[1],
            "amount": amount,
            "remaining": split.kept,
            "priority": priority,
            "effective_at": effective_at or self.now,
            "expires_at": expires_at,
            "source": source,
            "key": stamp.key,
            "period_start": period_start,
            "created_at": self.now,
            "closed_at": None,
            "closed_as": None,
        }
        self._new.append(row)
        self.grants[pair].append(row)
        if split.pays_overage:
            account["overage"] -= split.pays_overage
            paid = Stamp(stamp.key, stamp.actor, f"pays overage from grant {grant_id}")
            self._entry(pair, kind, split.pays_overage, None, None, paid)
        if split.kept or not split.pays_overage:
            self._entry(pair, kind, split.kept, grant_id, None, stamp)
        return grant_id

    def close(self, pair: Pair, grant_id: str, how: str, stamp: Stamp) -> int:
        """Void or expire a grant: only its remaining goes (`how`: voided or expired)."""
        row = next(r for r in self.grants[pair] if r["id"] == grant_id)
        removed = dc.void(to_grant(row))
        row.update(remaining=0, closed_at=self.now, closed_as=how)
        self._touch(row)
        self._entry(pair, "void" if how == "voided" else "expire", -removed, grant_id, None, stamp)
        return removed

    def expire(self, pair: Pair, stamp: Stamp) -> int:
        """Close every grant of `pair` whose expiry has passed; the credits removed."""
        gone = [r["id"] for r in self.grants[pair] if r["closed_at"] is None and to_grant(r).expired_at(self.now)]
        return sum(self.close(pair, grant_id, "expired", stamp) for grant_id in gone)

    # --- reading ---------------------------------------------------------------------------

    def balance(self, pair: Pair) -> int:
        return int(self.accounts[pair]["balance"])

    def open_grants(self, pair: Pair) -> Sequence[dict[str, Any]]:
        return self.grants[pair]

    # --- writing ---------------------------------------------------------------------------

    def save(self) -> int:
        """Writes the new grants, the changed ones, the entries and the accounts; the entry count."""
        new_ids = {(r["workspace_id"], r["id"]) for r in self._new}
        q.insert_grants(self.conn, self._new)
        touched = {(e["workspace_id"], e["unit"]) for e in self._entries}
        q.save(
            self.conn,
            [r for k, r in self._changed.items() if k not in new_ids],
            self._entries,
            [self.accounts[p] | {"updated_at": self.now} for p in sorted(touched)],
        )
        written = len(self._entries)
        self._entries, self._new, self._changed = [], [], {}
        return written

    def _touch(self, row: dict[str, Any]) -> None:
        self._changed[(row["workspace_id"], row["id"])] = row

    def _entry(
        self, pair: Pair, kind: str, amount: int, grant_id: str | None, event_id: str | None, stamp: Stamp
    ) -> None:
        account = self.accounts[pair]
        account["balance"] += amount
        account["last_entry"] += 1
        self._entries.append(
            {
                "workspace_id": pair[0],
                "unit": pair[1],
                "id": account["last_entry"],
                "kind": kind,
                "amount": amount,
                "balance_after": account["balance"],
                "grant_id": grant_id,
                "event_id": event_id,
                "key": stamp.key,
                "actor": stamp.actor,
                "reason": stamp.reason,
                "created_at": self.now,
            }
        )


def _by_interval(order: Sequence[dc.Grant], charges: Sequence[tuple[datetime, str, int]]) -> list[tuple[datetime, int]]:
    """`charges` (in time order) summed over each run within one interval between the grants'
    effective and expiry instants: the same grants are usable throughout it, so drawing the sum in
    burn order draws exactly what drawing each cost in turn would."""
    edges = sorted({g.effective_at for g in order} | {g.expires_at for g in order if g.expires_at is not None})
    merged: list[tuple[datetime, int]] = []
    last = -1
    for at, _event, cost in charges:
        interval = bisect.bisect_right(edges, at)
        if interval == last:
            merged[-1] = (merged[-1][0], merged[-1][1] + cost)
        else:
            merged.append((at, cost))
            last = interval
    return merged
