"""Read queries on one big workspace: `usage show`, a 90-day daily history (served from stored
summaries, and with --recompute) and a month's breakdown through atlas's services, beside the
same work as hand-written SQL on a bare driver connection (psycopg / sqlite3). Optionally, the
peak memory of `atlas usage export`.

    python benchmarks/bench_queries.py [--events 1000000 10000000] [--engine postgresql sqlite]
                                       [--database-url URL] [--runs 20] [--explain] [--export-memory]

N deterministic synthetic events are generated inside the database (PostgreSQL: INSERT ...
SELECT FROM generate_series; SQLite: a recursive CTE), with the same hash-based values on both
engines: 200 workspaces with a Zipf-like skew (the biggest, ws_000, holds ~8% of all events),
20 users each, 13 months of history ending at a pinned clock (2026-06-30 12:00 UTC), 70% query
(quantity 1), 20% token (quantity 100-5000), 10% login. The schema is atlas's own
(`migrate.upgrade`); usage_events' indexes are dropped for the load and re-created from their own
catalog definitions, then the table is VACUUM ANALYZEd (SQLite: ANALYZE).

Without --database-url a throwaway PostgreSQL cluster is started (tests/pgcluster.py, on
/dev/shm when there is room) and deleted at the end. With it, the URL must name a database
without Atlas tables: the script creates them and drops them again after each size.

Each query runs warm, alternating atlas / atlas's SQL function / raw so that load on the machine
hits all three alike; the table gives median and best in ms, and atlas/raw (ratio of medians).
"atlas" is the service call (workspace lookup, subscription, resource counts, pool checkout
included); "sql fn" is only the function of atlas_cli.db.queries on an open SQLAlchemy
connection, so "sql fn" minus raw is the SQLAlchemy overhead and atlas minus "sql fn" the
service's extra round trips.

--covering-index then adds the optional covering index (`atlas db tune --covering-index`: the
same DDL, through atlas_cli.db.tuning), VACUUM ANALYZEs (so PostgreSQL can use index-only scans),
runs every query again (atlas and raw, both "+ci"), prints each query's speed-up (atlas median
without / with), the build time and the index's size, extrapolated linearly to 10M events, and
drops it again.

--export-memory runs `python -m atlas_cli --database-url URL usage export --format ndjson`
over every event (stdout to /dev/null) and reports its peak RSS (wait4) and rows/s beside
`python -c "import atlas_cli.cli.main"` and the same rows through a bare COPY (psycopg and psql)
or, on SQLite, a bare sqlite3 cursor loop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from throwaway import add_pg_setting_option, postgres_database

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests/pgcluster.py

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
START = datetime(2025, 5, 30, 12, 0, tzinfo=UTC)  # 13 months of history before NOW
SPAN_S = int((NOW - START).total_seconds())
WORKSPACES = 200
USERS = 20
ZIPF_S = 0.8  # share of rank k ~ k^-0.8: ws_000 ~8%, ws_001 ~5%
WS = "ws_000"
HISTORY_DAYS = 90
BREAKDOWN_LIMIT = 100
SQLITE_TS = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime on SQLite


# -- generation ---------------------------------------------------------------------------------


def _xor(engine: str, a: str, b: str) -> str:
    return f"(({a}) # ({b}))" if engine == "postgresql" else f"((({a}) | ({b})) - (({a}) & ({b})))"


def _mix(engine: str, v: str) -> str:
    """A 31-bit hash of integer `v`: LCG step, xorshift, twice. Same values on both engines."""
    a = f"((({v}) * 1103515245 + 12345) % 2147483648)"
    b = _xor(engine, a, f"({a}) >> 16")
    c = f"((({b}) * 1103515245 + 12345) % 2147483648)"
    return _xor(engine, c, f"({c}) >> 16")


def generate_sql(engine: str, n: int) -> str:
    """INSERT ... SELECT of `n` synthetic events, computed entirely by the database."""
    pg = engine == "postgresql"
    hashes = ", ".join(f"{_mix(engine, f'i * 4 + {k}')} AS r{k}" for k in (1, 2, 3))
    grow = 201 ** (1 - ZIPF_S) - 1
    # Inverse CDF of a continuous power law on [1, 201): floor() - 1 gives ranks 0..199.
    if pg:
        series = f"SELECT i, {hashes} FROM generate_series(1::bigint, {n}::bigint) AS i"
        ws = f"(floor(power(1 + (r1::float8 / 2147483648) * {grow!r}, {1 / (1 - ZIPF_S)!r})) - 1)::int"
        hx = "lpad(to_hex({}), {}, '0')"
        event_id = (
            f"({hx.format('i', 8)} || '-' || {hx.format('i >> 32', 4)} || '-7' || "
            f"{hx.format('r1 & 4095', 3)} || '-8' || {hx.format('r2 & 4095', 3)} || '-' || "
            f"{hx.format('r3', 12)})::uuid"
        )
        ws_id = "'ws_' || lpad(ws::text, 3, '0')"
        user_id = "'u_' || lpad(ws::text, 3, '0') || '_' || lpad((r2 % 20)::text, 2, '0')"
        meta = """CASE WHEN i % 10 = 0 THEN '{"source": "bench"}'::jsonb END"""
        at = f"timestamptz '{START.isoformat()}' + ((i - 1) * {SPAN_S} / {n}) * interval '1 second'"
        prefix = ""
    else:
        series = f"SELECT i, {hashes} FROM s"
        ws = f"CAST(floor(pow(1 + (r1 / 2147483648.0) * {grow!r}, {1 / (1 - ZIPF_S)!r})) AS INTEGER) - 1"
        event_id = "printf('%08x-%04x-7%03x-8%03x-%012x', i, i >> 32, r1 & 4095, r2 & 4095, r3)"
        ws_id = "printf('ws_%03d', ws)"
        user_id = "printf('u_%03d_%02d', ws, r2 % 20)"
        meta = """CASE WHEN i % 10 = 0 THEN '{"source": "bench"}' END"""
        epoch = int(START.timestamp())
        at = f"strftime('%Y-%m-%d %H:%M:%S', {epoch} + (i - 1) * {SPAN_S} / {n}, 'unixepoch') || '.000000'"
        prefix = f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
    kind = "CASE WHEN r3 % 100 < 70 THEN 'query' WHEN r3 % 100 < 90 THEN 'token' ELSE 'login' END"
    qty = "CASE WHEN r3 % 100 >= 70 AND r3 % 100 < 90 THEN 100 + (r2 >> 8) % 4901 ELSE 1 END"
    return (
        f"{prefix}INSERT INTO usage_events (id, workspace_id, user_id, event_type, quantity, metadata, created_at) "
        f"SELECT {event_id}, {ws_id}, {user_id}, {kind}, {qty}, {meta}, {at} "
        f"FROM (SELECT i, r1, r2, r3, {ws} AS ws FROM ({series}) AS h) AS w" + ("" if pg else " WHERE true")
    )


def seed_workspaces(db: Any) -> None:
    """200 workspaces (ws_000 on the team plan), 20 users and members each."""
    import sqlalchemy as sa

    from atlas_cli.db import schema

    created = START - timedelta(days=30)
    with db.begin() as conn:
        conn.execute(
            sa.insert(schema.organization),
            [
                {
                    "id": f"ws_{w:03d}",
                    "name": f"Workspace {w}",
                    "slug": f"w{w}",
                    "createdAt": created,
                    "plan_tier": "team" if w == 0 else "free",
                }
                for w in range(WORKSPACES)
            ],
        )
        users = [(f"u_{w:03d}_{k:02d}", w, k) for w in range(WORKSPACES) for k in range(USERS)]
        conn.execute(
            sa.insert(schema.user),
            [{"id": u, "name": f"User {w}.{k}", "email": f"{u}@bench.test", "createdAt": created} for u, w, k in users],
        )
        conn.execute(
            sa.insert(schema.member),
            [
                {
                    "id": f"m_{u}",
                    "organizationId": f"ws_{w:03d}",
                    "userId": u,
                    "role": "owner" if k == 0 else "member",
                    "createdAt": created,
                }
                for u, w, k in users
            ],
        )


def load_postgres(url: str, n: int) -> None:
    """Drop usage_events' indexes, insert, re-create them from their catalog definitions."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        before = index_defs_pg(conn)
        pkey = conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'usage_events'::regclass AND contype = 'p'"
        ).fetchone()
        assert pkey is not None
        conn.execute(f'ALTER TABLE usage_events DROP CONSTRAINT "{pkey[0]}"')
        for name, _ in before:
            if name != pkey[0]:
                conn.execute(f'DROP INDEX "{name}"')
        conn.execute(generate_sql("postgresql", n))
        conn.execute(f'ALTER TABLE usage_events ADD CONSTRAINT "{pkey[0]}" {pkey[1]}')
        for name, definition in before:
            if name != pkey[0]:
                conn.execute(definition)
        assert index_defs_pg(conn) == before, "indexes differ from atlas's after the load"
        conn.execute("VACUUM ANALYZE usage_events")
        conn.execute("ANALYZE")


def index_defs_pg(conn: Any) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'usage_events'"
        " AND schemaname = current_schema() ORDER BY indexname"
    ).fetchall()


def load_sqlite(path: str, n: int) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("PRAGMA synchronous = OFF")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_events'"
        " AND sql IS NOT NULL ORDER BY name"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.execute("BEGIN")
    conn.execute(generate_sql("sqlite", n))
    conn.execute("COMMIT")
    for _, definition in indexes:
        conn.execute(definition)
    conn.execute("ANALYZE")
    conn.close()


# -- the three queries: atlas, atlas's SQL function, raw -----------------------------------------

QUERIES = "coalesce(sum(CASE WHEN event_type = 'query' THEN quantity ELSE 0 END), 0)"
TOKENS = "coalesce(sum(CASE WHEN event_type = 'token' THEN quantity ELSE 0 END), 0)"
SUMS = f"{QUERIES}, {TOKENS}"
RAW_TOTALS = (
    f"SELECT {SUMS}, count(DISTINCT CASE WHEN event_type = 'login' THEN user_id END) "
    "FROM usage_events WHERE workspace_id = %s AND created_at >= %s AND created_at < %s"
)
RAW_HISTORY = (
    "INSERT INTO usage_summaries (id, workspace_id, period, period_start, query_count, token_count, "
    "active_users, storage_bytes, updated_at) "
    "SELECT {uuid}, %s, 'daily', {day} AS day, "
    f"{SUMS}, count(DISTINCT CASE WHEN event_type = 'login' THEN user_id END), 0, %s "
    "FROM usage_events WHERE workspace_id = %s AND created_at >= %s AND created_at < %s GROUP BY day "
    "ON CONFLICT (workspace_id, period, period_start) DO UPDATE SET query_count = excluded.query_count, "
    "token_count = excluded.token_count, active_users = excluded.active_users, updated_at = excluded.updated_at "
    "RETURNING period_start, query_count, token_count, active_users"
)
# A daily history in another zone (PostgreSQL only: SQLite has no time zones): the same counts
# grouped by the zone's day, the bare database's way; atlas computes it and stores nothing.
ZONE = "Europe/Paris"
RAW_ZONE_HISTORY = (
    f"SELECT (date_trunc('day', created_at AT TIME ZONE '{ZONE}') AT TIME ZONE '{ZONE}') AS day, "
    f"{SUMS}, count(DISTINCT CASE WHEN event_type = 'login' THEN user_id END) "
    "FROM usage_events WHERE workspace_id = %s AND created_at >= %s AND created_at < %s GROUP BY day"
)
RAW_BREAKDOWN = (
    "SELECT p.user_id, p.query_count, p.token_count, p.login_count, u.email, u.name FROM ("
    f"SELECT user_id, {QUERIES} AS query_count, {TOKENS} AS token_count, "
    "count(CASE WHEN event_type = 'login' THEN 1 END) AS login_count "
    "FROM usage_events WHERE workspace_id = %s AND created_at >= %s AND created_at < %s GROUP BY user_id) AS p "
    'LEFT JOIN "user" AS u ON u.id = p.user_id ORDER BY p.query_count DESC, p.user_id LIMIT 100'
)


class Raw:
    """The bare driver: psycopg (autocommit, UTC) or sqlite3 (autocommit)."""

    def __init__(self, engine: str, url: str) -> None:
        self.engine = engine
        if engine == "postgresql":
            import psycopg

            self.conn: Any = psycopg.connect(plain_url(url), autocommit=True, options="-c timezone=UTC")
            self.history_sql = RAW_HISTORY.format(uuid="gen_random_uuid()", day="date_trunc('day', created_at)")
        else:
            import sqlite3

            self.conn = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
            self.history_sql = RAW_HISTORY.format(
                uuid="lower(hex(randomblob(16)))", day="substr(created_at, 1, 10) || ' 00:00:00.000000'"
            )

    def run(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.engine == "postgresql":
            return self.conn.execute(sql, params).fetchall()
        sql = sql.replace("%s", "?")
        values = [
            p.astimezone(UTC).replace(tzinfo=None).strftime(SQLITE_TS) if isinstance(p, datetime) else p for p in params
        ]
        return self.conn.execute(sql, values).fetchall()

    def close(self) -> None:
        self.conn.close()


@dataclass(frozen=True)
class Case:
    name: str
    atlas: Callable[[], Any]
    sql_fn: Callable[[], Any]
    raw: Callable[[], Any]
    same: Callable[[Any, Any], bool]


def _ts(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cases(db: Any, raw: Raw) -> list[Case]:
    from atlas_cli.db import queries
    from atlas_cli.domain.periods import PeriodKind, calendar_month, history_buckets
    from atlas_cli.services import Services

    svc = Services(db, lambda: NOW)
    month = calendar_month(NOW)
    buckets = history_buckets(PeriodKind.DAILY, now=NOW, start=None, end=None, limit=HISTORY_DAYS)
    span = (buckets[-1].start, buckets[0].end)

    def sql_fn(fn: Callable[[Any], Any], write: bool = False) -> Callable[[], Any]:
        def call() -> Any:
            with db.begin() if write else db.connect() as conn:
                return fn(conn)

        return call

    def history_rows(rows: Any) -> set[tuple[Any, ...]]:
        return {(_ts(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows}

    def same_history(ours: Any, bare: Any) -> bool:
        shown = ((r.period_start, r.query_count, r.token_count, r.active_users) for r in ours.rows)
        return len(ours.rows) == HISTORY_DAYS and history_rows(shown) == history_rows(bare)

    def served_sql(conn: Any) -> Any:
        """The two statements of a served history: the stored rows, then today recomputed."""
        stored = queries.stored_summaries(conn, WS, "daily", buckets)
        return [*stored.values(), *queries.refresh_summaries(conn, WS, "daily", buckets[:1], NOW)]

    zone_cases = []
    if raw.engine == "postgresql":
        from zoneinfo import ZoneInfo

        from atlas_cli.domain.dates import zone_buckets

        zone = ZoneInfo(ZONE)
        local = zone_buckets("daily", now=NOW, zone=zone, start=None, end=None, limit=HISTORY_DAYS)
        spans = [(lower, upper) for _day, lower, upper in local]
        zone_span = (spans[-1][0], spans[0][1])
        zone_cases.append(
            Case(
                f"history daily {HISTORY_DAYS}d {ZONE}",
                lambda: svc.usage.history(WS, period="daily", limit=HISTORY_DAYS, zone=zone),
                sql_fn(lambda c: queries.summaries_in_windows(c, WS, spans)),
                lambda: raw.run(RAW_ZONE_HISTORY, WS, *zone_span),
                lambda ours, bare: (
                    len(ours.rows) == HISTORY_DAYS
                    and history_rows((r.period_start, r.query_count, r.token_count, r.active_users) for r in ours.rows)
                    == history_rows(bare)
                ),
            )
        )
    return [
        Case(
            "usage show",
            lambda: svc.usage.current(WS),
            sql_fn(lambda c: queries.usage_totals(c, WS, month)),
            lambda: raw.run(RAW_TOTALS, WS, month.start, month.end),
            lambda ours, bare: (ours.queries, ours.tokens, ours.active_users) == tuple(int(v) for v in bare[0]),
        ),
        Case(
            f"history {HISTORY_DAYS}d served",
            lambda: svc.usage.history(WS, period="daily", limit=HISTORY_DAYS),
            sql_fn(lambda c: served_sql(c), write=True),
            lambda: raw.run(raw.history_sql, WS, NOW, WS, *span),
            same_history,
        ),
        Case(
            f"history {HISTORY_DAYS}d recomp",
            lambda: svc.usage.history(WS, period="daily", limit=HISTORY_DAYS, recompute=True),
            sql_fn(lambda c: queries.refresh_summaries(c, WS, "daily", buckets, NOW), write=True),
            lambda: raw.run(raw.history_sql, WS, NOW, WS, *span),
            same_history,
        ),
        Case(
            "breakdown month",
            lambda: svc.usage.breakdown(WS),
            sql_fn(lambda c: queries.user_breakdown(c, WS, month, sort="queries", limit=BREAKDOWN_LIMIT)),
            lambda: raw.run(RAW_BREAKDOWN, WS, month.start, month.end),
            lambda ours, bare: (
                [(u.user_id, u.query_count, u.token_count, u.login_count) for u in ours.users]
                == [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in bare]
            ),
        ),
        *zone_cases,
    ]


def plain_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def measure(case: Case, runs: int, warmup: int = 5) -> dict[str, list[float]]:
    """Warm up, check that atlas and raw agree, then time all three alternately."""
    for _ in range(warmup):
        case.atlas(), case.sql_fn(), case.raw()
    ours, bare = case.atlas(), case.raw()
    assert case.same(ours, bare), f"{case.name}: atlas and raw SQL disagree"
    found: dict[str, list[float]] = {"atlas": [], "sql fn": [], "raw": []}
    for _ in range(runs):
        found["atlas"].append(timed(case.atlas)[0])
        found["sql fn"].append(timed(case.sql_fn)[0])
        found["raw"].append(timed(case.raw)[0])
    return found


HEADER = (
    f"{'engine':<10} {'events':>11} {'query':<18} {'atlas med/best ms':>18} {'sql fn med ms':>14} "
    f"{'raw med/best ms':>16} {'atlas/raw':>9}"
)


def row(engine: str, n: int, name: str, t: dict[str, list[float]]) -> str:
    med = {k: statistics.median(v) for k, v in t.items()}
    return (
        f"{engine:<10} {n:>11,} {name:<18} {med['atlas']:>9.2f}/{min(t['atlas']):<8.2f} {med['sql fn']:>14.2f} "
        f"{med['raw']:>8.2f}/{min(t['raw']):<7.2f} {med['atlas'] / med['raw']:>9.2f}"
    )


# -- EXPLAIN ------------------------------------------------------------------------------------


@contextmanager
def captured(db: Any) -> Iterator[list[tuple[str, Any]]]:
    """The statements atlas sends while the block runs."""
    import sqlalchemy as sa

    found: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        found.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        yield found
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)


def explain(engine: str, db: Any, case: Case, raw: Raw) -> None:
    with captured(db) as found:
        case.sql_fn()
    statement, params = next((s, p) for s, p in found if "usage_events" in s)
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if engine == "postgresql" else "EXPLAIN QUERY PLAN "
    print(f"\n--- {case.name}: atlas ---\n{_short(' '.join(statement.split()), 2000)}")
    with db.begin() as conn:
        for line in conn.exec_driver_sql(prefix + statement, params):
            print("  " + _short(" | ".join(str(v) for v in line)))
    print(f"--- {case.name}: raw ---")
    for line in _explain_raw(raw, prefix, case.name):
        print("  " + _short(line))


def _short(line: str, width: int = 200) -> str:
    return line if len(line) <= width else line[:width] + " ..."


def _explain_raw(raw: Raw, prefix: str, name: str) -> list[str]:
    from atlas_cli.domain.periods import calendar_month

    month = calendar_month(NOW)
    today = NOW.replace(hour=0, minute=0)
    span = (today - timedelta(days=HISTORY_DAYS - 1), today + timedelta(days=1))
    sql, params = {
        "usage show": (RAW_TOTALS, (WS, month.start, month.end)),
        "breakdown month": (RAW_BREAKDOWN, (WS, month.start, month.end)),
    }.get(name, (raw.history_sql, (WS, NOW, WS, *span)))
    return [" | ".join(str(v) for v in r) for r in raw.run(prefix + sql, *params)]


# -- export memory ------------------------------------------------------------------------------

RAW_COLUMNS = "id, workspace_id, user_id, event_type, quantity, metadata, created_at"
PSYCOPG_COPY = f"""
import sys, psycopg
out = sys.stdout.buffer
with psycopg.connect(sys.argv[1]) as conn, conn.cursor() as cur:
    with cur.copy("COPY (SELECT {RAW_COLUMNS} FROM usage_events ORDER BY created_at, id) TO STDOUT") as copy:
        for block in copy:
            out.write(block)
"""
SQLITE_LOOP = f"""
import sys, sqlite3
out = sys.stdout
conn = sqlite3.connect(sys.argv[1])
for r in conn.execute("SELECT {RAW_COLUMNS} FROM usage_events ORDER BY created_at, id"):
    out.write("\\t".join("" if v is None else str(v) for v in r) + "\\n")
"""


def peak(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one command, stdout to /dev/null.

    Measured by GNU time (or a small forking Python launcher without it), never by wait4 on a
    direct child: a child spawned from this big process starts with its peak RSS on record.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATLAS_", "DATABASE_URL", "PG"))}
    with tempfile.NamedTemporaryFile("w+") as report, tempfile.TemporaryFile() as err:
        if os.access("/usr/bin/time", os.X_OK):
            wrapped = ["/usr/bin/time", "-f", "%M", "-o", report.name, *argv]
        else:
            wrapped = [sys.executable, "-S", "-c", LAUNCHER, report.name, *argv]
        started = time.perf_counter()
        proc = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO, check=False)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{argv[:4]} exited {proc.returncode}: {err.read().decode()[-2000:]}")
        report.seek(0)
        return elapsed, int(report.read().split()[-1]) / 1024


LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def export_memory(engine: str, url: str, n: int) -> None:
    from tests.pgcluster import find_pg_bin

    py = sys.executable
    runs: list[tuple[str, list[str], bool]] = [
        ('python -c "import atlas_cli.cli.main"', [py, "-c", "import atlas_cli.cli.main"], False),
        (
            "atlas usage export --format ndjson",
            [py, "-m", "atlas_cli", "--database-url", url, "usage", "export", "--format", "ndjson"],
            True,
        ),
    ]
    if engine == "postgresql":
        runs.append(("psycopg COPY TO STDOUT", [py, "-c", PSYCOPG_COPY, plain_url(url)], True))
        psql = find_pg_bin("psql")
        if psql:
            runs.append(
                (
                    "psql -c 'COPY ... TO STDOUT'",
                    [
                        psql,
                        "-X",
                        "-q",
                        "-d",
                        plain_url(url),
                        "-c",
                        f"COPY (SELECT {RAW_COLUMNS} FROM usage_events ORDER BY created_at, id) TO STDOUT",
                    ],
                    True,
                )
            )
    else:
        runs.append(("sqlite3 cursor loop", [py, "-c", SQLITE_LOOP, url.split(":///", 1)[1]], True))
    for name, argv, streams in runs:
        seconds, rss = peak(argv)
        rate = f"{n / seconds:>12,.0f}" if streams else f"{'-':>12}"
        print(f"{engine:<10} {n:>11,} {name:<36} {rss:>9.1f} {seconds:>9.2f} {rate}", flush=True)


# -- driving ------------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    parent = "/dev/shm" if shutil.disk_usage("/dev/shm").free > 8 * 2**30 else None
    with tempfile.TemporaryDirectory(prefix="atlas-bench-", dir=parent) as tmp:
        yield f"sqlite:///{tmp}/bench.db"


def drop_schema(url: str) -> None:
    """Drop what migrate.upgrade created, so the next size starts empty."""
    import sqlalchemy as sa

    from atlas_cli.db import schema
    from atlas_cli.db.database import Database
    from atlas_cli.db.migrate import VERSION_TABLE

    db = Database(url)
    with db.begin() as conn:
        schema.metadata.drop_all(conn)
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
    db.dispose()


def prepare(engine: str, url: str, n: int) -> float:
    import sqlalchemy as sa

    from atlas_cli.db import migrate
    from atlas_cli.db.database import Database

    db = Database(url, create=True)
    with db.begin() as conn:
        if sa.inspect(conn).has_table("usage_events"):
            raise SystemExit(f"{db.masked_url} already has Atlas tables: give an empty database")
        migrate.upgrade(conn)
    seed_workspaces(db)
    db.dispose()
    started = time.perf_counter()
    if engine == "postgresql":
        load_postgres(plain_url(url), n)
    else:
        load_sqlite(url.split(":///", 1)[1], n)
    return time.perf_counter() - started


def share(url: str, engine: str) -> float:
    raw = Raw(engine, url)
    total, mine = (
        raw.run("SELECT count(*) FROM usage_events")[0][0],
        raw.run("SELECT count(*) FROM usage_events WHERE workspace_id = %s", WS)[0][0],
    )
    raw.close()
    return mine / total


def bench(engine: str, url: str, n: int, args: argparse.Namespace, table: list[str]) -> None:
    from atlas_cli.db.database import Database

    load_s = prepare(engine, url, n)
    print(
        f"# {engine}: loaded {n:,} events in {load_s:.1f} s (indexes, ANALYZE included); "
        f"{WS} holds {share(url, engine):.1%}",
        flush=True,
    )
    db, raw = Database(url), Raw(engine, url)
    without: dict[str, float] = {}
    try:
        for case in cases(db, raw):
            if args.explain:
                explain(engine, db, case, raw)
            found = measure(case, args.runs)
            without[case.name] = statistics.median(found["atlas"])
            table.append(row(engine, n, case.name, found))
            print(table[-1], flush=True)
        if args.covering_index:
            covering(engine, db, raw, n, args, table, without)
    finally:
        raw.close()
        db.dispose()
    if args.export_memory:
        print(f"{'engine':<10} {'events':>11} {'export memory':<36} {'peak MiB':>9} {'seconds':>9} {'rows/s':>12}")
        export_memory(engine, url, n)
    drop_schema(url)


def covering(
    engine: str, db: Any, raw: Raw, n: int, args: argparse.Namespace, table: list[str], without: dict[str, float]
) -> None:
    """The same queries with the covering index of `atlas db tune`, its build time and size."""
    from atlas_cli.db import tuning

    with db.connect() as conn:
        statements = tuning.create_statements(conn)
    started = time.perf_counter()
    with db.autocommit() as conn:
        tuning.run(conn, statements)
        conn.exec_driver_sql("VACUUM ANALYZE usage_events" if engine == "postgresql" else "ANALYZE")
    build_s = time.perf_counter() - started
    size = index_bytes(engine, raw)
    notes = [
        f"# {engine} {n:,}: covering index built in {build_s:.1f} s (VACUUM ANALYZE included), "
        f"{size / 2**20:,.0f} MiB = {size / 2**20 * 10_000_000 / n:,.0f} MiB per 10M events"
    ]
    for case in cases(db, raw):
        if args.explain:
            explain(engine, db, case, raw)
        found = measure(case, args.runs)
        table.append(row(engine, n, case.name + " +ci", found))
        print(table[-1], flush=True)
        notes.append(f"#   {case.name}: {without[case.name] / statistics.median(found['atlas']):.2f}x faster with it")
    print("\n".join(notes), flush=True)
    table.extend(notes)
    with db.autocommit() as conn:
        tuning.run(conn, tuning.drop_statements(conn))


def index_bytes(engine: str, raw: Raw) -> int:
    from atlas_cli.db.tuning import INDEX_NAME

    if engine == "postgresql":
        return int(raw.run("SELECT pg_relation_size(%s::regclass)", INDEX_NAME)[0][0])
    try:  # dbstat is an optional SQLite module
        found = raw.run("SELECT sum(pgsize) FROM dbstat WHERE name = %s", INDEX_NAME)
    except Exception:
        return 0
    return int(found[0][0] or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--engine", nargs="+", choices=("postgresql", "sqlite"), default=["postgresql", "sqlite"])
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database (default: a throwaway cluster)")
    add_pg_setting_option(parser)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print atlas's and the raw SQL's plans")
    parser.add_argument("--export-memory", action="store_true", help="also measure `usage export` peak RSS")
    parser.add_argument("--covering-index", action="store_true", help="also: every query with the covering index")
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
