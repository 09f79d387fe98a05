"""atlas's migrations, run on a database the Atlas server laid out, create exactly the `atlas_`
tables the code declares (db/schema.py OWN_TABLES): every migration is written out as it was at
its revision, and this is what keeps the two in step."""

from __future__ import annotations

import sqlalchemy as sa

from atlas_cli.db import schema
from atlas_cli.db.database import Database
from tests import per_seat
from tests.cli.conftest import Atlas


def _differences(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    declared = sa.MetaData()
    for table in schema.OWN_TABLES:
        table.to_metadata(declared)
    db = Database(url)
    try:
        with db.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, kind, _parent: (
                        kind != "table" or (name.startswith("atlas_") and name != "atlas_alembic_version")
                    ),
                },
            )
            return list(compare_metadata(context, declared))
    finally:
        db.dispose()


def test_db_upgrade_creates_the_declared_atlas_tables(db_url):
    per_seat.lay_out(db_url)
    Atlas(db_url).json("db", "upgrade")
    assert _differences(db_url) == []
