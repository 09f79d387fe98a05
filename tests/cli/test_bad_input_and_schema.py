"""Bad input, unreachable and non-Atlas databases, and `atlas db`: one line, one exit code."""

import socket

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from tests import factories
from tests.cli.conftest import Atlas


def one_error_line(result, code):
    assert result.exit_code == code, result.output + result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def table_names(url):
    db = Database(url)
    try:
        with db.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        db.dispose()


@pytest.fixture
def acme(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.workspace(conn, "globex")
    return atlas


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["usage", "show", "-w", "nope"], 3),
        (["billing", "check", "-w", "nope"], 3),
        (["trial", "status", "-w", "nope"], 3),
        (["workspace", "show", "nope"], 3),
        (["usage", "show"], 2),  # two workspaces and none named
        (["usage", "history", "-w", "acme", "--start", "2026-02-30"], 2),
        (["usage", "history", "-w", "acme", "--start", "2026-11-05", "--end", "2026-11-01"], 2),
        (["usage", "history", "-w", "acme", "--limit", "366"], 2),
        (["usage", "history", "-w", "acme", "--limit", "0"], 2),
        (["usage", "history", "-w", "acme", "--period", "weekly"], 2),
        (["usage", "breakdown", "-w", "acme", "--limit", "501"], 2),
        (["usage", "breakdown", "-w", "acme", "--end", "soon"], 2),
        (["usage", "breakdown", "-w", "acme", "--sort", "bytes"], 2),
        (["usage", "show", "-w", "acme", "--format", "xml"], 2),
    ],
)
def test_bad_input_is_one_line_and_its_exit_code(acme, atlas_db, args, code):
    one_error_line(acme(*args), code)
    with atlas_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM usage_summaries")).scalar() == 0


def test_unknown_plan_tier(atlas):
    one_error_line(atlas("plans", "show", "gold"), 3)
    assert atlas.json("plans", "show", "TEAM")["queriesPerMonth"] == 10_000
    assert [p["tier"] for p in atlas.json("plans", "list")] == ["free", "trial", "team", "enterprise"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_database_is_exit_7_and_masks_the_password():
    url = f"postgresql://atlas:hunter2@127.0.0.1:{free_port()}/atlas"
    result = Atlas(url)("usage", "show", "-w", "acme")
    one_error_line(result, 7)
    assert "hunter2" not in result.stderr and "atlas:***@127.0.0.1" in result.stderr


def test_missing_embedded_database_says_what_to_do():
    result = Atlas(None)("workspace", "list")
    one_error_line(result, 5)
    assert "atlas demo" in result.stderr


def test_database_without_atlas_tables_is_exit_5_and_left_unchanged(db_url):
    with Database(db_url, create=True).begin() as conn:
        conn.execute(sa.text("CREATE TABLE unrelated (id integer)"))
    atlas = Atlas(db_url)
    for args in (["usage", "show", "-w", "acme"], ["workspace", "list"], ["billing", "status", "-w", "x"]):
        result = atlas(*args)
        one_error_line(result, 5)
        assert "atlas db init" in result.stderr
    status = atlas("db", "status", "--json")
    assert status.exit_code == 5
    assert table_names(db_url) == {"unrelated"}


def test_db_init_then_status_then_init_again_conflicts(db_url):
    atlas = Atlas(db_url)
    assert atlas("db", "init").exit_code == 0
    body = atlas.json("db", "status")
    assert body["ready"] is True and body["lockedTierAllowed"] is True
    assert {t["name"]: t["state"] for t in body["tables"]}["atlas_audit_log"] == "present"
    one_error_line(atlas("db", "init"), 4)
    assert atlas("db", "upgrade").exit_code == 0


def test_db_status_names_missing_and_incompatible_tables(pg_url):
    with Database(pg_url, create=True).begin() as conn:
        conn.execute(sa.text("CREATE TABLE organization (id text PRIMARY KEY, name text)"))
    result = Atlas(pg_url)("db", "status", "--json")
    assert result.exit_code == 5
    import json

    tables = {t["name"]: t for t in json.loads(result.stdout)["tables"]}
    assert tables["organization"]["state"] == "incompatible"
    assert "plan_tier" in tables["organization"]["detail"]
    assert tables["usage_events"]["state"] == "missing"
