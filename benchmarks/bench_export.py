"""Export throughput on PostgreSQL: `atlas usage export` beside `psql \\copy` of the same rows.

    python benchmarks/bench_export.py [--events 1000000] [--runs 3] [--database-url EMPTY_DB_URL]

The events are bench_queries.py's (N synthetic events over 200 workspaces, 10% with metadata),
generated inside the database. Each run times, one after the other so that load on the machine
hits all alike, whole processes with stdout to /dev/null, and records their peak RSS:

- atlas ndjson / atlas csv: `python -m atlas_cli usage export --format ndjson|csv` (every event,
  ordered by (created_at, id)): on PostgreSQL the database makes the lines (COPY ... TO STDOUT);
- atlas, Python lines: the same export through the service with the lines made in Python (the
  path SQLite takes, and PostgreSQL's before COPY), for reference;
- psql \\copy csv / text: `psql -c "\\copy (SELECT <columns> ... ORDER BY created_at, id) TO STDOUT ..."`,
  the bare database writing the same rows as fast as it can (no formatting of ours).

Prints the median seconds, rows/s and peak MiB of --runs runs, and atlas's rate over psql's.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from bench_queries import RAW_COLUMNS, peak, plain_url, prepare
from throwaway import add_pg_setting_option, postgres_database

PYTHON_LINES = """
import sys
from atlas_cli.db.database import Database
from atlas_cli.render.events import EventStream
from atlas_cli.services.ingestion.events import EventService
from datetime import UTC, datetime

fmt = sys.argv[2]
db = Database(sys.argv[1])
stream = EventStream(fmt, sys.stdout)
EventService(db, lambda: datetime.now(UTC)).export(None, start=None, end=None, emit=stream.row, fields=stream.fields)
sys.stdout.flush()
"""


def commands(url: str, psql: str | None, python_lines: bool) -> list[tuple[str, list[str]]]:
    py = sys.executable
    atlas = [py, "-m", "atlas_cli", "--database-url", url, "usage", "export", "--format"]
    runs = [("atlas ndjson", [*atlas, "ndjson"]), ("atlas csv", [*atlas, "csv"])]
    if python_lines:
        runs.append(("atlas ndjson, Python lines", [py, "-c", PYTHON_LINES, url, "ndjson"]))
        runs.append(("atlas csv, Python lines", [py, "-c", PYTHON_LINES, url, "csv"]))
    if psql:
        query = f"SELECT {RAW_COLUMNS} FROM usage_events ORDER BY created_at, id"
        for name, options in (("psql \\copy csv", "WITH (FORMAT csv)"), ("psql \\copy text", "")):
            copy = f"\\copy ({query}) TO STDOUT {options}".strip()
            runs.append((name, [psql, "-X", "-q", "-d", plain_url(url), "-c", copy]))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database (default: a throwaway cluster)")
    parser.add_argument("--without-python-lines", action="store_true", help="skip the (slow) Python-lines runs")
    add_pg_setting_option(parser)
    args = parser.parse_args()
    from tests.pgcluster import find_pg_bin

    with postgres_database(args.database_url, args.pg_setting) as url:
        load_s = prepare("postgresql", url, args.events)
        print(f"# loaded {args.events:,} events in {load_s:.1f} s", flush=True)
        runs = commands(url, find_pg_bin("psql"), not args.without_python_lines)
        seconds: dict[str, list[float]] = {name: [] for name, _ in runs}
        memory: dict[str, list[float]] = {name: [] for name, _ in runs}
        for _ in range(args.runs):
            for name, argv in runs:
                took, rss = peak(argv)
                seconds[name].append(took)
                memory[name].append(rss)
        n = args.events
        print(f"{'':<28} {'seconds':>9} {'rows/s':>12} {'peak MiB':>9} {'vs psql csv':>12} {'vs psql text':>13}")
        base = {k: statistics.median(seconds[k]) for k in ("psql \\copy csv", "psql \\copy text") if k in seconds}
        for name, _ in runs:
            median = statistics.median(seconds[name])
            ratios = [f"{base[k] / median:>12.2f}x" if k in base else f"{'-':>13}" for k in base]
            rss = max(memory[name])
            print(f"{name:<28} {median:>9.2f} {n / median:>12,.0f} {rss:>9.1f} {' '.join(ratios)}", flush=True)


if __name__ == "__main__":
    main()
