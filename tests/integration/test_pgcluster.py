"""The test suite's database infrastructure: fixtures, templates, CI guard."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PgTemplates, _postgres_unavailable
from tests.pgcluster import (
    PostgresCluster,
    ci_guard_message,
    find_pg_bin,
    postgres_required,
    unavailable_action,
    url_with_database,
)


def _engine(url: str) -> sa.Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url)


def _table_names(url: str) -> list[str]:
    engine = _engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------
# db_url: empty, writable, one per test
# --------------------------------------------------------------------------

_seen_urls: dict[str, str] = {}


def test_db_url_is_empty_and_writable(db_url: str, request: pytest.FixtureRequest) -> None:
    engine = _engine(db_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (id INTEGER PRIMARY KEY, name TEXT)"))
            conn.execute(sa.text("INSERT INTO probe (id, name) VALUES (1, 'one'), (2, 'two')"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, name FROM probe ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "one"), (2, "two")]
    finally:
        engine.dispose()
    _seen_urls[request.node.callspec.id] = db_url


def test_db_url_is_a_different_database_in_each_test(db_url: str, request: pytest.FixtureRequest) -> None:
    engine_kind = request.node.callspec.id
    assert _table_names(db_url) == []  # the previous test's table is not here
    previous = _seen_urls.get(engine_kind)
    if previous is None:
        pytest.skip("runs after test_db_url_is_empty_and_writable")
    assert previous != db_url
    if engine_kind == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
        assert not cluster.database_exists(previous.rsplit("/", 1)[1])  # dropped


def test_db_url_postgres_param_is_marked(request: pytest.FixtureRequest, db_url: str) -> None:
    marked = request.node.get_closest_marker("postgres") is not None
    assert marked == (request.node.callspec.id == "postgres")


def test_sqlite_url_is_in_tmp_path(tmp_path: Path) -> None:
    # The autouse fixture moved us into tmp_path; db_url's sqlite file lives there too.
    assert Path.cwd() == tmp_path


def test_pg_url_is_postgres_and_marked(pg_url: str, request: pytest.FixtureRequest) -> None:
    assert pg_url.startswith("postgresql://")
    assert request.node.get_closest_marker("postgres") is not None
    assert _table_names(pg_url) == []


def test_make_pg_database_drops_what_it_made(pg_cluster: PostgresCluster) -> None:
    # Use the cluster directly to see the drop happen.
    url = pg_cluster.create_database("t_probe_drop")
    engine = _engine(url)
    conn = engine.connect()  # a connection left open on purpose
    conn.execute(sa.text("SELECT 1"))
    pg_cluster.drop_database("t_probe_drop")
    engine.dispose()
    assert not pg_cluster.database_exists("t_probe_drop")


# --------------------------------------------------------------------------
# Template fast path
# --------------------------------------------------------------------------


def _build_schema(url: str) -> None:
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE plan (code TEXT PRIMARY KEY, price INTEGER)"))
            conn.execute(sa.text("INSERT INTO plan VALUES ('free', 0), ('pro', 4900)"))
    finally:
        engine.dispose()


def test_template_clone(pg_templates: PgTemplates, make_pg_database: Callable[..., str]) -> None:
    builds: list[str] = []

    def build(url: str) -> None:
        builds.append(url)
        _build_schema(url)
        # Leave a connection open: the registry must cope with it.
        leaked = _engine(url)
        leaked.connect()

    template = pg_templates.get("infra-probe", build)
    assert pg_templates.get("infra-probe", build) == template
    assert len(builds) == 1

    first, second = make_pg_database(template), make_pg_database(template=template)
    assert first != second
    for url in (first, second):
        assert _table_names(url) == ["plan"]

    engine = _engine(first)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM plan WHERE code = 'free'"))
            conn.execute(sa.text("CREATE TABLE extra (id INTEGER)"))
    finally:
        engine.dispose()

    engine = _engine(second)
    try:
        with engine.connect() as conn:
            codes = conn.execute(sa.text("SELECT code FROM plan ORDER BY code")).scalars().all()
        assert codes == ["free", "pro"]
        # A clone may be cloned while the first clone is busy: only the template matters.
        with engine.connect():
            assert _table_names(make_pg_database(template)) == ["plan"]
    finally:
        engine.dispose()
    assert _table_names(second) == ["plan"]


def test_template_build_failure_leaves_nothing(pg_templates: PgTemplates, pg_cluster: PostgresCluster) -> None:
    def broken(url: str) -> None:
        raise RuntimeError("migration failed")

    with pytest.raises(RuntimeError, match="migration failed"):
        pg_templates.get("broken", broken)
    assert "broken" not in pg_templates
    leftovers = pg_cluster.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", ("%\\_broken",))
    assert leftovers == []


# --------------------------------------------------------------------------
# Cluster helpers
# --------------------------------------------------------------------------


def test_url_helpers() -> None:
    assert (
        url_with_database("postgresql+psycopg://u:p@h:5433/postgres?sslmode=disable", "t_1")
        == "postgresql://u:p@h:5433/t_1?sslmode=disable"
    )
    assert url_with_database("postgres://h/x", "y") == "postgresql://h/y"
    with pytest.raises(ValueError):
        url_with_database("sqlite:///x.db", "y")


def test_cluster_url_is_plain_postgresql(pg_cluster: PostgresCluster) -> None:
    assert pg_cluster.url.startswith("postgresql://")
    if not pg_cluster.is_external:
        assert pg_cluster.url == f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/postgres"
        assert pg_cluster.execute("SHOW fsync") == [("off",)]


def test_find_pg_bin_prefers_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "initdb"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert find_pg_bin("initdb") == str(fake)


# --------------------------------------------------------------------------
# CI guard: fail vs skip, and the session-finish rule
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "skip"),
        ({"CI": "false"}, "skip"),
        ({"CI": ""}, "skip"),
        ({"ATLAS_REQUIRE_POSTGRES": "0"}, "skip"),
        ({"CI": "true"}, "fail"),
        ({"CI": "TRUE"}, "fail"),
        ({"CI": "1"}, "fail"),
        ({"ATLAS_REQUIRE_POSTGRES": "1"}, "fail"),
    ],
)
def test_unavailable_action(environ: dict[str, str], expected: str) -> None:
    assert unavailable_action(environ) == expected
    assert postgres_required(environ) == (expected == "fail")


def test_postgres_unavailable_skips_locally_and_fails_in_ci() -> None:
    with pytest.raises(pytest.skip.Exception, match="no binaries"):
        _postgres_unavailable("no binaries", {})
    with pytest.raises(pytest.fail.Exception, match=r"no binaries.*required"):
        _postgres_unavailable("no binaries", {"CI": "true"})


def test_ci_guard_message() -> None:
    assert ci_guard_message({}, 0) is None
    assert ci_guard_message({"CI": "true"}, 3) is None
    message = ci_guard_message({"CI": "true"}, 0)
    assert message is not None and "postgres" in message
    assert ci_guard_message({"ATLAS_REQUIRE_POSTGRES": "1"}, 0) is not None


_INNER_CONFTEST = """
from tests.conftest import pytest_configure  # registers the CI guard
"""

_INNER_TESTS = """
import pytest

@pytest.mark.postgres
def test_pg():
    pass

def test_plain():
    pass
"""


@pytest.mark.parametrize(
    ("ci", "args", "expected"),
    [
        (None, [], pytest.ExitCode.OK),
        (None, ["-k", "plain"], pytest.ExitCode.OK),
        ("true", [], pytest.ExitCode.OK),
        ("true", ["-k", "plain"], pytest.ExitCode.TESTS_FAILED),  # postgres test deselected
        ("true", ["-k", "nothing_matches"], pytest.ExitCode.TESTS_FAILED),
    ],
)
def test_session_finish_guard(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ci: str | None,
    args: list[str],
    expected: pytest.ExitCode,
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.makeconftest(_INNER_CONFTEST)
    pytester.makepyfile(test_inner=_INNER_TESTS)
    pytester.makeini("[pytest]\nmarkers =\n    postgres: needs PostgreSQL\n")
    # The repository root must be importable from pytester's directory; no
    # third-party plugins (pytester re-imports them in every run: slow).
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == expected
    if expected == pytest.ExitCode.TESTS_FAILED:
        result.stdout.fnmatch_lines(["*PostgreSQL required*", "*no test marked 'postgres'*"])
    else:
        assert "PostgreSQL required" not in result.stdout.str()


def test_session_finish_guard_counts_only_passed(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(_INNER_CONFTEST)
    pytester.makepyfile(
        test_inner="""
import pytest

@pytest.mark.postgres
def test_pg():
    pytest.skip("no postgres here")

def test_plain():
    pass
"""
    )
    pytester.makeini("[pytest]\nmarkers =\n    postgres: needs PostgreSQL\n")
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1)


def test_isolation_fixture(tmp_path: Path) -> None:
    assert os.environ["NO_COLOR"] == "1"
    assert os.environ["COLUMNS"] == "120"
    assert os.environ["TERM"] == "dumb"
    assert os.environ["ATLAS_DATA_DIR"] == str(tmp_path / "data")
    assert "DATABASE_URL" not in os.environ
    assert not [k for k in os.environ if k.startswith(("STRIPE_", "ATLAS_")) and k != "ATLAS_DATA_DIR"]
