import pytest

from atlas_cli.db.database import Database
from tests import factories


@pytest.fixture
def atlas_db(db_url: str) -> Database:
    """A fresh database with atlas's schema, on SQLite and on PostgreSQL."""
    db = factories.migrated(db_url)
    yield db
    db.dispose()
