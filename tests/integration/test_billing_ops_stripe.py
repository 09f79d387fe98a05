"""`billing portal` and `billing sync` against the Stripe test server, on both engines."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from atlas_cli.db.database import Database
from tests import billing_factories as bf
from tests import factories
from tests.stripe_server import StripeServer, stripe_fast_retries

START, END = 1_790_000_000, 1_792_592_000  # 2026-09-21 .. 2026-10-21 (UTC)


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@pytest.fixture
def stripe_env(stripe_server: StripeServer, stripe_fast_retries: None, monkeypatch: pytest.MonkeyPatch) -> dict:
    prices = {
        name: stripe_server.add_price(interval=interval)["id"]
        for name, interval in (("team", "month"), ("annual", "year"), ("enterprise", "month"), ("other", "month"))
    }
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    monkeypatch.setenv("STRIPE_TEAM_PRICE_ID", prices["team"])
    monkeypatch.setenv("STRIPE_TEAM_ANNUAL_PRICE_ID", prices["annual"])
    monkeypatch.setenv("STRIPE_ENTERPRISE_PRICE_ID", prices["enterprise"])
    return prices


@pytest.fixture
def db(db_url: str) -> Database:
    database = factories.migrated(db_url)
    bf.people(database, tier="trial")
    yield database
    database.dispose()


@pytest.fixture
def cli(db: Database) -> bf.Cli:
    return bf.Cli(db.url)


def customer_for(db: Database, server: StripeServer, ws_id: str = "acme") -> str:
    customer = server.add_customer(email=f"billing@{ws_id}.test")["id"]
    with db.begin() as conn:
        bf.update_org(conn, ws_id, stripe_customer_id=customer)
    return customer


# --- portal ---------------------------------------------------------------------------------


def test_portal_for_the_workspace_customer(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict
) -> None:
    customer = customer_for(db, stripe_server)
    out = cli.json("billing", "portal", "-w", "acme", "--return-url", "https://app.example.com/admin")
    assert out["url"].startswith(stripe_server.url + "/p/session/bps_")
    (sent,) = stripe_server.requests_to("POST", "/v1/billing_portal/sessions")
    assert sent.params == {"customer": customer, "return_url": "https://app.example.com/admin"}
    plain = cli("billing", "portal", "-w", "acme")
    assert plain.exit_code == 0 and plain.stdout.strip().startswith("http")


def test_portal_open_hands_the_url_to_the_browser(
    db: Database, stripe_server: StripeServer, stripe_env: dict, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    customer_for(db, stripe_server)
    opened = tmp_path / "opened.txt"
    browser = f"{sys.executable} -c \"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\" %s"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BROWSER": browser, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-m", "atlas_cli", "--database-url", db.url, "billing", "portal", "-w", "acme", "--open"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for _ in range(50):
        if opened.exists() and opened.read_text():
            break
        time.sleep(0.1)
    assert opened.read_text() == result.stdout.strip()


def test_portal_falls_back_to_the_subscription_row(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict
) -> None:
    customer = stripe_server.add_customer()["id"]
    with db.begin() as conn:
        factories.subscription(conn, "acme", status="active", start=at(START), end=at(END), stripeCustomerId=customer)
    assert cli.json("billing", "portal", "-w", "acme")["url"]
    assert stripe_server.requests_to("POST")[0].params["customer"] == customer


def test_portal_without_customer_or_key(
    db: Database, cli: bf.Cli, monkeypatch: pytest.MonkeyPatch, stripe_server: StripeServer, stripe_env: dict
) -> None:
    err = cli.fails(3, "billing", "portal", "-w", "acme")
    assert "No Stripe customer associated with this workspace. Subscribe to a plan first." in err
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    assert "self-hosted mode" in cli.fails(5, "billing", "portal", "-w", "acme")
    assert stripe_server.requests == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "Invalid request."),
        (404, "No such object."),
        (429, "Too many requests hit the API too quickly"),
        (500, "An unknown error occurred on Stripe's end."),
        (503, "An unknown error occurred on Stripe's end."),
    ],
)
def test_portal_stripe_failures_exit_6(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict, status: int, expected: str
) -> None:
    customer_for(db, stripe_server)
    stripe_server.fail_next(status, times=5)
    err = cli.fails(6, "billing", "portal", "-w", "acme")
    assert expected in err and f"HTTP {status}" in err
    if status >= 500:
        assert len(stripe_server.requests) == 3  # the first try and two retries


def test_rejected_key_is_said_plainly(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_for(db, stripe_server)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_wrongkey1234")
    err = cli.fails(6, "billing", "portal", "-w", "acme")
    assert "Stripe rejected the API key in STRIPE_SECRET_KEY" in err and "wrongkey" not in err


# --- sync -----------------------------------------------------------------------------------


def sync(cli: bf.Cli, *args: str, code: int = 0) -> list[dict]:
    return cli.json("billing", "sync", "--as", "root", *args, code=code)


def test_sync_maps_price_to_tier_and_is_idempotent(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict
) -> None:
    customer = customer_for(db, stripe_server)
    sub = stripe_server.add_subscription(customer, stripe_env["annual"], period_start=START, period_end=END)
    (row,) = sync(cli, "-w", "acme")
    assert (row["workspaceId"], row["subscriptionId"], row["outcome"]) == ("acme", sub["id"], "tier")
    assert row["before"]["tier"] == "trial" and row["after"]["tier"] == "team" and row["changed"] is True
    assert bf.org(db, "acme")["plan_tier"] == "team"
    (stored,) = bf.subscriptions(db)
    assert (stored["referenceId"], stored["stripeSubscriptionId"], stored["stripeCustomerId"]) == (
        "acme",
        sub["id"],
        customer,
    )
    assert (stored["status"], stored["plan"], stored["billingInterval"]) == ("active", "team", "year")
    assert (stored["periodStart"], stored["periodEnd"], stored["cancelAtPeriodEnd"]) == (at(START), at(END), False)
    (audit,) = bf.audit(db)
    assert (audit["actor"], audit["action"]) == ("root@atlas.test", "billing.sync")
    (again,) = sync(cli, "-w", "acme")
    assert again["changed"] is False and again["before"] == again["after"] == {}
    assert len(bf.audit(db)) == 1 and len(bf.subscriptions(db)) == 1


def test_sync_dry_run_changes_nothing(db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict) -> None:
    customer = customer_for(db, stripe_server)
    stripe_server.add_subscription(customer, stripe_env["enterprise"])
    (row,) = sync(cli, "-w", "acme", "--dry-run")
    assert row["after"]["tier"] == "enterprise" and row["dryRun"] is True
    assert bf.org(db, "acme")["plan_tier"] == "trial" and bf.subscriptions(db) == [] and bf.audit(db) == []
    table = cli("billing", "sync", "-w", "acme", "--as", "root", "--dry-run")
    assert table.exit_code == 0 and "dry run" in table.stdout and "enterprise" in table.stdout


def test_unknown_price_and_scheduled_cancellation_change_nothing(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = customer_for(db, stripe_server)
    stripe_server.add_subscription(customer, stripe_env["other"])
    result = cli("billing", "sync", "-w", "acme", "--as", "root", "--json")
    (row,) = json.loads(result.stdout)
    assert row["outcome"] == "unknown_price" and row["changed"] is False and "not a configured" in row["why"]
    assert "Warning: acme" in result.stderr
    assert bf.subscriptions(db) == [] and bf.org(db, "acme")["plan_tier"] == "trial"
    with db.begin() as conn:
        bf.update_org(conn, "acme", plan_tier="team")
    stripe_server.reset()
    customer = customer_for(db, stripe_server)
    team = stripe_server.add_price()["id"]
    monkeypatch.setenv("STRIPE_TEAM_PRICE_ID", team)
    stripe_server.add_subscription(customer, team, cancel_at_period_end=True)
    (row,) = sync(cli, "-w", "acme")
    assert row["outcome"] == "scheduled" and "tier" not in row["after"]
    assert row["after"]["cancelAtPeriodEnd"] is True and bf.org(db, "acme")["plan_tier"] == "team"


def test_ended_subscription_locks(db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict) -> None:
    customer = customer_for(db, stripe_server)
    old = stripe_server.add_subscription(
        customer, stripe_env["team"], status="canceled", period_start=START, period_end=END
    )
    (row,) = sync(cli, "-w", "acme")
    assert row["outcome"] == "ended" and row["after"]["tier"] == "locked" and row["subscriptionId"] == old["id"]
    assert bf.org(db, "acme")["plan_tier"] == "locked"
    assert cli.json("billing", "check", "-w", "acme", code=15)["errorCode"] == "subscription_required"
    # a new live subscription wins over the ended one
    stripe_server.add_subscription(customer, stripe_env["team"])
    (row,) = sync(cli, "-w", "acme")
    assert row["after"]["tier"] == "team" and bf.org(db, "acme")["plan_tier"] == "team"


def test_ended_subscription_without_locked_tier_is_an_expired_trial(
    db_url: str, stripe_server: StripeServer, stripe_env: dict
) -> None:
    legacy = bf.legacy(db_url)
    bf.people(legacy, tier="team")
    cli = bf.Cli(legacy.url)
    customer = customer_for(legacy, stripe_server)
    stripe_server.now = lambda: END  # it ended at its period's end, a month before the CLI's pinned now
    sub = stripe_server.add_subscription(
        customer, stripe_env["team"], status="canceled", period_start=START, period_end=END
    )
    (row,) = sync(cli, "-w", "acme")
    ended = at(stripe_server.subscriptions[sub["id"]]["ended_at"])
    assert row["after"]["tier"] == "trial" and bf.org(legacy, "acme")["trial_ends_at"] == ended
    assert bf.org(legacy, "acme")["plan_tier"] == "trial"
    assert cli.json("billing", "check", "-w", "acme", code=13)["errorCode"] == "trial_expired"
    assert sync(cli, "-w", "acme")[0]["changed"] is False
    legacy.dispose()


def test_sync_all_needs_a_global_admin_and_writes_nothing_on_stripe_failure(
    db: Database, cli: bf.Cli, stripe_server: StripeServer, stripe_env: dict
) -> None:
    with db.begin() as conn:
        factories.workspace(conn, "initech", tier="trial")
        factories.workspace(conn, "hooli", tier="free")  # no customer: not synced
    for ws in ("acme", "initech"):
        stripe_server.add_subscription(customer_for(db, stripe_server, ws), stripe_env["team"])
    cli.fails(8, "billing", "sync", "--all", "--as", "owner")
    cli.fails(8, "billing", "sync", "-w", "acme", "--as", "bob")
    stripe_server.fail_next(500, times=3, path_prefix="/v1/subscriptions")
    err = cli.fails(6, "billing", "sync", "--all", "--as", "root")
    assert "HTTP 500" in err and bf.audit(db) == [] and bf.subscriptions(db) == []
    rows = sync(cli, "--all")
    assert [(r["workspaceId"], r["after"].get("tier")) for r in rows] == [("acme", "team"), ("initech", "team")]
    assert {r["workspace_id"] for r in bf.audit(db)} == {"acme", "initech"}


def test_sync_needs_key_and_customer(
    db: Database, cli: bf.Cli, stripe_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "No Stripe customer" in cli.fails(3, "billing", "sync", "-w", "acme", "--as", "root")
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    assert "self-hosted" in cli.fails(5, "billing", "sync", "-w", "acme", "--as", "root")
