"""An interrupted `db init`, `db upgrade` or `demo` leaves a database the same command completes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import Result

from atlas_cli.db import migrate, schema
from atlas_cli.db.database import Database
from tests.cli.conftest import Atlas

WRITES = ("CREATE", "INSERT", "UPDATE", "ALTER", "DROP")
EVERY_TABLE = {t.name for t in schema.ATLAS_TABLES + schema.OWN_TABLES} | {migrate.VERSION_TABLE}


class Interrupt:
    """Ctrl-C just before the `at`-th statement (0: never) that starts with `prefix`; records them."""

    def __init__(self, at: int = 0, prefix: str = "") -> None:
        self.at, self.prefix = at, prefix
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith(self.prefix):
            self.statements.append(statement)
            if len(self.statements) == self.at:
                raise KeyboardInterrupt


@contextmanager
def interrupted(at: int = 0, prefix: str = "") -> Iterator[Interrupt]:
    hook = Interrupt(at, prefix)
    sa.event.listen(Engine, "before_cursor_execute", hook)
    try:
        yield hook
    finally:
        sa.event.remove(Engine, "before_cursor_execute", hook)


def tables(url: str) -> set[str]:
    db = Database(url)
    try:
        with db.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        db.dispose()


def wipe(url: str) -> None:
    db = Database(url)
    try:
        with db.begin() as conn:
            found = sa.MetaData()
            found.reflect(conn)
            found.drop_all(conn)
    finally:
        db.dispose()
    assert tables(url) == set()


def ready(atlas: Atlas) -> bool:
    result = atlas("db", "status", "--json")
    return result.exit_code == 0 and json.loads(result.stdout)["ready"] is True


def ok(result: Result) -> None:
    assert result.exit_code == 0, result.output + result.stderr


def test_init_interrupted_at_any_statement_leaves_all_or_nothing_and_init_completes(db_url: str) -> None:
    atlas = Atlas(db_url)
    with interrupted() as full:
        ok(atlas("db", "init"))
    wipe(db_url)
    # Only writes change what an interruption leaves: stop before each, and just after the last.
    writes = [n for n, s in enumerate(full.statements, 1) if s.lstrip().startswith(WRITES)]
    for at in (*writes, writes[-1] + 1):
        with interrupted(at):
            result = atlas("db", "init")
        assert result.exit_code == 130 and "Traceback" not in result.output, (at, result.output)
        left = tables(db_url)
        assert left in (set(), EVERY_TABLE), (at, full.statements[at - 1], sorted(left))
        if left:  # the interruption came after the commit: the work is done
            assert ready(atlas), at
        else:
            ok(atlas("db", "init"))
            assert ready(atlas), at
        wipe(db_url)


def test_demo_interrupted_while_loading_leaves_a_database_demo_completes(db_url: str) -> None:
    atlas = Atlas(db_url)
    # While it creates the tables, and while it loads the events (after the migrations' stamp).
    for at, prefix in ((5, "CREATE"), (3, "INSERT INTO usage_events")):
        with interrupted(at, prefix):
            assert atlas("demo").exit_code == 130
        assert tables(db_url) == set(), prefix
        ok(atlas("demo"))
        assert ready(atlas)
        assert len(atlas.json("workspace", "list")) == 9
        wipe(db_url)


@pytest.mark.parametrize("command", [("db", "upgrade"), ("demo",)])
def test_a_half_made_schema_without_its_version_is_completed(db_url: str, command: tuple[str, ...]) -> None:
    """What an interrupted run of an older atlas left: some tables, indexes missing, no version row."""
    db = Database(db_url, create=True)
    with db.begin() as conn:
        for table in (*schema.ATLAS_TABLES[:3], schema.audit_log):
            table.create(conn)
        conn.execute(sa.text("DROP INDEX idx_atlas_audit_log_created"))
    db.dispose()
    atlas = Atlas(db_url)
    status = atlas("db", "status", "--json")
    assert status.exit_code == 5 and "db upgrade" in atlas("db", "status").stdout
    ok(atlas(*command))
    assert ready(atlas) and tables(db_url) == EVERY_TABLE
    with Database(db_url).connect() as conn:
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("atlas_audit_log")}
        assert "idx_atlas_audit_log_created" in indexes
        assert migrate.current_revision(conn) == migrate.head_revision()
    ok(atlas(*command))  # and again: nothing left to do
