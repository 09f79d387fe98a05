"""Alembic environment: always run on the connection atlas hands over, never from a URL."""

from __future__ import annotations

from alembic import context

VERSION_TABLE = "atlas_alembic_version"

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
