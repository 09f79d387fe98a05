"""`atlas demo` on the embedded default, and the output formats of the read commands."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from tests import factories
from tests.cli.conftest import Atlas


@pytest.fixture
def demo():
    atlas = Atlas(None)
    result = atlas("demo")
    assert result.exit_code == 0, result.output + result.stderr
    return atlas, result


def test_demo_loads_every_state_once(demo):
    atlas, first = demo
    assert "Loaded 9 demo workspaces" in first.stderr
    assert "Globex" in first.stdout and "warning" in first.stdout
    expected = {
        "acme": 0,
        "globex": 10,
        "initech": 11,
        "umbrella": 12,
        "hooli": 0,
        "pied-piper": 13,
        "stark": 0,
        "wayne": 0,
        "homelab": 0,
    }
    codes = {slug: atlas("billing", "check", "-w", slug, "--fail-on", "warning").exit_code for slug in expected}
    assert codes == expected
    assert atlas.json("billing", "check", "-w", "stark")["metrics"][1]["enforced"] is False
    assert atlas("billing", "check", "-w", "umbrella", "--resource", "members").exit_code == 12
    assert atlas("billing", "check", "-w", "globex", "--resource", "connections").exit_code == 12
    listing = {w["slug"]: w for w in atlas.json("workspace", "list")}
    assert listing["wayne"]["tier"] == "enterprise" and listing["homelab"]["tier"] == "free"
    assert listing["stark"]["byot"] is True and listing["hooli"]["trialEndsAt"]
    history = atlas.json("usage", "history", "-w", "acme", "--period", "daily", "--limit", "60")
    assert sum(1 for s in history["summaries"] if s["query_count"] > 0) >= 55
    second = atlas("demo")
    assert second.exit_code == 0 and "nothing was added" in second.stderr
    path = os.path.join(os.environ["ATLAS_DATA_DIR"], "atlas.db")
    db = Database(f"sqlite:///{path}")
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM organization")).scalar() == 9
        events = conn.execute(sa.text("SELECT count(*), count(DISTINCT id) FROM usage_events")).one()
    db.dispose()
    assert events[0] == events[1] > 50_000


def test_demo_refuses_a_database_of_its_own(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "real")
    result = atlas("demo")
    assert result.exit_code == 4 and "only loads into the embedded database" in result.stderr
    with atlas_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM usage_events")).scalar() == 0


def test_demo_into_an_explicit_empty_database(db_url):
    atlas = Atlas(db_url)
    assert atlas("demo").exit_code == 0
    assert len(atlas.json("workspace", "list")) == 9


def test_api_shaped_json(demo):
    atlas, _ = demo
    show = atlas.json("usage", "show", "-w", "acme")
    assert {"workspaceId", "queryCount", "tokenCount", "activeUsers", "periodStart", "periodEnd"} <= set(show)
    assert show["periodStart"].endswith("Z")
    history = atlas.json("usage", "history", "-w", "acme", "--limit", "2")
    assert set(history) >= {"workspaceId", "period", "summaries"} and history["period"] == "monthly"
    assert set(history["summaries"][0]) >= {
        "workspace_id",
        "period",
        "period_start",
        "query_count",
        "token_count",
        "active_users",
    }
    breakdown = atlas.json("usage", "breakdown", "-w", "acme", "--sort", "tokens", "--limit", "3")
    tokens = [u["token_count"] for u in breakdown["users"]]
    assert tokens == sorted(tokens, reverse=True) and len(tokens) == 3
    assert set(breakdown["users"][0]) >= {"user_id", "query_count", "token_count", "login_count"}
    trial = atlas.json("trial", "status", "-w", "hooli")
    assert set(trial) >= {"workspaceId", "tier", "trialEndsAt", "expired", "daysLeft"}
    assert atlas.json("workspace", "show", "acme")["stripeCustomerId"] == "cus_demo_acme"


def test_csv_and_global_format(demo):
    atlas, _ = demo
    result = atlas("--format", "csv", "usage", "breakdown", "-w", "acme")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and set(rows[0]) == {"user_id", "email", "name", "query_count", "token_count", "login_count"}
    listing = atlas("workspace", "list", "--format", "csv")
    assert listing.stdout.splitlines()[0] == (  # the original columns first, then the billing check's
        "id,name,slug,tier,status,byot,trialEndsAt,billingStatus,worstUsagePercent,effectiveTrialEndsAt,trialExpired"
    )


def test_environment_supplies_workspace_and_format(demo, monkeypatch):
    atlas, _ = demo
    monkeypatch.setenv("ATLAS_WORKSPACE", "initech")
    monkeypatch.setenv("ATLAS_FORMAT", "json")
    result = atlas("billing", "check")
    assert json.loads(result.stdout)["workspaceId"] == "ws_initech"


def test_names_are_printed_literally(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme", name="[bold]Acme[/bold] [test]")
    result = atlas("workspace", "list")
    assert "[bold]Acme[/bold] [test]" in result.stdout


def test_installed_console_script_runs(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "ATLAS_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": root}
    version = subprocess.run([sys.executable, "-m", "atlas_cli", "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.startswith("atlas ")
    missing = subprocess.run(
        [sys.executable, "-m", "atlas_cli", "usage", "show"], capture_output=True, text=True, env=env
    )
    assert missing.returncode == 5 and missing.stderr.startswith("Error: ")


DEMO_REASONS = {  # billing model -> (workspace, feature, reason, exit code): every reason on demo data
    "classic": [
        ("acme", "data-explorer", "ok", 0),
        ("hooli", "data-explorer", "not_entitled", 16),
        ("acme", "api-keys", "no_counter", 16),
        ("wayne", "api-keys", "unlimited", 0),
        ("acme", "pending-invitations", "limit_reached", 12),
        ("umbrella", "pending-invitations", "ok", 0),
        ("acme", "query-budget", "ok", 0),
        ("globex", "query-budget", "max_usage_reached", 12),
        ("pied-piper", "query-budget", "trial_expired", 13),
        ("acme", "agent-runs", "ok", 0),
        ("globex", "agent-runs", "insufficient_credits", 12),
    ],
    "per-seat": [
        ("acme", "data-explorer", "ok", 0),
        ("hooli", "data-explorer", "not_entitled", 16),
        ("acme", "api-keys", "no_counter", 16),
        ("stark", "api-keys", "unlimited", 0),
        ("initech", "action-plugins", "limit_reached", 12),
        ("acme", "action-plugins", "ok", 0),
        ("acme", "query-budget", "ok", 0),
        ("globex", "query-budget", "max_usage_reached", 12),
        ("pied-piper", "data-explorer", "trial_expired", 13),
        ("wayne", "data-explorer", "subscription_required", 15),
        ("acme", "agent-runs", "ok", 0),
        ("globex", "agent-runs", "insufficient_credits", 12),
    ],
}


@pytest.mark.parametrize("model", ["classic", "per-seat"])
def test_the_demo_catalog_shows_every_entitlement_reason(model):
    atlas = Atlas(None)
    first = atlas("demo", "--billing-model", model)
    assert first.exit_code == 0, first.stderr
    for workspace, feature, reason, code in DEMO_REASONS[model]:
        found = atlas.json("entitlements", "check", "-w", workspace, feature, code=code)
        assert found["reason"] == reason, (workspace, feature, found)
    budget = atlas.json("entitlements", "check", "-w", "globex", "query-budget", code=12)
    assert budget["used"] > budget["limit"] and budget["source"] == "plan"
    assert atlas.json("entitlements", "check", "-w", "acme", "api-keys", "--count", "1")["reason"] == "ok"
    assert [v["version"] for v in atlas.json("plans", "history")] == [1]
    assert atlas("demo", "--billing-model", model).exit_code == 0  # a second run adds no version
    assert [v["version"] for v in atlas.json("plans", "history")] == [1]
    pushes = [row for row in atlas.json("audit", "list") if row["action"] == "plans.push"]
    assert len(pushes) == 1 and pushes[0]["actor"] == "admin@atlas.test"
