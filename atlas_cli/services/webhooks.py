"""Apply a saved Stripe webhook event with the sync rules, at most once (DESIGN section 4).

The event's workspace is found first (by subscription id, customer, then metadata referenceId);
the layout's ledger (db/stripe_ledger.py: atlas's `atlas_stripe_events` on classic databases,
the server's own `stripe_webhook_events` on per-seat ones) says whether it was processed before
or is older than one already applied to the same subscription, and records it in the same
transaction as its changes, with ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from atlas_cli.config import Settings
from atlas_cli.db import billing_queries as bq
from atlas_cli.db.database import Database
from atlas_cli.db.stripe_ledger import LedgerEntry
from atlas_cli.domain.stripe_mapping import StripeSubscription
from atlas_cli.errors import BadInput, NotConfigured, NotFound
from atlas_cli.services import Clock
from atlas_cli.services.admin import WEBHOOK_ACTOR, jsonable
from atlas_cli.services.billing_ops import allowed_tiers
from atlas_cli.services.stripe_sync import Apply, price_map, reconcile
from atlas_cli.stripe_gateway import (
    DEFAULT_TOLERANCE,
    StripeEvent,
    StripeGateway,
    subscription_from,
    verify_event,
)

SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
CHECKOUT_COMPLETED = "checkout.session.completed"


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    outcome: str  # applied | duplicate | stale | ignored | unknown_price | not_live | ...
    workspace_id: str | None
    subscription_id: str | None
    why: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changed(self) -> bool:
        return self.before != self.after


class WebhookService:
    def __init__(self, db: Database, clock: Clock, settings: Settings, gateway: StripeGateway | None = None) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._stripe = gateway or StripeGateway(settings)

    def apply(
        self, payload: bytes, signature: str, *, dry_run: bool = False, tolerance: int = DEFAULT_TOLERANCE
    ) -> WebhookResult:
        """Verify the event's signature, then apply it once.

        Raises:
            NotConfigured: no STRIPE_WEBHOOK_SECRET (or no STRIPE_SECRET_KEY for a checkout event).
            BadInput: bad or stale signature, not an event. NotFound: no workspace matches.
            StripeFailure: Stripe refused to give the checkout's subscription.
            Conflict: the workspace has another Stripe customer than the event's (nothing recorded).
        """
        secret = self._settings.stripe_webhook_secret
        if secret is None or not secret.get_secret_value():
            raise NotConfigured(
                "STRIPE_WEBHOOK_SECRET is not set: atlas cannot verify Stripe events (use the "
                "signing secret of the Atlas server's webhook endpoint)"
            )
        event = verify_event(payload, signature, secret.get_secret_value(), now=self._clock(), tolerance=tolerance)
        found = self._subscription(event)
        if found is None:
            return WebhookResult(
                event.id, event.type, "ignored", None, None, f"{event.type} events do not change billing state", {}, {}
            )
        sub, reference = found
        with self._db.begin() as conn:
            return self._apply(conn, event, sub, reference, dry_run)

    def _subscription(self, event: StripeEvent) -> tuple[StripeSubscription, str | None] | None:
        obj = event.object
        if event.type in SUBSCRIPTION_EVENTS:
            sub = subscription_from(obj)
            return sub, sub.reference_id
        if event.type != CHECKOUT_COMPLETED or not obj.get("subscription"):
            return None
        sub_ref = obj["subscription"]
        sub_id = sub_ref.get("id") if isinstance(sub_ref, dict) else sub_ref
        metadata = obj.get("metadata")
        reference = obj.get("client_reference_id") or (
            metadata.get("referenceId") if isinstance(metadata, dict) else None
        )
        if not isinstance(sub_id, str) or not sub_id or not (reference is None or isinstance(reference, str)):
            raise BadInput(f"Stripe event {event.id}: the checkout session in it is malformed; nothing changed")
        sub = self._stripe.subscription(sub_id)
        return sub, reference or sub.reference_id

    def _apply(
        self, conn: Connection, event: StripeEvent, sub: StripeSubscription, reference: str | None, dry_run: bool
    ) -> WebhookResult:
        billing = self._db.billing(conn)
        layout = billing.layout
        ledger = layout.ledger
        ledger.lock(conn, sub.id)
        ws_id = bq.organization_for_stripe(
            conn, layout.organization, layout.customer_column, sub.id, sub.customer, reference
        )
        if ws_id is None:
            raise NotFound(
                f"Stripe subscription {sub.id} (customer {sub.customer}) belongs to no workspace here; nothing changed"
            )
        seen = ledger.seen(conn, ws_id, event.id)
        if seen is not None:
            return self._result(event, ws_id, sub, "duplicate", f"event {event.id} was already processed ({seen})")

        def record(outcome: str, tier: str | None = None) -> None:
            if not dry_run:
                entry = LedgerEntry(ws_id, event.id, event.type, event.created, sub.id, outcome, tier, self._clock())
                ledger.record(conn, entry)

        last = ledger.newer(conn, ws_id, event.type, sub.id, event.created)
        if last is not None:
            record("stale")
            return self._result(
                event,
                ws_id,
                sub,
                "stale",
                f"event created {jsonable(event.created)} is older than "
                f"the last one applied to {sub.id} ({jsonable(last)}): skipped",
            )
        if sub.ended:
            live = billing.catalog.policy.stripe.live_statuses
            other = bq.other_live_subscription(conn, ws_id, sub.id, self._clock(), tuple(sorted(live)))
            if other is not None:
                record("superseded")
                return self._result(
                    event,
                    ws_id,
                    sub,
                    "superseded",
                    f"{sub.id} ended, but the workspace has another live subscription ({other}): tier unchanged",
                )
        how = Apply(
            self._clock,
            f"{WEBHOOK_ACTOR}:{event.id}",
            f"billing.webhook.{event.type}",
            dry_run,
            price_map(conn, self._settings, billing),
            allowed_tiers(conn),
            billing,
        )
        row = reconcile(conn, ws_id, sub.customer, [sub], how)
        outcome = "applied" if row.outcome in ("tier", "scheduled", "ended", "not_live") else row.outcome
        record(outcome, row.tier)
        return WebhookResult(event.id, event.type, outcome, ws_id, sub.id, row.why, row.before, row.after)

    @staticmethod
    def _result(event: StripeEvent, ws_id: str, sub: StripeSubscription, outcome: str, why: str) -> WebhookResult:
        return WebhookResult(event.id, event.type, outcome, ws_id, sub.id, why, {}, {})
