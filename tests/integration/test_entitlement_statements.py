"""One statement per feature: a check costs the workspace's context (the same for every feature)
plus exactly one statement for the feature itself when it is counted or metered, and none for a
boolean. Counted with a SQLAlchemy event listener on real SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from atlas_cli.services.entitlements import check
from tests import entitlement_envs
from tests.cli.test_entitlements import catalog
from tests.factories import NOW, events


@contextmanager
def statements(env: entitlement_envs.Env) -> Iterator[list[str]]:
    found: list[str] = []

    def listen(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        found.append(" ".join(statement.split()))

    sa.event.listen(env.db.engine, "before_cursor_execute", listen)
    try:
        yield found
    finally:
        sa.event.remove(env.db.engine, "before_cursor_execute", listen)


@pytest.fixture(params=["classic", "per-seat"])
def env(request, db_url, tmp_path):
    made = entitlement_envs.make(request.param, db_url, tmp_path)
    with made.db.begin() as conn:
        made.workspace(conn, "acme", made.paid, members=2)
        made.projects(conn, "acme", live=3)
        events(conn, "acme", [("report", 7, NOW, None), ("query", 5, NOW, "u1")])
    made.push(catalog(made))
    yield made
    made.db.dispose()


def sent(env: entitlement_envs.Env, feature: str, **options: int) -> list[str]:
    check(env.db, "acme", feature, now=NOW, **options)  # warm: the billing model is detected once
    with statements(env) as found:
        decision = check(env.db, "acme", feature, now=NOW, **options)
    assert decision.allowed, decision
    return found


def test_a_counted_or_metered_feature_costs_one_statement_more_than_a_boolean(env):
    boolean = sent(env, "data-explorer")
    counted = sent(env, "projects")
    metered = sent(env, "reports")
    given = sent(env, "seats-extra", count=1)
    assert len(counted) == len(boolean) + 1
    assert [s for s in counted if s not in boolean] == [s for s in counted if "projects" in s]
    assert len(metered) == len(boolean) + 1
    (extra,) = [s for s in metered if s not in boolean]
    assert "usage_events" in extra and "event_type IN" in extra
    assert len(given) == len(boolean)  # the caller's count: no statement at all


def test_the_workspace_context_does_not_grow_with_events(env):
    before = len(sent(env, "reports"))  # the meter sums report events; the block sums query ones
    with env.db.begin() as conn:
        events(conn, "acme", [("query", 1, NOW, f"u{n}") for n in range(200)])
    assert len(sent(env, "reports")) == before
