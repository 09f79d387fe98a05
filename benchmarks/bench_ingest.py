"""Ingest throughput: `atlas usage ingest` (the service, from a JSON lines file) beside the bare
database doing the same work.

    python benchmarks/bench_ingest.py --events 200000 --flush-at 1000,10000 --runs 5 \
        [--pg-url postgresql://.../EMPTY_DB] [--sqlite]

N deterministic synthetic events over 50 workspaces and 20 users each, with the mix of a real
deployment (80% query, 15% token, 5% login, 10% with metadata). The target database must be empty:
the script creates the schema. Each run times, one after the other (so other load on the machine hits
all three alike), into an empty table with the same four indexes as usage_events:

- atlas: `EventService.ingest` of the JSON lines file (read, validate, resolve workspaces, write
  in batches of --flush-at, each its own transaction, deduplicated by id);
- raw: the same rows, already parsed and in memory, as ONE COPY (PostgreSQL, `write_row`) or one
  executemany (SQLite) in one transaction: the bare database at its best, no deduplication;
- raw+dedup: the same rows, in memory, in batches of --flush-at, each COPY into a temporary table
  then INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING (SQLite: executemany of INSERT ... ON
  CONFLICT DO NOTHING), one transaction per batch: what atlas asks of the database, without Python.

Prints the median events/s of --runs runs for each, and the ratios.

`--partitioned` (PostgreSQL) lays usage_events out month-partitioned, primary key `(id, created_at)`
(the shape of DDL an operator gives it; atlas discovers the key), the events spread over 6 months,
and the raw sides write into a table of the same shape, deduplicating `ON CONFLICT (id, created_at)`.

`--covering-index` measures each size twice: as above, then with the covering index of `atlas db
tune --covering-index` on usage_events (built by atlas_cli.db.tuning) and the same index on the raw
sides' table, and prints what it costs each.

`--writer-path` (PostgreSQL) also times atlas's batch transaction alone, as its writer process runs
it (the COPY text built beforehand, the staging tables made when the connection opens), beside the
bare dedup batch on the same COPY text: wall time per batch, and the CPU of the client and of the
server's backend (read from /proc: the throwaway cluster only). CPU figures hold on a loaded
machine, where the wall times of the whole ingest (three processes) do not.

`--credits` also times atlas's ingest with an operator catalog holding a credit feature (query and
token events priced, every workspace entitled and holding a grant, so each batch deducts in its
transaction) beside the same ingest without one; the target is a ratio of at least 0.8.

`--reader` measures only the CPU atlas's reader spends per event, with no database: the service
reading the JSON lines file (lines, validation, batches) and formatting each batch's COPY text as
its sink does before handing it to the writer process (`DatabaseSink.prepare`), which here is not
written. The least process CPU time of --runs runs, per event: the Python the bare path never spends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from throwaway import add_pg_setting_option, postgres_database

WORKSPACES = 50
START = datetime(2026, 1, 1, tzinfo=UTC)
COLUMNS = "id, workspace_id, user_id, event_type, quantity, metadata, created_at"
SPREAD_S = 180 * 86400  # --partitioned: the events cover 6 months, so every batch meets several partitions
MONTHS = [datetime(2026, m, 1, tzinfo=UTC) for m in range(1, 13)]
PG_COLUMNS = (
    "id uuid NOT NULL, workspace_id text NOT NULL, user_id text, event_type text NOT NULL, "
    "quantity integer NOT NULL DEFAULT 1, metadata jsonb DEFAULT '{}', created_at timestamptz NOT NULL"
)
COVERING = "(workspace_id, created_at) INCLUDE (event_type, quantity, user_id)"
SHAPE = {"partitioned": False, "covering": False}  # set from the command line
Row = tuple[str, str, str, str, int, str | None, datetime]


def partitioned_ddl(table: str) -> list[str]:
    """`table` month-partitioned over 2026 with usage_events' indexes, keyed `(id, created_at)`."""
    ddl = [f"CREATE TABLE {table} ({PG_COLUMNS}, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)"]
    for start, end in zip(MONTHS, [*MONTHS[1:], datetime(2027, 1, 1, tzinfo=UTC)], strict=True):
        ddl.append(
            f"CREATE TABLE {table}_{start:%Y_%m} PARTITION OF {table} "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    for columns in ("workspace_id, created_at", "event_type, created_at", "user_id, created_at"):
        ddl.append(f"CREATE INDEX ON {table} ({columns})")
    return ddl


def synthetic(n: int, seed: int = 4, time_ordered: bool = False) -> list[dict[str, object]]:
    """`time_ordered`: UUIDv7 ids (as atlas gives events sent without one), else random UUIDv4."""
    from atlas_cli.domain.events import uuid7

    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        kind = rng.choices(("query", "token", "login"), weights=(80, 15, 5))[0]
        ws = rng.randrange(WORKSPACES)
        at = START + (timedelta(seconds=i * SPREAD_S / n) if SHAPE["partitioned"] else timedelta(seconds=i * 2))
        bits = rng.getrandbits(80)
        if time_ordered:
            id_ = uuid7(int(at.timestamp() * 1000), bits.to_bytes(10, "big"))
        else:
            id_ = str(uuid.UUID(int=rng.getrandbits(48) << 80 | bits, version=4))
        rows.append(
            {
                "id": id_,
                "workspace_id": f"ws_{ws:03d}",
                "user_id": f"u_{ws:03d}_{rng.randrange(20)}",
                "event_type": kind,
                "quantity": rng.randrange(100, 5000) if kind == "token" else 1,
                "metadata": {"source": "bench"} if i % 10 == 0 else None,
                "created_at": at.isoformat(),
            }
        )
    return rows


def parsed(rows: list[dict[str, Any]]) -> list[Row]:
    """The rows as the bare database gets them: already parsed, metadata as JSON text."""
    return [
        (
            r["id"],
            r["workspace_id"],
            r["user_id"],
            r["event_type"],
            r["quantity"],
            None if r["metadata"] is None else json.dumps(r["metadata"]),
            datetime.fromisoformat(r["created_at"]),
        )
        for r in rows
    ]


def prepare(url: str) -> Any:
    import sqlalchemy as sa

    from atlas_cli.db import migrate, schema
    from atlas_cli.db.database import Database

    db = Database(url, create=True)
    with db.begin() as conn:
        migrate.upgrade(conn)
        conn.execute(
            sa.insert(schema.organization),
            [{"id": f"ws_{i:03d}", "name": f"W{i}", "slug": f"w{i}", "createdAt": START} for i in range(WORKSPACES)],
        )
        if SHAPE["partitioned"] and conn.dialect.name == "postgresql":
            conn.execute(sa.text("DROP TABLE usage_events"))
            for statement in partitioned_ddl("usage_events"):
                conn.execute(sa.text(statement))
    db.dispose()
    return db


def covering_index(db: Any, on: bool) -> None:
    """Add or drop the covering index of `atlas db tune` on usage_events."""
    from atlas_cli.db import tuning

    with db.autocommit() as conn:
        state = tuning.state(conn).state
        if on and state != "present":
            tuning.run(conn, tuning.create_statements(conn))
        elif not on and state != "absent":
            tuning.run(conn, tuning.drop_statements(conn))


def ours(db: Any, path: Path, flush_at: int) -> float:
    import sqlalchemy as sa

    from atlas_cli.services.ingestion.events import EventService
    from atlas_cli.services.ingestion.ingest import IngestOptions

    with db.begin() as conn:  # a fresh table each run, as the raw side gets (DELETE would leave dead index entries)
        empty = "TRUNCATE usage_events" if conn.dialect.name == "postgresql" else "DELETE FROM usage_events"
        conn.execute(sa.text(empty))
    started = time.perf_counter()
    with path.open("rb") as stream:
        report = EventService(db, lambda: datetime.now(UTC)).ingest(stream, IngestOptions(flush_at=flush_at))
    elapsed = time.perf_counter() - started
    assert report.rejected == 0 and report.failure is None and report.duplicates == 0, report
    return elapsed


CREDIT_CATALOG = """
[features.ai-credits]
kind = "credit"
costs = { query = 1, token = { credits = 1, per = 1000 } }

[plans.free]
ai-credits = true
"""


def _credits(db: Any, on: bool) -> None:
    """A catalog with a credit feature and a grant per workspace (on), or no catalog (off); and
    empty credit tables either way, so every run starts alike."""
    import tomllib

    import sqlalchemy as sa

    from atlas_cli.db import schema
    from atlas_cli.domain import operator_catalog as oc
    from atlas_cli.services.credit_book import Book, Stamp

    with db.begin() as conn:
        for table in (schema.credit_ledger, schema.credit_grants, schema.credit_accounts, schema.credit_requests):
            conn.execute(sa.delete(table))
        conn.execute(sa.delete(schema.catalog_versions))
        if not on:
            return
        catalog = oc.parse(tomllib.loads(CREDIT_CATALOG), db.billing(conn).catalog)
        row = {"version": 1, "model": catalog.model, "document": catalog.canonical(), "actor": "bench"}
        conn.execute(sa.insert(schema.catalog_versions), [row | {"created_at": START}])
        pairs = [(f"ws_{i:03d}", "ai-credits") for i in range(WORKSPACES)]
        book = Book(conn, pairs, START)
        for pair in pairs:
            book.add(pair, 10**12, source="grant", kind="grant", stamp=Stamp(None, "bench", None), effective_at=START)
        book.save()


def measure_credits(engine: str, db: Any, n: int, jsonl: Path, flush_at: int, runs: int) -> None:
    times: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(runs):
        for on, name in ((True, "with"), (False, "without")):
            _credits(db, on)
            times[name].append(ours(db, jsonl, flush_at))
    _credits(db, False)
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    print(
        f"{engine:10} {n:>9,} events flush-at {flush_at:>6,}: atlas with a credit feature {rate['with']:>8,.0f}/s | "
        f"without {rate['without']:>8,.0f}/s | with/without {rate['with'] / rate['without']:.2f} (medians of {runs})",
        flush=True,
    )


def _pg(url: str) -> Any:
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), options="-c timezone=UTC")
    conn.execute("DROP TABLE IF EXISTS bench_raw")
    if SHAPE["partitioned"]:
        for statement in partitioned_ddl("bench_raw"):
            conn.execute(statement)
    else:
        conn.execute("CREATE TABLE bench_raw (LIKE usage_events INCLUDING ALL)")  # the same four indexes
    if SHAPE["covering"]:
        conn.execute(f"CREATE INDEX bench_raw_covering ON bench_raw {COVERING}")
    conn.commit()
    return conn


def raw_postgres(url: str, rows: list[Row], _flush_at: int) -> float:
    with _pg(url) as conn:
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"COPY bench_raw ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
        conn.commit()
    return elapsed


def _staged(url: str) -> Any:
    """A connection to a fresh bench_raw with the staging table of the bare dedup path."""
    conn = _pg(url)
    conn.execute(
        "CREATE TEMPORARY TABLE bench_stage (id uuid, workspace_id text, user_id text, event_type text, "
        "quantity integer, metadata jsonb, created_at timestamptz) ON COMMIT DELETE ROWS"
    )
    conn.commit()
    return conn


def _bare_move() -> str:
    key = "id, created_at" if SHAPE["partitioned"] else "id"
    return f"INSERT INTO bench_raw ({COLUMNS}) SELECT {COLUMNS} FROM bench_stage ON CONFLICT ({key}) DO NOTHING"


def raw_postgres_dedup(url: str, rows: list[Row], flush_at: int) -> float:
    move = _bare_move()
    with _staged(url) as conn:
        started = time.perf_counter()
        for i in range(0, len(rows), flush_at):
            with conn.cursor() as cur, cur.copy(f"COPY bench_stage ({COLUMNS}) FROM STDIN") as copy:
                for row in rows[i : i + flush_at]:
                    copy.write_row(row)
            conn.execute(move)
            conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
        conn.commit()
    return elapsed


def _backend_seconds(pid: int) -> float | None:
    """CPU seconds of a server process on this machine (None when it is not here)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _timed(pid: int, work: Callable[[], None]) -> tuple[float, float, float | None]:
    """(wall, client CPU, backend CPU) seconds of `work`."""
    backend, cpu, wall = _backend_seconds(pid), time.process_time(), time.perf_counter()
    work()
    after = _backend_seconds(pid)
    spent = None if backend is None or after is None else after - backend
    return time.perf_counter() - wall, time.process_time() - cpu, spent


def writer_batches(db: Any, batches: list[bytes]) -> tuple[float, float, float | None]:
    """atlas's batch transactions as its writer process runs them (services/ingestion/writer.py)."""
    import sqlalchemy as sa

    from atlas_cli.db import events as sql
    from atlas_cli.db.database import Database

    writer_db = Database(db.url)
    sa.event.listen(writer_db.engine, "connect", sql.create_staging_tables)
    with writer_db.begin() as conn:
        conn.exec_driver_sql("TRUNCATE usage_events")
        conn.exec_driver_sql("TRUNCATE atlas_stale_periods")
        pid = conn.connection.driver_connection.info.backend_pid

    def work() -> None:
        for data in batches:
            with writer_db.begin() as conn:
                sql.insert_copy_text(conn, data)

    try:
        return _timed(pid, work)
    finally:
        writer_db.dispose()


def bare_batches(url: str, batches: list[bytes]) -> tuple[float, float, float | None]:
    """The bare dedup path on the same COPY text."""
    move = _bare_move()
    with _staged(url) as conn:

        def work() -> None:
            for data in batches:
                with conn.cursor() as cur, cur.copy(f"COPY bench_stage ({COLUMNS}) FROM STDIN") as copy:
                    copy.write(data)
                conn.execute(move)
                conn.commit()

        spent = _timed(conn.info.backend_pid, work)
        conn.execute("DROP TABLE bench_raw")
        conn.commit()
    return spent


def measure_writer_path(db: Any, url: str, records: list[dict[str, Any]], flush_at: int, runs: int) -> None:
    from atlas_cli.db import events as sql

    rows = [(*row[:5], record["metadata"], row[6], None) for row, record in zip(parsed(records), records, strict=True)]
    batches = [sql.copy_text(rows[i : i + flush_at]) for i in range(0, len(rows), flush_at)]
    times: dict[str, list[tuple[float, float, float | None]]] = {"atlas": [], "bare": []}
    for _ in range(runs):  # alternate, so other load on the machine falls on both alike
        times["atlas"].append(writer_batches(db, batches))
        times["bare"].append(bare_batches(url, batches))
    per = 1000 / len(batches)

    def shown(name: str) -> str:
        walls = sorted(t[0] for t in times[name])
        backend = [t[2] for t in times[name] if t[2] is not None]
        server = f"{min(backend) * per:.2f}" if backend else "n/a"
        return (
            f"{name} wall {walls[0] * per:.2f} (median {walls[len(walls) // 2] * per:.2f}), "
            f"client CPU {min(t[1] for t in times[name]) * per:.2f}, server CPU {server}"
        )

    print(
        f"postgresql writer path, batches of {flush_at:,}, ms per batch (best of {runs}; load average "
        f"{os.getloadavg()[0]:.1f}): {shown('atlas')} | {shown('bare')}",
        flush=True,
    )


def _sqlite(path: str) -> Any:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE IF EXISTS bench_raw")
    conn.execute("CREATE TABLE bench_raw AS SELECT * FROM usage_events WHERE 0")
    conn.execute("CREATE UNIQUE INDEX bench_raw_id ON bench_raw (id)")
    conn.execute("CREATE INDEX bench_raw_ws ON bench_raw (workspace_id, created_at)")
    conn.execute("CREATE INDEX bench_raw_type ON bench_raw (event_type, created_at)")
    conn.execute("CREATE INDEX bench_raw_user ON bench_raw (user_id, created_at)")
    if SHAPE["covering"]:
        conn.execute(
            "CREATE INDEX bench_raw_covering ON bench_raw (workspace_id, created_at, event_type, quantity, user_id)"
        )
    conn.commit()
    return conn


def _sqlite_rows(rows: list[Row]) -> list[tuple[Any, ...]]:
    return [(*r[:6], r[6].replace(tzinfo=None).isoformat(" ")) for r in rows]


def raw_sqlite(path: str, rows: list[Row], _flush_at: int) -> float:
    conn, values = _sqlite(path), _sqlite_rows(rows)
    started = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO bench_raw VALUES (?, ?, ?, ?, ?, ?, ?)", values)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def raw_sqlite_dedup(path: str, rows: list[Row], flush_at: int) -> float:
    conn, values = _sqlite(path), _sqlite_rows(rows)
    started = time.perf_counter()
    for i in range(0, len(values), flush_at):
        with conn:
            conn.executemany(
                "INSERT INTO bench_raw VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                values[i : i + flush_at],
            )
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def measure(
    engine: str,
    db: Any,
    rows: list[Row],
    jsonl: Path,
    flush_at: int,
    runs: int,
    raw: Callable[[list[Row], int], float],
    raw_dedup: Callable[[list[Row], int], float],
) -> dict[str, float]:
    times: dict[str, list[float]] = {"atlas": [], "raw": [], "dedup": []}
    for _ in range(runs):  # alternate, so other load on the machine falls on all three alike
        times["atlas"].append(ours(db, jsonl, flush_at))
        times["raw"].append(raw(rows, flush_at))
        times["dedup"].append(raw_dedup(rows, flush_at))
    n = len(rows)
    rate = {k: n / statistics.median(v) for k, v in times.items()}
    raw_name = "raw COPY" if engine == "postgresql" else "executemany"
    shape = ("partitioned " if SHAPE["partitioned"] and engine == "postgresql" else "") + (
        "+covering " if SHAPE["covering"] else ""
    )
    print(
        f"{engine:10} {shape}{n:>9,} events flush-at {flush_at:>6,}: atlas {rate['atlas']:>8,.0f}/s | "
        f"{raw_name} {rate['raw']:>8,.0f}/s | {raw_name}+dedup {rate['dedup']:>8,.0f}/s | "
        f"atlas/raw {rate['atlas'] / rate['raw']:.2f} | atlas/(raw+dedup) {rate['atlas'] / rate['dedup']:.2f} "
        f"(medians of {runs}; atlas runs {', '.join(f'{n / t:,.0f}' for t in times['atlas'])})",
        flush=True,
    )
    return rate


class _FormattingSink:
    """A sink that resolves and formats each batch as DatabaseSink.prepare does, and writes nothing."""

    def __init__(self) -> None:
        self.ids = {f"ws_{i:03d}": f"ws_{i:03d}" for i in range(WORKSPACES)}

    def write(self, events: Any) -> Any:
        raise AssertionError("the reader benchmark prepares every batch")

    def prepare(self, events: Any) -> Any:
        from atlas_cli.db.events import copy_text
        from atlas_cli.services.ingestion.batching import WriteResult, _rows

        rows, unknown, costless = _rows(events, self.ids.get, False)
        copy_text(rows)
        result = WriteResult(len(rows), 0, tuple(unknown), tuple(costless))
        return lambda: lambda: result


def measure_reader(jsonl: Path, events: int, flush_at: int, runs: int) -> None:
    """The reader's CPU per event (no database): see `--reader`."""
    from atlas_cli.services.ingestion.ingest import IngestOptions, IngestService

    best = float("inf")
    for _ in range(runs):
        service = IngestService(_FormattingSink(), lambda: START)
        with jsonl.open("rb") as stream:
            started = time.process_time()
            report = service.ingest(stream, IngestOptions(flush_at=flush_at, event_costs=False))
            best = min(best, time.process_time() - started)
        assert report.accepted == events, report
    load = os.getloadavg()[0]
    per_event = best / events * 1e6
    print(f"reader     flush-at {flush_at:>6,}: {per_event:.2f} us CPU per event (least of {runs}; load {load:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--flush-at", default="1000", help="batch sizes, comma separated (atlas's default: 1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; medians are printed")
    parser.add_argument(
        "--pg-url", help="an EMPTY PostgreSQL database (default: one in a throwaway cluster, as the tests start)"
    )
    parser.add_argument(
        "--time-ordered-ids", action="store_true", help="UUIDv7 ids, in time order (default: random UUIDv4)"
    )
    add_pg_setting_option(parser)
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument("--sqlite", action="store_true", help="also measure SQLite (a temporary file)")
    parser.add_argument("--credits", action="store_true", help="also: ingest with a credit feature vs without")
    parser.add_argument(
        "--writer-path", action="store_true", help="also: atlas's batch transaction alone vs the bare one (PostgreSQL)"
    )
    parser.add_argument("--partitioned", action="store_true", help="usage_events month-partitioned (PostgreSQL)")
    parser.add_argument("--covering-index", action="store_true", help="also: each size with the covering index")
    parser.add_argument("--reader", action="store_true", help="only the reader's CPU per event (no database)")
    args = parser.parse_args()
    SHAPE["partitioned"] = args.partitioned
    records = synthetic(args.events, time_ordered=args.time_ordered_ids)
    rows = parsed(records)
    kept = records if args.writer_path else []
    sizes = [int(size) for size in args.flush_at.split(",")]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        jsonl = Path(tmp) / "events.jsonl"
        with jsonl.open("w") as out:
            out.writelines(json.dumps(r) + "\n" for r in records)
        del records
        if args.reader:
            for flush_at in sizes:
                measure_reader(jsonl, args.events, flush_at, args.runs)
            return
        path = str(Path(tmp) / "bench.db")
        if not args.pg_url and not args.no_postgres:
            args.pg_url = stack.enter_context(postgres_database(None, args.pg_setting))
        pg_db = prepare(args.pg_url) if args.pg_url else None
        sqlite_db = prepare(f"sqlite:///{path}") if args.sqlite else None
        engines = [("postgresql", pg_db, args.pg_url), ("sqlite", sqlite_db, path)]
        for flush_at in sizes:
            rates: dict[tuple[str, bool], dict[str, float]] = {}
            for covering in [False, True] if args.covering_index else [False]:
                SHAPE["covering"] = covering
                for engine, db, target in engines:
                    if db is not None:
                        covering_index(db, covering)
                        rates[engine, covering] = measure_engine(engine, db, target, rows, jsonl, flush_at, args.runs)
            for engine, db, _target in engines:
                if args.covering_index and db is not None:
                    cost = {k: rates[engine, True][k] / rates[engine, False][k] for k in rates[engine, False]}
                    print(
                        f"{engine:10} covering index: atlas keeps {cost['atlas']:.2f} of its rate, "
                        f"raw {cost['raw']:.2f}, raw+dedup {cost['dedup']:.2f} (flush-at {flush_at:,})",
                        flush=True,
                    )
                if args.credits and db is not None:
                    measure_credits(engine, db, len(rows), jsonl, flush_at, args.runs)
            if args.writer_path and pg_db is not None:
                measure_writer_path(pg_db, args.pg_url, kept, flush_at, args.runs)


def measure_engine(
    engine: str, db: Any, target: str, rows: list[Row], jsonl: Path, flush_at: int, runs: int
) -> dict[str, float]:
    if engine == "postgresql":
        raw, dedup = raw_postgres, raw_postgres_dedup
    else:
        raw, dedup = raw_sqlite, raw_sqlite_dedup
    return measure(
        engine, db, rows, jsonl, flush_at, runs, lambda r, f: raw(target, r, f), lambda r, f: dedup(target, r, f)
    )


if __name__ == "__main__":
    main()
