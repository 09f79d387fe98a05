"""Every usage command on the shapes an operator gives usage_events beyond one machine: partitioned
by month (primary key `(id, created_at)`) and keyed by workspace for sharding (`(workspace_id, id)`).

The tables are laid out with plain DDL, as an operator would, after atlas's own schema; atlas
discovers the key from the database and deduplicates on it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from atlas_cli.db import events as sql
from atlas_cli.db.database import Database
from tests.events_fixtures import new_id, prepare

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
_COLUMNS_PG = (
    "id uuid NOT NULL DEFAULT gen_random_uuid(), workspace_id text NOT NULL, user_id text, "
    "event_type text NOT NULL, quantity integer NOT NULL DEFAULT 1, metadata jsonb DEFAULT '{}', "
    "created_at timestamptz NOT NULL DEFAULT now()"
)
_INDEXES = (
    "CREATE INDEX idx_usage_events_workspace_created ON usage_events (workspace_id, created_at)",
    "CREATE INDEX idx_usage_events_type_created ON usage_events (event_type, created_at)",
    "CREATE INDEX idx_usage_events_user_created ON usage_events (user_id, created_at)",
)
_MONTHS = [datetime(2025 + (m - 1) // 12, (m - 1) % 12 + 1, 1, tzinfo=UTC) for m in range(1, 26)]  # 2025-01..2027-01


def _partitioned() -> list[str]:
    ddl = [f"CREATE TABLE usage_events ({_COLUMNS_PG}, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)"]
    for start, end in itertools.pairwise(_MONTHS):
        ddl.append(
            f"CREATE TABLE usage_events_{start:%Y_%m} PARTITION OF usage_events "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
        )
    return [*ddl, *_INDEXES]


SHAPES: dict[str, tuple[tuple[str, ...], list[str]]] = {
    "partitioned": (("id", "created_at"), _partitioned()),
    "workspace-keyed": (
        ("workspace_id", "id"),
        [f"CREATE TABLE usage_events ({_COLUMNS_PG}, PRIMARY KEY (workspace_id, id))", *_INDEXES],
    ),
    "workspace-keyed-unique": (  # a unique index, not a primary key, as Citus allows
        ("workspace_id", "id"),
        [
            f"CREATE TABLE usage_events ({_COLUMNS_PG})",
            "CREATE UNIQUE INDEX ue_ws_id ON usage_events (workspace_id, id)",
        ],
    ),
}
SQLITE_KEYED = [
    "CREATE TABLE usage_events (id VARCHAR(36) NOT NULL, workspace_id TEXT NOT NULL, user_id TEXT, "
    "event_type TEXT NOT NULL, quantity INTEGER NOT NULL DEFAULT 1, metadata JSON DEFAULT '{}', "
    "created_at DATETIME NOT NULL, PRIMARY KEY (workspace_id, id))",
    *_INDEXES,
]


@dataclass
class Shaped:
    db: Database
    key: tuple[str, ...]
    tmp: Path

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(app, ["--database-url", self.db.url, *args], obj=Runtime(clock=lambda: NOW), input=input)

    def json(self, *args: str, code: int = 0, input: str | None = None) -> Any:
        result = self(*args, "--json", input=input)
        assert result.exit_code == code, result.output + result.stderr
        return json.loads(result.stdout)


def _reshape(db: Database, ddl: list[str]) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql("DROP TABLE usage_events")
        for statement in ddl:
            conn.exec_driver_sql(statement)
    db.dispose()  # pooled connections forget what they knew of the old table


@pytest.fixture(params=[*SHAPES, "sqlite-workspace-keyed"])
def shaped(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shaped]:
    if request.param.startswith("sqlite"):
        url, key, ddl = f"sqlite:///{tmp_path / 'shape.db'}", ("workspace_id", "id"), SQLITE_KEYED
    else:
        url = request.getfixturevalue("make_pg_database")()
        key, ddl = SHAPES[request.param]
    db = prepare(url)
    _reshape(db, ddl)
    yield Shaped(db, key, tmp_path)
    db.dispose()


def _event(n: int, kind: str, quantity: int, at: str, ws: str = "ws_acme", **extra: Any) -> str:
    return json.dumps(
        {"id": new_id(n), "workspace_id": ws, "event_type": kind, "quantity": quantity, "created_at": at, **extra}
    )


def test_the_key_is_discovered(shaped: Shaped) -> None:
    with shaped.db.connect() as conn:
        assert sql.event_key(conn) == shaped.key


def test_record_then_the_same_id_again_is_a_duplicate(shaped: Shaped) -> None:
    args = [
        "usage",
        "record",
        "-w",
        "acme",
        "-t",
        "query",
        "-q",
        "3",
        "--id",
        new_id(1),
        "--at",
        "2026-03-02T10:00:00Z",
    ]
    assert shaped.json(*args)["duplicate"] is False
    assert shaped.json(*args)["duplicate"] is True
    again = shaped.json(
        "usage", "record", "-w", "globex", "-t", "query", "--id", new_id(2), "--at", "2026-03-02T11:00:00Z"
    )
    assert again["duplicate"] is False


def test_ingest_counts_each_event_once_within_and_across_runs(shaped: Shaped) -> None:
    lines = [
        _event(1, "query", 2, "2026-02-27T23:59:59.5Z"),
        _event(2, "token", 500, "2026-03-01T00:00:00Z", user_id="u1", metadata={"model": "m", "n": [1, 2]}),
        _event(1, "query", 2, "2026-02-27T23:59:59.5Z"),  # in the same batch
        _event(3, "query", 1, "2026-03-14T08:00:00Z", ws="ws_globex"),
        _event(2, "token", 500, "2026-03-01T00:00:00Z", user_id="u1", metadata={"model": "m", "n": [1, 2]}),
    ]
    text = "\n".join(lines) + "\n"
    first = shaped.json("usage", "ingest", "-", "--flush-at", "2", input=text)
    assert (first["accepted"], first["duplicates"], first["rejected"], first["exitCode"]) == (3, 2, 0, 0)
    again = shaped.json("usage", "ingest", "-", input=text)
    assert (again["accepted"], again["duplicates"]) == (0, 5)


def test_reads_aggregate_verify_export_and_check(shaped: Shaped) -> None:
    lines = [
        _event(1, "query", 2, "2026-02-27T23:59:59.5Z", user_id="u1"),
        _event(2, "token", 500, "2026-03-01T00:00:00Z", user_id="u1", metadata={"model": "m"}),
        _event(3, "query", 4, "2026-03-14T08:00:00.123456Z", user_id="u2"),
        _event(4, "query", 7, "2026-03-14T09:00:00Z", ws="ws_globex"),
        _event(5, "login", 1, "2026-02-27T09:00:00Z", user_id="u1"),
        _event(6, "login", 1, "2026-03-14T07:00:00Z", user_id="u2"),
        _event(7, "login", 1, "2026-03-14T07:30:00Z", user_id="u1"),
    ]
    assert shaped.json("usage", "ingest", "-", input="\n".join(lines))["accepted"] == 7

    history = shaped.json(
        "usage", "history", "-w", "acme", "--period", "daily", "--start", "2026-02-27", "--end", "2026-03-14"
    )
    by_day = {
        s["period_start"][:10]: (s["query_count"], s["token_count"], s["active_users"]) for s in history["summaries"]
    }
    assert by_day["2026-02-27"] == (2, 0, 1)
    assert by_day["2026-03-01"] == (0, 500, 0)
    assert by_day["2026-03-14"] == (4, 0, 2)
    assert sum(q for q, _t, _a in by_day.values()) == 6

    aggregated = shaped.json("usage", "aggregate", "--all", "--since", "2026-02-01")
    assert aggregated["rowsUpserted"] > 0
    assert shaped.json("usage", "verify", "--all", "--since", "2026-02-01")["ok"] is True

    exported = shaped("usage", "export", "-w", "acme", "--format", "ndjson")
    assert exported.exit_code == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["id"] for r in rows] == [new_id(n) for n in (5, 1, 2, 6, 7, 3)]
    assert [r["created_at"] for r in rows][1:3] == ["2026-02-27T23:59:59.500000Z", "2026-03-01T00:00:00.000000Z"]
    assert rows[-1]["created_at"] == "2026-03-14T08:00:00.123456Z"
    assert rows[2]["metadata"] == {"model": "m"}
    # the export ingested again: every event a duplicate
    again = shaped.json("usage", "ingest", "-", input=exported.stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 6)

    show = shaped.json("usage", "show", "-w", "acme")
    assert (show["queryCount"], show["tokenCount"]) == (4, 500)
    check = shaped("billing", "check", "-w", "acme", "--json")
    assert check.exit_code == 0, check.stderr
    assert json.loads(check.stdout)["allowed"] is True


def test_a_table_without_a_key_on_id_is_refused_without_writing(tmp_path: Path) -> None:
    db = prepare(f"sqlite:///{tmp_path / 'nokey.db'}")
    _reshape(
        db,
        [
            "CREATE TABLE usage_events (id TEXT, workspace_id TEXT NOT NULL, user_id TEXT, event_type TEXT "
            "NOT NULL, quantity INTEGER NOT NULL, metadata JSON, created_at DATETIME NOT NULL)"
        ],
    )
    result = CliRunner().invoke(
        app,
        ["--database-url", db.url, "usage", "record", "-w", "acme", "-t", "query", "--at", "2026-03-02T10:00:00Z"],
        obj=Runtime(clock=lambda: NOW),
    )
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith("Error: usage_events has no primary key or unique index on id")
    with db.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM usage_events").scalar_one() == 0
    db.dispose()
