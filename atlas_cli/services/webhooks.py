"""Apply a saved Stripe webhook event with the sync rules, at most once (DESIGN section 4).

The ledger `atlas_stripe_events` is keyed by (workspace_id, event_id): the event's workspace is
found first (by subscription id, customer, then metadata referenceId), then the event is
recorded in that workspace with ON CONFLICT DO NOTHING, so two processes racing on the same
event apply it once. An event created before the last one applied to the same subscription is
recorded as stale and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from atlas_cli.config import Settings
from atlas_cli.db import billing_queries as bq
from atlas_cli.db.database import Database
from atlas_cli.domain.stripe_mapping import LIVE_STATUSES, StripeSubscription
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
        ws_id = bq.workspace_for_stripe(conn, sub.id, sub.customer, reference)
        if ws_id is None:
            raise NotFound(
                f"Stripe subscription {sub.id} (customer {sub.customer}) belongs to no workspace here; nothing changed"
            )
        seen = bq.event_outcome(conn, ws_id, event.id)
        if seen is not None:
            return self._result(event, ws_id, sub, "duplicate", f"event {event.id} was already processed ({seen})")
        last = bq.last_applied(conn, ws_id, sub.id)
        stale = last is not None and event.created < last
        if not dry_run:
            bq.record_event(conn, self._ledger_row(event, ws_id, sub, "stale" if stale else "applied"))
        if stale:
            return self._result(
                event,
                ws_id,
                sub,
                "stale",
                f"event created {jsonable(event.created)} is older than "
                f"the last one applied to {sub.id} ({jsonable(last)}): skipped",
            )
        if sub.ended:
            other = bq.other_live_subscription(conn, ws_id, sub.id, self._clock(), tuple(sorted(LIVE_STATUSES)))
            if other is not None:
                if not dry_run:
                    bq.set_event_outcome(conn, ws_id, event.id, "superseded")
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
            price_map(self._settings),
            allowed_tiers(conn),
        )
        row = reconcile(conn, ws_id, sub.customer, [sub], how)
        outcome = "applied" if row.outcome in ("tier", "scheduled", "ended", "not_live") else row.outcome
        if outcome != "applied" and not dry_run:
            bq.set_event_outcome(conn, ws_id, event.id, outcome)
        return WebhookResult(event.id, event.type, outcome, ws_id, sub.id, row.why, row.before, row.after)

    def _ledger_row(self, event: StripeEvent, ws_id: str, sub: StripeSubscription, outcome: str) -> dict[str, Any]:
        return {
            "workspace_id": ws_id,
            "event_id": event.id,
            "event_type": event.type,
            "subscription_id": sub.id,
            "event_created": event.created,
            "received_at": self._clock(),
            "outcome": outcome,
        }

    @staticmethod
    def _result(event: StripeEvent, ws_id: str, sub: StripeSubscription, outcome: str, why: str) -> WebhookResult:
        return WebhookResult(event.id, event.type, outcome, ws_id, sub.id, why, {}, {})
