"""The only module that imports `stripe`. It turns Stripe objects into plain dataclasses and
Stripe's errors into AtlasErrors (exit 6; a missing key is exit 5, self-hosted mode)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from atlas_cli.domain.stripe_mapping import StripeSubscription
from atlas_cli.errors import BadInput, NotConfigured, StripeFailure

if TYPE_CHECKING:
    from stripe import StripeClient

    from atlas_cli.config import Settings

SELF_HOSTED = (
    "STRIPE_SECRET_KEY is not set: atlas runs in self-hosted mode (no Stripe; every workspace "
    "follows its plan tier, and self-hosted ones are on the unlimited free tier). Set "
    "STRIPE_SECRET_KEY to the Atlas server's key to use the Stripe commands"
)
MAX_RETRIES = 2


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: datetime
    object: dict[str, Any]


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value not in (None, "") else None


def subscription_from(obj: Mapping[str, Any]) -> StripeSubscription:
    """A Stripe subscription (as a plain dict). The period lives on its first item since API
    version 2025-03-31; older payloads carry it on the subscription itself.

    Raises:
        BadInput: the object is not a readable subscription (a malformed signed event).
    """
    try:
        return _subscription(obj)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, OverflowError, OSError):
        raise BadInput("the Stripe subscription in this event is malformed; nothing changed") from None


def _subscription(obj: Mapping[str, Any]) -> StripeSubscription:
    items = (obj.get("items") or {}).get("data") or []
    item: Mapping[str, Any] = items[0] if items else {}
    price = item.get("price") or {}
    recurring = price.get("recurring") or {}
    customer = obj.get("customer")
    return StripeSubscription(
        id=str(obj["id"]),
        customer=customer.get("id") if isinstance(customer, Mapping) else customer,
        status=str(obj.get("status") or ""),
        price_id=price.get("id"),
        period_start=_time(item.get("current_period_start") or obj.get("current_period_start")),
        period_end=_time(item.get("current_period_end") or obj.get("current_period_end")),
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        interval=recurring.get("interval"),
        ended_at=_time(obj.get("ended_at")),
        reference_id=(obj.get("metadata") or {}).get("referenceId"),
    )


@contextmanager
def stripe_errors() -> Iterator[None]:
    """Stripe's own message on one line; a rejected key said plainly."""
    import stripe

    try:
        yield
    except stripe.AuthenticationError as exc:
        raise StripeFailure(
            f"Stripe rejected the API key in STRIPE_SECRET_KEY: {_message(exc)}. Check the key "
            "(Stripe dashboard, Developers > API keys)"
        ) from None
    except stripe.APIConnectionError as exc:
        raise StripeFailure(f"could not reach Stripe: {_network_reason(_message(exc))}") from None
    except stripe.StripeError as exc:
        status = f" (HTTP {exc.http_status})" if exc.http_status else ""
        raise StripeFailure(f"Stripe error{status}: {_message(exc)}") from None


def _network_reason(text: str) -> str:
    """The operating system's reason (`[Errno 111] Connection refused`) out of the SDK's paragraph."""
    import re

    found = re.search(r"\[Errno -?\d+\] [^\"')\]]+", text)
    return found.group(0).strip() if found else text.split(". ")[0]


def _message(exc: Any) -> str:
    text = str(exc.user_message or exc._message or type(exc).__name__)
    return " ".join(text.split())


DEFAULT_TOLERANCE = 300  # seconds, Stripe's own default


def verify_event(payload: bytes, signature: str, secret: str, *, now: datetime, tolerance: int) -> StripeEvent:
    """The event, once its signature is checked with the SDK and its age against `now`.

    `tolerance` is the oldest signature accepted, in seconds; 0 accepts any age (replaying
    saved events).

    Raises:
        BadInput: a bad or stale signature, or a payload that is not a Stripe event.
    """
    import stripe

    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=None)
    except stripe.SignatureVerificationError as exc:
        raise BadInput(
            f"the Stripe signature does not verify with STRIPE_WEBHOOK_SECRET: {_message(exc)}; nothing changed"
        ) from None
    except ValueError:
        raise BadInput("the payload is not UTF-8 text, so it is not a Stripe event; nothing changed") from None
    signed_at = _signed_at(signature)
    if tolerance and signed_at < now.timestamp() - tolerance:
        raise BadInput(
            f"the Stripe signature does not verify: it was made {_age(now.timestamp() - signed_at)} ago, more "
            f"than --tolerance {tolerance} s (--tolerance 0 applies a saved event); nothing changed"
        )
    return _event_from(payload)


def _signed_at(signature: str) -> int:
    """The `t=` timestamp of a header the SDK has already verified."""
    for part in signature.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "t":
            return int(value)
    raise BadInput("the Stripe signature has no timestamp; nothing changed")  # pragma: no cover - verified above


def _age(seconds: float) -> str:
    return f"{int(seconds) // 60} min" if seconds >= 120 else f"{int(seconds)} s"


def _event_from(payload: bytes) -> StripeEvent:
    """A StripeEvent from a verified body; any malformed body is BadInput, never a traceback."""
    import json

    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise BadInput(f"the payload is not a Stripe event: not JSON ({exc}); nothing changed") from None
    if not isinstance(data, dict) or data.get("object") != "event":
        raise BadInput('the payload is not a Stripe event: no "object": "event"; nothing changed')
    event_id, event_type, created = data.get("id"), data.get("type"), data.get("created")
    body = data.get("data")
    obj = body.get("object") if isinstance(body, dict) else None
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise BadInput("the payload is not a Stripe event: it lacks a text id or type; nothing changed")
    if not isinstance(obj, dict):
        raise BadInput(f"Stripe event {event_id} has no data.object; nothing changed")
    try:
        when = _time(created)
    except (TypeError, ValueError, OverflowError, OSError):
        raise BadInput(f"Stripe event {event_id} has an unreadable created time; nothing changed") from None
    if when is None:
        raise BadInput(f"Stripe event {event_id} has no created time; nothing changed")
    return StripeEvent(event_id, event_type, when, dict(obj))


class StripeGateway:
    """Stripe through `StripeClient`, built on first use (NotConfigured without a key)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @property
    def configured(self) -> bool:
        return self._settings.stripe_secret_key is not None

    @cached_property
    def client(self) -> StripeClient:
        import stripe

        key = self._settings.stripe_secret_key
        if key is None or not key.get_secret_value():
            raise NotConfigured(SELF_HOSTED)
        base = self._settings.atlas_stripe_api_base
        return stripe.StripeClient(
            key.get_secret_value(), base_addresses={"api": base} if base else None, max_network_retries=MAX_RETRIES
        )

    def subscriptions(self, customer: str) -> list[StripeSubscription]:
        """Every subscription of `customer`, ended ones included."""
        client = self.client
        with stripe_errors():
            page = client.v1.subscriptions.list(params={"customer": customer, "status": "all", "limit": 100})
            return [subscription_from(s.to_dict()) for s in page.auto_paging_iter()]

    def subscription(self, subscription_id: str) -> StripeSubscription:
        client = self.client
        with stripe_errors():
            return subscription_from(client.v1.subscriptions.retrieve(subscription_id).to_dict())

    def portal_url(self, customer: str, return_url: str | None) -> str:
        client = self.client
        with stripe_errors():
            if return_url:
                session = client.v1.billing_portal.sessions.create(
                    params={"customer": customer, "return_url": return_url}
                )
            else:
                session = client.v1.billing_portal.sessions.create(params={"customer": customer})
            return str(session.url)

    def check_key(self) -> None:
        """Raises StripeFailure unless Stripe accepts the key (GET /v1/balance)."""
        client = self.client
        with stripe_errors():
            client.v1.balance.retrieve()

    def missing_prices(self, price_ids: list[str]) -> list[str]:
        """Those of `price_ids` Stripe does not know (404); other errors raise StripeFailure."""
        import stripe

        client, missing = self.client, []
        for price_id in price_ids:
            with stripe_errors():
                try:
                    client.v1.prices.retrieve(price_id)
                except stripe.InvalidRequestError as exc:
                    if exc.http_status != 404:
                        raise
                    missing.append(price_id)
        return missing

    def send_meter_event(
        self, event_name: str, customer: str, value: int, identifier: str, timestamp: datetime
    ) -> None:
        """One meter event (`POST /v1/billing/meter_events`): `value` more for `customer` on the meter
        whose event name is `event_name`. Stripe deduplicates a repeated `identifier`.

        Raises:
            NotConfigured: no STRIPE_SECRET_KEY. StripeFailure: Stripe refused it or is unreachable.
        """
        client = self.client
        with stripe_errors():
            client.v1.billing.meter_events.create(
                params={
                    "event_name": event_name,
                    "payload": {"stripe_customer_id": customer, "value": str(value)},
                    "identifier": identifier,
                    "timestamp": int(timestamp.timestamp()),
                }
            )
