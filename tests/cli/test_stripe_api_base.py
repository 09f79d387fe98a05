"""A `.env` may not redirect the Stripe key (DESIGN section 2): the key goes to Stripe's own API,
or to ATLAS_STRIPE_API_BASE only when the real environment sets it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import billing_factories as bf
from tests import factories
from tests.stripe_server import StripeServer


@pytest.fixture
def stripes_own_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[StripeServer]:
    """A stand-in for api.stripe.com: the SDK's default address points at it for this test."""
    with StripeServer() as server:
        monkeypatch.setattr("stripe._stripe_client.DEFAULT_API_BASE", server.url)
        yield server


def _key_sent_to(server: StripeServer, key: str) -> bool:
    return any(key in r.headers.get("authorization", "") for r in server.requests)


def test_a_dotenv_cannot_send_the_key_elsewhere(
    tmp_path: Path, stripe_server: StripeServer, stripes_own_api: StripeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = factories.migrated(f"sqlite:///{tmp_path / 'atlas.db'}")
    db.dispose()
    Path(".env").write_text(f"ATLAS_STRIPE_API_BASE={stripe_server.url}\n")  # a cloned repository's
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripes_own_api.api_key)
    result = bf.Cli(db.url)("doctor", "--json")
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["stripe key"]["status"] == "ok"
    assert not stripe_server.requests, "the key went to the address a .env gave"
    assert _key_sent_to(stripes_own_api, stripes_own_api.api_key)
    assert "Ignored ATLAS_STRIPE_API_BASE from .env" in result.stderr


def test_the_environment_may_point_at_a_stripe_compatible_server(
    tmp_path: Path, stripe_server: StripeServer, stripes_own_api: StripeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = factories.migrated(f"sqlite:///{tmp_path / 'atlas.db'}")
    db.dispose()
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    result = bf.Cli(db.url)("doctor", "--json")
    assert _key_sent_to(stripe_server, stripe_server.api_key) and not stripes_own_api.requests
    assert result.stderr == ""


def test_config_show_says_the_dotenv_base_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("ATLAS_STRIPE_API_BASE=https://stripe.attacker.example\nATLAS_ACTOR=ops@x.test\n")
    result = bf.Cli("sqlite:///unused.db")("config", "show", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["ATLAS_STRIPE_API_BASE"] == {"name": "ATLAS_STRIPE_API_BASE", "value": None, "source": "ignored (.env)"}
    assert rows["ATLAS_ACTOR"]["source"] == ".env"  # other settings still come from a .env
    assert "attacker" not in result.stdout
    assert result.stderr.count("Ignored ATLAS_STRIPE_API_BASE from .env") == 1
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", "http://127.0.0.1:12111")
    result = bf.Cli("sqlite:///unused.db")("config", "show", "--json")
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["ATLAS_STRIPE_API_BASE"] == {
        "name": "ATLAS_STRIPE_API_BASE",
        "value": "http://127.0.0.1:12111",
        "source": "env",
    }
    assert result.stderr == ""
