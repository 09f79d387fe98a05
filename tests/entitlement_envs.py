"""A classic or a per-seat Atlas database for the catalog and entitlement tests, with atlas's
migrations applied (as `atlas db upgrade` would), an operator table to count (`projects`), and
the people who act: a global admin (`root`), each workspace's owner (`<ws>_u0`) and members."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from atlas_cli.db import migrate
from atlas_cli.db.database import Database
from tests import factories
from tests import per_seat_factories as ps
from tests.billing_factories import Cli, member

PROJECTS_DDL = "CREATE TABLE projects (id text PRIMARY KEY, org_id text NOT NULL, archived boolean NOT NULL)"


@dataclass
class Env:
    db: Database
    model: str
    paid: str  # a paid tier of the model with a built-in seat cap (team / pro)
    other: str  # another tier the model knows (enterprise / business)
    seats_feature: str  # the built-in limit on members (members / seats)
    seat_cap: int
    tmp: Path

    def cli(self, clock: Callable[[], datetime] = factories.clock) -> Cli:
        return Cli(self.db.url, clock)

    def workspace(self, conn: Any, ws_id: str, tier: str, *, members: int = 1, **columns: Any) -> None:
        if self.model == "per-seat":
            ps.workspace(conn, ws_id, tier=tier, seats=members, **columns)
            return
        factories.workspace(conn, ws_id, tier=tier, **columns)
        for n in range(members):
            factories.user(conn, f"{ws_id}_u{n}")
            member(conn, ws_id, f"{ws_id}_u{n}", "owner" if n == 0 else "member")

    def projects(self, conn: Any, ws_id: str, live: int, archived: int = 0) -> None:
        rows = [{"id": f"{ws_id}_p{n}", "org_id": ws_id, "archived": n >= live} for n in range(live + archived)]
        if rows:
            table = sa.table("projects", sa.column("id"), sa.column("org_id"), sa.column("archived"))
            conn.execute(sa.insert(table), rows)

    def catalog(self, text: str, name: str = "catalog.toml") -> Path:
        path = self.tmp / name
        path.write_text(text)
        return path

    def push(self, text: str, *, code: int = 0) -> Any:
        return self.cli().json("plans", "push", str(self.catalog(text)), "--as", "root", code=code)

    def count(self, table: str) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def make(model: str, db_url: str, tmp: Path, *, upgrade: bool = True) -> Env:
    if model == "per-seat":
        db = ps.database(db_url)
        env = Env(db, model, "pro", "business", "seats", 25, tmp)
        admin_role = "platform_admin"
    else:
        db = Database(db_url, create=True)
        env = Env(db, model, "team", "enterprise", "members", 25, tmp)
        admin_role = "admin"
    with db.begin() as conn:
        if model == "classic":
            migrate.lay_out(conn, _classic_layout()) if upgrade else migrate.create_all_missing(conn, _tables())
        elif upgrade:
            migrate.upgrade(conn)
        conn.execute(sa.text(PROJECTS_DDL))
        if model == "per-seat":
            ps.user(conn, "root", role=admin_role, email="root@atlas.test")
        else:
            factories.user(conn, "root", email="root@atlas.test", role=admin_role)
    return env


def _classic_layout() -> Any:
    from atlas_cli.db.layout import Layout

    return Layout()


def _tables() -> Any:
    from atlas_cli.db import schema

    return schema.ATLAS_TABLES


def at(days: float = 0, seconds: float = 0) -> Callable[[], datetime]:
    moment = factories.NOW + timedelta(days=days, seconds=seconds)
    return lambda: moment
