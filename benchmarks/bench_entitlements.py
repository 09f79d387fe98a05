"""Entitlement checks on one big workspace: `check` of a boolean, a limit with a declarative
counter and a metered feature with max usage, through atlas's service, beside the feature's own
SQL function and the same count as hand-written SQL on a bare driver connection.

    python benchmarks/bench_entitlements.py [--events 10000000] [--engine postgresql sqlite]
                                            [--database-url URL] [--runs 20] [--explain]

The data is bench_queries.py's (N deterministic synthetic events inside the database, 200
workspaces with a Zipf-like skew, the measured one `ws_000` on the team plan holding ~8%, a clock
pinned at 2026-06-30 12:00 UTC), plus an operator table `projects` (50 per workspace, a fifth of
them archived, indexed on `org_id` as an operator's table would be) and an operator catalog stored
as version 1:

    data-explorer  boolean                              team: true
    projects       limit, counter projects/org_id/archived=false   team: 100
    query-budget   metered over query events             team: { max_usage = 10,000,000 }

Columns: "atlas" is `services.entitlements.check(db, "ws_000", feature)`: the workspace, its
overrides and catalog version, its own block decided first as `billing check` does (members,
subscriptions and the month's built-in usage totals: one statement), then the feature's one
statement. "sql fn" is only the feature's statement (`db.entitlements.count` / `metered_usage`)
on an open connection; "raw" is the same statement on a bare psycopg / sqlite3 connection (for
the boolean, which has no statement of its own, the workspace's row). Before timing, the script
asserts that atlas's answer and the raw SQL agree.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_queries import NOW, WORKSPACES, Raw, drop_schema, prepare, sqlite_database, timed
from throwaway import add_pg_setting_option, postgres_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WS = "ws_000"
PROJECTS_PER_WORKSPACE = 50
CATALOG = """
[features.data-explorer]
kind = "boolean"

[features.projects]
kind = "limit"
counter = { table = "projects", workspace_column = "org_id", where = { archived = false } }

[features.query-budget]
kind = "metered"
event_types = ["query"]

[plans.team]
data-explorer = true
projects = 100
query-budget = { max_usage = 10000000 }
"""
RAW_WORKSPACE = "SELECT plan_tier FROM organization WHERE id = %s"
RAW_COUNT = "SELECT count(*) FROM projects WHERE org_id = %s AND archived = %s"
RAW_METER = (
    "SELECT coalesce(sum(quantity), 0) FROM usage_events WHERE workspace_id = %s AND event_type IN ('query') "
    "AND created_at >= %s AND created_at < %s"
)


def add_operator_data(url: str) -> None:
    """The `projects` table, its rows and index, and the catalog above as version 1."""
    import tomllib

    import sqlalchemy as sa

    from atlas_cli.catalogs import builtin
    from atlas_cli.db import entitlements as q
    from atlas_cli.db.database import Database
    from atlas_cli.domain import operator_catalog as oc

    db = Database(url)
    with db.begin() as conn:
        conn.execute(sa.text("CREATE TABLE projects (id text PRIMARY KEY, org_id text NOT NULL, archived boolean)"))
        conn.execute(sa.text("CREATE INDEX projects_org_id ON projects (org_id)"))
        table = sa.table("projects", sa.column("id"), sa.column("org_id"), sa.column("archived"))
        rows = [
            {"id": f"p_{w:03d}_{k:02d}", "org_id": f"ws_{w:03d}", "archived": k % 5 == 0}
            for w in range(WORKSPACES)
            for k in range(PROJECTS_PER_WORKSPACE)
        ]
        conn.execute(sa.insert(table), rows)
        document = oc.parse(tomllib.loads(CATALOG), builtin("classic")).canonical()
        q.insert_version(
            conn,
            {"version": 1, "model": "classic", "document": document, "actor": "bench", "created_at": NOW, "note": None},
        )
        conn.execute(sa.text("ANALYZE"))
    db.dispose()


@dataclass(frozen=True)
class Case:
    name: str
    atlas: Callable[[], Any]
    sql_fn: Callable[[], Any]
    raw: Callable[[], Any]
    same: Callable[[Any, Any], bool]


def cases(db: Any, raw: Raw, layout: Any) -> list[Case]:
    from atlas_cli.db import entitlements as q
    from atlas_cli.domain.operator_catalog import Counter
    from atlas_cli.domain.periods import calendar_month
    from atlas_cli.services.entitlements import check

    month = calendar_month(NOW)  # no subscription rows: the billing period is the UTC month
    counter = Counter("projects", "org_id", (("archived", False),))

    def on_connection(fn: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            with db.connect() as conn:
                return fn(conn)

        return call

    def decided(feature: str) -> Callable[[], Any]:
        return lambda: check(db, WS, feature, now=NOW)

    return [
        Case(
            "boolean",
            decided("data-explorer"),
            on_connection(lambda c: None),
            lambda: raw.run(RAW_WORKSPACE, WS),
            lambda ours, bare: ours.allowed and bare[0][0] == "team",
        ),
        Case(
            "limit, counter",
            decided("projects"),
            on_connection(lambda c: q.count(c, counter, WS)),
            lambda: raw.run(RAW_COUNT, WS, False),
            lambda ours, bare: ours.reason == "ok" and ours.used == int(bare[0][0]) == 40,
        ),
        Case(
            "metered, max usage",
            decided("query-budget"),
            on_connection(lambda c: q.metered_usage(c, layout, WS, ["query"], month)),
            lambda: raw.run(RAW_METER, WS, month.start, month.end),
            lambda ours, bare: ours.reason == "ok" and ours.used == int(bare[0][0]) > 0,
        ),
    ]


def measure(case: Case, runs: int, warmup: int = 5) -> dict[str, list[float]]:
    """Warm up, check that atlas and raw agree, then time all three in turn."""
    for _ in range(warmup):
        case.atlas(), case.sql_fn(), case.raw()
    ours, bare = case.atlas(), case.raw()
    assert case.same(ours, bare), f"{case.name}: atlas and raw SQL disagree: {ours} / {bare}"
    found: dict[str, list[float]] = {"atlas": [], "sql fn": [], "raw": []}
    for _ in range(runs):
        found["atlas"].append(timed(case.atlas)[0])
        found["sql fn"].append(timed(case.sql_fn)[0])
        found["raw"].append(timed(case.raw)[0])
    return found


HEADER = (
    f"{'engine':<10} {'events':>11} {'check':<20} {'atlas med/best ms':>18} {'sql fn med ms':>14} "
    f"{'raw med/best ms':>16} {'fn/raw':>7} {'month rows':>11}"
)


def row(engine: str, n: int, name: str, t: dict[str, list[float]], month_rows: int) -> str:
    med = {k: statistics.median(v) for k, v in t.items()}
    return (
        f"{engine:<10} {n:>11,} {name:<20} {med['atlas']:>9.2f}/{min(t['atlas']):<8.2f} {med['sql fn']:>14.2f} "
        f"{med['raw']:>8.2f}/{min(t['raw']):<7.2f} {med['sql fn'] / med['raw']:>7.2f} {month_rows:>11,}"
    )


def explain(engine: str, raw: Raw) -> None:
    from atlas_cli.domain.periods import calendar_month

    month = calendar_month(NOW)
    prefix = "EXPLAIN ANALYZE " if engine == "postgresql" else "EXPLAIN QUERY PLAN "
    for sql, params in ((RAW_COUNT, (WS, False)), (RAW_METER, (WS, month.start, month.end))):
        print(f"--- {sql[:60]}...")
        for line in raw.run(prefix + sql, *params):
            print("  " + " | ".join(str(v) for v in line))


def bench(engine: str, url: str, n: int, args: argparse.Namespace, table: list[str]) -> None:
    from atlas_cli.db.database import Database
    from atlas_cli.domain.periods import calendar_month

    started = time.perf_counter()
    load_s = prepare(engine, url, n)
    add_operator_data(url)
    print(f"# {engine}: loaded {n:,} events in {load_s:.1f} s ({time.perf_counter() - started:.1f} s in all)")
    db, raw = Database(url), Raw(engine, url)
    month = calendar_month(NOW)
    month_rows = int(
        raw.run(
            "SELECT count(*) FROM usage_events WHERE workspace_id = %s AND created_at >= %s AND created_at < %s",
            WS,
            month.start,
            month.end,
        )[0][0]
    )
    try:
        with db.connect() as conn:
            layout = db.billing(conn).layout
        if args.explain:
            explain(engine, raw)
        for case in cases(db, raw, layout):
            table.append(row(engine, n, case.name, measure(case, args.runs), month_rows))
            print(table[-1], flush=True)
    finally:
        raw.close()
        db.dispose()
    drop_operator_data(url)
    drop_schema(url)


def drop_operator_data(url: str) -> None:
    import sqlalchemy as sa

    from atlas_cli.db.database import Database

    db = Database(url)
    with db.begin() as conn:
        conn.execute(sa.text("DROP TABLE projects"))
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--engine", nargs="+", choices=("postgresql", "sqlite"), default=["postgresql", "sqlite"])
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database (default: a throwaway cluster)")
    add_pg_setting_option(parser)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print the plans of the raw statements")
    args = parser.parse_args()
    table: list[str] = []
    print(HEADER, flush=True)
    for engine in args.engine:
        database = postgres_database(args.database_url, args.pg_setting)
        with database if engine == "postgresql" else sqlite_database() as url:
            for n in args.events:
                bench(engine, url, n, args, table)
    print("\n" + HEADER)
    print("\n".join(table))


if __name__ == "__main__":
    main()
