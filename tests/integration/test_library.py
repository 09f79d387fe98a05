"""The Python library (`from atlas_cli import Atlas`) on real SQLite and PostgreSQL: `check` answers
what `atlas entitlements check` answers, counter callables, and `track`'s batching, idempotency,
flush on close, and circuit breaker against a database that is down."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlas_cli import Atlas, decision_json
from atlas_cli.errors import BadInput, Conflict, NotFound
from tests import entitlement_envs, factories
from tests.cli.test_entitlements import catalog
from tests.factories import NOW

EVENT_ID = "0190a0a0-0000-7000-8000-000000000001"


class Ticks:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["classic", "per-seat"])
def env(request, db_url, tmp_path):
    made = entitlement_envs.make(request.param, db_url, tmp_path)
    with made.db.begin() as conn:
        made.workspace(conn, "acme", made.paid, members=2)
        made.workspace(conn, "globex", made.other)
        made.workspace(conn, "hooli", "trial", trial_ends_at=NOW - timedelta(seconds=1))
        made.workspace(conn, "pied", "trial", trial_ends_at=NOW + timedelta(days=1))
        made.workspace(conn, "umbrella", "locked")
        made.projects(conn, "acme", live=5)
        factories.events(conn, "acme", [("report", 60, NOW, None)])
    made.push(catalog(made))
    yield made
    made.db.dispose()


def library(env: entitlement_envs.Env, **options) -> Atlas:
    return Atlas(env.db.url, clock=factories.clock, background=False, **options)


def stored(env: entitlement_envs.Env, where: str = "1 = 1") -> int:
    return env.count(f"usage_events WHERE {where}")


CASES = [  # workspace, feature, quantity, the CLI's extra arguments, the reason
    ("acme", "data-explorer", 1, None, "ok"),
    ("globex", "data-explorer", 1, None, "not_entitled"),
    ("acme", "seats-extra", 1, None, "no_counter"),
    ("acme", "seats-extra", 1, 2, "ok"),
    ("acme", "projects", 1, None, "limit_reached"),
    ("acme", "reports", 41, None, "max_usage_reached"),
    ("acme", "reports", 40, None, "ok"),
    ("pied", "projects", 9, None, "unlimited"),
    ("hooli", "data-explorer", 1, None, "trial_expired"),
    ("umbrella", "data-explorer", 1, None, "subscription_required"),
]


def test_check_answers_what_the_cli_answers_for_every_reason(env):
    with library(env) as atlas:
        for workspace, feature, quantity, count, reason in CASES:
            decision = atlas.check(workspace, feature, quantity, count)
            args = ["-n", str(quantity)] + (["--count", str(count)] if count is not None else [])
            code = int(decision.exit_code)
            cli = env.cli().json("entitlements", "check", "-w", workspace, feature, *args, code=code)
            assert decision.reason == reason, (workspace, feature)
            assert decision_json(decision) == cli, (workspace, feature)


def test_a_tier_the_model_does_not_know_is_billing_check_failed_as_in_the_cli(env):
    with env.db.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        else:
            name = "chk_plan_tier" if env.model == "per-seat" else "organization_plan_tier_check"
            conn.exec_driver_sql(f"ALTER TABLE organization DROP CONSTRAINT {name}")
        env.workspace(conn, "initech", "gold")
    with library(env) as atlas:
        decision = atlas.check("initech", "data-explorer")
    assert (decision.allowed, decision.reason, int(decision.exit_code)) == (False, "billing_check_failed", 14)
    assert decision_json(decision) == env.cli().json("entitlements", "check", "-w", "initech", "data-explorer", code=14)


def test_errors_are_atlas_errors(env):
    with library(env) as atlas:
        with pytest.raises(NotFound):
            atlas.check("acme", "ghost")
        with pytest.raises(NotFound):
            atlas.check("nobody", "projects")
        with pytest.raises(BadInput):
            atlas.check("acme", "projects", quantity=0)
        with pytest.raises(BadInput):
            atlas.track("acme", "click")
    with pytest.raises(Conflict):
        atlas.track("acme", "query")


@pytest.mark.parametrize(("counted", "quantity", "reason"), [(0, 3, "ok"), (2, 1, "ok"), (3, 1, "limit_reached")])
def test_a_counter_callable_counts_a_limit_without_counter(env, counted, quantity, reason):
    asked: list[str] = []

    def seats_extra(workspace_id: str) -> int:
        asked.append(workspace_id)
        return counted

    with library(env, counters={"seats-extra": seats_extra}) as atlas:
        decision = atlas.check("acme", "seats-extra", quantity)
        assert (decision.reason, decision.used, decision.limit) == (reason, counted, 3)
        assert asked == ["acme"]
        assert atlas.check("acme", "seats-extra", count=1).used == 1  # a count given wins
        assert atlas.check("hooli", "seats-extra").reason == "trial_expired"  # blocked: nothing to count
        assert asked == ["acme"]


def test_the_counter_decorator_and_a_feature_with_its_own_counter(env):
    with library(env) as atlas:

        @atlas.counter("walls")
        def walls(workspace_id: str) -> int:
            return 2

        @atlas.counter("projects")
        def projects(workspace_id: str) -> int:
            raise AssertionError("a feature with a counter of its own never asks the callable")

        walls_decision = atlas.check("acme", "walls")  # allowed without a count, but counted when it can be
        assert (walls_decision.reason, walls_decision.used) == ("limit_reached", 2)
        assert atlas.check("acme", "projects").used == 5

        @atlas.counter("seats-extra")
        def broken(workspace_id: str) -> int:
            return "3"  # type: ignore[return-value]

        with pytest.raises(BadInput, match="not an integer"):
            atlas.check("acme", "seats-extra")


def test_track_writes_a_batch_when_flush_at_events_wait(env):
    ticks = Ticks()
    with library(env, flush_at=3, monotonic=ticks) as atlas:
        atlas.track("acme", "query", user_id="u1")
        atlas.track("acme", "token", 500, metadata={"model": "m"})
        assert stored(env) == 1 and atlas.stats.waiting == 2  # only the fixture's event
        atlas.track("acme", "query")
        assert stored(env) == 4 and atlas.stats.written == 3 and atlas.stats.waiting == 0


def test_track_writes_a_batch_flush_interval_after_its_first_event(env):
    ticks = Ticks()
    with library(env, flush_at=20, flush_interval=3.0, monotonic=ticks) as atlas:
        atlas.track("acme", "query")
        ticks.now = 2.9
        atlas.track("acme", "query")
        assert stored(env, "event_type = 'query'") == 0
        ticks.now = 3.0
        atlas.track("acme", "query")
        assert stored(env, "event_type = 'query'") == 3


def test_the_background_thread_writes_on_time(env):
    import time

    atlas = Atlas(env.db.url, clock=factories.clock, flush_interval=0.05)
    atlas.track("acme", "login", user_id="u1")
    deadline = time.monotonic() + 10
    while atlas.stats.written < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert atlas.stats.written == 1 and stored(env, "event_type = 'login'") == 1
    atlas.close()


def test_close_flushes_and_duplicate_ids_are_not_doubled(env):
    atlas = library(env, flush_at=100)
    assert atlas.track("globex", "query", 7, event_id=EVENT_ID) == EVENT_ID
    atlas.track("globex", "query", 7, event_id=EVENT_ID)  # the same event again, in the same batch
    assert atlas.flush() == 1
    atlas.track("globex", "query", 7, event_id=EVENT_ID)  # and in a later one
    atlas.track("nowhere", "query")  # unknown workspace: rejected, not kept
    atlas.track("globex", "token", 10)
    stats = atlas.close()
    assert stored(env, "workspace_id = 'globex'") == 2
    assert env.count(f"usage_events WHERE id = '{EVENT_ID}' AND quantity = 7") == 1
    assert (stats.written, stats.duplicates, stats.rejected, stats.kept, stats.waiting) == (2, 2, 1, 0, 0)
    assert atlas.close() == stats  # closing twice does nothing more


def test_tracked_events_count_toward_a_check(env):
    with library(env) as atlas:
        assert atlas.check("globex", env.seats_feature).reason == "unlimited"
        before = env.cli().json("usage", "show", "-w", "acme")["queryCount"]
        for _ in range(3):
            atlas.track("acme", "query", 2)
        atlas.flush()
    assert env.cli().json("usage", "show", "-w", "acme")["queryCount"] == before + 6


DOWN = "postgresql://atlas@127.0.0.1:9/atlas"  # nothing listens on the discard port


def test_the_breaker_opens_after_five_failures_and_keeps_the_events(tmp_path):
    ticks = Ticks()
    atlas = Atlas(DOWN, clock=factories.clock, background=False, monotonic=ticks, flush_at=1, spool=tmp_path / "s")
    ids = [atlas.track("acme", "query", n + 1) for n in range(5)]  # each one a batch, each write fails
    stats = atlas.stats
    assert (stats.failures, stats.breaker, stats.kept, stats.written) == (5, "open", 5, 0)
    assert "127.0.0.1" in (stats.last_error or "") and "***" not in (stats.last_error or "x")
    ids.append(atlas.track("acme", "query", 6))  # the breaker is open: no write is attempted
    assert (atlas.stats.failures, atlas.stats.kept) == (5, 6)
    ticks.now = 60.0  # half-open: one attempt, which fails, and it opens again
    ids.append(atlas.track("acme", "query", 7))
    assert (atlas.stats.failures, atlas.stats.breaker, atlas.stats.kept) == (6, "open", 7)
    assert [e["id"] for e in atlas.unsent()] == ids  # oldest first, nothing lost
    stats = atlas.close()
    spooled = [json.loads(line) for line in (tmp_path / "s").read_text().splitlines()]
    assert [s["quantity"] for s in spooled] == [1, 2, 3, 4, 5, 6, 7] and stats.spooled == 7
    assert {s["workspace_id"] for s in spooled} == {"acme"} and stats.kept == 0


def test_kept_events_beyond_max_kept_drop_the_oldest():
    atlas = Atlas(DOWN, clock=factories.clock, background=False, flush_at=1, max_kept=3)
    for n in range(5):
        atlas.track("acme", "query", n + 1)
    assert [e["quantity"] for e in atlas.unsent()] == [3, 4, 5] and atlas.stats.dropped == 2
    assert atlas.close().kept == 3  # no spool file: they are reported, in `unsent()` and the log


@pytest.mark.postgres
def test_a_database_that_goes_down_and_comes_back_loses_nothing(pg_cluster, make_pg_database, tmp_path):
    url = make_pg_database()
    db = factories.migrated(url)
    with db.begin() as conn:
        factories.workspace(conn, "acme")
    db.dispose()
    name = sa.make_url(url).database
    ticks = Ticks()
    atlas = Atlas(url, clock=factories.clock, background=False, monotonic=ticks, flush_at=2, spool=tmp_path / "s")
    atlas.track("acme", "query")
    atlas.track("acme", "query")  # written: the database is up
    pg_cluster.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    pg_cluster.terminate_connections(name)
    try:
        for _ in range(5):
            atlas.track("acme", "token", 10)
            atlas.flush()
        assert (atlas.stats.breaker, atlas.stats.kept, atlas.stats.written) == ("open", 5, 2)
    finally:
        pg_cluster.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    atlas.track("acme", "login", user_id="u1")
    atlas.flush()
    assert atlas.stats.kept == 6  # up again, but the breaker is open for 60 s: not attempted
    ticks.now = 60.0
    assert atlas.flush() == 6 and atlas.stats.breaker == "closed"
    stats = atlas.close()
    assert (stats.written, stats.spooled) == (8, 0) and not Path(tmp_path / "s").exists()
    with factories.migrated(url).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM usage_events")).scalar_one() == 8


def test_without_a_url_it_opens_database_url(env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", env.db.url)
    with Atlas(clock=factories.clock, background=False) as atlas:
        assert atlas.check("acme", "data-explorer").allowed is True
