"""Every workspace at once: `billing check --all` beside one single-workspace check, a loop of
single checks, and the bare database doing the same set-based work.

    python benchmarks/bench_fleet.py [--workspaces 2000] [--events 1000000 10000000]
                                     [--engine postgresql sqlite] [--database-url URL] [--runs 7]

N workspaces (classic schema, atlas's own `migrate.upgrade`): 60% team, 25% trial (half of them
expired), 10% enterprise, 5% locked; every fifth has an active subscription whose period began
mid-month, so windows differ between workspaces; 5 members each. E deterministic events
(generated inside the database: PostgreSQL generate_series, SQLite a recursive CTE) spread over
the workspaces and the 90 days before a pinned clock (2026-06-20 12:00 UTC); 70% query
(quantity 1), 20% token (100-5000), 10% login. usage_events' indexes are atlas's, built after
the load, then ANALYZE. Then `usage aggregate --all` runs once, as the nightly job would (its time
is printed): it fills the daily rollup that the checks read closed days from.

Measured, warm, in turn (so that load on the shared machine hits each alike), median and best:

- `--all`: `Services(db, clock).fleet.check_all()`, every workspace decided (what `atlas billing
  check --all` does, without process start-up and printing): closed days from the rollup, the
  rest of each period (the partial first day, today) from the raw events.
- `--all, JSON printed`: the same, and its JSON rendered as `--all --json` prints it (to
  /dev/null): what the command does after start-up.
- `--all --recompute`: the same, every period from the raw events.
- one check: `Services(db, clock).billing.check(WS)` of one (the biggest) workspace.
- loop of 100: 100 single checks one after another, as the old nightly script did (in-process,
  so without the ~0.5 s start-up of each `atlas` process that the script also paid).
- raw: the bare driver (psycopg / sqlite3) running the set-based SQL a DBA would write for the
  same facts: per workspace its own window's query and token sums (the windows as a VALUES
  list joined to the events), and its member, pending-invitation and connection counts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from throwaway import add_pg_setting_option, postgres_database

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NOW = datetime(2026, 6, 20, 12, 0, tzinfo=UTC)
MONTH = datetime(2026, 6, 1, tzinfo=UTC)
SPAN_S = 90 * 86_400
MEMBERS = 5


def clock() -> datetime:
    return NOW


def ws_id(w: int) -> str:
    return f"ws_{w:05d}"


def tier_of(w: int) -> str:
    k = w % 20
    return "team" if k < 12 else "trial" if k < 17 else "enterprise" if k < 19 else "locked"


def seed(db: Any, n: int) -> None:
    import sqlalchemy as sa

    from atlas_cli.db import schema

    created = NOW - timedelta(days=400)
    with db.begin() as conn:
        conn.execute(
            sa.insert(schema.organization),
            [
                {
                    "id": ws_id(w),
                    "name": f"Workspace {w}",
                    "slug": f"w{w}",
                    "createdAt": created,
                    "plan_tier": tier_of(w),
                    "workspace_status": "active",
                    "byot": w % 13 == 0,
                    "trial_ends_at": NOW + timedelta(days=(w % 2) * 20 - 10) if tier_of(w) == "trial" else None,
                }
                for w in range(n)
            ],
        )
        users = [(f"u_{w}_{k}", w) for w in range(n) for k in range(MEMBERS)]
        conn.execute(
            sa.insert(schema.user),
            [{"id": u, "name": u, "email": f"{u}@bench.test", "createdAt": created} for u, _ in users],
        )
        conn.execute(
            sa.insert(schema.member),
            [{"id": f"m_{u}", "organizationId": ws_id(w), "userId": u, "role": "member", "createdAt": created}
             for u, w in users],
        )  # fmt: skip
        conn.execute(
            sa.insert(schema.subscription),
            [
                {
                    "id": f"sub_{w}",
                    "plan": "team",
                    "referenceId": ws_id(w),
                    "stripeCustomerId": f"cus_{w}",
                    "stripeSubscriptionId": f"sub_{w}",
                    "status": "active",
                    "periodStart": NOW - timedelta(days=3 + w % 10),
                    "periodEnd": NOW + timedelta(days=20),
                    "cancelAtPeriodEnd": False,
                    "billingInterval": "month",
                }
                for w in range(0, n, 5)
            ],
        )


def generate_sql(engine: str, n_ws: int, n: int) -> str:
    """INSERT ... SELECT of `n` events over `n_ws` workspaces, computed by the database."""
    mix = "((i * 2654435761) % 4294967296)"
    ws = f"({mix} % {n_ws})"
    kind = "CASE WHEN i % 10 < 7 THEN 'query' WHEN i % 10 < 9 THEN 'token' ELSE 'login' END"
    qty = f"CASE WHEN i % 10 IN (7, 8) THEN 100 + ({mix} / 7) % 4901 ELSE 1 END"
    if engine == "postgresql":
        return (
            "INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, created_at) "
            f"SELECT gen_random_uuid(), 'ws_' || lpad({ws}::text, 5, '0'), 'u_' || {ws} || '_' || (i % {MEMBERS}), "
            f"{kind}, {qty}, timestamptz '{NOW.isoformat()}' - ((i * {SPAN_S}::bigint / {n}) * interval '1 second') "
            f"FROM generate_series(1::bigint, {n}::bigint) AS i"
        )
    epoch = int(NOW.timestamp())
    return (
        f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
        "INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, metadata, created_at) "
        f"SELECT lower(hex(randomblob(16))), printf('ws_%05d', {ws}), printf('u_%d_%d', {ws}, i % {MEMBERS}), "
        f"{kind}, {qty}, NULL, strftime('%Y-%m-%d %H:%M:%S', {epoch} - i * {SPAN_S} / {n}, 'unixepoch') || '.000000' "
        "FROM s WHERE true"
    )


def load(engine: str, url: str, n_ws: int, n: int) -> None:
    """Insert with usage_events' secondary indexes dropped, then re-create them and ANALYZE."""
    if engine == "postgresql":
        import psycopg

        with psycopg.connect(plain_url(url), autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '512MB'")
            rows = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'usage_events'"
                " AND indexname NOT LIKE '%pkey'"
            ).fetchall()
            for name, _ in rows:
                conn.execute(f'DROP INDEX "{name}"')
            conn.execute(generate_sql(engine, n_ws, n))
            for _, definition in rows:
                conn.execute(definition)
            conn.execute("VACUUM ANALYZE")
        return
    import sqlite3

    conn = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_events' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute("BEGIN")
    conn.execute(generate_sql(engine, n_ws, n))
    conn.execute("COMMIT")
    for _, definition in indexes:
        conn.execute(definition)
    conn.execute("ANALYZE")
    conn.close()


def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# -- the raw side ---------------------------------------------------------------------------------

SUMS = (
    "coalesce(sum(CASE WHEN e.event_type = 'query' THEN e.quantity ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN e.event_type = 'token' THEN e.quantity ELSE 0 END), 0)"
)
COUNTS = (
    'SELECT o.id, (SELECT count(*) FROM member m WHERE m."organizationId" = o.id), '
    "(SELECT count(*) FROM invitations i WHERE i.org_id = o.id AND i.status = 'pending'), "
    "(SELECT count(*) FROM connections c WHERE c.org_id = o.id) FROM organization o "
    "WHERE o.workspace_status <> 'deleted'"
)


class Raw:
    """The set-based facts of every workspace through the bare driver, in three statements."""

    def __init__(self, engine: str, url: str) -> None:
        self.engine = engine
        if engine == "postgresql":
            import psycopg

            self.conn: Any = psycopg.connect(plain_url(url), autocommit=True, options="-c timezone=UTC")
        else:
            import sqlite3

            self.conn = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)

    def run(self) -> int:
        cur = self.conn.cursor()
        cur.execute(
            'SELECT "referenceId", "periodStart", "periodEnd" FROM subscription'
            " WHERE status IN ('active', 'trialing')"
        )
        windows = {ws: (start, end) for ws, start, end in cur.fetchall()}
        cur.execute(COUNTS)
        counts = cur.fetchall()
        month = (MONTH, datetime(2026, 7, 1, tzinfo=UTC))
        if self.engine == "postgresql":
            spans = [(ws, *windows.get(ws, month)) for ws, *_ in counts]
            slot = "(%s, %s::timestamptz, %s::timestamptz)"
        else:
            as_text = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime on SQLite
            spans = [
                (ws, *(t if isinstance(t, str) else t.strftime(as_text) for t in windows.get(ws, month)))
                for ws, *_ in counts
            ]
            slot = "(?, ?, ?)"
        total = 0
        for first in range(0, len(spans), 500):
            batch = spans[first : first + 500]
            cur.execute(
                f"WITH w(ws, s, e) AS (VALUES {', '.join([slot] * len(batch))}) SELECT w.ws, {SUMS} FROM w "
                "LEFT JOIN usage_events e ON e.workspace_id = w.ws AND e.created_at >= w.s AND e.created_at < w.e "
                "GROUP BY w.ws",
                [v for row in batch for v in row],
            )
            total += len(cur.fetchall())
        return total


# -- measuring ------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def bench(engine: str, url: str, n_ws: int, n: int, runs: int) -> None:
    from atlas_cli.db import migrate
    from atlas_cli.db.database import Database
    from atlas_cli.services import Services

    db = Database(url, create=True)
    with db.begin() as conn:
        migrate.upgrade(conn)
    seed(db, n_ws)
    began = time.perf_counter()
    load(engine, url, n_ws, n)
    print(f"# {engine}: {n_ws:,} workspaces, {n:,} events loaded in {time.perf_counter() - began:.1f} s", flush=True)
    svc = Services(db, clock)
    began = time.perf_counter()
    svc.events.aggregate(None, every=True)
    print(f"# usage aggregate --all (the nightly job): {time.perf_counter() - began:.1f} s", flush=True)
    fleet = svc.fleet.check_all()
    assert len(fleet.rows) == n_ws
    recomputed = svc.fleet.check_all(recompute=True)
    assert [r.report.decision for r in recomputed.rows] == [r.report.decision for r in fleet.rows]
    raw = Raw(engine, url)
    assert raw.run() == n_ws
    single = ws_id(0)
    decided = {row.report.workspace.id: row.report.decision for row in fleet.rows}
    assert svc.billing.check(single).decision == decided[single], "the single check differs from --all"
    loop = [ws_id(w) for w in range(100)]
    from atlas_cli.render.reports import Renderer

    renderer = Renderer()

    def printed() -> None:
        report = svc.fleet.check_all()
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            renderer.fleet_check(report, "json")

    cases: dict[str, Callable[[], Any]] = {
        "--all": svc.fleet.check_all,
        "--all, JSON printed": printed,
        "--all --recompute": lambda: svc.fleet.check_all(recompute=True),
        "one check": lambda: svc.billing.check(single),
        "loop of 100 checks": lambda: [svc.billing.check(ws) for ws in loop],
        "raw set-based SQL": raw.run,
    }
    for fn in cases.values():
        fn()  # warm
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    raw_median = statistics.median(times["raw set-based SQL"])
    print("| engine | workspaces | events | case | median ms | best ms | / raw |")
    print("|---|---:|---:|---|---:|---:|---:|")
    for name, found in times.items():
        median = statistics.median(found)
        print(f"| {engine} | {n_ws:,} | {n:,} | {name} | {median:.1f} | {min(found):.1f} | {median / raw_median:.2f} |")
    per_check = statistics.median(times["loop of 100 checks"]) / 100
    print(f"# the loop's figure for all {n_ws:,} (extrapolated): {per_check * n_ws / 1000:.1f} s", flush=True)
    raw.conn.close()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspaces", type=int, default=2000)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--engine", nargs="+", default=["postgresql"], choices=["postgresql", "sqlite"])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (else a throwaway cluster)")
    parser.add_argument("--runs", type=int, default=7)
    add_pg_setting_option(parser)
    args = parser.parse_args()
    for n in args.events:
        for engine in args.engine:
            if engine == "postgresql":
                with postgres_database(args.database_url, args.pg_setting) as url:
                    bench(engine, url, args.workspaces, n, args.runs)
                    if args.database_url:
                        print("# note: the tables created in the given database are left in place")
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    bench(engine, f"sqlite:///{os.path.join(tmp, 'fleet.db')}", args.workspaces, n, args.runs)


if __name__ == "__main__":
    main()
