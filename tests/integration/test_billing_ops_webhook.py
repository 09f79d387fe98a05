"""`billing webhook`: signed events applied once, in order, on both engines."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from atlas_cli.db.database import Database
from tests import billing_factories as bf
from tests import factories
from tests.stripe_server import PINNED_NOW, StripeServer, make_event, sign_payload, stripe_fast_retries

SECRET = "whsec_atlas_test"


@pytest.fixture
def env(stripe_server: StripeServer, stripe_fast_retries: None, monkeypatch: pytest.MonkeyPatch) -> dict:
    team, enterprise = stripe_server.add_price()["id"], stripe_server.add_price()["id"]
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    monkeypatch.setenv("STRIPE_TEAM_PRICE_ID", team)
    monkeypatch.setenv("STRIPE_ENTERPRISE_PRICE_ID", enterprise)
    return {"team": team, "enterprise": enterprise}


@pytest.fixture
def db(db_url: str) -> Database:
    database = factories.migrated(db_url)
    bf.people(database, tier="trial")
    yield database
    database.dispose()


class Hook:
    """Writes a signed event to a file and runs `atlas billing webhook` on it."""

    def __init__(self, cli: bf.Cli, tmp_path: Path) -> None:
        self.cli, self.tmp_path = cli, tmp_path

    def send(
        self,
        event: dict,
        *,
        code: int = 0,
        secret: str = SECRET,
        signed_at: int | None = None,
        extra: tuple[str, ...] = (),
    ) -> dict | str:
        payload = json.dumps(event)
        path = self.tmp_path / f"{event['id']}.json"
        path.write_text(payload)
        header = sign_payload(payload, secret, signed_at)
        if code:
            return self.cli.fails(code, "billing", "webhook", "--payload", str(path), "--signature", header, *extra)
        return self.cli.json("billing", "webhook", "--payload", str(path), "--signature", header, *extra)


@pytest.fixture
def hook(db: Database, tmp_path: Path) -> Hook:
    return Hook(bf.Cli(db.url), tmp_path)


@pytest.fixture
def customer(db: Database, stripe_server: StripeServer) -> str:
    cus = stripe_server.add_customer()["id"]
    with db.begin() as conn:
        bf.update_org(conn, "acme", stripe_customer_id=cus)
    return cus


def test_subscription_event_is_applied_once(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str
) -> None:
    sub = stripe_server.add_subscription(customer, env["team"])
    event = make_event("customer.subscription.created", sub, event_id="evt_a", created=1_800_000_000)
    out = hook.send(event)
    assert (out["outcome"], out["workspaceId"], out["subscriptionId"]) == ("applied", "acme", sub["id"])
    assert out["after"]["tier"] == "team" and bf.org(db, "acme")["plan_tier"] == "team"
    (stored,) = bf.subscriptions(db)
    assert stored["stripeSubscriptionId"] == sub["id"] and stored["status"] == "active"
    (entry,) = bf.ledger(db)
    assert (entry["workspace_id"], entry["event_id"], entry["outcome"]) == ("acme", "evt_a", "applied")
    (audit,) = bf.audit(db)
    assert (
        audit["actor"] == "stripe-webhook:evt_a" and audit["action"] == "billing.webhook.customer.subscription.created"
    )
    again = hook.send(event)
    assert again["outcome"] == "duplicate" and again["changed"] is False
    assert len(bf.ledger(db)) == 1 and len(bf.audit(db)) == 1


def test_older_event_is_skipped(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str
) -> None:
    sub = stripe_server.add_subscription(customer, env["enterprise"])
    newer = make_event("customer.subscription.updated", sub, event_id="evt_new", created=1_800_000_100)
    sub_old = {**sub, "items": json.loads(json.dumps(sub["items"]))}
    sub_old["items"]["data"][0]["price"]["id"] = env["team"]
    older = make_event("customer.subscription.updated", sub_old, event_id="evt_old", created=1_800_000_000)
    assert hook.send(newer)["after"]["tier"] == "enterprise"
    out = hook.send(older)
    assert out["outcome"] == "stale" and "older than the last one applied" in out["why"]
    assert bf.org(db, "acme")["plan_tier"] == "enterprise" and len(bf.audit(db)) == 1
    assert {(e["event_id"], e["outcome"]) for e in bf.ledger(db)} == {("evt_new", "applied"), ("evt_old", "stale")}
    assert hook.send(older)["outcome"] == "duplicate"


def test_deleted_subscription_locks(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str
) -> None:
    sub = stripe_server.add_subscription(customer, env["team"], status="canceled")
    out = hook.send(make_event("customer.subscription.deleted", sub))
    assert out["after"]["tier"] == "locked" and bf.org(db, "acme")["plan_tier"] == "locked"


def test_ended_old_subscription_does_not_lock_a_workspace_with_a_live_one(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str
) -> None:
    live = stripe_server.add_subscription(customer, env["team"])
    assert hook.send(make_event("customer.subscription.created", live))["after"]["tier"] == "team"
    old = stripe_server.add_subscription(customer, env["team"], status="canceled")
    out = hook.send(make_event("customer.subscription.deleted", old))
    assert out["outcome"] == "superseded" and live["id"] in out["why"]
    assert bf.org(db, "acme")["plan_tier"] == "team"
    assert "superseded" in {e["outcome"] for e in bf.ledger(db)}


def test_checkout_completed_matches_by_reference(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict
) -> None:
    cus = stripe_server.add_customer()["id"]
    sub = stripe_server.add_subscription(cus, env["team"])
    session = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": cus,
        "subscription": sub["id"],
        "client_reference_id": "acme",
        "metadata": {},
    }
    out = hook.send(make_event("checkout.session.completed", session))
    assert out["outcome"] == "applied" and out["workspaceId"] == "acme"
    assert bf.org(db, "acme")["stripe_customer_id"] == cus and bf.org(db, "acme")["plan_tier"] == "team"
    assert stripe_server.requests_to("GET", f"/v1/subscriptions/{sub['id']}")


@pytest.mark.parametrize("kind", ["checkout", "subscription metadata"])
def test_event_naming_a_workspace_with_another_customer_is_a_conflict(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str, kind: str
) -> None:
    other = stripe_server.add_customer()["id"]
    sub = stripe_server.add_subscription(other, env["enterprise"], metadata={"referenceId": "acme"})
    if kind == "checkout":
        session = {"id": "cs_2", "object": "checkout.session", "mode": "subscription", "customer": other}
        event = make_event("checkout.session.completed", {**session, "subscription": sub["id"], "metadata": {}})
        event["data"]["object"]["client_reference_id"] = "acme"
    else:
        event = make_event("customer.subscription.updated", sub)
    before = bf.org(db, "acme")
    error = hook.send(event, code=4)
    assert customer in error and other in error and "nothing changed" in error
    assert bf.org(db, "acme") == before and before["stripe_customer_id"] == customer
    assert bf.subscriptions(db) == [] and bf.ledger(db) == [] and bf.audit(db) == []


def test_checkout_stripe_failure_changes_nothing(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict
) -> None:
    session = {
        "id": "cs_2",
        "object": "checkout.session",
        "customer": "cus_x",
        "subscription": "sub_missing",
        "client_reference_id": "acme",
    }
    err = hook.send(make_event("checkout.session.completed", session), code=6)
    assert "No such subscription: 'sub_missing'" in err
    assert bf.ledger(db) == [] and bf.org(db, "acme")["plan_tier"] == "trial"


def test_bad_or_stale_signature_exit_2(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str
) -> None:
    sub = stripe_server.add_subscription(customer, env["team"])
    event = make_event("customer.subscription.updated", sub)
    assert "does not verify" in hook.send(event, code=2, secret="whsec_wrong")
    assert "does not verify" in hook.send(event, code=2, signed_at=PINNED_NOW - 301)
    assert bf.ledger(db) == [] and bf.org(db, "acme")["plan_tier"] == "trial"


def test_tolerance_bounds_the_signature_age_on_the_pinned_clock(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str
) -> None:
    sub = stripe_server.add_subscription(customer, env["team"])
    stale = make_event("customer.subscription.updated", sub, event_id="evt_stale")
    err = hook.send(stale, code=2, signed_at=PINNED_NOW - 301)
    assert "--tolerance 300" in err and "nothing changed" in err
    assert bf.ledger(db) == [] and bf.org(db, "acme")["plan_tier"] == "trial"
    at_edge = make_event("customer.subscription.updated", sub, event_id="evt_edge")
    assert hook.send(at_edge, signed_at=PINNED_NOW - 300)["after"]["tier"] == "team"
    saved = make_event("customer.subscription.updated", sub, event_id="evt_saved")
    assert hook.send(saved, code=2, signed_at=PINNED_NOW - 86_400, extra=("--tolerance", "3600"))
    assert hook.send(saved, signed_at=PINNED_NOW - 86_400, extra=("--tolerance", "0"))["eventId"] == "evt_saved"


def _signed_event(event_type: str, created: object = 1, **fields: object) -> bytes:
    return json.dumps({"object": "event", "id": "evt_x", "type": event_type, "created": created, **fields}).encode()


UPDATED, CHECKOUT = "customer.subscription.updated", "checkout.session.completed"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"object": "event"}',
        _signed_event(UPDATED),
        _signed_event(UPDATED, data={"object": []}),
        _signed_event(UPDATED, created="soon", data={"object": {}}),
        _signed_event(UPDATED, data={"object": {"items": 5}}),
        _signed_event(UPDATED, created=10**30, data={"object": {}}),
        _signed_event(CHECKOUT, data={"object": {"subscription": {"no": "id"}}}),
        _signed_event(CHECKOUT, data={"object": {"subscription": "sub_1", "client_reference_id": 5}}),
    ],
)
def test_signed_malformed_bodies_are_bad_input(
    db: Database, hook: Hook, env: dict, tmp_path: Path, body: bytes
) -> None:
    path = tmp_path / "event.json"
    path.write_bytes(body)
    header = sign_payload(body.decode("latin-1") if body.startswith(b"\xff") else body, SECRET)
    err = hook.cli.fails(2, "billing", "webhook", "--payload", str(path), "--signature", header)
    assert "nothing changed" in err or "not UTF-8" in err
    assert bf.ledger(db) == [] and bf.org(db, "acme")["plan_tier"] == "trial"


def test_unmatched_ignored_dry_run_and_stdin(
    db: Database, hook: Hook, stripe_server: StripeServer, env: dict, customer: str
) -> None:
    stranger = stripe_server.add_subscription(stripe_server.add_customer(), env["team"])
    assert "belongs to no workspace" in hook.send(make_event("customer.subscription.updated", stranger), code=3)
    assert hook.send(make_event("invoice.paid", {"id": "in_1", "object": "invoice"}))["outcome"] == "ignored"
    sub = stripe_server.add_subscription(customer, env["team"])
    event = make_event("customer.subscription.updated", sub, event_id="evt_dry")
    dry = hook.send(event, extra=("--dry-run",))
    assert dry["after"]["tier"] == "team" and bf.org(db, "acme")["plan_tier"] == "trial" and bf.ledger(db) == []
    payload = json.dumps(event)
    result = hook.cli(
        "billing", "webhook", "--payload", "-", "--signature", sign_payload(payload, SECRET), "--json", stdin=payload
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "applied" and bf.org(db, "acme")["plan_tier"] == "team"


def test_webhook_needs_its_secret(db: Database, hook: Hook, env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    assert "STRIPE_WEBHOOK_SECRET" in hook.send(make_event("invoice.paid", {"id": "in_1"}), code=5)
    hook.cli.fails(2, "billing", "webhook", "--payload", "missing.json", "--signature", "t=1,v1=x")
