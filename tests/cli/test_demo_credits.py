"""`atlas demo` shows credits: ai-credits goes negative, agent-runs (block overage) refuses globex.

The expected balances are recomputed here from the demo's stored events, month by month, as the
rules of DESIGN 4c describe them (each month's allocation pays the overage first, the previous
month's remainder expires, each event costs ceil(quantity x credits / per)).
"""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from atlas_cli.services.demo import demo_set
from tests import factories
from tests.cli.conftest import Atlas

ALLOCATIONS = {  # billing model -> unit -> the allocation of acme's and globex's plan (demo catalogs)
    "classic": {"ai-credits": 6000, "agent-runs": 5000},
    "per-seat": {"ai-credits": 4000, "agent-runs": 3500},
}
ALLOWED = {"classic": "wayne", "per-seat": "stark"}  # a third workspace agent-runs allows


def _cost(unit: str, event_type: str, quantity: int) -> int:
    if event_type == "query":
        return quantity
    if event_type == "token" and unit == "ai-credits":
        return -(-quantity // 1000)
    return 0


def expected_balance(db: Database, model: str, workspace_id: str, unit: str) -> int:
    """The balance the rules give for the workspace's stored events, replayed month by month."""
    events = demo_set(model).tables.usage_events
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(events.c.event_type, events.c.quantity, events.c.created_at).where(
                events.c.workspace_id == workspace_id
            )
        ).all()
    by_month: dict[tuple[int, int], int] = {}
    for event_type, quantity, created_at in rows:
        at = created_at.astimezone(UTC) if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        by_month[(at.year, at.month)] = by_month.get((at.year, at.month), 0) + _cost(unit, event_type, quantity)
    allocation, kept, overage = ALLOCATIONS[model][unit], 0, 0
    year, month = min(by_month)
    while (year, month) <= (factories.NOW.year, factories.NOW.month):
        kept, overage = max(0, allocation - overage), max(0, overage - allocation)  # the old grant expired
        cost = by_month.get((year, month), 0)
        taken = min(kept, cost)
        kept, overage = kept - taken, overage + cost - taken
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return kept - overage


def _counts(db: Database) -> tuple[int, int, int]:
    with db.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("atlas_credit_ledger", "atlas_credit_grants", "atlas_audit_log")
        )


@pytest.fixture(params=["classic", "per-seat"])
def demo(request, db_url):
    atlas = Atlas(db_url)
    result = atlas("demo", "--billing-model", request.param)
    assert result.exit_code == 0, result.stderr
    db = Database(db_url)
    yield atlas, db, request.param
    db.dispose()


def test_the_demo_shows_a_negative_balance_and_a_block_overage_refusal(demo):
    atlas, db, model = demo
    acme = {a["unit"]: a for a in atlas.json("credits", "balance", "-w", "acme")["accounts"]}
    assert acme["ai-credits"]["balance"] == expected_balance(db, model, "ws_acme", "ai-credits") < 0
    assert acme["ai-credits"]["overage"] == -acme["ai-credits"]["balance"]
    assert acme["ai-credits"]["blockOverage"] is False and acme["agent-runs"]["blockOverage"] is True
    spend = atlas.json("entitlements", "check", "-w", "acme", "ai-credits")  # no block overage: still allowed
    assert spend["allowed"] is True and spend["reason"] == "ok" and spend["balance"] < 0

    refused = atlas.json("entitlements", "check", "-w", "globex", "agent-runs", code=12)
    assert refused["reason"] == "insufficient_credits" and refused["allowed"] is False
    assert refused["balance"] == expected_balance(db, model, "ws_globex", "agent-runs") < 1

    allowed = atlas.json("entitlements", "check", "-w", "acme", "agent-runs")
    assert allowed["reason"] == "ok" and allowed["balance"] == expected_balance(db, model, "ws_acme", "agent-runs") > 0
    third = atlas.json("entitlements", "check", "-w", ALLOWED[model], "agent-runs", "--quantity", "100")
    assert third["allowed"] is True and third["balance"] >= 100
    assert atlas.json("credits", "verify", "--all")["ok"] is True


def test_each_month_is_allocated_once_by_the_demo_admin(demo):
    atlas, _db, _model = demo
    entries = atlas.json("credits", "ledger", "-w", "acme", "ai-credits")["entries"]
    allocations = [e for e in entries if e["key"] and e["key"].startswith("atlas:allocation:ai-credits:")]
    months = sorted(e["key"].removeprefix("atlas:allocation:ai-credits:")[:7] for e in allocations)
    assert months == ["2026-09", "2026-10", "2026-11"]  # the demo's 60 days before 2026-11-22
    assert {e["actor"] for e in allocations} == {"admin@atlas.test"}
    assert any(e["kind"] == "expire" for e in entries) and any(e["kind"] == "debit" for e in entries)


def test_a_second_demo_run_allocates_and_deducts_nothing(demo):
    atlas, db, model = demo
    before = _counts(db)
    acme = atlas.json("credits", "balance", "-w", "acme")
    second = atlas("demo", "--billing-model", model, clock=lambda: datetime(2026, 12, 3, tzinfo=UTC))
    assert second.exit_code == 0 and "nothing was added" in second.stderr
    assert _counts(db) == before
    assert atlas.json("credits", "balance", "-w", "acme") == acme
    assert atlas.json("credits", "verify", "--all")["ok"] is True
