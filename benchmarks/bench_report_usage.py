"""`billing report-usage --all` over many workspaces, beside the raw aggregate SQL doing the same
measuring on a bare driver connection (psycopg / sqlite3).

    python benchmarks/bench_report_usage.py [--workspaces 2000] [--events 500000]
                                            [--engine postgresql sqlite] [--database-url URL] [--runs 10]

A classic database laid out by atlas's migrations holds W workspaces, each with a Stripe customer,
and N deterministic `report` events spread over October and November 2026 (the pinned clock is
2026-11-22 15:30 UTC), plus noise events of other types. The operator catalog has one metered
feature with a `stripe_meter`. The ledger is filled as if every workspace had been reported
already, so the run is the steady state of an hourly cron job: everything measured, nothing to
send (rows `unchanged`), and no request to Stripe.

"atlas" is `MeterReportService.report(all_workspaces=True)` in process (workspaces, customers,
subscriptions, billing periods, the operator catalog, the usage of each workspace in both periods
and the ledger); "raw" is the two statements a hand-written job needs at least: the usage per
workspace in both months (one GROUP BY over the events) and the ledger's sums. The table gives
median and best in ms, and atlas/raw (ratio of medians); the last column is the same service
for one workspace (`-w`), the time `--all` should stay near (DESIGN 8).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from throwaway import add_pg_setting_option, postgres_database

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)
OCT, NOV, DEC = (datetime(2026, m, 1, tzinfo=UTC) for m in (10, 11, 12))
METER = "atlas_reports"
CATALOG = {
    "model": "classic",
    "features": {"reports": {"kind": "metered", "event_types": ["report"], "stripe_meter": METER}},
    "plans": {"team": {"reports": "unlimited"}},
}


def seed(url: str, workspaces: int, events: int) -> None:
    """Workspaces, events (a quarter of them noise), the catalog, and a ledger matching the usage."""
    import sqlalchemy as sa

    from atlas_cli.db import migrate, schema
    from atlas_cli.db.database import Database

    db = Database(url, create=True)
    span = int((NOW - OCT).total_seconds())
    with db.begin() as conn:
        migrate.upgrade(conn)
        conn.execute(
            schema.organization.insert(),
            [
                {
                    "id": f"ws_{i:05d}",
                    "name": f"Ws {i}",
                    "slug": f"ws-{i}",
                    "createdAt": OCT,
                    "workspace_status": "active",
                    "plan_tier": "team",
                    "byot": False,
                    "stripe_customer_id": f"cus_{i:05d}",
                }
                for i in range(workspaces)
            ],
        )
        conn.execute(
            schema.catalog_versions.insert(),
            [{"version": 1, "model": "classic", "document": CATALOG, "actor": "bench", "created_at": OCT}],
        )
        batch = []
        for n in range(events):
            kind = "report" if n % 4 else "query"
            at = datetime.fromtimestamp(OCT.timestamp() + (n * 7919) % span, UTC)
            batch.append(
                {
                    "id": f"00000000-0000-4000-8000-{n:012d}",
                    "workspace_id": f"ws_{(n * 31) % workspaces:05d}",
                    "user_id": None,
                    "event_type": kind,
                    "quantity": 1 + n % 5,
                    "metadata": {},
                    "created_at": at,
                }
            )
            if len(batch) == 20_000:
                conn.execute(schema.usage_events.insert(), batch)
                batch = []
        if batch:
            conn.execute(schema.usage_events.insert(), batch)
        e = schema.usage_events.c
        for start, end in ((OCT, NOV), (NOV, DEC)):
            totals = conn.execute(
                sa.select(e.workspace_id, sa.func.sum(e.quantity))
                .where(e.event_type == "report", e.created_at >= start, e.created_at < end)
                .group_by(e.workspace_id)
            ).all()
            conn.execute(
                schema.meter_reports.insert(),
                [
                    {
                        "workspace_id": ws,
                        "identifier": f"seed_{ws}_{start:%m}",
                        "feature": "reports",
                        "meter": METER,
                        "period_start": start,
                        "period_end": end,
                        "value": int(total),
                        "cumulative": int(total),
                        "stripe_customer_id": "cus_" + ws[3:],
                        "event_timestamp": start,
                        "sent_at": start,
                    }
                    for ws, total in totals
                ],
            )
    if db.url.startswith("postgresql"):
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    else:
        with db.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    db.dispose()


def atlas_call(url: str, workspace: str | None = None) -> Callable[[], Any]:
    from atlas_cli.config import load_settings
    from atlas_cli.db.database import Database
    from atlas_cli.services.meter_reports import MeterReportService
    from atlas_cli.stripe_gateway import StripeGateway

    db = Database(url)
    service = MeterReportService(db, lambda: NOW, StripeGateway(load_settings()))

    def call() -> Any:
        report = service.report(workspace, all_workspaces=workspace is None, dry_run=True)
        assert report.rows and all(row.status == "unchanged" for row in report.rows), "the seed ledger is off"
        return report

    return call


RAW_USAGE = (
    "SELECT workspace_id,"
    " sum(CASE WHEN created_at < {nov} THEN quantity ELSE 0 END),"
    " sum(CASE WHEN created_at >= {nov} THEN quantity ELSE 0 END)"
    " FROM usage_events WHERE event_type = 'report' AND created_at >= {oct} AND created_at < {dec}"
    " GROUP BY workspace_id"
)
RAW_LEDGER = (
    "SELECT workspace_id, period_start, sum(value) FROM atlas_meter_reports"
    " WHERE feature = 'reports' AND period_start >= {oct} GROUP BY workspace_id, period_start"
)


def raw_call(engine: str, url: str) -> Callable[[], Any]:
    if engine == "postgresql":
        import psycopg

        conn: Any = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
        marks = {"oct": "%(oct)s", "nov": "%(nov)s", "dec": "%(dec)s"}
        values: dict[str, Any] = {"oct": OCT, "nov": NOV, "dec": DEC}
    else:
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        marks = {"oct": ":oct", "nov": ":nov", "dec": ":dec"}
        values = {k: v.strftime("%Y-%m-%d %H:%M:%S.%f") for k, v in (("oct", OCT), ("nov", NOV), ("dec", DEC))}

    def call() -> Any:
        cur = conn.cursor()
        usage = cur.execute(RAW_USAGE.format(**marks), values).fetchall()
        sent = cur.execute(RAW_LEDGER.format(**marks), values).fetchall()
        return usage, sent

    return call


def measure(calls: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Warm, alternating, so load on the machine hits both alike."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def bench(engine: str, url: str, args: argparse.Namespace) -> str:
    started = time.perf_counter()
    seed(url, args.workspaces, args.events)
    print(f"# {engine}: seeded in {time.perf_counter() - started:.1f} s", flush=True)
    calls = {"atlas": atlas_call(url), "raw": raw_call(engine, url), "one": atlas_call(url, "ws_00000")}
    times = measure(calls, args.runs)
    atlas, raw, one = (statistics.median(times[name]) for name in ("atlas", "raw", "one"))
    return (
        f"| {engine} | {args.workspaces:,} | {args.events:,} | {atlas:.1f} ({min(times['atlas']):.1f}) "
        f"| {raw:.1f} ({min(times['raw']):.1f}) | {atlas / raw:.2f}x | {one:.1f} ({min(times['one']):.1f}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=2000)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--engine", nargs="+", choices=("postgresql", "sqlite"), default=["postgresql", "sqlite"])
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database (default: a throwaway cluster)")
    parser.add_argument("--runs", type=int, default=10)
    add_pg_setting_option(parser)
    args = parser.parse_args()
    table = [
        "| engine | workspaces | events | atlas --all ms median (best) | raw ms median (best) | atlas/raw "
        "| atlas -w one ms median (best) |",
        "|---|---|---|---|---|---|---|",
    ]
    for engine in args.engine:
        if engine == "postgresql":
            with postgres_database(args.database_url, args.pg_setting) as url:
                table.append(bench(engine, url, args))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                table.append(bench(engine, f"sqlite:///{tmp}/bench.db", args))
    print("\n".join(table))


if __name__ == "__main__":
    main()
