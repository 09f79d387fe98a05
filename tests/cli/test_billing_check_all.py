"""`billing check --all`: a few hundred generated workspaces in every state, on both billing models
and both engines, each decided exactly as its single check decides it; the worst exit code; a
fixed number of statements whatever the fleet's size."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db.usage_days import served_days
from atlas_cli.db.workspace_sets import live_workspaces
from atlas_cli.render.base import json_text
from atlas_cli.render.reports import check_json
from atlas_cli.render.standing import usage_json
from atlas_cli.services import Services
from atlas_cli.services.fleet import measure
from atlas_cli.services.models import Workspace
from tests import factories
from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.factories import MONTH_START, NOW

PERIOD_KEYS = ("periodStart", "periodEnd", "periodSource", "forecast")
WORST = {12: 0, 15: 1, 13: 2, 14: 3, 11: 4, 10: 5, 0: 6}


def _classic_fleet(conn: Any, rng: random.Random, count: int) -> None:
    bands = [0, 7_949, 7_950, 9_949, 9_950, 10_949, 10_950, 30_000]
    token_bands = [0, 3_975_000, 4_975_000, 5_475_000]
    for n in range(count):
        ws = f"c{n:04d}"
        tier = rng.choice(["free", "trial", "trial", "team", "team", "team", "enterprise", "locked"])
        created = NOW - timedelta(days=rng.choice([3, 13, 15, 400]))
        ends = rng.choice([None, None, NOW - timedelta(hours=1), NOW + timedelta(days=2)])
        status = rng.choice(["active"] * 8 + ["suspended", "deleted"])
        factories.workspace(
            conn, ws, tier=tier, byot=rng.random() < 0.2, createdAt=created, trial_ends_at=ends, workspace_status=status
        )
        period_start = MONTH_START
        if rng.random() < 0.3:  # a Stripe period that began mid-month: earlier events do not count
            period_start = NOW - timedelta(days=rng.choice([2, 10]))
            factories.subscription(
                conn, ws, status=rng.choice(["active", "trialing"]), start=period_start, end=NOW + timedelta(days=20)
            )
        elif rng.random() < 0.1:
            factories.subscription(conn, ws, status="canceled", start=NOW - timedelta(days=2), end=NOW + timedelta(1))
        inside = period_start + timedelta(minutes=1)
        rows = [("query", rng.choice(bands), inside, "u1"), ("token", rng.choice(token_bands), inside, "u2")]
        rows.append(("query", 5_000, period_start - timedelta(seconds=1), "u1"))  # the period before
        rows.append(("login", 1, inside, "u1"))
        factories.events(conn, ws, [r for r in rows if r[1]])
        for m in range(rng.choice([0, 0, 1, 25])):
            factories.user(conn, f"{ws}_u{m}")
            conn.execute(
                sa.text(
                    'INSERT INTO member (id, "organizationId", "userId", role, "createdAt") VALUES (:i, :o, :u, :r, :t)'
                ),
                {"i": f"m_{ws}_{m}", "o": ws, "u": f"{ws}_u{m}", "r": "member", "t": NOW},
            )


def _per_seat_fleet(conn: Any, rng: random.Random, count: int) -> None:
    ps.setting(conn, "ATLAS_ABUSE_CEILING", "300")
    for n in range(count):
        ws = f"p{n:04d}"
        tier = rng.choice(["free", "trial", "starter", "pro", "pro", "business", "locked"])
        seats = rng.choice([0, 1, 2, 3])
        ends = rng.choice([None, NOW - timedelta(hours=1), NOW + timedelta(days=3)])
        created = NOW - timedelta(days=rng.choice([5, 20, 200]))
        ps.workspace(conn, ws, tier=tier, seats=seats, byot=rng.random() < 0.15, trial_ends_at=ends, created=created)
        credit = 20 * max(1, seats)
        period_start = MONTH_START
        if rng.random() < 0.3:
            period_start = NOW - timedelta(days=rng.choice([1, 8]))
            ps.subscription(conn, ws, status="active", start=period_start, end=NOW + timedelta(days=20))
        share = rng.choice(["0", "0.5", "0.79", "0.8", "0.99", "1", "2.5", "3", "7"])
        dollars = str(credit * float(share)) if seats else str(20 * float(share))
        if float(dollars):
            ps.cost(conn, ws, dollars, at=period_start + timedelta(minutes=5))
        ps.cost(conn, ws, "999", at=period_start - timedelta(seconds=1))  # before the period
        if rng.random() < 0.15:
            ps.setting(conn, "ATLAS_SPEND_POLICY", "cutoff", org_id=ws)
        for _ in range(rng.choice([0, 0, 1, 12]) if seats else 0):  # an invitation has an inviter
            ps.invitation(conn, ws)
        for _ in range(rng.choice([0, 1, 3])):
            ps.plugin(conn, ws, rng.choice(["datasource", "chat", "knowledge"]))
    conn.execute(sa.text("UPDATE organization SET workspace_status = 'deleted' WHERE id LIKE 'p%7'"))


def _compare(
    db: Any, url: str, *, fail_on: str | None = None, resource: str | None = None, usage: bool = True
) -> list[dict]:
    """--all through the CLI equals the single check of each live workspace; returns the rows."""
    svc = Services(db, factories.clock)
    with db.connect() as conn:
        live = [r[0] for r in conn.execute(sa.text("SELECT id FROM organization WHERE workspace_status IS NULL "
                                                   "OR workspace_status <> 'deleted' ORDER BY id"))]  # fmt: skip
    checks = [check_json(svc.billing.check(ws, fail_on=fail_on, resource=resource)) for ws in live]
    singles = json.loads(json_text(checks))  # as printed: Decimal dollars become JSON numbers
    expected = min((s["exitCode"] for s in singles), key=WORST.__getitem__, default=0)
    args = [*(["--fail-on", fail_on] if fail_on else []), *(["--resource", resource] if resource else [])]
    rows = Atlas(url).json("billing", "check", "--all", *args, code=expected)
    assert [{k: v for k, v in row.items() if k not in PERIOD_KEYS} for row in rows] == singles
    if usage and resource is None and fail_on is None:  # the period and forecast are those `usage show` gives
        shown = json.loads(json_text([usage_json(svc.usage.current(ws)) for ws in live]))
        assert [(r["periodStart"], r["periodEnd"], r["periodSource"], r["forecast"]) for r in rows] == [
            (u["periodStart"], u["periodEnd"], u["periodSource"], u["forecast"]) for u in shown
        ]
    return rows


@pytest.fixture
def classic(db_url):
    db = factories.migrated(db_url)
    with db.begin() as conn:
        _classic_fleet(conn, random.Random(12), 260)
    yield db
    db.dispose()


@pytest.fixture
def per_seat(db_url):
    db = ps.database(db_url)
    with db.begin() as conn:
        _per_seat_fleet(conn, random.Random(34), 240)
    yield db
    db.dispose()


def test_classic_fleet_equals_the_single_checks(classic):
    rows = _compare(classic, classic.url)
    statuses = Counter(r["status"] for r in rows)
    assert {"ok", "warning", "soft_limit", "hard_limit", "trial_expired", "subscription_required"} <= set(statuses)
    assert not any(r["workspaceId"] in _deleted(classic) for r in rows)
    assert {r["periodSource"] for r in rows} == {"stripe", "utc-month"}
    assert any(f["warningAt"] for r in rows for f in r["forecast"]) and any(
        f["reached"] for r in rows for f in r["forecast"]
    )
    for fail_on in ("warning", "soft"):
        _compare(classic, classic.url, fail_on=fail_on)
    _compare(classic, classic.url, resource="members")


def test_per_seat_fleet_equals_the_single_checks(per_seat):
    rows = _compare(per_seat, per_seat.url, fail_on="warning")
    statuses = Counter(r["status"] for r in rows)
    assert {"ok", "warning", "metered", "hard_limit", "trial_expired", "subscription_required"} <= set(statuses)
    assert all(r["billingModel"] == "per-seat" for r in rows)
    _compare(per_seat, per_seat.url)
    _compare(per_seat, per_seat.url, fail_on="soft")
    for resource in ("members", "chat"):
        _compare(per_seat, per_seat.url, resource=resource)


def test_classic_fleet_served_from_the_daily_rollup(classic):
    _compare_served(classic)


def test_per_seat_fleet_served_from_the_daily_rollup(per_seat):
    _compare_served(per_seat)


def _compare_served(db: Any) -> None:
    """After the nightly `usage aggregate`, closed days come from the rollup: --all still equals
    each single check, and both equal --recompute (all raw)."""
    atlas = Atlas(db.url)
    assert atlas("db", "upgrade").exit_code == 0
    assert atlas("usage", "aggregate", "--all").exit_code == 0
    with db.connect() as conn:
        billing = db.billing(conn)
        targets = [Workspace.from_row(r, billing.layout) for r in live_workspaces(conn, billing.layout.organization)]
        periods = measure(conn, billing, targets, NOW).periods
        served = served_days(conn, {ws_id: window for ws_id, (window, _source) in periods.items()}, NOW)
    assert len(served) > len(targets) // 2  # most windows have closed days, served
    rows = _compare(db, db.url)
    code = max((r["exitCode"] for r in rows), key=lambda c: -WORST[c])
    assert Atlas(db.url).json("billing", "check", "--all", "--recompute", code=code) == rows


def test_unreadable_seats_fail_each_check_as_the_single_one_does(db_url):
    db = ps.database(db_url)
    try:
        with db.begin() as conn:
            for ws, tier in [("a", "pro"), ("b", "free"), ("c", "starter")]:
                ps.workspace(conn, ws, tier=tier)
            conn.execute(sa.text("DROP TABLE invitation"))
        rows = _compare(db, db.url, usage=False)  # `usage show` fails without its counts
        assert [(r["workspaceId"], r["status"], r["exitCode"]) for r in rows] == [
            ("a", "billing_check_failed", 14),
            ("b", "ok", 0),
            ("c", "billing_check_failed", 14),
        ]
    finally:
        db.dispose()


def _deleted(db: Any) -> set[str]:
    with db.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT id FROM organization WHERE workspace_status = 'deleted'"))}


@pytest.mark.parametrize(
    ("states", "code"),
    [
        ([("ok", 0)], 0),
        ([("w", 9_000), ("ok", 0)], 0),
        ([("h", 20_000), ("x", "locked"), ("t", "expired")], 12),
        ([("x", "locked"), ("t", "expired"), ("s", 10_000)], 15),
        ([("t", "expired"), ("s", 10_000), ("w", 9_000)], 13),
    ],
)
def test_the_worst_workspace_decides_the_exit_code(atlas, atlas_db, states, code):
    with atlas_db.begin() as conn:
        for ws, state in states:
            if state == "locked":
                factories.workspace(conn, ws, tier="locked")
            elif state == "expired":
                factories.workspace(conn, ws, tier="trial", trial_ends_at=NOW - timedelta(days=1))
            else:
                factories.workspace(conn, ws)
                factories.events(conn, ws, [("query", state, NOW, None)] if state else [])
    assert atlas("billing", "check", "--all").exit_code == code
    soft = atlas("billing", "check", "--all", "--fail-on", "warning")
    assert soft.exit_code == (code or (10 if any(s == ("w", 9_000) for s in states) else 0))


def test_fail_on_soft_and_warning_rank_below_the_blocks(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "soft")
        factories.events(conn, "soft", [("query", 10_000, NOW, None)])
        factories.workspace(conn, "warn")
        factories.events(conn, "warn", [("query", 8_000, NOW, None)])
    assert atlas("billing", "check", "--all").exit_code == 0
    assert atlas("billing", "check", "--all", "--fail-on", "soft").exit_code == 11
    assert atlas("billing", "check", "--all", "--fail-on", "warning").exit_code == 11


def test_table_csv_and_empty_fleet(atlas, atlas_db):
    assert atlas.json("billing", "check", "--all") == []
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.events(conn, "acme", [("query", 8_000, NOW, None)])
        factories.workspace(conn, "gone", workspace_status="deleted")
    table = atlas("billing", "check", "--all")
    assert table.exit_code == 0, table.output
    assert "acme" in table.stdout and "warning" in table.stdout and "80%" in table.stdout and "gone" not in table.stdout
    with atlas_db.begin() as conn:
        factories.workspace(conn, "beta")
    printed = atlas("billing", "check", "--all", "--json").stdout.splitlines()
    # One workspace's whole object a line, inside one JSON list.
    assert printed[0] == "[" and printed[-1] == "]" and len(printed) == 4
    assert [json.loads(line.rstrip(","))["workspaceId"] for line in printed[1:-1]] == ["acme", "beta"]
    lines = atlas("billing", "check", "--all", "--format", "csv").stdout.splitlines()
    assert lines[0] == "workspaceId,tier,allowed,status,errorCode,httpStatus,worstUsagePercent,exitCode,message"
    assert lines[1].startswith("acme,team,true,warning,,200,80,0,")


def test_all_and_a_workspace_together_are_refused(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
    both = atlas("billing", "check", "--all", "-w", "acme")
    assert both.exit_code == 2 and both.stderr == "Error: give either --workspace or --all, not both\n"
    bad = atlas("billing", "check", "--all", "--resource", "chat")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --resource: 'chat' is not one of")


@pytest.mark.parametrize("aggregated", [False, True])
@pytest.mark.parametrize("model", ["classic", "per-seat"])
def test_a_fixed_number_of_statements_whatever_the_fleet(db_url, model, aggregated):
    db = factories.migrated(db_url) if model == "classic" else ps.database(db_url)
    if model == "per-seat" and aggregated:
        assert Atlas(db.url)("db", "upgrade").exit_code == 0

    def statements(count: int) -> int:
        with db.begin() as conn:
            for n in range(count):
                ws = f"ws{count}_{n}"
                if model == "classic":
                    factories.workspace(conn, ws)
                    factories.events(conn, ws, [("query", 100 * n, NOW, None), ("query", 1, NOW - timedelta(3), None)])
                    factories.subscription(
                        conn, ws, status="active", start=NOW - timedelta(days=7), end=NOW + timedelta(1)
                    )
                else:
                    ps.workspace(conn, ws, tier="pro", seats=2)
                    ps.cost(conn, ws, str(n))
                    ps.cost(conn, ws, "1", at=NOW - timedelta(days=3))
                    ps.setting(conn, "ATLAS_SPEND_POLICY", "cutoff", org_id=ws)
        if aggregated:  # closed days served from the rollup: still a fixed number of statements
            Services(db, factories.clock).events.aggregate(None, every=True)
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            report = Services(db, factories.clock).fleet.check_all()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert len([r for r in report.rows if r.report.workspace.id.startswith(f"ws{count}_")]) == count
        return len(seen)

    try:
        Services(db, factories.clock).fleet.check_all()  # the model is detected once
        assert statements(3) == statements(40)
    finally:
        db.dispose()
