"""A database password never reaches the terminal, in any URL form libpq accepts (DESIGN section 2),
and a URL atlas cannot use is one line and exit 2, never a traceback that repeats it."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from tests import factories

SECRET = "Zx9SecretPw"
AT_SECRET = "Zx9@SecretPw"  # an unencoded `@`: the part after it leaked as a host name
LEAKS = ("SecretPw", "Zx9")  # no part of either password may show


def _forms(host: str, port: int | None, user: str, secret: str, dbname: str) -> dict[str, tuple[str, str]]:
    """Each way to write the same connection, and the masked URL atlas shows for it."""
    netloc = f"{host}:{port}" if port else host
    shown = f"postgresql://{user}:***@{netloc}/{dbname}"
    port_kv = f"port={port} " if port else ""
    forms = {
        "userinfo": (f"postgresql://{user}:{secret}@{netloc}/{dbname}", shown),
        "query-password": (f"postgresql://{user}@{netloc}/{dbname}?password={secret}", shown),
        "query-user-password": (f"postgresql://{netloc}/{dbname}?user={user}&password={secret}", shown),
        "key-value": (f"host={host} {port_kv}user={user} password={secret} dbname={dbname}", shown),
    }
    if "@" not in secret:
        forms["unencoded-at"] = (f"postgresql://{user}:{AT_SECRET}@{netloc}/{dbname}", shown)
    return forms


FORM_NAMES = ("userinfo", "query-password", "query-user-password", "key-value", "unencoded-at")


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner(env=env)
    flag = [] if env else ["--database-url", url]
    return runner.invoke(app, [*flag, *args], obj=Runtime(clock=factories.clock))


def _no_secret(result: Result) -> None:
    for leak in LEAKS:
        assert leak not in result.stdout and leak not in result.stderr, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unreachable() -> Callable[[str], tuple[str, str]]:
    port = _closed_port()
    forms = _forms("127.0.0.1", port, "atlas", SECRET, "atlas")
    return lambda name: forms[name]


@pytest.mark.parametrize("via", ["flag", "env"])
@pytest.mark.parametrize("form", FORM_NAMES)
@pytest.mark.parametrize(
    ("command", "code"),
    [
        (("db", "status"), 7),
        (("doctor", "--json"), 7),
        (("demo",), 7),
        (("usage", "show", "-w", "acme"), 7),
        (("billing", "byot", "--enable", "-w", "acme", "--as", "a@x.test"), 7),
    ],
)
def test_database_unavailable_never_shows_the_password(
    unreachable: Callable[[str], tuple[str, str]], form: str, via: str, command: tuple[str, ...], code: int
) -> None:
    url, shown = unreachable(form)
    result = _run(url, *command, env={"DATABASE_URL": url} if via == "env" else None)
    assert result.exit_code == code, (result.stdout, result.stderr)
    _no_secret(result)
    assert shown in result.stdout + result.stderr


@pytest.mark.parametrize("form", FORM_NAMES)
def test_config_show_masks_every_form(unreachable: Callable[[str], tuple[str, str]], form: str) -> None:
    url, shown = unreachable(form)
    for env in ({"DATABASE_URL": url}, None):
        result = _run(url, "config", "show", "--json", env=env)
        assert result.exit_code == 0, result.stderr
        _no_secret(result)
        rows = {r["name"]: r for r in json.loads(result.stdout)}
        assert rows["DATABASE_URL"]["value"] == shown


@pytest.fixture
def reachable(pg_url: str) -> Callable[[str], tuple[str, str, str]]:
    """The forms of a real, empty PostgreSQL database (trust auth ignores the password; a server
    that checks it gets its own, which must not show either)."""
    parsed = make_url(pg_url)
    secret = parsed.password or SECRET
    host, user = parsed.host or "localhost", parsed.username or "postgres"
    forms = _forms(host, parsed.port, user, secret, parsed.database or "")

    def form(name: str) -> tuple[str, str, str]:
        if name not in forms:
            pytest.skip("the server checks passwords: no unencoded @ in its own")
        return (*forms[name], secret)

    return form


@pytest.mark.parametrize("form", FORM_NAMES)
def test_a_reachable_database_never_shows_the_password(
    reachable: Callable[[str], tuple[str, str, str]], form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, shown, secret = reachable(form)
    monkeypatch.setattr("tests.cli.test_database_url_secrets.LEAKS", (*LEAKS, secret))
    # an empty database: "not configured" names it
    result = _run(url, "usage", "show", "-w", "acme")
    assert result.exit_code == 5 and shown in result.stderr, result.stderr
    _no_secret(result)
    result = _run(url, "db", "status", "--json")
    _no_secret(result)
    assert json.loads(result.stdout)["database"] == shown
    result = _run(url, "db", "init")
    assert result.exit_code == 0, result.stderr
    _no_secret(result)
    result = _run(url, "doctor", "--json")
    _no_secret(result)
    database = next(c for c in json.loads(result.stdout)["checks"] if c["check"] == "database")
    assert database == {"check": "database", "status": "ok", "detail": f"reachable at {shown}", "fix": None}
    db = factories.migrated(url)
    with db.begin() as conn:
        factories.workspace(conn, "theirs")
    db.dispose()
    result = _run(url, "demo")  # a database with workspaces of its own: demo refuses, naming it
    assert result.exit_code == 4 and shown in result.stderr, result.stderr
    _no_secret(result)


BAD_URLS = {
    "port-too-large": f"postgresql://atlas:{SECRET}@db.example:99999/atlas",
    "port-not-a-number": f"postgresql://atlas:{SECRET}@db.example:abc/atlas",
    "password-with-slash": "postgresql://atlas:Zx9/SecretPw@db.example/atlas",
    "bad-percent": "postgresql://atlas:Zx9%SecretPw@db.example/atlas",
    "mysql": f"mysql://atlas:{SECRET}@db.example/atlas",
    "key-value-bad-port": f"host=db.example port=99999 user=atlas password={SECRET}",
    "key-value-unquoted-space": "host=db.example password=Zx9 SecretPw",
    "garbage": f"not a url {SECRET}",
    "blank": "   ",
}


@pytest.mark.parametrize("name", sorted(BAD_URLS))
@pytest.mark.parametrize(
    "command", [("db", "status"), ("doctor",), ("demo",), ("usage", "show", "-w", "acme"), ("db", "init")]
)
def test_an_unusable_url_is_one_line_and_exit_2(name: str, command: tuple[str, ...]) -> None:
    url = BAD_URLS[name]
    for env in ({"DATABASE_URL": url}, None):
        result = _run(url, *command, env=env)
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert ("DATABASE_URL" if env else "--database-url") in result.stderr
        _no_secret(result)


def test_an_unsupported_scheme_names_the_supported_ones() -> None:
    result = _run(BAD_URLS["mysql"], "db", "status")
    assert "'mysql' is not supported" in result.stderr and "postgresql://" in result.stderr
    assert "sqlite:///" in result.stderr


@pytest.mark.parametrize("name", sorted(BAD_URLS))
def test_config_show_names_an_unusable_url_without_it(name: str) -> None:
    result = _run(BAD_URLS[name], "config", "show", "--json", env={"DATABASE_URL": BAD_URLS[name]})
    assert result.exit_code == 0, result.stderr
    _no_secret(result)
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["DATABASE_URL"]["value"].startswith("(unusable: ")
