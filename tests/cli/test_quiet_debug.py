"""--quiet: data only (errors and warnings still on stderr). --debug: tracebacks and each SQL
statement's time on stderr, with every password and key hidden."""

import json

import pytest
from typer.testing import CliRunner

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from tests import factories

SECRET = "Pw-s3cr3t-9Zq"


def run(*args, env=None, input=None):
    return CliRunner().invoke(app, list(args), obj=Runtime(clock=factories.clock), env=env, input=input)


def test_quiet_leaves_out_notes_and_hints_but_not_data():
    loud = run("demo")
    assert loud.exit_code == 0 and "Loaded" in loud.stderr and "Try:" in loud.stderr
    quiet = run("--quiet", "demo")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout != ""
    listed = run("--quiet", "workspace", "list", "--json")
    assert listed.exit_code == 0 and listed.stderr == "" and len(json.loads(listed.stdout)) == 9
    added = run("--quiet", "context", "add", "prod", "--database-url", "sqlite:///p.db")
    assert added.exit_code == 0 and added.stderr == "" and "prod added" in added.stdout


def test_quiet_keeps_errors_and_warnings(atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
    missing = run("--quiet", "--database-url", atlas_db.url, "usage", "show", "-w", "nope")
    assert missing.exit_code == 3 and missing.stderr.startswith("Error: ")
    lines = '{"workspace_id": "acme", "event_type": "query", "quantity": 1}\n{"event_type": 7}\n'
    ingested = run("--quiet", "--database-url", atlas_db.url, "usage", "ingest", "-", input=lines)
    assert "line 2:" in ingested.stderr  # a rejected line is never dropped silently
    assert "Read 2 event line(s)" not in ingested.stderr  # the summary is a note


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@", 1)


@pytest.mark.usefixtures("pg_cluster")
def test_debug_shows_sql_timings_and_never_the_password(pg_url):
    url = with_password(pg_url)
    assert SECRET in url
    db = factories.migrated(url)
    with db.begin() as conn:
        factories.workspace(conn, "ws_acme", slug="acme")
    db.dispose()
    for args, env in (
        (["--database-url", url], None),
        ([], {"DATABASE_URL": url}),
        ([], {"DATABASE_URL": pg_url + f"?password={SECRET}"}),
    ):
        result = run(*args, "--debug", "usage", "show", "-w", "acme", "--json", env=env)
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["workspaceId"] == "ws_acme"
        debug_lines = result.stderr.splitlines()
        assert any(line.startswith("debug: SQL ") and " ms: SELECT " in line for line in debug_lines)
        assert "debug: database postgresql://postgres:***@127.0.0.1" in result.stderr
        assert SECRET not in result.stdout + result.stderr


def test_debug_from_a_context_hides_its_password():
    added = run("context", "add", "prod", "--database-url", "postgresql://atlas:" + SECRET + "@127.0.0.1:1/atlas")
    assert added.exit_code == 0
    result = run("--debug", "--context", "prod", "workspace", "list")
    assert result.exit_code == 7
    assert "Traceback (most recent call last)" in result.stderr and "OperationalError" in result.stderr
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://atlas:{SECRET}@127.0.0.1:1/atlas",
        f"postgres://atlas:{SECRET}@127.0.0.1:1/atlas?sslmode=disable",
        f"postgresql://atlas@127.0.0.1:1/atlas?password={SECRET}",
        f"host=127.0.0.1 port=1 user=atlas password={SECRET} dbname=atlas",
        f"postgresql://atlas:{SECRET.replace('-', '%2D')}@127.0.0.1:1/atlas",
    ],
)
def test_debug_tracebacks_of_an_unreachable_database_never_show_the_password(url):
    result = run("--debug", "--database-url", url, "workspace", "list")
    assert result.exit_code == 7
    assert "debug: Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: database unavailable")
    assert SECRET not in result.stdout + result.stderr
    assert SECRET.replace("-", "%2D") not in result.stderr


def test_debug_shows_a_bugs_traceback_hidden_of_secrets(atlas_db, monkeypatch):
    from atlas_cli.services.usage import UsageService

    def broken(self, *args, **kwargs):
        raise RuntimeError(f"broken while holding {SECRET} and sk_test_{SECRET}")

    monkeypatch.setattr(UsageService, "current", broken)
    env = {"STRIPE_SECRET_KEY": f"sk_test_{SECRET}", "DATABASE_URL": atlas_db.url}
    result = run("--debug", "usage", "show", "-w", "acme", env=env)
    assert result.exit_code == 1
    assert "debug: RuntimeError: broken while holding" in result.stderr
    assert f"sk_test_{SECRET}" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Error: unexpected RuntimeError")


def test_debug_tracing_ends_with_its_invocation(atlas_db):
    traced = run("--debug", "--database-url", atlas_db.url, "workspace", "list")
    assert traced.exit_code == 0 and "debug: SQL" in traced.stderr
    plain = run("--database-url", atlas_db.url, "workspace", "list")
    assert plain.exit_code == 0 and "debug:" not in plain.stderr
