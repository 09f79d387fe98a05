"""`atlas db tune --covering-index`: opt-in, idempotent, audited, reported by `db status`, and
invisible to the numbers of show, history and breakdown; on SQLite, PostgreSQL and a
month-partitioned PostgreSQL usage_events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from atlas_cli.db import tuning
from atlas_cli.db.database import Database
from tests import factories
from tests.events_fixtures import prepare
from tests.integration.test_events_table_shapes import SHAPES, _reshape

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
INDEX = tuning.INDEX_NAME
ADMIN = ["--as", "root@x.test"]


@dataclass
class Tuned:
    db: Database

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(app, ["--database-url", self.db.url, *args], obj=Runtime(clock=lambda: NOW))

    def json(self, *args: str, code: int = 0) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == code, result.output + result.stderr
        return json.loads(result.stdout)

    def state(self) -> str:
        with self.db.connect() as conn:
            return tuning.state(conn).state

    def audit(self) -> list[dict[str, Any]]:
        return [r for r in self.json("audit", "list", "--start", "2026-03-01", "--end", "2026-03-31")]


def _populate(db: Database) -> None:
    with db.begin() as conn:
        factories.user(conn, "root", email="root@x.test", role="admin")
        factories.user(conn, "bob", email="bob@x.test", role="user")
        rows = []
        for day in range(40):
            at = datetime(2026, 2, 3, 9, tzinfo=UTC) + timedelta(days=day, hours=day % 7)
            rows += [("query", 1 + day % 5, at, f"u{day % 3}"), ("token", 100 * day, at, f"u{day % 4}")]
            rows.append(("login", 1, at + timedelta(minutes=5), f"u{day % 2}"))
        factories.events(conn, "ws_acme", rows)
        factories.events(conn, "ws_globex", rows[:30])


@pytest.fixture(params=["sqlite", "postgres", "partitioned"])
def tuned(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tuned]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tune.db'}"
    else:
        url = request.getfixturevalue("make_pg_database")()
    db = prepare(url)
    if request.param == "partitioned":
        _reshape(db, SHAPES["partitioned"][1])
    _populate(db)
    yield Tuned(db)
    db.dispose()


def _reads(t: Tuned) -> list[Any]:
    return [
        t.json("usage", "show", "-w", "acme"),
        t.json("usage", "history", "-w", "acme", "--period", "daily", "--start", "2026-02-01", "--recompute"),
        t.json("usage", "history", "-w", "globex", "--period", "monthly", "--start", "2026-01-01"),
        t.json("usage", "breakdown", "-w", "acme", "--start", "2026-02-01", "--end", "2026-03-15"),
    ]


def test_add_again_status_drop_and_the_same_numbers(tuned: Tuned) -> None:
    without = _reads(tuned)
    assert tuned.json("db", "status")["coveringIndex"]["state"] == "absent"

    added = tuned.json("db", "tune", "--covering-index", *ADMIN)
    assert (added["changed"], added["before"]["state"], added["after"]["state"]) == (True, "absent", "present")
    assert added["auditId"] and added["actor"] == "root@x.test"
    assert tuned.state() == "present"
    status = tuned.json("db", "status")["coveringIndex"]
    assert status["present"] is True and status["columns"][:2] == ["workspace_id", "created_at"]
    assert {"event_type", "quantity", "user_id"} <= set(status["columns"])

    assert _reads(tuned) == without

    again = tuned("db", "tune", "--covering-index", *ADMIN)
    assert again.exit_code == 0, again.stderr
    assert "already there; nothing changed" in again.stdout
    assert len([a for a in tuned.audit() if a["action"] == "db.tune"]) == 1

    dropped = tuned.json("db", "tune", "--drop", *ADMIN)
    assert (dropped["changed"], dropped["after"]["state"]) == (True, "absent")
    assert tuned.state() == "absent"
    assert tuned.json("db", "status")["coveringIndex"]["present"] is False
    gone = tuned("db", "tune", "--drop", *ADMIN)
    assert gone.exit_code == 0 and "not there; nothing changed" in gone.stdout
    assert _reads(tuned) == without


def test_audit_rows_carry_before_and_after(tuned: Tuned) -> None:
    tuned.json("db", "tune", "--covering-index", *ADMIN)
    tuned.json("db", "tune", "--drop", *ADMIN)
    rows = [a for a in tuned.audit() if a["action"] == "db.tune"]
    assert len(rows) == 2
    states = sorted((r["before"]["coveringIndex"]["state"], r["after"]["coveringIndex"]["state"]) for r in rows)
    assert states == [("absent", "present"), ("present", "absent")]
    assert {r["actor"] for r in rows} == {"root@x.test"}


def test_dry_run_prints_the_ddl_and_changes_nothing(tuned: Tuned) -> None:
    result = tuned("db", "tune", "--covering-index", "--dry-run")  # no actor needed for a dry run
    assert result.exit_code == 0, result.stderr
    assert "CREATE INDEX" in result.stdout and INDEX in result.stdout
    data = tuned.json("db", "tune", "--covering-index", "--dry-run")
    assert data["dryRun"] is True and data["changed"] is False and data["statements"]
    if tuned.db.dialect == "postgresql":
        assert all("CONCURRENTLY" in s or "ON ONLY" in s or "ATTACH" in s for s in data["statements"])
        assert any("INCLUDE (event_type, quantity, user_id)" in s for s in data["statements"])
    assert tuned.state() == "absent"
    assert not [a for a in tuned.audit() if a["action"] == "db.tune"]


def test_only_a_global_admin_may_tune(tuned: Tuned) -> None:
    for who in (["--as", "bob@x.test"], []):
        result = tuned("db", "tune", "--covering-index", *who)
        assert result.exit_code == 8, result.output
        assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1
    assert tuned.state() == "absent"
    tuned.json("db", "tune", "--covering-index", *ADMIN)
    assert tuned("db", "tune", "--drop", "--as", "bob@x.test").exit_code == 8
    assert tuned.state() == "present"


def test_nothing_to_tune_is_bad_usage(tuned: Tuned) -> None:
    result = tuned("db", "tune")
    assert result.exit_code == 2 and "--covering-index" in result.stderr


def test_never_created_implicitly(tuned: Tuned) -> None:
    assert tuned("db", "upgrade").exit_code == 0
    assert tuned.state() == "absent"


def test_an_invalid_index_is_reported_and_rebuilt(make_pg_database: Any) -> None:
    db = prepare(make_pg_database())
    _populate(db)
    t = Tuned(db)
    with db.autocommit() as conn:  # what a failed CREATE INDEX CONCURRENTLY leaves behind
        conn.exec_driver_sql(f"CREATE INDEX {INDEX} ON usage_events (workspace_id, created_at)")
        conn.exec_driver_sql(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass(%(n)s)", {"n": INDEX}
        )
    db.dispose()
    assert t.json("db", "status")["coveringIndex"]["state"] == "invalid"
    assert "INVALID" in t("db", "status").stdout
    result = t.json("db", "tune", "--covering-index", *ADMIN)
    assert result["rebuiltInvalid"] is True and result["after"]["state"] == "present"
    assert result["statements"][0].startswith("DROP INDEX CONCURRENTLY")
    with db.connect() as conn:
        definition = conn.exec_driver_sql("SELECT pg_get_indexdef(to_regclass(%(n)s))", {"n": INDEX}).scalar()
    assert "INCLUDE (event_type, quantity, user_id)" in str(definition)
    db.dispose()


def test_partitioned_index_covers_every_partition(make_pg_database: Any) -> None:
    db = prepare(make_pg_database())
    _reshape(db, SHAPES["partitioned"][1])
    _populate(db)
    t = Tuned(db)
    t.json("db", "tune", "--covering-index", *ADMIN)
    with db.connect() as conn:
        attached = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass(%(n)s)", {"n": INDEX}
        ).scalar()
        parts = len(tuning.partitions(conn))
    assert attached == parts == 24
    assert t.json("db", "status")["coveringIndex"]["partitioned"] is True
    t.json("db", "tune", "--drop", *ADMIN)
    with db.connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM pg_class WHERE relname LIKE 'atlas_uec_%%'", {}).scalar()
    assert left == 0
    db.dispose()


def test_a_partitioned_build_left_half_done_is_rebuilt(make_pg_database: Any) -> None:
    db = prepare(make_pg_database())
    _reshape(db, SHAPES["partitioned"][1])
    _populate(db)
    t = Tuned(db)
    with db.connect() as conn:
        statements = tuning.create_statements(conn)
    with db.autocommit() as conn:  # the parent index and the first partition's, unattached: a build cut short
        tuning.run(conn, statements[:2])
    db.dispose()
    assert t.json("db", "status")["coveringIndex"]["state"] == "invalid"
    result = t.json("db", "tune", "--covering-index", *ADMIN)
    assert result["rebuiltInvalid"] is True and result["after"]["state"] == "present"
    db.dispose()


def test_per_seat_table_carries_the_cost_column(db_url: str) -> None:
    from tests import per_seat_factories as ps

    t = Tuned(ps.database(db_url))  # the per-seat server's own tables, laid out by plain DDL
    assert t("db", "upgrade").exit_code == 0
    with t.db.begin() as conn:
        ps.user(conn, "root", email="root@x.test", role="platform_admin")
        ps.user(conn, "boss", email="boss@x.test", role="admin")  # a classic role: not a global admin here
    assert t("db", "tune", "--covering-index", "--as", "boss@x.test").exit_code == 8
    added = t.json("db", "tune", "--covering-index", *ADMIN)
    assert added["after"]["columns"] == [*tuning.KEY, *tuning.INCLUDED, "gateway_cost_usd"]
    assert t.state() == "present"
    t.db.dispose()
