from pathlib import Path

import pytest

from atlas_cli.db import urls


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
