"""`billing sync` and `billing webhook` on a database laid out by a per-seat Atlas server, on both
engines, against the Stripe test server: per-seat prices (environment and platform settings rows),
`locked` on an ended subscription, the unpaid/active suspension ladder, plan overrides, and the
server's own `stripe_webhook_events` as the ledger (DESIGN 4b "Stripe")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db import schema
from atlas_cli.db.database import Database
from atlas_cli.db.per_seat_schema import organization, stripe_webhook_events, subscription
from tests import billing_factories as bf
from tests import per_seat_factories as ps
from tests.factories import NOW
from tests.stripe_server import StripeServer, make_event, sign_payload, stripe_fast_retries

SECRET = "whsec_atlas_test"
OWNER = "acme_u0"  # ps.workspace makes the first member the owner
START, END = 1_790_000_000, 1_792_592_000


@pytest.fixture
def db(db_url: str) -> Database:
    database = ps.database(db_url)
    with database.begin() as conn:
        schema.audit_log.create(conn)  # atlas's own audit table, as `db upgrade` adds it
    yield database
    database.dispose()


@pytest.fixture
def prices(
    stripe_server: StripeServer,
    stripe_fast_retries: None,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    found = {name: stripe_server.add_price()["id"] for name in ("starter", "pro", "pro_annual", "business", "other")}
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("STRIPE_STARTER_PRICE_ID", found["starter"])
    monkeypatch.setenv("STRIPE_PRO_PRICE_ID", found["pro"])
    monkeypatch.setenv("STRIPE_PRO_ANNUAL_PRICE_ID", found["pro_annual"])
    return found


@pytest.fixture
def cli(db: Database) -> bf.Cli:
    return bf.Cli(db.url)


def acme(db: Database, server: StripeServer, **values: Any) -> str:
    """The workspace `acme` (starter) with a Stripe customer in "stripeCustomerId"."""
    customer = server.add_customer()["id"]
    with db.begin() as conn:
        ps.workspace(conn, "acme", tier="starter", customer=customer)
        if values:
            conn.execute(sa.update(organization).where(organization.c.id == "acme").values(**values))
    return customer


def org(db: Database) -> dict[str, Any]:
    with db.connect() as conn:
        return dict(conn.execute(sa.select(organization).where(organization.c.id == "acme")).mappings().one())


def rows(db: Database, table: sa.Table, order: Any) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(table).order_by(order)).mappings()]


def ledger(db: Database) -> list[dict[str, Any]]:
    return rows(db, stripe_webhook_events, stripe_webhook_events.c.event_id)


def sync(cli: bf.Cli, code: int = 0) -> dict[str, Any]:
    (row,) = cli.json("billing", "sync", "-w", "acme", "--as", OWNER, code=code)
    return row


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


# --- sync -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("price", "tier"), [("pro", "pro"), ("pro_annual", "pro"), ("starter", "starter")])
def test_sync_maps_per_seat_prices_from_the_environment(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, price: str, tier: str
) -> None:
    customer = acme(db, stripe_server, plan_tier="trial")
    sub = stripe_server.add_subscription(customer, prices[price], period_start=START, period_end=END)
    row = sync(cli)
    assert (row["outcome"], row["after"]["tier"]) == ("tier", tier) and org(db)["plan_tier"] == tier
    (stored,) = rows(db, subscription, subscription.c.id)
    assert (stored["referenceId"], stored["stripeSubscriptionId"], stored["plan"]) == ("acme", sub["id"], tier)
    assert (stored["periodStart"], stored["periodEnd"]) == (at(START), at(END))
    (audit,) = bf.audit(db)
    assert (audit["actor"], audit["action"]) == (f"{OWNER}@example.test", "billing.sync")
    again = sync(cli)  # a second sync changes nothing
    assert again["changed"] is False and len(bf.audit(db)) == 1 and len(rows(db, subscription, subscription.c.id)) == 1


def test_sync_reads_prices_from_platform_settings_rows_after_the_environment(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = acme(db, stripe_server)
    business = prices["business"]
    with db.begin() as conn:
        ps.setting(conn, "STRIPE_BUSINESS_PRICE_ID", business)  # platform row (org_id NULL)
        ps.setting(conn, "STRIPE_STARTER_PRICE_ID", "price_ignored")  # the environment wins
        ps.setting(conn, "STRIPE_PRO_PRICE_ID", prices["other"], "acme")  # a workspace row: not a price source
    stripe_server.add_subscription(customer, business)
    assert sync(cli)["after"]["tier"] == "business" and org(db)["plan_tier"] == "business"
    other = stripe_server.add_customer()["id"]
    with db.begin() as conn:
        ps.workspace(conn, "initech", tier="business", customer=other)
    stripe_server.add_subscription(other, prices["starter"])
    (row,) = cli.json("billing", "sync", "-w", "initech", "--as", "initech_u0")
    assert row["after"]["tier"] == "starter"


def test_annual_price_needs_the_monthly_one(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_PRO_PRICE_ID")
    customer = acme(db, stripe_server)
    stripe_server.add_subscription(customer, prices["pro_annual"])
    assert sync(cli)["outcome"] == "unknown_price" and org(db)["plan_tier"] == "starter"


def test_unknown_price_changes_nothing(db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict) -> None:
    customer = acme(db, stripe_server)
    stripe_server.add_subscription(customer, prices["other"])
    row = sync(cli)
    assert row["outcome"] == "unknown_price" and row["changed"] is False
    assert org(db)["plan_tier"] == "starter" and rows(db, subscription, subscription.c.id) == []
    assert bf.audit(db) == []


def test_an_empty_customer_is_filled_and_another_is_a_conflict(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, tmp_path: Path
) -> None:
    customer = stripe_server.add_customer()["id"]
    with db.begin() as conn:
        ps.workspace(conn, "acme", tier="trial")
        ps.subscription(conn, "acme", status="active", start=at(START), end=at(END), plan="pro", sub_id="sub_seed")
        conn.execute(sa.update(subscription).values(stripeCustomerId=customer))
    stripe_server.add_subscription(customer, prices["pro"])
    row = sync(cli)
    assert row["after"]["stripeCustomerId"] == customer and org(db)["stripeCustomerId"] == customer
    other = stripe_server.add_customer()["id"]
    foreign = stripe_server.add_subscription(other, prices["business"], metadata={"referenceId": "acme"})
    payload = json.dumps(make_event("customer.subscription.updated", foreign))
    (tmp_path / "e.json").write_text(payload)
    err = cli.fails(
        4, "billing", "webhook", "--payload", str(tmp_path / "e.json"), "--signature", sign_payload(payload, SECRET)
    )
    assert customer in err and other in err and "nothing changed" in err
    assert org(db)["plan_tier"] == "pro" and ledger(db) == []


def test_ended_subscription_locks_unless_another_is_live(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict
) -> None:
    customer = acme(db, stripe_server, plan_tier="pro")
    stripe_server.add_subscription(customer, prices["pro"], status="canceled", period_start=START, period_end=END)
    row = sync(cli)
    assert (row["outcome"], row["after"]["tier"]) == ("ended", "locked") and org(db)["plan_tier"] == "locked"
    stripe_server.add_subscription(customer, prices["pro"])  # beside a live one, the ended one does not lock
    assert sync(cli)["after"]["tier"] == "pro" and org(db)["plan_tier"] == "pro"


@pytest.mark.parametrize(
    ("status", "source", "stripe_status", "after"),
    [
        ("active", None, "unpaid", ("suspended", NOW, "billing")),
        ("suspended", "billing", "active", ("active", None, None)),
        ("suspended", "operator", "active", ("suspended", NOW - timedelta(days=3), "operator")),
        ("suspended", "operator", "unpaid", ("suspended", NOW - timedelta(days=3), "operator")),
        ("active", None, "past_due", ("active", None, None)),
    ],
)
def test_suspension_ladder(
    db: Database,
    cli: bf.Cli,
    stripe_server: StripeServer,
    prices: dict,
    status: str,
    source: str | None,
    stripe_status: str,
    after: tuple,
) -> None:
    suspended_at = NOW - timedelta(days=3) if status == "suspended" else None
    customer = acme(db, stripe_server, workspace_status=status, suspension_source=source, suspended_at=suspended_at)
    stripe_server.add_subscription(customer, prices["starter"], status=stripe_status)
    sync(cli)
    found = org(db)
    assert (found["workspace_status"], found["suspended_at"], found["suspension_source"]) == after
    assert found["plan_tier"] == "starter"


def test_plan_override_holds_the_tier(db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict) -> None:
    customer = acme(db, stripe_server, plan_override_until=NOW + timedelta(days=30))
    sub = stripe_server.add_subscription(customer, prices["pro"])
    row = sync(cli)
    assert row["outcome"] == "override" and "override holds" in row["why"] and "tier" not in row["after"]
    assert org(db)["plan_tier"] == "starter"
    (stored,) = rows(db, subscription, subscription.c.id)  # the subscription row is still saved
    assert stored["stripeSubscriptionId"] == sub["id"]
    with db.begin() as conn:  # once the override has passed, Stripe drives the tier again
        conn.execute(sa.update(organization).values(plan_override_until=NOW - timedelta(seconds=1)))
    assert sync(cli)["after"]["tier"] == "pro" and org(db)["plan_tier"] == "pro"


# --- webhook --------------------------------------------------------------------------------


def send(cli: bf.Cli, tmp_path: Path, event: dict, code: int = 0) -> Any:
    payload = json.dumps(event)
    path = tmp_path / f"{event['id']}.json"
    path.write_text(payload)
    args = ("billing", "webhook", "--payload", str(path), "--signature", sign_payload(payload, SECRET))
    return cli.json(*args, code=code)


def test_webhook_applies_once_and_records_in_the_server_ledger(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, tmp_path: Path
) -> None:
    customer = acme(db, stripe_server)
    sub = stripe_server.add_subscription(customer, prices["pro"])
    event = make_event("customer.subscription.updated", sub, event_id="evt_pro", created=1_795_000_000)
    out = send(cli, tmp_path, event)
    assert (out["outcome"], out["after"]["tier"]) == ("applied", "pro") and org(db)["plan_tier"] == "pro"
    (entry,) = ledger(db)
    assert (entry["event_id"], entry["event_type"], entry["stripe_subscription_id"], entry["applied_plan_tier"]) == (
        "evt_pro",
        "customer.subscription.updated",
        sub["id"],
        "pro",
    )
    assert entry["event_created"] == at(1_795_000_000) and entry["processed_at"] == NOW
    again = send(cli, tmp_path, event)
    assert again["outcome"] == "duplicate" and len(ledger(db)) == 1 and len(bf.audit(db)) == 1


def test_event_the_server_recorded_is_a_duplicate_and_older_ones_are_skipped(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, tmp_path: Path
) -> None:
    customer = acme(db, stripe_server)
    sub = stripe_server.add_subscription(customer, prices["pro"])
    with db.begin() as conn:  # the server applied evt_server itself
        conn.execute(
            sa.insert(stripe_webhook_events).values(
                event_id="evt_server",
                event_type="customer.subscription.updated",
                event_created=at(1_795_000_100),
                stripe_subscription_id=sub["id"],
                applied_plan_tier="pro",
                processed_at=NOW - timedelta(minutes=5),
            )
        )
    event = make_event("customer.subscription.updated", sub, event_id="evt_server", created=1_795_000_100)
    out = send(cli, tmp_path, event)
    assert out["outcome"] == "duplicate" and org(db)["plan_tier"] == "starter"
    older = make_event("customer.subscription.updated", sub, event_id="evt_older", created=1_795_000_000)
    out = send(cli, tmp_path, older)
    assert out["outcome"] == "stale" and org(db)["plan_tier"] == "starter"
    assert [e["event_id"] for e in ledger(db)] == ["evt_server"] and bf.audit(db) == []  # a stale event: no row
    newer = make_event("customer.subscription.updated", sub, event_id="evt_newer", created=1_795_000_200)
    assert send(cli, tmp_path, newer)["after"]["tier"] == "pro"
    assert [e["event_id"] for e in ledger(db)] == ["evt_newer", "evt_server"]


def test_webhook_unknown_price_is_left_for_the_server(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, tmp_path: Path
) -> None:
    customer = acme(db, stripe_server)
    sub = stripe_server.add_subscription(customer, prices["other"])
    out = send(cli, tmp_path, make_event("customer.subscription.updated", sub))
    assert out["outcome"] == "unknown_price" and org(db)["plan_tier"] == "starter" and ledger(db) == []


def test_webhook_deleted_locks_unless_another_row_is_live(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, tmp_path: Path
) -> None:
    customer = acme(db, stripe_server, plan_tier="pro")
    old = stripe_server.add_subscription(customer, prices["pro"], status="canceled")
    with db.begin() as conn:
        ps.subscription(conn, "acme", status="trialing", start=NOW - timedelta(days=1), end=NOW + timedelta(days=13))
    deleted = make_event("customer.subscription.deleted", old, event_id="evt_del1", created=1_795_000_000)
    out = send(cli, tmp_path, deleted)
    assert out["outcome"] == "superseded" and org(db)["plan_tier"] == "pro"
    assert [(e["event_id"], e["applied_plan_tier"]) for e in ledger(db)] == [("evt_del1", None)]
    with db.begin() as conn:
        conn.execute(sa.update(subscription).where(subscription.c.status == "trialing").values(status="canceled"))
    same_time = make_event("customer.subscription.deleted", old, event_id="evt_same", created=1_795_000_000)
    assert send(cli, tmp_path, same_time)["outcome"] == "stale"  # as old as a recorded deletion
    out = send(
        cli, tmp_path, make_event("customer.subscription.deleted", old, event_id="evt_del2", created=1_795_000_001)
    )
    assert out["after"]["tier"] == "locked" and org(db)["plan_tier"] == "locked"
    assert ("evt_del2", "locked") in [(e["event_id"], e["applied_plan_tier"]) for e in ledger(db)]


def test_webhook_ladder_and_override(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, tmp_path: Path
) -> None:
    customer = acme(db, stripe_server, plan_override_until=NOW + timedelta(days=90))
    unpaid = stripe_server.add_subscription(customer, prices["pro"], status="unpaid")
    send(cli, tmp_path, make_event("customer.subscription.updated", unpaid, event_id="evt_1", created=1_795_000_000))
    found = org(db)
    assert (found["workspace_status"], found["suspension_source"], found["suspended_at"]) == (
        "suspended",
        "billing",
        NOW,
    )
    active = {**unpaid, "status": "active"}
    out = send(
        cli, tmp_path, make_event("customer.subscription.updated", active, event_id="evt_2", created=1_795_000_100)
    )
    assert out["outcome"] == "override" and "override holds" in out["why"]
    found = org(db)
    assert (found["workspace_status"], found["suspension_source"], found["plan_tier"]) == ("active", None, "starter")
    # the server records an override skip with the tier Stripe asked for
    assert [(e["event_id"], e["applied_plan_tier"]) for e in ledger(db)] == [("evt_1", None), ("evt_2", "pro")]


# --- doctor ---------------------------------------------------------------------------------


def test_doctor_checks_the_per_seat_prices_from_environment_and_settings_rows(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, prices: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.begin() as conn:
        ps.setting(conn, "STRIPE_BUSINESS_PRICE_ID", prices["business"])  # platform row: found in Stripe
        ps.setting(conn, "STRIPE_BUSINESS_ANNUAL_PRICE_ID", "price_gone")  # platform row: not in Stripe
    result = cli("doctor", "--json")
    found = next(c for c in json.loads(result.stdout)["checks"] if c["check"] == "price ids")
    assert found["status"] == "failed" and "price_gone not found in Stripe" in found["detail"]
    assert "STRIPE_STARTER_ANNUAL_PRICE_ID not set" in found["detail"]
    assert "TEAM" not in found["detail"] and "ENTERPRISE" not in found["detail"]  # classic settings: not this model's
    assert "STRIPE_BUSINESS_PRICE_ID" not in found["detail"] and "settings" in found["fix"]
