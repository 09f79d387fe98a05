"""Helpers for the billing-operations tests: members, legacy schemas, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner, Result

from atlas_cli.cli.main import app
from atlas_cli.cli.runtime import Runtime
from atlas_cli.db import migrate, schema
from atlas_cli.db.database import Database
from atlas_cli.db.schema import stripe_events
from tests import factories

LEGACY_ORGANIZATION = """
CREATE TABLE organization (
    id text PRIMARY KEY, name text NOT NULL, slug text UNIQUE, "createdAt" {ts} NOT NULL,
    workspace_status text NOT NULL DEFAULT 'active',
    plan_tier text NOT NULL DEFAULT 'free', byot boolean NOT NULL DEFAULT false,
    stripe_customer_id text, trial_ends_at {ts}, suspended_at {ts}, deleted_at {ts},
    CONSTRAINT organization_plan_tier_check CHECK (plan_tier IN ('free', 'trial', 'team', 'enterprise'))
)
"""


def legacy(url: str) -> Database:
    """A database whose plan_tier constraint predates `locked` (older Atlas servers), migrated."""
    db = Database(url, create=True)
    with db.begin() as conn:
        ts = "timestamptz" if conn.dialect.name == "postgresql" else "timestamp"
        conn.execute(sa.text(LEGACY_ORGANIZATION.format(ts=ts)))
        migrate.upgrade(conn)
    return db


def member(conn: Any, ws_id: str, user_id: str, role: str) -> None:
    conn.execute(
        schema.member.insert(),
        [
            {
                "id": f"m_{ws_id}_{user_id}",
                "organizationId": ws_id,
                "userId": user_id,
                "role": role,
                "createdAt": factories.NOW,
            }
        ],
    )


def people(db: Database, ws_id: str = "acme", **ws_columns: Any) -> None:
    """Workspace `ws_id` with an owner, a plain member, a global admin and an outsider."""
    with db.begin() as conn:
        factories.workspace(conn, ws_id, **ws_columns)
        factories.user(conn, "owner", email="owner@acme.test")
        factories.user(conn, "bob", email="bob@acme.test")
        factories.user(conn, "root", email="root@atlas.test", role="admin,user")
        factories.user(conn, "eve", email="eve@evil.test", role="user,admin")
        member(conn, ws_id, "owner", "owner")
        member(conn, ws_id, "bob", "member")


def org(db: Database, ws_id: str) -> dict[str, Any]:
    with db.connect() as conn:
        row = conn.execute(sa.select(schema.organization).where(schema.organization.c.id == ws_id)).mappings().one()
    return dict(row)


def audit(db: Database) -> list[dict[str, Any]]:
    a = schema.audit_log.c
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.audit_log).order_by(a.created_at, a.action)).mappings()]


def subscriptions(db: Database) -> list[dict[str, Any]]:
    s = schema.subscription.c
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(schema.subscription).order_by(s.referenceId, s.id)).mappings()]


def ledger(db: Database) -> list[dict[str, Any]]:
    e = stripe_events.c
    with db.connect() as conn:
        return [
            dict(r) for r in conn.execute(sa.select(stripe_events).order_by(e.event_created, e.event_id)).mappings()
        ]


class Cli:
    """The real Typer app against one database, with a pinned clock."""

    def __init__(self, url: str, clock: Callable[[], datetime] = factories.clock) -> None:
        self.url, self.clock = url, clock
        self.runner = CliRunner()

    def __call__(self, *args: str, stdin: str | bytes | None = None) -> Result:
        return self.runner.invoke(app, ["--database-url", self.url, *args], obj=Runtime(clock=self.clock), input=stdin)

    def json(self, *args: str, code: int = 0) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)

    def fails(self, code: int, *args: str) -> str:
        """Run a command that must fail with `code`; returns its one-line stderr."""
        result = self(*args)
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        return result.stderr


def update_org(conn: Any, ws_id: str, **values: Any) -> None:
    conn.execute(sa.update(schema.organization).where(schema.organization.c.id == ws_id).values(**values))
