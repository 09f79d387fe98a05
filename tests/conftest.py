"""Root test configuration: per-test isolation and real databases.

Fixtures
--------
* ``_isolate_environment`` (autouse): clean ``DATABASE_URL``/``STRIPE_*``/
  ``ATLAS_*`` environment, no colours, 120 columns, ``ATLAS_DATA_DIR``,
  ``XDG_CONFIG_HOME`` (the contexts file) and the
  working directory inside ``tmp_path``.
* ``db_url``: a brand-new EMPTY database per test, once on SQLite and once on
  PostgreSQL (ids ``sqlite`` / ``postgres``; the latter is marked ``postgres``).
* ``pg_url``: a brand-new EMPTY PostgreSQL database per test.
* ``make_pg_database``: factory ``make(template=None) -> url``; every database
  it made is dropped after the test.
* ``pg_templates``: session registry of template databases, built once and
  cloned cheaply (``CREATE DATABASE ... TEMPLATE``) by ``make_pg_database``.
* ``pg_cluster``: the session's :class:`tests.pgcluster.PostgresCluster`,
  started the first time a test needs PostgreSQL.

Without PostgreSQL binaries (and no ``ATLAS_TEST_DATABASE_URL``) the PostgreSQL
tests are skipped, except in CI (``CI=true``) or with
``ATLAS_REQUIRE_POSTGRES=1``, where they fail, and where the run as a whole
fails unless at least one ``postgres`` test passed.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.pgcluster import (
    EXTERNAL_URL_ENV,
    REQUIRE_POSTGRES_ENV,
    PostgresCluster,
    PostgresUnavailable,
    ci_guard_message,
    unavailable_action,
)
from tests.stripe_server import _stripe_server_session, stripe_server

pytest_plugins = ["pytester"]

# Read once, before any test clears ATLAS_* from the environment.
_STARTUP_ENV: dict[str, str] = {
    name: os.environ[name] for name in ("CI", REQUIRE_POSTGRES_ENV, EXTERNAL_URL_ENV) if name in os.environ
}

# Tests using these fixtures need PostgreSQL: they get the `postgres` marker.
_POSTGRES_FIXTURES = frozenset({"pg_cluster", "pg_url", "make_pg_database", "pg_templates"})


# --------------------------------------------------------------------------
# Isolation
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name == "DATABASE_URL" or name.startswith(("STRIPE_", "ATLAS_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("ATLAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # never read the user's contexts
    monkeypatch.chdir(tmp_path)  # never read a stray .env from the repository


# --------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------


def _postgres_unavailable(reason: str, environ: dict[str, str] | None = None) -> None:
    """Skip the current test, or fail it where PostgreSQL is required."""
    environ = _STARTUP_ENV if environ is None else environ
    if unavailable_action(environ) == "fail":
        pytest.fail(
            f"{reason} -- PostgreSQL is required here (CI=true or {REQUIRE_POSTGRES_ENV}=1)",
            pytrace=False,
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(_STARTUP_ENV.get(EXTERNAL_URL_ENV) or None)
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        _postgres_unavailable(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()


class PgTemplates:
    """Template databases built once per session, keyed by a name of your choice.

    ``pg_templates.get("migrated", build)`` creates an empty database, calls
    ``build(url)`` to fill it (e.g. run the migrations) and returns the
    template's database name; later calls with the same key return it at once.
    ``build`` must close its connections (``engine.dispose()``); any it leaves
    open are terminated and the template is closed to new connections, as
    ``CREATE DATABASE ... TEMPLATE`` requires.
    """

    def __init__(self, cluster: PostgresCluster) -> None:
        self._cluster = cluster
        self._prefix = f"tmpl_{uuid.uuid4().hex[:8]}_"
        self._names: dict[str, str] = {}

    def get(self, key: str, build: Callable[[str], object]) -> str:
        if key in self._names:
            return self._names[key]
        name = self._prefix + re.sub(r"[^a-z0-9_]", "_", key.lower())[:40]
        url = self._cluster.create_database(name)
        try:
            build(url)
            self._cluster.seal_template(name)
        except BaseException:
            self._cluster.drop_database(name)
            raise
        self._names[key] = name
        return name

    def __contains__(self, key: str) -> bool:
        return key in self._names

    def drop_all(self) -> None:
        while self._names:
            self._cluster.drop_database(self._names.popitem()[1])


@pytest.fixture(scope="session")
def pg_templates(pg_cluster: PostgresCluster) -> Iterator[PgTemplates]:
    templates = PgTemplates(pg_cluster)
    yield templates
    templates.drop_all()


@pytest.fixture
def make_pg_database(pg_cluster: PostgresCluster) -> Iterator[Callable[..., str]]:
    created: list[str] = []

    def make(template: str | None = None) -> str:
        """A new database ``t_<uuid hex>``, empty or cloned from ``template``
        (a database name, e.g. from ``pg_templates.get``); returns its URL."""
        name = f"t_{uuid.uuid4().hex}"
        url = pg_cluster.create_database(name, template=template)
        created.append(name)
        return url

    yield make
    for name in created:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_url(make_pg_database: Callable[..., str]) -> str:
    """URL (``postgresql://``) of a brand-new empty PostgreSQL database."""
    return make_pg_database()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a brand-new empty database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'atlas-test.db'}"
    make: Callable[..., str] = request.getfixturevalue("make_pg_database")
    return make()


# --------------------------------------------------------------------------
# Hooks: postgres marker, and the CI guard
# --------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


class PostgresGuard:
    """Counts passed ``postgres`` tests; in CI, fails a run that had none.

    One instance per pytest config (so a nested ``pytester`` run has its own).
    """

    def __init__(self) -> None:
        self.passed_postgres = 0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and report.passed and "postgres" in report.keywords:
            self.passed_postgres += 1

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        message = ci_guard_message(os.environ, self.passed_postgres)
        if message is None:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write("\n")
            reporter.write_sep("=", "PostgreSQL required", red=True, bold=True)
            reporter.write_line(message)
        else:
            print(message, file=sys.stderr)
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("atlas-postgres-guard"):
        config.pluginmanager.register(PostgresGuard(), "atlas-postgres-guard")
