"""Drive tests/stripe_server.py through the real ``stripe.StripeClient`` over HTTP (no mocks)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import stripe

from tests.stripe_server import (
    StripeServer,
    _stripe_server_session,
    make_event,
    mask_key,
    parse_form,
    sign_payload,
    stripe_fast_retries,
    stripe_server,
)

Server = StripeServer
Client = stripe.StripeClient


def make_client(server: Server, api_key: str | None = None, retries: int = 0) -> Client:
    # Built exactly the way the product builds it.
    return stripe.StripeClient(
        api_key or server.api_key, base_addresses={"api": server.url}, max_network_retries=retries
    )


@pytest.fixture
def client(stripe_server: Server) -> Client:
    return make_client(stripe_server)


def raw_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# ------------------------------------------------------------------------------------ plumbing


def test_server_binds_localhost_and_stops_cleanly() -> None:
    server = StripeServer(api_key="sk_test_other").start()
    url = server.url
    assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0
    assert make_client(server).v1.balance.retrieve().object == "balance"
    server.stop()
    with pytest.raises(stripe.APIConnectionError):
        stripe.StripeClient("sk_test_other", base_addresses={"api": url}).v1.balance.retrieve()


def test_parse_form_bracket_notation() -> None:
    pairs = [
        ("items[0][price]", "p1"),
        ("items[0][quantity]", "2"),
        ("items[1][price]", "p2"),
        ("metadata[referenceId]", "org_1"),
        ("metadata[7]", "x"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("email", ""),
    ]
    assert parse_form(pairs) == {
        "items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        "metadata": {"referenceId": "org_1", "7": "x"},
        "expand": ["a", "b"],
        "email": "",
    }


def test_balance_and_request_log(stripe_server: Server, client: Client) -> None:
    balance = client.v1.balance.retrieve()
    assert balance.object == "balance" and balance.available[0].currency == "usd"
    (req,) = stripe_server.requests
    assert (req.method, req.path, req.status) == ("GET", "/v1/balance", 200)
    assert req.headers["authorization"] == "Bearer sk_test_atlas"
    assert req.headers["stripe-version"] == stripe.api_version
    assert balance.last_response.headers["Request-Id"].startswith("req_")


# ------------------------------------------------------------------------------ auth & routing


def test_wrong_api_key_is_rejected_like_stripe(stripe_server: Server) -> None:
    bad = make_client(stripe_server, api_key="sk_test_wrongkeyabcd")
    with pytest.raises(stripe.AuthenticationError) as info:
        bad.v1.customers.list()
    assert info.value.http_status == 401
    assert info.value.user_message == "Invalid API Key provided: sk_test_****abcd"
    assert info.value.json_body == {
        "error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****abcd"}
    }
    assert mask_key("rk_live_12345678wxyz") == "rk_live_****wxyz"


def test_missing_authorization_header(stripe_server: Server) -> None:
    status, body = raw_get(stripe_server.url + "/v1/balance")
    assert status == 401 and "did not provide an API key" in body["error"]["message"]


def test_extra_api_keys_are_accepted() -> None:
    with StripeServer(extra_api_keys=("rk_test_restricted",)) as server:
        restricted = make_client(server, api_key="rk_test_restricted")
        assert restricted.v1.balance.retrieve().livemode is False


def test_unknown_route_is_stripe_404(client: Client, stripe_server: Server) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.raw_request("get", "/v1/nothing_here")
    assert info.value.http_status == 404
    assert info.value.user_message.startswith("Unrecognized request URL (GET: /v1/nothing_here)")
    auth = {"Authorization": "Bearer sk_test_atlas"}
    status, body = raw_get(stripe_server.url + "/v1/nope", auth)
    assert status == 404 and body["error"]["type"] == "invalid_request_error"


# ----------------------------------------------------------------------------------- customers


def test_customers_create_retrieve_list_update(stripe_server: Server, client: Client) -> None:
    created = client.v1.customers.create(
        params={"email": "a@example.com", "name": "Ada", "metadata": {"referenceId": "org_1"}}
    )
    assert created.id == "cus_0001" and created.object == "customer"
    assert created.email == "a@example.com" and created.metadata["referenceId"] == "org_1"
    assert created.livemode is False and isinstance(created.created, int)
    assert stripe_server.requests[-1].params == {
        "email": "a@example.com",
        "name": "Ada",
        "metadata": {"referenceId": "org_1"},
    }

    fetched = client.v1.customers.retrieve(created.id)
    assert fetched.to_dict() == created.to_dict()
    other = stripe_server.add_customer(email="b@example.com")
    listed = client.v1.customers.list()
    assert [c.id for c in listed.data] == [other["id"], created.id]  # newest first
    assert listed.url == "/v1/customers" and listed.has_more is False
    only = client.v1.customers.list(params={"email": "a@example.com"})
    assert [c.id for c in only.data] == [created.id]

    updated = client.v1.customers.update(created.id, params={"metadata": {"referenceId": "", "x": "1"}})
    assert updated.metadata.to_dict() == {"x": "1"}  # "" unsets a metadata key


def test_unknown_customer_is_resource_missing(client: Client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_missing")
    err = info.value
    assert (err.http_status, err.code, err.param) == (404, "resource_missing", "id")
    assert err.user_message == "No such customer: 'cus_missing'"


def test_deprecated_top_level_services_still_work(client: Client) -> None:
    with pytest.warns(DeprecationWarning):
        service = client.customers
    assert service.create(params={"name": "Old style"}).name == "Old style"


# -------------------------------------------------------------------------------------- prices


def test_prices_create_retrieve_and_filter(stripe_server: Server, client: Client) -> None:
    pro = client.v1.prices.create(
        params={
            "unit_amount": 2900,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "product_data": {"name": "Atlas Pro"},
            "lookup_key": "pro_monthly",
            "nickname": "Pro",
        }
    )
    assert pro.object == "price" and pro.type == "recurring" and pro.unit_amount == 2900
    assert pro.recurring.interval == "month" and pro.lookup_key == "pro_monthly"
    assert pro.product.startswith("prod_") and pro.active is True and pro.nickname == "Pro"
    team = stripe_server.add_price(unit_amount=9900, interval="year", lookup_key="team_yearly", product=pro.product)
    old = stripe_server.add_price(unit_amount=100, lookup_key="legacy", active=False)

    assert client.v1.prices.retrieve(team["id"]).recurring.interval == "year"
    by_key = client.v1.prices.list(params={"lookup_keys": ["pro_monthly", "team_yearly"]})
    assert [p.id for p in by_key.data] == [team["id"], pro.id]
    assert stripe_server.requests[-1].params["lookup_keys"] == ["pro_monthly", "team_yearly"]
    assert [p.id for p in client.v1.prices.list(params={"active": False}).data] == [old["id"]]
    assert len(client.v1.prices.list(params={"active": True}).data) == 2

    expanded = client.v1.prices.list(params={"lookup_keys": ["pro_monthly"], "expand": ["data.product"]})
    assert expanded.data[0].product.name == "Atlas Pro"

    dup: dict[str, Any] = {"unit_amount": 1, "currency": "usd", "product": pro.product, "lookup_key": "pro_monthly"}
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params=dup)
    assert info.value.param == "lookup_key" and pro.id in info.value.user_message
    moved = client.v1.prices.create(params={**dup, "transfer_lookup_key": True})
    by_key = client.v1.prices.list(params={"lookup_keys": ["pro_monthly"]})
    assert [p.id for p in by_key.data] == [moved.id]


def test_price_with_unknown_product_is_400(client: Client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={"unit_amount": 1, "currency": "usd", "product": "prod_nope"})
    err = info.value
    assert (err.http_status, err.code, err.param) == (400, "resource_missing", "product")


# ------------------------------------------------------------------------------- subscriptions


def test_subscription_lifecycle_over_http(stripe_server: Server, client: Client) -> None:
    customer = stripe_server.add_customer(email="org@example.com")
    price = stripe_server.add_price(unit_amount=2900, interval="month", lookup_key="pro")
    sub = client.v1.subscriptions.create(
        params={"customer": customer["id"], "items": [{"price": price["id"]}], "metadata": {"referenceId": "org_1"}}
    )
    assert sub.id.startswith("sub_") and sub.object == "subscription" and sub.status == "active"
    assert sub.customer == customer["id"] and sub.metadata["referenceId"] == "org_1"
    assert sub.cancel_at_period_end is False and sub.canceled_at is None and sub.ended_at is None
    item = sub["items"].data[0]  # ``sub.items`` is dict.items() on a StripeObject
    assert item.object == "subscription_item" and item.id.startswith("si_")
    assert item.quantity == 1 and item.subscription == sub.id
    assert item.price.id == price["id"] and item.price.recurring.interval == "month"
    assert item.plan.interval == "month"
    assert sub["items"].object == "list" and sub["items"].has_more is False
    assert sub.current_period_start == item.current_period_start == sub.start_date
    assert 28 * 86400 <= sub.current_period_end - sub.current_period_start <= 31 * 86400
    assert sub.current_period_end == item.current_period_end
    assert stripe_server.requests[-1].params["items"] == [{"price": price["id"]}]

    assert client.v1.subscriptions.retrieve(sub.id).to_dict() == sub.to_dict()

    scheduled = client.v1.subscriptions.update(
        sub.id, params={"cancel_at_period_end": True, "metadata": {"plan": "pro"}}
    )
    assert scheduled.cancel_at_period_end is True
    assert scheduled.cancel_at == sub.current_period_end
    assert scheduled.metadata.to_dict() == {"referenceId": "org_1", "plan": "pro"}
    resumed = client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert resumed.cancel_at_period_end is False and resumed.cancel_at is None

    yearly = stripe_server.add_price(unit_amount=29000, interval="year")
    swapped = client.v1.subscriptions.update(
        sub.id, params={"items": [{"id": item.id, "price": yearly["id"]}], "proration_behavior": "none"}
    )
    assert [(i.id, i.price.id) for i in swapped["items"].data] == [(item.id, yearly["id"])]

    canceled = client.v1.subscriptions.cancel(sub.id)
    assert canceled.status == "canceled" and canceled.ended_at and canceled.canceled_at
    assert stripe_server.requests[-1].method == "DELETE"
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.subscriptions.cancel(sub.id)
    assert again.value.http_status == 404 and again.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError, match="canceled subscription can only update"):
        client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    tagged = client.v1.subscriptions.update(sub.id, params={"metadata": {"k": "v"}})
    assert tagged.metadata["k"] == "v"


def test_subscription_list_filters(stripe_server: Server, client: Client) -> None:
    a, b = stripe_server.add_customer(), stripe_server.add_customer()
    price = stripe_server.add_price()
    active = stripe_server.add_subscription(a, price)
    past_due = stripe_server.add_subscription(a["id"], price["id"], status="past_due")
    gone = stripe_server.add_subscription(a, price, status="canceled")
    other = stripe_server.add_subscription(b, price, status="trialing")

    def ids(**params: Any) -> list[str]:
        return [s.id for s in client.v1.subscriptions.list(params=params).data]

    assert ids() == [other["id"], past_due["id"], active["id"]]  # canceled hidden by default
    assert ids(customer=a["id"]) == [past_due["id"], active["id"]]
    assert ids(customer=a["id"], status="all") == [gone["id"], past_due["id"], active["id"]]
    assert ids(status="canceled") == [gone["id"]]
    assert ids(status="trialing") == [other["id"]]
    assert ids(price=price["id"], status="past_due") == [past_due["id"]]
    expanded = client.v1.subscriptions.list(params={"customer": b["id"], "expand": ["data.customer"]})
    assert expanded.data[0].customer.id == b["id"]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.list(params={"status": "bogus"})


def test_add_subscription_helper_controls_status_and_period(stripe_server: Server, client: Client) -> None:
    customer, price = stripe_server.add_customer(), stripe_server.add_price(interval="year")
    made = stripe_server.add_subscription(
        customer,
        price,
        status="past_due",
        period_start=1_700_000_000,
        period_end=1_800_000_000,
        cancel_at_period_end=True,
        metadata={"referenceId": "org_9"},
    )
    sub = client.v1.subscriptions.retrieve(made["id"])
    assert sub.status == "past_due" and sub.cancel_at_period_end is True
    assert (sub.current_period_start, sub.current_period_end) == (1_700_000_000, 1_800_000_000)
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (1_700_000_000, 1_800_000_000)
    assert item.price.recurring.interval == "year" and sub.metadata["referenceId"] == "org_9"
    # The helper returns what the API serves (the SDK turns *_decimal strings into Decimal).
    assert made == sub.to_dict(for_json=True)
    assert len(stripe_server.requests) == 1  # helpers made no HTTP calls

    via_http = client.v1.subscriptions.create(
        params={
            "customer": customer["id"],
            "items": [{"price": price["id"]}],
            "test_status": "unpaid",
            "test_current_period_start": 100,
            "test_current_period_end": 200,
        }
    )
    assert via_http.status == "unpaid"
    assert (via_http.current_period_start, via_http.current_period_end) == (100, 200)


def test_subscription_create_validation_is_atomic(stripe_server: Server, client: Client) -> None:
    customer, price = stripe_server.add_customer(), stripe_server.add_price()
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.create(
            params={"customer": customer["id"], "items": [{"price": price["id"]}, {"price": "price_nope"}]}
        )
    err = info.value
    assert (err.http_status, err.code, err.param) == (400, "resource_missing", "items[1][price]")
    assert err.user_message == "No such price: 'price_nope'"
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscriptions.create(params={"customer": "cus_nope", "items": [{"price": price["id"]}]})
    assert (info.value.http_status, info.value.param) == (400, "customer")
    with pytest.raises(stripe.InvalidRequestError, match="Missing required param: customer"):
        client.v1.subscriptions.create(params={"items": [{"price": price["id"]}]})
    assert stripe_server.subscriptions == {}
    created = stripe_server.add_subscription(customer, price)
    assert created["id"] == "sub_0001"  # failed requests left no trace, not even in id counters


# -------------------------------------------------------------------------------------- portal


def test_billing_portal_session(stripe_server: Server, client: Client) -> None:
    customer = stripe_server.add_customer()
    session = client.v1.billing_portal.sessions.create(
        params={"customer": customer["id"], "return_url": "https://atlas.example/billing"}
    )
    assert session.id.startswith("bps_") and session.object == "billing_portal.session"
    assert session.customer == customer["id"]
    assert session.return_url == "https://atlas.example/billing"
    assert session.url == f"{stripe_server.url}/p/session/{session.id}"
    assert raw_get(session.url)[0] == 200
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.billing_portal.sessions.create(params={"customer": "cus_x"})
    err = info.value
    assert (err.http_status, err.code, err.param) == (400, "resource_missing", "customer")
    assert err.user_message == "No such customer: 'cus_x'"


# ---------------------------------------------------------------------------------- pagination


def test_pagination_and_auto_paging(stripe_server: Server, client: Client) -> None:
    made = [stripe_server.add_customer(email=f"u{i}@example.com")["id"] for i in range(25)]
    newest_first = made[::-1]
    first = client.v1.customers.list()
    assert len(first.data) == 10 and first.has_more is True
    assert [c.id for c in first.data] == newest_first[:10]
    second = client.v1.customers.list(params={"limit": 10, "starting_after": first.data[-1].id})
    assert [c.id for c in second.data] == newest_first[10:20]
    back = client.v1.customers.list(params={"limit": 5, "ending_before": second.data[0].id})
    assert [c.id for c in back.data] == newest_first[5:10] and back.has_more is True

    stripe_server.requests.clear()
    pages = client.v1.customers.list(params={"limit": 10})
    assert [c.id for c in pages.auto_paging_iter()] == newest_first
    cursors = [r.params.get("starting_after") for r in stripe_server.requests]
    assert cursors == [None, newest_first[9], newest_first[19]]

    filtered = client.v1.customers.list(params={"limit": 2, "email": "u3@example.com"})
    assert [c.email for c in filtered.auto_paging_iter()] == ["u3@example.com"]
    with pytest.raises(stripe.InvalidRequestError, match="between 1 and 100"):
        client.v1.customers.list(params={"limit": 101})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.list(params={"starting_after": "cus_nope"})
    assert info.value.param == "starting_after"


# ----------------------------------------------------------------------------- fault injection

SERVER_ERROR = "An unknown error occurred on Stripe's end."


@pytest.mark.parametrize(
    ("status", "error_class", "message"),
    [
        (400, stripe.InvalidRequestError, "Invalid request."),
        (401, stripe.AuthenticationError, "Invalid API Key provided: sk_test_****tlas"),
        (402, stripe.CardError, "Your card was declined."),
        (404, stripe.InvalidRequestError, "No such object."),
        (
            429,
            stripe.RateLimitError,
            "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
        ),
        (500, stripe.APIError, SERVER_ERROR),
        (503, stripe.APIError, SERVER_ERROR),
    ],
)
def test_injected_errors_map_to_sdk_exceptions(
    stripe_server: Server,
    client: Client,
    status: int,
    error_class: type[stripe.StripeError],
    message: str,
) -> None:
    stripe_server.fail_next(status)
    with pytest.raises(error_class) as info:
        client.v1.customers.create(params={"name": "x"})
    assert type(info.value) is error_class
    assert info.value.http_status == status and info.value.user_message == message
    assert stripe_server.customers == {}
    assert client.v1.customers.create(params={"name": "x"}).name == "x"  # one-shot fault


def test_injected_error_details(stripe_server: Server, client: Client) -> None:
    stripe_server.fail_next(402, message="Your card has insufficient funds.", code="insufficient_funds", param="source")
    with pytest.raises(stripe.CardError) as card:
        client.v1.subscriptions.list()
    assert (card.value.code, card.value.param) == ("insufficient_funds", "source")
    assert card.value.json_body["error"]["type"] == "card_error"
    stripe_server.fail_next(404, message="No such subscription: 'sub_9'", param="id")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.subscriptions.retrieve("sub_9")
    assert missing.value.code == "resource_missing" and missing.value.param == "id"


def test_fault_matching_by_method_and_path(stripe_server: Server, client: Client) -> None:
    fault = stripe_server.fail_next(500, method="POST", path_prefix="/v1/subscriptions", times=2)
    assert client.v1.customers.create().id == "cus_0001"
    assert client.v1.subscriptions.list().data == []
    with pytest.raises(stripe.APIError):
        client.v1.subscriptions.create(params={"customer": "cus_0001"})
    assert (fault.hits, fault.remaining, stripe_server.faults) == (1, 1, [fault])
    stripe_server.reset()
    assert (stripe_server.faults, stripe_server.requests, stripe_server.customers) == ([], [], {})
    assert client.v1.customers.create().id == "cus_0001"


def test_5xx_retried_then_succeeds(stripe_server: Server, stripe_fast_retries: None) -> None:
    retrying = make_client(stripe_server, retries=2)
    fault = stripe_server.fail_next(503, times=1)
    customer = retrying.v1.customers.create(params={"email": "r@example.com"})
    assert customer.email == "r@example.com" and fault.hits == 1
    posts = stripe_server.requests_to("POST", "/v1/customers")
    assert [r.status for r in posts] == [503, 200]
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    assert len(stripe_server.customers) == 1


def test_5xx_keeps_failing_after_retries(stripe_server: Server, stripe_fast_retries: None) -> None:
    retrying = make_client(stripe_server, retries=2)
    fault = stripe_server.fail_next(500, times=5)
    started = time.monotonic()
    with pytest.raises(stripe.APIError):
        retrying.v1.subscriptions.list()
    assert time.monotonic() - started < 0.8  # unpatched, two retries sleep at least 1 s
    assert [r.status for r in stripe_server.requests] == [500, 500, 500]  # 1 try + 2 retries
    assert fault.remaining == 2


def test_retry_headers(stripe_server: Server, stripe_fast_retries: None) -> None:
    retrying = make_client(stripe_server, retries=2)
    stripe_server.fail_next(429)  # no Stripe-Should-Retry header: the SDK does not retry 429
    with pytest.raises(stripe.RateLimitError):
        retrying.v1.balance.retrieve()
    assert len(stripe_server.requests) == 1

    stripe_server.reset()
    stripe_server.fail_next(429, should_retry=True)
    assert retrying.v1.balance.retrieve().object == "balance"
    assert [r.status for r in stripe_server.requests] == [429, 200]

    stripe_server.reset()
    stripe_server.fail_next(500, should_retry=False)
    with pytest.raises(stripe.APIError) as info:
        retrying.v1.balance.retrieve()
    assert info.value.headers["Stripe-Should-Retry"] == "false"
    assert len(stripe_server.requests) == 1


def test_idempotent_replay(stripe_server: Server, client: Client) -> None:
    first = client.v1.customers.create(params={"name": "Once"}, options={"idempotency_key": "k1"})
    again = client.v1.customers.create(params={"name": "Once"}, options={"idempotency_key": "k1"})
    assert first.id == again.id and len(stripe_server.customers) == 1
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"name": "Twice"}, options={"idempotency_key": "k1"})


# ------------------------------------------------------------------------------------ webhooks


def test_signed_webhooks_are_accepted_by_the_sdk(stripe_server: Server) -> None:
    sub = stripe_server.add_subscription(stripe_server.add_customer(), stripe_server.add_price())
    event = make_event("customer.subscription.updated", sub, event_id="evt_test_1", created=1_700_000_000)
    assert event["object"] == "event" and event["livemode"] is False
    assert event["api_version"] == stripe.api_version
    payload = json.dumps(event)
    header = sign_payload(payload, "whsec_test")
    assert header.startswith("t=") and ",v1=" in header

    parsed = stripe.Webhook.construct_event(payload, header, "whsec_test", tolerance=0)  # signed at the pinned now
    assert parsed.id == "evt_test_1" and parsed.type == "customer.subscription.updated"
    assert parsed.data.object.id == sub["id"]
    via_client = make_client(stripe_server).construct_event(payload.encode(), header, "whsec_test", tolerance=0)
    price_id = sub["items"]["data"][0]["price"]["id"]
    assert via_client.data.object["items"].data[0].price.id == price_id

    ts = 1_700_000_123
    expected = stripe.WebhookSignature.generate_signature_header(payload, "whsec_test", ts)
    assert sign_payload(payload.encode(), "whsec_test", ts) == expected
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_wrong", tolerance=0)
    stale = sign_payload(payload, "whsec_test", ts)  # 2023: older than any tolerance
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(payload, stale, "whsec_test")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload + " ", header, "whsec_test", tolerance=0)


# ------------------------------------------------------------------------------- billing meters


def meter_event(client: Client, value: str, identifier: str | None = None, timestamp: int | None = None) -> Any:
    params: dict[str, Any] = {"event_name": "atlas_reports", "payload": {"stripe_customer_id": "cus_1", "value": value}}
    if identifier is not None:
        params["identifier"] = identifier
    if timestamp is not None:
        params["timestamp"] = timestamp
    return client.v1.billing.meter_events.create(params=params)


def test_meter_events_add_up_per_meter_and_customer(client: Client, stripe_server: Server) -> None:
    first = meter_event(client, "5", "id-1")
    assert (first.object, first.identifier, first.payload["value"]) == ("billing.meter_event", "id-1", "5")
    assert first.timestamp == stripe_server.now()  # default: now
    meter_event(client, "7")
    assert stripe_server.meter_totals() == {("atlas_reports", "cus_1"): 12}
    assert stripe_server.meter_totals("other") == {}


def test_a_repeated_identifier_within_24_hours_is_counted_once(client: Client, stripe_server: Server) -> None:
    meter_event(client, "5", "same")
    again = meter_event(client, "5", "same")
    assert again.identifier == "same" and stripe_server.meter_totals() == {("atlas_reports", "cus_1"): 5}
    start = stripe_server.now()
    stripe_server.now = lambda: start + 86_400  # a day later the identifier is free again
    meter_event(client, "5", "same")
    assert stripe_server.meter_totals() == {("atlas_reports", "cus_1"): 10}


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-35 * 86_400, True), (-35 * 86_400 - 1, False), (300, True), (301, False)],
)
def test_meter_event_timestamps_within_35_days_back_and_5_minutes_ahead(
    client: Client, stripe_server: Server, offset: int, accepted: bool
) -> None:
    if accepted:
        meter_event(client, "1", timestamp=stripe_server.now() + offset)
        assert stripe_server.meter_totals() == {("atlas_reports", "cus_1"): 1}
        return
    with pytest.raises(stripe.InvalidRequestError) as caught:
        meter_event(client, "1", timestamp=stripe_server.now() + offset)
    assert caught.value.http_status == 400 and caught.value.param == "timestamp"
    assert stripe_server.meter_events == []


def test_meter_events_need_a_customer_and_a_whole_value(client: Client, stripe_server: Server) -> None:
    with pytest.raises(stripe.InvalidRequestError, match=r"payload\[stripe_customer_id\]"):
        client.v1.billing.meter_events.create(params={"event_name": "m", "payload": {"value": "1"}})
    with pytest.raises(stripe.InvalidRequestError, match="not a whole number"):
        meter_event(client, "1.5x")
    assert stripe_server.meter_events == []


def test_a_fault_can_let_requests_through_first(client: Client, stripe_server: Server) -> None:
    stripe_server.fail_next(400, path_prefix="/v1/billing/meter_events", after=1)
    meter_event(client, "1")
    with pytest.raises(stripe.InvalidRequestError):
        meter_event(client, "2")
    meter_event(client, "3")
    assert stripe_server.meter_totals() == {("atlas_reports", "cus_1"): 4}
