from pathlib import Path

import pytest

from atlas_cli.db import urls
from atlas_cli.errors import BadInput


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://atlas:pw@db:5432/atlas", "postgresql+psycopg://atlas:pw@db:5432/atlas"),
        ("postgresql://atlas@db/atlas", "postgresql+psycopg://atlas@db/atlas"),
        ("POSTGRESQL://atlas@db/atlas", "postgresql+psycopg://atlas@db/atlas"),
        ("postgresql+psycopg2://atlas@db/atlas", "postgresql+psycopg://atlas@db/atlas"),
        ("sqlite:////var/lib/atlas.db", "sqlite:////var/lib/atlas.db"),
    ],
)
def test_the_servers_url_forms_use_psycopg_3(given, expected):
    assert urls.normalize(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://atlas:s3cr:et@db:5432/atlas", "postgresql://atlas:***@db:5432/atlas"),
        ("postgres://atlas:p%40ss@db/atlas?sslmode=require", "postgres://atlas:***@db/atlas?sslmode=require"),
        ("postgresql://atlas@db/atlas", "postgresql://atlas@db/atlas"),
        ("sqlite:////tmp/a.db", "sqlite:////tmp/a.db"),
    ],
)
def test_passwords_are_masked(given, expected):
    assert urls.mask(given) == expected


def test_sqlite_paths():
    assert urls.sqlite_path("sqlite:////var/lib/atlas.db?mode=ro") == Path("/var/lib/atlas.db")
    assert urls.sqlite_path("sqlite:///:memory:") is None
    assert urls.sqlite_path("postgresql://db/atlas") is None


@pytest.mark.parametrize(
    ("given", "connect", "shown"),
    [
        (
            "postgresql://atlas@db/atlas?password=s3cret&sslmode=require",
            "postgresql+psycopg://atlas:s3cret@db/atlas?sslmode=require",
            "postgresql://atlas:***@db/atlas?sslmode=require",
        ),
        (
            "postgres://db:5432/atlas?user=atlas&password=s3cret",
            "postgresql+psycopg://atlas:s3cret@db:5432/atlas",
            "postgres://atlas:***@db:5432/atlas",
        ),
        (
            "host=db port=5433 user=atlas password='s3 cret' dbname=atlas sslmode=require",
            "postgresql+psycopg://atlas:s3%20cret@db:5433/atlas?sslmode=require",
            "postgresql://atlas:***@db:5433/atlas?sslmode=require",
        ),
        # the Atlas server (a WHATWG URL parser) reads the last `@` as the end of the user info
        (
            "postgresql://atlas:p@ss@db/atlas",
            "postgresql+psycopg://atlas:p%40ss@db/atlas",
            "postgresql://atlas:***@db/atlas",
        ),
        (
            "postgresql://atlas:s3cret@h1:5432,h2:5433/atlas",
            "postgresql+psycopg://atlas:s3cret@/atlas?host=h1%2Ch2&port=5432%2C5433",
            "postgresql://atlas:***@/atlas?host=h1%2Ch2&port=5432%2C5433",
        ),
        (
            "host=/var/run/postgresql dbname=atlas",
            "postgresql+psycopg:///atlas?host=%2Fvar%2Frun%2Fpostgresql",
            "postgresql:///atlas?host=%2Fvar%2Frun%2Fpostgresql",
        ),
        ("sqlite:///:memory:", "sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_every_libpq_form_connects_with_its_password_and_shows_without_it(given, connect, shown):
    from sqlalchemy.engine import make_url

    assert urls.normalize(given) == connect
    assert urls.mask(given) == shown
    if given.startswith("sqlite"):
        return
    secret = "s3 cret" if "'" in given else "p@ss" if "p@ss" in given else "s3cret" if "s3cret" in given else None
    assert make_url(connect).password == secret


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("garbage s3cret", "neither a URL nor a key=value string"),
        ("mysql://u:s3cret@h/db", "the scheme 'mysql' is not supported"),
        ("postgresql://u:s3cret@h:99999/db", "the port is not a number from 1 to 65535"),
        ("postgresql://u:s3cret@h:0/db", "the port is not a number from 1 to 65535"),
        ("postgresql://u:s3cret@h:abc/db", "the port is not a number from 1 to 65535"),
        ("postgresql://u:s3/cret@h/db", "the port is not a number from 1 to 65535"),
        ("postgresql://u:s3%cret@h/db", "cannot be parsed"),
        ("host=h port=١٢٣ password=s3cret", "the port is not a number from 1 to 65535"),
        ("host=h password=s3 cret", "cannot be parsed"),
    ],
)
def test_an_unusable_url_is_bad_input_that_never_repeats_it(given, problem):
    with pytest.raises(BadInput) as caught:
        urls.normalize(given, "DATABASE_URL")
    assert problem in caught.value.message and "DATABASE_URL" in caught.value.message
    assert "s3" not in caught.value.message and "cret" not in caught.value.message


@pytest.mark.parametrize(
    "given",
    [
        "host=db user=atlas password='a b%c/d?e+f@g#h' dbname='my db' application_name='a b+c'",
        "postgresql://atlas:p@ss@db/atlas",
        "postgresql://db/atlas?password=s3cret",
        "postgresql://atlas:s3cret@h1:5432,h2:5433/atlas",
    ],
)
def test_a_normalized_url_reads_the_same_again(given):
    """The ingest writer opens the normalized URL in its own process: it must parse to the same."""
    from sqlalchemy.engine import make_url

    once = urls.normalize(given)
    assert urls.normalize(once) == once
    assert make_url(once).password == make_url(urls.normalize(once)).password is not None
