"""`atlas config show` and `atlas doctor`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import billing_factories as bf
from tests import factories
from tests.stripe_server import StripeServer, stripe_fast_retries


def test_config_show_sources_and_masking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("STRIPE_WEBHOOK_SECRET=whsec_fromdotenv123\nATLAS_ACTOR=ops@x.test\n")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_supersecret9876")
    monkeypatch.setenv("ATLAS_ACTOR", "env@x.test")
    cli = bf.Cli("postgresql://atlas:hunter2@db.example:5432/atlas")
    result = cli("config", "show", "--json")
    assert result.exit_code == 0, result.stderr
    assert "hunter2" not in result.stdout and "supersecret" not in result.stdout and "fromdotenv" not in result.stdout
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["DATABASE_URL"] == {
        "name": "DATABASE_URL",
        "source": "flag",
        "value": "postgresql://atlas:***@db.example:5432/atlas",
    }
    assert rows["STRIPE_SECRET_KEY"]["source"] == "env" and rows["STRIPE_SECRET_KEY"]["value"] == "sk_test_****"
    assert rows["STRIPE_WEBHOOK_SECRET"]["source"] == ".env" and rows["STRIPE_WEBHOOK_SECRET"]["value"] == "whsec_****"
    assert rows["ATLAS_ACTOR"] == {"name": "ATLAS_ACTOR", "source": "env", "value": "env@x.test"}
    assert rows["STRIPE_TEAM_PRICE_ID"] == {"name": "STRIPE_TEAM_PRICE_ID", "source": "default", "value": None}


def test_doctor_self_hosted_passes(db_url: str) -> None:
    db = factories.migrated(db_url)
    out = bf.Cli(db.url).json("doctor")
    assert out["ok"] is True
    assert [(c["check"], c["status"]) for c in out["checks"]] == [
        ("database", "ok"),
        ("schema", "ok"),
        ("trials", "ok"),
        ("stripe key", "skipped"),
        ("webhook secret", "skipped"),
        ("price ids", "skipped"),
    ]
    db.dispose()


def test_doctor_explains_expired_trials(db_url: str) -> None:
    from datetime import timedelta

    db = factories.migrated(db_url)
    with db.begin() as conn:
        factories.workspace(conn, "running", tier="trial", createdAt=factories.NOW - timedelta(days=3))
        factories.workspace(conn, "lapsed", tier="trial", createdAt=factories.NOW - timedelta(days=15))
    out = bf.Cli(db.url).json("doctor")
    trials = next(c for c in out["checks"] if c["check"] == "trials")
    assert out["ok"] is True and trials["status"] == "ok"
    assert "2 on trial, 1 expired (1 by the 14-day default" in trials["detail"]
    with db.begin() as conn:
        factories.subscription(
            conn,
            "lapsed",
            status="active",
            start=factories.NOW - timedelta(days=1),
            end=factories.NOW + timedelta(days=29),
        )
    out = bf.Cli(db.url).json("doctor", code=4)
    trials = next(c for c in out["checks"] if c["check"] == "trials")
    assert trials["status"] == "failed" and "lapsed" in trials["detail"] and "billing sync" in trials["fix"]
    db.dispose()


def test_doctor_all_green_with_stripe(
    db_url: str, stripe_server: StripeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = factories.migrated(db_url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    for name in ("STRIPE_TEAM_PRICE_ID", "STRIPE_TEAM_ANNUAL_PRICE_ID", "STRIPE_ENTERPRISE_PRICE_ID"):
        monkeypatch.setenv(name, stripe_server.add_price()["id"])
    out = bf.Cli(db.url).json("doctor")
    assert out["ok"] is True and {c["status"] for c in out["checks"]} == {"ok"}
    assert stripe_server.requests_to("GET", "/v1/balance")
    db.dispose()


def test_doctor_reports_each_problem(
    tmp_path: Path, stripe_server: StripeServer, stripe_fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    monkeypatch.setenv("STRIPE_TEAM_PRICE_ID", "price_nope")
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    from atlas_cli.db.database import Database

    with Database(empty, create=True).begin():
        pass  # an empty database: reachable, no schema
    result = bf.Cli(empty)("doctor", "--json")
    assert result.exit_code == 5
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["database"]["status"] == "ok" and checks["schema"]["status"] == "failed"
    assert "atlas db upgrade" in checks["schema"]["fix"]
    assert checks["webhook secret"]["status"] == "failed" and "signing secret" in checks["webhook secret"]["fix"]
    assert "price_nope not found in Stripe" in checks["price ids"]["detail"]
    assert "STRIPE_ENTERPRISE_PRICE_ID not set" in checks["price ids"]["detail"]
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_rejected0000")
    result = bf.Cli(empty)("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["stripe key"]["status"] == "failed" and "rejected" in checks["stripe key"]["detail"]
    assert result.exit_code == 5  # the schema check fails first
    missing = bf.Cli(f"sqlite:///{tmp_path / 'nowhere.db'}")("doctor")
    assert missing.exit_code == 5 and "To fix database" in missing.stdout


def test_doctor_database_down_is_exit_7() -> None:
    result = bf.Cli("postgresql://atlas:pw@127.0.0.1:1/atlas")("doctor", "--json")
    assert result.exit_code == 7 and "pw@" not in result.stdout
    assert json.loads(result.stdout)["checks"][0]["status"] == "failed"
