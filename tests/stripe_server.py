"""A small, stateful, Stripe-compatible HTTP server for the test suite.

The product talks to Stripe only through ``stripe.StripeClient``; tests point the SDK at this
server (``base_addresses={"api": server.url}``) so the real HTTP path runs on 127.0.0.1.
Only the v1 endpoints Atlas needs are modelled: balance, customers, prices (products exist only
as ids/expansions), subscriptions and billing-portal sessions.  State lives in memory and
``reset()`` wipes it.  Standard library only (pytest is imported for the fixtures at the bottom).
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import hashlib
import hmac
import json
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

Json = dict[str, Any]

DEFAULT_API_KEY = "sk_test_atlas"
API_VERSION = "2026-10-28.endive"  # the Stripe-Version stripe-python 16.x sends
SUBSCRIPTION_STATUSES = frozenset(
    {"active", "trialing", "past_due", "canceled", "unpaid", "incomplete", "incomplete_expired", "paused"}
)
RATE_LIMIT_MESSAGE = "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."
# status -> (error type, message, code) used by fail_next() unless overridden
_FAULT_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("invalid_request_error", "Invalid request.", None),
    402: ("card_error", "Your card was declined.", "card_declined"),
    404: ("invalid_request_error", "No such object.", "resource_missing"),
    429: ("invalid_request_error", RATE_LIMIT_MESSAGE, "rate_limit"),
}
_SERVER_ERROR = ("api_error", "An unknown error occurred on Stripe's end.", None)
_STATE = ("customers", "products", "prices", "subscriptions", "portal_sessions", "meter_events", "_counters")
_STORE_BY_PREFIX = {"cus": "customers", "prod": "products", "price": "prices", "sub": "subscriptions"}
# The server's clock: the suite's pinned instant (tests.factories.NOW), never the real time, so no
# test depends on the date it runs. Set `StripeServer.now` to move it.
PINNED_NOW = int(dt.datetime(2026, 11, 22, 15, 30, tzinfo=dt.UTC).timestamp())
# Meter events: Stripe takes timestamps within the past 35 calendar days or up to 5 minutes ahead,
# and enforces an identifier's uniqueness over (at least) a rolling 24 hours.
METER_OLDEST, METER_AHEAD, METER_DEDUP = 35 * 86400, 300, 86400


class StripeError(Exception):
    """An error answered with Stripe's ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.code, self.param = code, param

    def body(self) -> Json:
        error: Json = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        if self.code == "card_declined":
            error["decline_code"] = "generic_decline"
        return {"error": error}


def _missing(kind: str, obj_id: str, param: str = "id", status: int = 404) -> StripeError:
    return StripeError(status, f"No such {kind}: '{obj_id}'", code="resource_missing", param=param)


@dataclass
class RecordedRequest:
    """One request as the server saw it; ``status`` is the status it answered with."""

    method: str
    path: str
    params: Json
    headers: dict[str, str]  # lower-cased names
    status: int = 0


@dataclass
class Fault:
    """An injected failure (see ``StripeServer.fail_next``); ``hits`` counts answered requests."""

    status: int
    remaining: int
    error: StripeError
    method: str | None = None
    path_prefix: str | None = None
    should_retry: bool | None = None
    hits: int = 0
    after: int = 0  # matching requests still let through before the fault applies

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path_prefix is None or path.startswith(self.path_prefix)
        )


# ------------------------------------------------------------------------------------ helpers


def parse_form(pairs: list[tuple[str, str]]) -> Json:
    """Nest Stripe bracket notation: ``items[0][price]``, ``metadata[k]``, ``expand[]``."""
    root: Json = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        names = [head, *re.findall(r"\[([^\]]*)\]", key[len(head) :])]
        node = root
        for name in names[:-1]:
            name = name or str(len(node))  # "[]" appends
            if not isinstance(node.get(name), dict):
                node[name] = {}
            node = node[name]
        node[names[-1] or str(len(node))] = value
    return _listify(root, None)


def _listify(node: Any, key: str | None) -> Any:
    """Dicts keyed 0..n become lists (except metadata, whose keys are free-form)."""
    if not isinstance(node, dict):
        return node
    if node and key != "metadata" and all(k.isdigit() for k in node):
        return [_listify(node[k], None) for k in sorted(node, key=int)]
    return {k: _listify(v, k) for k, v in node.items()}


def mask_key(key: str) -> str:
    """Mask an API key like Stripe's error messages: ``sk_test_****abcd``."""
    match = re.match(r"([a-z]+_(?:test|live)_)(.*)", key)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", key)
    return f"{prefix}****{rest[-4:] if len(rest) > 4 else ''}"


def sign_payload(payload: str | bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send with ``payload``."""
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    ts = PINNED_NOW if timestamp is None else timestamp
    mac = hmac.new(secret.encode("utf-8"), f"{ts}.{text}".encode(), hashlib.sha256)
    return f"t={ts},v1={mac.hexdigest()}"


_event_ids = iter(range(1, 10**9))


def make_event(event_type: str, data_object: Json, *, event_id: str | None = None, created: int | None = None) -> Json:
    """A Stripe v1 snapshot event wrapping ``data_object``."""
    return {
        "id": event_id or f"evt_{next(_event_ids):04d}",
        "object": "event",
        "api_version": API_VERSION,
        "livemode": False,
        "pending_webhooks": 0,
        "created": PINNED_NOW if created is None else created,
        "data": {"object": data_object},
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def _bool(params: Json, name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value in ("true", True):
        return True
    if value in ("false", False, ""):
        return False
    raise StripeError(400, f"Invalid boolean: {value}", param=name)


def _int(params: Json, name: str, default: int | None = None) -> int | None:
    if params.get(name) in (None, ""):
        return default
    try:
        return int(params[name])
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {params[name]}", param=name) from None


def _require(params: Json, name: str) -> Any:
    if params.get(name) in (None, ""):
        raise StripeError(400, f"Missing required param: {name}.", code="parameter_missing", param=name)
    return params[name]


def _apply_metadata(target: Json, metadata: Any) -> None:
    """Stripe semantics: keys merge, ``""`` unsets a key, ``metadata=""`` clears everything."""
    if metadata is None:
        return
    if metadata == "":
        target["metadata"] = {}
    elif isinstance(metadata, dict):
        for key, value in metadata.items():
            if value == "":
                target["metadata"].pop(key, None)
            else:
                target["metadata"][key] = str(value)
    else:
        raise StripeError(400, "Invalid object", param="metadata")


def _add_interval(ts: int, interval: str, count: int) -> int:
    if interval in ("day", "week"):
        return ts + count * 86400 * (1 if interval == "day" else 7)
    start = dt.datetime.fromtimestamp(ts, dt.UTC)
    years, month0 = divmod(start.month - 1 + count * (12 if interval == "year" else 1), 12)
    year, month = start.year + years, month0 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


# ------------------------------------------------------------------------------------- server


class StripeServer:
    """In-memory Stripe v1 API on 127.0.0.1.  ``start()``/``stop()`` or use it with ``with``."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, extra_api_keys: tuple[str, ...] = ()) -> None:
        self.api_key = api_key
        self.api_keys = {api_key, *extra_api_keys}
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        one = r"/(?P<obj_id>[^/]+)"
        routes: list[tuple[str, str, Callable[..., Json]]] = [
            ("GET", "/v1/balance", self._balance),
            ("POST", "/v1/customers", self._create_customer),
            ("GET", "/v1/customers", self._list_customers),
            ("GET", "/v1/customers" + one, self._get_customer),
            ("POST", "/v1/customers" + one, self._update_customer),
            ("POST", "/v1/prices", self._create_price),
            ("GET", "/v1/prices", self._list_prices),
            ("GET", "/v1/prices" + one, self._get_price),
            ("POST", "/v1/subscriptions", self._create_subscription),
            ("GET", "/v1/subscriptions", self._list_subscriptions),
            ("GET", "/v1/subscriptions" + one, self._get_subscription),
            ("POST", "/v1/subscriptions" + one, self._update_subscription),
            ("DELETE", "/v1/subscriptions" + one, self._cancel_subscription),
            ("POST", "/v1/billing_portal/sessions", self._create_portal_session),
            ("POST", "/v1/billing/meter_events", self._create_meter_event),
        ]
        self._routes = [(m, re.compile(p + r"\Z"), h) for m, p, h in routes]
        self.reset()

    # --------------------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("StripeServer is not running; call start()")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> StripeServer:
        if self._httpd is None:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            self._httpd.daemon_threads = True
            self._httpd.stripe = self  # type: ignore[attr-defined]
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name="stripe-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._httpd = self._thread = None

    def __enter__(self) -> StripeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------ test controls
    def reset(self) -> None:
        """Forget all objects, faults, recorded requests, idempotency keys and id counters; the
        clock goes back to the pinned instant."""
        with self._lock:
            self.now: Callable[[], int] = lambda: PINNED_NOW
            self.customers: dict[str, Json] = {}
            self.products: dict[str, Json] = {}
            self.prices: dict[str, Json] = {}
            self.subscriptions: dict[str, Json] = {}
            self.portal_sessions: dict[str, Json] = {}
            self.meter_events: list[Json] = []  # accepted ones, in order (a deduplicated resend is not here)
            self.requests: list[RecordedRequest] = []
            self.faults: list[Fault] = []
            self._counters: dict[str, int] = {}
            self._idempotent: dict[str, tuple[tuple[str, str, Json], Json]] = {}

    def fail_next(
        self,
        status: int,
        *,
        times: int = 1,
        method: str | None = None,
        path_prefix: str | None = None,
        error_type: str | None = None,
        message: str | None = None,
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
        after: int = 0,
    ) -> Fault:
        """Answer the next ``times`` matching requests with a Stripe error of ``status`` (once
        ``after`` matching requests have been answered normally).

        Faults apply before authentication.  The SDK retries 409 and 5xx answers and never
        other 4xx; ``should_retry`` sends ``Stripe-Should-Retry: true|false``, which the SDK
        obeys over the status code (e.g. ``fail_next(429, should_retry=True)`` is retried).
        """
        d_type, d_message, d_code = _FAULT_DEFAULTS.get(
            status, _SERVER_ERROR if status >= 500 else ("invalid_request_error", "Error.", None)
        )
        if status == 401:
            d_message = f"Invalid API Key provided: {mask_key(self.api_key)}"
        error = StripeError(status, message or d_message, type=error_type or d_type, code=code or d_code, param=param)
        fault = Fault(status, times, error, method, path_prefix, should_retry, after=after)
        with self._lock:
            self.faults.append(fault)
        return fault

    def requests_to(self, method: str | None = None, path_prefix: str = "") -> list[RecordedRequest]:
        """Recorded requests filtered by method and path prefix."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.startswith(path_prefix) and (method is None or r.method == method.upper())
            ]

    # ------------------------------------------------------- direct state helpers (no HTTP)
    def add_customer(
        self,
        *,
        email: str | None = None,
        name: str | None = None,
        metadata: dict[str, str] | None = None,
        **fields: Any,
    ) -> Json:
        with self._lock:
            return copy.deepcopy(self._create_customer({"email": email, "name": name, "metadata": metadata, **fields}))

    def add_price(
        self,
        *,
        unit_amount: int = 1000,
        currency: str = "usd",
        interval: str | None = "month",
        product: str | None = None,
        product_name: str = "Atlas",
        lookup_key: str | None = None,
        nickname: str | None = None,
        active: bool = True,
        metadata: dict[str, str] | None = None,
    ) -> Json:
        """A price (recurring unless ``interval=None``); an unknown ``product`` id is created."""
        with self._lock:
            if product is not None and product not in self.products:
                self.products[product] = self._product(product, product_name)
            params: Json = {
                "unit_amount": unit_amount,
                "currency": currency,
                "active": active,
                "lookup_key": lookup_key,
                "nickname": nickname,
                "metadata": metadata,
                "product": product,
                "product_data": {"name": product_name},
            }
            if interval:
                params["recurring"] = {"interval": interval}
            return copy.deepcopy(self._create_price(params))

    def add_subscription(
        self,
        customer: str | Json,
        price: str | Json,
        *,
        status: str = "active",
        period_start: int | None = None,
        period_end: int | None = None,
        cancel_at_period_end: bool = False,
        metadata: dict[str, str] | None = None,
        quantity: int = 1,
    ) -> Json:
        """A subscription with one item; ``customer``/``price`` are ids or objects."""
        customer_id = customer if isinstance(customer, str) else customer["id"]
        price_id = price if isinstance(price, str) else price["id"]
        with self._lock:
            return copy.deepcopy(
                self._create_subscription(
                    {
                        "customer": customer_id,
                        "items": [{"price": price_id, "quantity": quantity}],
                        "metadata": metadata,
                        "cancel_at_period_end": cancel_at_period_end,
                        "test_status": status,
                        "test_current_period_start": period_start,
                        "test_current_period_end": period_end,
                    }
                )
            )

    def meter_totals(self, event_name: str | None = None) -> dict[tuple[str, str], int]:
        """The sum of accepted meter events' values per (event name, customer): what Stripe's meter
        would aggregate (``sum``), for tests to read."""
        with self._lock:
            totals: dict[tuple[str, str], int] = {}
            for event in self.meter_events:
                if event_name is None or event["event_name"] == event_name:
                    key = (event["event_name"], event["payload"]["stripe_customer_id"])
                    totals[key] = totals.get(key, 0) + int(event["payload"]["value"])
            return totals

    # ----------------------------------------------------------------------- HTTP handling
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Json, dict[str, str]]:
        """Answer one request: (status, JSON body, extra response headers).  Thread-safe."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        pairs = parse_qsl(split.query, keep_blank_values=True)
        if method == "POST":
            pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        params = parse_form(pairs)
        with self._lock:
            record = RecordedRequest(method, path, params, headers)
            self.requests.append(record)
            out_headers: dict[str, str] = {}
            record.status, payload = self._dispatch(method, path, params, headers, out_headers)
            return record.status, copy.deepcopy(payload), out_headers

    def _dispatch(
        self, method: str, path: str, params: Json, headers: dict[str, str], out_headers: dict[str, str]
    ) -> tuple[int, Json]:
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault is not None and fault.after > 0:
            fault.after -= 1
            fault = None
        if fault is not None:
            fault.hits += 1
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.remove(fault)
            if fault.should_retry is not None:
                out_headers["Stripe-Should-Retry"] = str(fault.should_retry).lower()
            return fault.status, fault.error.body()

        auth = headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not key:
            return 401, StripeError(
                401,
                "You did not provide an API key. You need to provide "
                "your API key in the Authorization header, using Bearer "
                "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            ).body()
        if key not in self.api_keys:
            return 401, StripeError(401, f"Invalid API Key provided: {mask_key(key)}").body()

        # Stripe replays a POST's first successful answer for a reused Idempotency-Key
        # (the SDK sends one key per call and reuses it on retries).
        idem_key = headers.get("idempotency-key") if method == "POST" else None
        if idem_key and idem_key in self._idempotent:
            request, answer = self._idempotent[idem_key]
            if request != (method, path, params):
                return 400, StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                    type="idempotency_error",
                ).body()
            out_headers["Idempotent-Replayed"] = "true"
            return 200, answer

        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match is None or route_method != method:
                continue
            snapshot = copy.deepcopy({name: getattr(self, name) for name in _STATE})
            try:
                result = handler(params, **match.groupdict())
                result = self._expand(copy.deepcopy(result), params.get("expand") or [])
            except StripeError as exc:  # Stripe requests are atomic: undo partial changes
                self.__dict__.update(snapshot)
                return exc.status, exc.body()
            except Exception as exc:  # a bug in this fake: loud, but still Stripe-shaped
                self.__dict__.update(snapshot)
                traceback.print_exc(file=sys.stderr)
                return 500, StripeError(500, f"stripe_server bug: {exc!r}", type="api_error").body()
            if idem_key:
                self._idempotent[idem_key] = ((method, path, params), result)
            return 200, result
        return 404, StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see "
            "https://stripe.com/docs or we can help at "
            "https://support.stripe.com/.",
        ).body()

    # ---------------------------------------------------------------------- shared pieces
    def _new_id(self, prefix: str) -> str:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return f"{prefix}_{self._counters[prefix]:04d}"

    def _new_object(self, prefix: str, obj: str, params: Json) -> Json:
        new: Json = {
            "id": self._new_id(prefix),
            "object": obj,
            "created": self.now(),
            "livemode": False,
            "metadata": {},
        }
        _apply_metadata(new, params.get("metadata"))
        return new

    @staticmethod
    def _lookup(store: dict[str, Json], kind: str, obj_id: str, param: str = "id", status: int = 404) -> Json:
        if obj_id not in store:
            raise _missing(kind, obj_id, param, status)
        return store[obj_id]

    @staticmethod
    def _paginate(items: list[Json], params: Json, url: str) -> Json:
        """A Stripe list over ``items`` (oldest first), answered newest first."""
        limit = _int(params, "limit", 10) or 0
        if not 1 <= limit <= 100:
            raise StripeError(400, "This value must be between 1 and 100 (inclusive).", param="limit")
        ordered = items[::-1]
        ids = [obj["id"] for obj in ordered]
        for cursor in ("starting_after", "ending_before"):
            if params.get(cursor) and params[cursor] not in ids:
                raise _missing("object", params[cursor], cursor, 400)
        if params.get("starting_after"):
            rest = ordered[ids.index(params["starting_after"]) + 1 :]
            page, has_more = rest[:limit], len(rest) > limit
        elif params.get("ending_before"):
            newer = ordered[: ids.index(params["ending_before"])]
            page, has_more = newer[-limit:], len(newer) > limit
        else:
            page, has_more = ordered[:limit], len(ordered) > limit
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    def _expand(self, obj: Json, paths: list[str]) -> Json:
        """Replace id strings named by ``expand`` paths (``customer``, ``data.product``...)."""
        for path in paths:
            nodes: list[Any] = [obj]
            *parents, leaf = path.split(".")
            for name in parents:
                found = [n.get(name) for n in nodes if isinstance(n, dict)]
                nodes = [x for f in found for x in (f if isinstance(f, list) else [f])]
            for node in nodes:
                value = node.get(leaf) if isinstance(node, dict) else None
                store = getattr(self, _STORE_BY_PREFIX.get(str(value).split("_")[0], ""), {})
                if isinstance(value, str) and value in store:
                    node[leaf] = copy.deepcopy(store[value])
        return obj

    # --------------------------------------------------------------- balance and customers
    def _balance(self, params: Json) -> Json:
        funds = [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}]
        return {"object": "balance", "available": funds, "pending": copy.deepcopy(funds), "livemode": False}

    def _create_customer(self, params: Json) -> Json:
        customer = self._new_object("cus", "customer", params)
        customer.update(
            {
                "balance": 0,
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": None,
                "email": None,
                "name": None,
                "phone": None,
                "invoice_settings": {"default_payment_method": None},
                "tax_exempt": "none",
            }
        )
        self.customers[customer["id"]] = customer
        return self._edit_customer(customer, params)

    def _update_customer(self, params: Json, obj_id: str) -> Json:
        customer = self._lookup(self.customers, "customer", obj_id)
        _apply_metadata(customer, params.get("metadata"))
        return self._edit_customer(customer, params)

    @staticmethod
    def _edit_customer(customer: Json, params: Json) -> Json:
        for name in ("email", "name", "description", "phone"):
            if params.get(name) is not None:
                customer[name] = params[name] or None
        return customer

    def _get_customer(self, params: Json, obj_id: str) -> Json:
        return self._lookup(self.customers, "customer", obj_id)

    def _list_customers(self, params: Json) -> Json:
        email = params.get("email")
        found = [c for c in self.customers.values() if not email or c["email"] == email]
        return self._paginate(found, params, "/v1/customers")

    # ---------------------------------------------------------------------------- prices
    def _product(self, product_id: str, name: str) -> Json:
        return {
            "id": product_id,
            "object": "product",
            "active": True,
            "created": self.now(),
            "description": None,
            "livemode": False,
            "metadata": {},
            "name": name,
        }

    def _create_price(self, params: Json) -> Json:
        currency = str(_require(params, "currency")).lower()
        unit_amount = _int(params, "unit_amount")
        if unit_amount is None:
            raise StripeError(
                400, "Missing required param: unit_amount.", code="parameter_missing", param="unit_amount"
            )
        if params.get("product"):
            product_id = self._lookup(self.products, "product", params["product"], "product", 400)["id"]
        elif isinstance(params.get("product_data"), dict):
            product_id = self._new_id("prod")
            name = _require(params["product_data"], "name")
            self.products[product_id] = self._product(product_id, name)
        else:
            raise StripeError(400, "Missing required param: product.", code="parameter_missing", param="product")
        recurring = None
        if isinstance(params.get("recurring"), dict):
            interval = params["recurring"].get("interval")
            if interval not in ("day", "week", "month", "year"):
                raise StripeError(400, f"Invalid recurring[interval]: {interval}", param="recurring[interval]")
            recurring = {
                "interval": interval,
                "meter": None,
                "trial_period_days": None,
                "interval_count": _int(params["recurring"], "interval_count", 1),
                "usage_type": "licensed",
            }
        price = self._new_object("price", "price", params)
        price.update(
            {
                "active": _bool(params, "active") is not False,
                "billing_scheme": "per_unit",
                "currency": currency,
                "lookup_key": None,
                "nickname": params.get("nickname"),
                "product": product_id,
                "recurring": recurring,
                "tax_behavior": "unspecified",
                "type": "recurring" if recurring else "one_time",
                "unit_amount": unit_amount,
                "unit_amount_decimal": str(unit_amount),
            }
        )
        if params.get("lookup_key"):
            holder = next((p for p in self.prices.values() if p["lookup_key"] == params["lookup_key"]), None)
            if holder is not None and not _bool(params, "transfer_lookup_key"):
                raise StripeError(400, f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key")
            if holder is not None:
                holder["lookup_key"] = None
            price["lookup_key"] = params["lookup_key"]
        self.prices[price["id"]] = price
        return price

    def _get_price(self, params: Json, obj_id: str) -> Json:
        return self._lookup(self.prices, "price", obj_id)

    def _list_prices(self, params: Json) -> Json:
        active, keys = _bool(params, "active"), params.get("lookup_keys")
        product = params.get("product")
        found = [
            p
            for p in self.prices.values()
            if (active is None or p["active"] == active)
            and (not keys or p["lookup_key"] in keys)
            and (not product or p["product"] == product)
        ]
        return self._paginate(found, params, "/v1/prices")

    # --------------------------------------------------------------------- subscriptions
    def _new_item(self, sub: Json, spec: Json, index: int) -> Json:
        param = f"items[{index}][price]"
        price = self._lookup(self.prices, "price", str(_require(spec, "price")), param, 400)
        if price["recurring"] is None:
            raise StripeError(
                400,
                "The price specified is set to `type=one_time` but this field "
                "only accepts prices with `type=recurring`.",
                param=param,
            )
        recurring = price["recurring"]
        plan = {
            "id": price["id"],
            "object": "plan",
            "active": price["active"],
            "amount": price["unit_amount"],
            "currency": price["currency"],
            "interval": recurring["interval"],
            "interval_count": recurring["interval_count"],
            "nickname": price["nickname"],
            "product": price["product"],
            "usage_type": recurring["usage_type"],
        }
        return {
            "id": self._new_id("si"),
            "object": "subscription_item",
            "created": self.now(),
            "current_period_start": sub["current_period_start"],
            "current_period_end": sub["current_period_end"],
            "discounts": [],
            "metadata": {},
            "plan": plan,
            "price": copy.deepcopy(price),
            "quantity": _int(spec, "quantity", 1),
            "subscription": sub["id"],
            "tax_rates": [],
        }

    def _apply_items(self, sub: Json, specs: Any) -> None:
        """``items[i][price]`` adds; with ``[id]`` it changes or (``[deleted]``) removes."""
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise StripeError(400, "Invalid array", param="items")
        items: list[Json] = sub["items"]["data"]
        for index, spec in enumerate(specs):
            if not spec.get("id"):
                items.append(self._new_item(sub, spec, index))
                continue
            old = next((i for i in items if i["id"] == spec["id"]), None)
            if old is None:
                raise _missing("subscription item", spec["id"], f"items[{index}][id]", 400)
            if _bool(spec, "deleted"):
                items.remove(old)
            else:
                new = self._new_item(sub, {"price": old["price"]["id"], "quantity": old["quantity"], **spec}, index)
                new["id"] = old["id"]
                items[items.index(old)] = new
        if not items:
            raise StripeError(400, "A subscription must have at least one active plan.", param="items")
        sub["currency"] = items[0]["price"]["currency"]

    @staticmethod
    def _set_period(sub: Json, start: int, end: int) -> None:
        # API versions since 2025-03-31 carry the period on items only; we serve both places.
        for holder in (sub, *sub["items"]["data"]):
            holder["current_period_start"], holder["current_period_end"] = start, end

    def _set_cancel_at_period_end(self, sub: Json, flag: bool | None) -> None:
        if flag is not None and sub["status"] != "canceled":
            sub["cancel_at_period_end"] = flag
            sub["cancel_at"] = sub["current_period_end"] if flag else None
            sub["canceled_at"] = self.now() if flag else None

    def _create_subscription(self, params: Json) -> Json:
        """Besides Stripe's params, accepts test-only ``test_status``,
        ``test_current_period_start`` and ``test_current_period_end``."""
        customer_id = str(_require(params, "customer"))
        self._lookup(self.customers, "customer", customer_id, "customer", 400)
        specs = _require(params, "items")
        status = params.get("test_status") or "active"
        if status not in SUBSCRIPTION_STATUSES:
            raise StripeError(400, f"Invalid status: {status}", param="test_status")
        now = self.now()
        start = _int(params, "test_current_period_start", now) or now
        sub = self._new_object("sub", "subscription", params)
        sub.update(
            {
                "billing_cycle_anchor": start,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
                "collection_method": "charge_automatically",
                "currency": None,
                "customer": customer_id,
                "current_period_start": start,
                "current_period_end": start,
                "default_payment_method": None,
                "description": params.get("description"),
                "discounts": [],
                "ended_at": None,
                "latest_invoice": None,
                "start_date": start,
                "status": status,
                "test_clock": None,
                "trial_end": None,
                "trial_start": None,
                "items": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/subscription_items?subscription={sub['id']}",
                },
            }
        )
        self._apply_items(sub, specs)
        recurring = sub["items"]["data"][0]["price"]["recurring"]
        end = _add_interval(start, recurring["interval"], recurring["interval_count"])
        self._set_period(sub, start, _int(params, "test_current_period_end", end) or end)
        if status in ("canceled", "incomplete_expired"):
            sub["ended_at"] = sub["canceled_at"] = now
        self._set_cancel_at_period_end(sub, _bool(params, "cancel_at_period_end"))
        self.subscriptions[sub["id"]] = sub
        return sub

    def _get_subscription(self, params: Json, obj_id: str) -> Json:
        return self._lookup(self.subscriptions, "subscription", obj_id)

    def _list_subscriptions(self, params: Json) -> Json:
        status, customer, price = params.get("status"), params.get("customer"), params.get("price")
        if status and status not in SUBSCRIPTION_STATUSES | {"all", "ended"}:
            raise StripeError(400, f"Invalid status: {status}", param="status")

        def wanted(sub: Json) -> bool:
            if status == "ended":
                return sub["status"] in ("canceled", "incomplete_expired")
            if status:  # default listing hides canceled subscriptions, like Stripe
                return status == "all" or sub["status"] == status
            return sub["status"] != "canceled"

        found = [
            s
            for s in self.subscriptions.values()
            if wanted(s)
            and (not customer or s["customer"] == customer)
            and (not price or any(i["price"]["id"] == price for i in s["items"]["data"]))
        ]
        return self._paginate(found, params, "/v1/subscriptions")

    def _update_subscription(self, params: Json, obj_id: str) -> Json:
        sub = self._lookup(self.subscriptions, "subscription", obj_id)
        if sub["status"] == "canceled" and set(params) - {"metadata", "cancellation_details", "expand"}:
            raise StripeError(400, "A canceled subscription can only update its cancellation_details and metadata.")
        if "items" in params:
            self._apply_items(sub, params["items"])
            self._set_period(sub, sub["current_period_start"], sub["current_period_end"])
        _apply_metadata(sub, params.get("metadata"))
        self._set_cancel_at_period_end(sub, _bool(params, "cancel_at_period_end"))
        return sub

    def _cancel_subscription(self, params: Json, obj_id: str) -> Json:
        sub = self._lookup(self.subscriptions, "subscription", obj_id)
        if sub["status"] == "canceled":  # Stripe answers as if the subscription were gone
            raise _missing("subscription", obj_id)
        now = self.now()
        sub.update(
            {
                "status": "canceled",
                "canceled_at": now,
                "ended_at": now,
                "cancel_at": None,
                "cancel_at_period_end": False,
            }
        )
        sub["cancellation_details"]["reason"] = "cancellation_requested"
        return sub

    # -------------------------------------------------------------------- billing portal
    def _create_portal_session(self, params: Json) -> Json:
        customer_id = str(_require(params, "customer"))
        self._lookup(self.customers, "customer", customer_id, "customer", 400)
        session_id = self._new_id("bps")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "configuration": "bpc_default",
            "created": self.now(),
            "customer": customer_id,
            "flow": None,
            "livemode": False,
            "locale": params.get("locale"),
            "on_behalf_of": None,
            "return_url": params.get("return_url"),
            "url": f"{self.url}/p/session/{session_id}",
        }
        self.portal_sessions[session_id] = session
        return session

    # ---------------------------------------------------------------------- billing meters
    def _create_meter_event(self, params: Json) -> Json:
        """``POST /v1/billing/meter_events``: validated at once (the payload's customer is not looked
        up: Stripe does that asynchronously); a repeated identifier within 24 hours answers the
        first event again and is not counted twice."""
        event_name = str(_require(params, "event_name"))
        payload = params.get("payload")
        if not isinstance(payload, dict):
            raise StripeError(400, "Missing required param: payload.", code="parameter_missing", param="payload")
        for key in ("stripe_customer_id", "value"):
            if payload.get(key) in (None, ""):
                raise StripeError(400, f"Missing required param: payload[{key}].", param=f"payload[{key}]")
        if not re.fullmatch(r"-?\d+", str(payload["value"])):
            message = f"Invalid value: {payload['value']!r} is not a whole number."
            raise StripeError(400, message, param="payload[value]")
        now = self.now()
        timestamp = _int(params, "timestamp", now)
        assert timestamp is not None
        if timestamp < now - METER_OLDEST:
            raise StripeError(400, "Timestamp must be within the past 35 calendar days.", param="timestamp")
        if timestamp > now + METER_AHEAD:
            raise StripeError(400, "Timestamp must not be more than 5 minutes in the future.", param="timestamp")
        identifier = str(params.get("identifier") or self._new_id("mev"))
        for earlier in self.meter_events:
            if earlier["identifier"] == identifier and earlier["created"] > now - METER_DEDUP:
                return earlier
        event = {
            "object": "billing.meter_event",
            "created": now,
            "event_name": event_name,
            "identifier": identifier,
            "livemode": False,
            "payload": {k: str(v) for k, v in payload.items()},
            "timestamp": timestamp,
        }
        self.meter_events.append(event)
        return event


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like api.stripe.com
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def _serve(self) -> None:
        app: StripeServer = self.server.stripe  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        path = urlsplit(self.path).path
        if self.command == "GET" and path.startswith("/p/session/"):  # the "hosted" portal
            known = path.rsplit("/", 1)[-1] in app.portal_sessions
            page = b"<html><body>Billing portal</body></html>"
            self._send(200 if known else 404, page, "text/html", {})
            return
        status, payload, extra = app.handle(self.command, self.path, headers, body)
        extra["Request-Id"] = f"req_{len(app.requests):06d}"
        extra["Stripe-Version"] = headers.get("stripe-version", API_VERSION)
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json", extra)

    def _send(self, status: int, data: bytes, content_type: str, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


# ----------------------------------------------------------------------------- pytest fixtures


@pytest.fixture(scope="session")
def _stripe_server_session() -> Iterator[StripeServer]:
    server = StripeServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stripe_server(_stripe_server_session: StripeServer) -> StripeServer:
    """The shared fake Stripe server, reset for this test (empty state, faults, request log)."""
    _stripe_server_session.reset()
    return _stripe_server_session


@pytest.fixture
def stripe_fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the SDK's retry back-off (at least 0.5 s per retry) to a few milliseconds."""
    from stripe._http_client import HTTPClient

    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.005)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.02)
