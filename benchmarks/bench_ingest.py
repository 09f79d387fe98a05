"""Ingest throughput: `atlas usage ingest` (the service, from a JSON lines file) beside the bare
database doing the same work (PostgreSQL: raw COPY into an identical table; SQLite: executemany).

    python benchmarks/bench_ingest.py --events 200000 [--pg-url postgresql://...] [--sqlite]

N deterministic synthetic events over 50 workspaces and 20 users each, with the mix of a real
deployment (80% query, 15% token, 5% login). Each target database must be empty: the script
creates the schema. Prints events/s for ours and for the bare database, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORKSPACES = 50
START = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic(n: int, seed: int = 4) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        kind = rng.choices(("query", "token", "login"), weights=(80, 15, 5))[0]
        ws = rng.randrange(WORKSPACES)
        rows.append({
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "workspace_id": f"ws_{ws:03d}", "user_id": f"u_{ws:03d}_{rng.randrange(20)}", "event_type": kind,
            "quantity": rng.randrange(100, 5000) if kind == "token" else 1,
            "metadata": {"source": "bench"} if i % 10 == 0 else None,
            "created_at": (START + timedelta(seconds=i * 2)).isoformat(),
        })
    return rows


def prepare(url: str) -> object:
    import sqlalchemy as sa

    from atlas_cli.db import migrate, schema
    from atlas_cli.db.database import Database

    db = Database(url, create=True)
    with db.begin() as conn:
        migrate.upgrade(conn)
        conn.execute(sa.insert(schema.organization), [
            {"id": f"ws_{i:03d}", "name": f"W{i}", "slug": f"w{i}", "createdAt": START} for i in range(WORKSPACES)])
    return db


def ours(db: object, path: Path, flush_at: int) -> float:
    from atlas_cli.services.events import EventService
    from atlas_cli.services.ingest import IngestOptions

    started = time.perf_counter()
    with path.open("rb") as stream:
        report = EventService(db, lambda: datetime.now(UTC)).ingest(  # type: ignore[arg-type]
            stream, IngestOptions(flush_at=flush_at))
    elapsed = time.perf_counter() - started
    assert report.rejected == 0 and report.failure is None, report
    return elapsed


def raw_postgres(url: str, rows: list[dict[str, object]]) -> float:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        conn.execute("CREATE TABLE bench_raw (LIKE usage_events INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bench_raw (id, workspace_id, user_id, event_type, quantity, "
                                            "metadata, created_at) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((r["id"], r["workspace_id"], r["user_id"], r["event_type"], r["quantity"],
                                None if r["metadata"] is None else json.dumps(r["metadata"]), r["created_at"]))
        conn.commit()
        return time.perf_counter() - started


def raw_sqlite(path: str, rows: list[dict[str, object]]) -> float:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE bench_raw AS SELECT * FROM usage_events WHERE 0")
    conn.execute("CREATE UNIQUE INDEX bench_raw_id ON bench_raw (id)")
    conn.execute("CREATE INDEX bench_raw_ws ON bench_raw (workspace_id, created_at)")
    conn.execute("CREATE INDEX bench_raw_type ON bench_raw (event_type, created_at)")
    conn.execute("CREATE INDEX bench_raw_user ON bench_raw (user_id, created_at)")
    started = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO bench_raw VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (r["id"], r["workspace_id"], r["user_id"], r["event_type"], r["quantity"],
             None if r["metadata"] is None else json.dumps(r["metadata"]), r["created_at"]) for r in rows])
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def report(engine: str, n: int, our_s: float, raw_s: float, raw_name: str) -> None:
    print(f"{engine:10} ingest {n:,} events: atlas {n / our_s:,.0f}/s ({our_s:.2f} s) | "
          f"{raw_name} {n / raw_s:,.0f}/s ({raw_s:.2f} s) | atlas/raw = {raw_s / our_s:.2f}")


def run(engine: str, url: str, rows: list[dict[str, object]], jsonl: Path, flush_at: int,
        raw: Callable[[], float], raw_name: str) -> None:
    db = prepare(url)
    our_s = ours(db, jsonl, flush_at)
    db.dispose()  # type: ignore[attr-defined]
    report(engine, len(rows), our_s, raw(), raw_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--flush-at", type=int, default=10_000)
    parser.add_argument("--pg-url", help="an EMPTY PostgreSQL database")
    parser.add_argument("--sqlite", action="store_true", help="also measure SQLite (a temporary file)")
    args = parser.parse_args()
    rows = synthetic(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "events.jsonl"
        with jsonl.open("w") as out:
            out.writelines(json.dumps(r) + "\n" for r in rows)
        if args.pg_url:
            run("postgresql", args.pg_url, rows, jsonl, args.flush_at,
                lambda: raw_postgres(args.pg_url, rows), "raw COPY")
        if args.sqlite:
            path = str(Path(tmp) / "bench.db")
            run("sqlite", f"sqlite:///{path}", rows, jsonl, args.flush_at,
                lambda: raw_sqlite(path, rows), "executemany")


if __name__ == "__main__":
    main()
