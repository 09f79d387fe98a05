"""Helpers for the usage-event tests: a migrated database with workspaces, and counts.

Import the fixtures you use into a test module: `from tests.events_fixtures import events_db`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from atlas_cli.db import migrate, schema
from atlas_cli.db.database import Database

WORKSPACES = (("ws_acme", "acme"), ("ws_globex", "globex"))
CREATED = datetime(2025, 1, 1, tzinfo=UTC)


def prepare(url: str, workspaces: Sequence[tuple[str, str]] = WORKSPACES) -> Database:
    """Create the schema in the empty database at `url` and add `workspaces` (id, slug)."""
    db = Database(url, create=True)
    with db.begin() as conn:
        migrate.upgrade(conn)
        conn.execute(
            sa.insert(schema.organization),
            [
                {"id": ws, "name": slug.title(), "slug": slug, "createdAt": CREATED, "plan_tier": "team"}
                for ws, slug in workspaces
            ],
        )
    return db


@pytest.fixture
def events_db(db_url: str) -> Iterator[tuple[str, Database]]:
    """(url, Database) of a migrated database with the workspaces acme and globex."""
    db = prepare(db_url)
    yield db_url, db
    db.dispose()


def event_count(db: Database, workspace_id: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(schema.usage_events)
    if workspace_id is not None:
        query = query.where(schema.usage_events.c.workspace_id == workspace_id)
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def totals(db: Database) -> dict[tuple[str, str], int]:
    """Sum of quantity per (workspace, type)."""
    e = schema.usage_events.c
    with db.connect() as conn:
        rows = conn.execute(
            sa.select(e.workspace_id, e.event_type, sa.func.sum(e.quantity)).group_by(e.workspace_id, e.event_type)
        ).all()
    return {(ws, kind): int(total) for ws, kind, total in rows}


def event_ids(db: Database) -> set[str]:
    with db.connect() as conn:
        return {str(v) for v in conn.execute(sa.select(schema.usage_events.c.id)).scalars()}


def line(event_type: str = "query", *, id: str | None = None, ws: str | None = "ws_acme", **fields: Any) -> str:
    data: dict[str, Any] = {"event_type": event_type, **fields}
    if id is not None:
        data["id"] = id
    if ws is not None:
        data["workspace_id"] = ws
    return json.dumps(data)


def new_id(n: int) -> str:
    """A deterministic UUID for test event number `n`."""
    return str(uuid.UUID(int=n, version=4))
