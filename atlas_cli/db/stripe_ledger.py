"""Where `billing webhook` records the Stripe events it applied (DESIGN sections 3, 4a and 4b).

Classic databases: atlas's own `atlas_stripe_events`, keyed by (workspace_id, event_id), every
outcome recorded. Per-seat databases: the server's own `stripe_webhook_events`, so the server and
atlas never apply one event twice: an event already there is a duplicate, an older one for the
same subscription is stale, and an event is recorded only once handled, with the tier it applied,
under the server's advisory lock on the subscription. The layout hands out the right one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# The events whose order matters per subscription (the server's stripe-event-ledger.ts).
ORDERED_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
DELETED = "customer.subscription.deleted"
# pg_advisory_xact_lock(3445, hashtext(<subscription id>)): the server's withStripeSubscriptionLock.
LOCK_CLASS = 3445


@dataclass(frozen=True)
class LedgerEntry:
    workspace_id: str
    event_id: str
    event_type: str
    event_created: datetime
    subscription_id: str | None
    outcome: str  # applied | stale | superseded | override | unknown_price | ...
    tier: str | None  # the tier the event put the workspace on (written, or held back by an override)
    received_at: datetime


class AtlasLedger:
    """atlas_stripe_events: atlas's own ledger (classic databases)."""

    def lock(self, conn: Connection, subscription_id: str | None) -> None:
        """Nothing to serialise with: the server of a classic database keeps no ledger."""

    def seen(self, conn: Connection, workspace_id: str, event_id: str) -> str | None:
        """How the event was processed before, or None."""
        from atlas_cli.db import billing_queries as bq

        return bq.event_outcome(conn, workspace_id, event_id)

    def newer(
        self, conn: Connection, workspace_id: str, event_type: str, subscription_id: str, created: datetime
    ) -> datetime | None:
        """When the newest event applied to the subscription was created, if after `created`."""
        from atlas_cli.db import billing_queries as bq

        last = bq.last_applied(conn, workspace_id, subscription_id)
        return last if last is not None and created < last else None

    def record(self, conn: Connection, entry: LedgerEntry) -> None:
        from atlas_cli.db import billing_queries as bq

        bq.record_event(
            conn,
            {
                "workspace_id": entry.workspace_id,
                "event_id": entry.event_id,
                "event_type": entry.event_type,
                "subscription_id": entry.subscription_id,
                "event_created": entry.event_created,
                "received_at": entry.received_at,
                "outcome": entry.outcome,
            },
        )


class ServerLedger:
    """stripe_webhook_events: the per-seat server's own ledger, shared with it."""

    # Handled events; a stale one is skipped, and one with an unknown price is left for the server
    # (it refuses it, so Stripe retries; recording it here would hide it from the server).
    RECORDED = frozenset({"applied", "superseded", "override"})

    def lock(self, conn: Connection, subscription_id: str | None) -> None:
        """The server's transaction-scoped advisory lock on the subscription (PostgreSQL)."""
        if subscription_id and conn.dialect.name == "postgresql":
            import sqlalchemy as sa

            conn.execute(
                sa.text("SELECT pg_advisory_xact_lock(:cls, hashtext(:sub))"),
                {"cls": LOCK_CLASS, "sub": subscription_id},
            )

    def seen(self, conn: Connection, workspace_id: str, event_id: str) -> str | None:
        import sqlalchemy as sa

        from atlas_cli.db.per_seat_schema import stripe_webhook_events as events

        row = conn.execute(sa.select(events.c.applied_plan_tier).where(events.c.event_id == event_id)).first()
        if row is None:
            return None
        return f"recorded in stripe_webhook_events, tier {row[0]}" if row[0] else "recorded in stripe_webhook_events"

    def newer(
        self, conn: Connection, workspace_id: str, event_type: str, subscription_id: str, created: datetime
    ) -> datetime | None:
        """The creation time of a recorded event that makes this one stale: a newer one of the
        ordered events for the same subscription (or one as old that deleted it)."""
        import sqlalchemy as sa

        from atlas_cli.db.per_seat_schema import stripe_webhook_events as events

        if event_type not in ORDERED_EVENTS:
            return None
        e = events.c
        return conn.execute(
            sa.select(sa.func.max(e.event_created)).where(
                e.stripe_subscription_id == subscription_id,
                e.event_type.in_(ORDERED_EVENTS),
                sa.or_(e.event_created > created, sa.and_(e.event_created == created, e.event_type == DELETED)),
            )
        ).scalar_one_or_none()

    def record(self, conn: Connection, entry: LedgerEntry) -> None:
        """Record a handled event (the server's INSERT ... ON CONFLICT (event_id) DO NOTHING)."""
        if entry.outcome not in self.RECORDED:
            return
        from atlas_cli.db import dialect
        from atlas_cli.db.per_seat_schema import stripe_webhook_events as events

        stmt = dialect.insert_for(conn, events).values(
            event_id=entry.event_id,
            event_type=entry.event_type,
            event_created=entry.event_created,
            stripe_subscription_id=entry.subscription_id,
            applied_plan_tier=entry.tier,
            processed_at=entry.received_at,
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=[events.c.event_id]))


Ledger = AtlasLedger | ServerLedger
