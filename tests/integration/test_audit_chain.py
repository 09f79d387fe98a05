"""Concurrent changes to one workspace are audited in the order they were made: a chain."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from atlas_cli.db.database import Database
from atlas_cli.services import Services
from tests import billing_factories as bf
from tests import factories
from tests.stripe_server import StripeServer, stripe_fast_retries

STALL = 1.0  # seconds the first writer stays after reading the clock


class StallingClock:
    """Ticks one second per call. The first call of thread "first" returns its time, then stalls
    (until the other writer is done, or STALL seconds), as a descheduled process would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ticks = 0
        self.first_read = threading.Event()
        self.second_done = threading.Event()

    def __call__(self) -> datetime:
        with self._lock:
            self._ticks += 1
            moment = factories.NOW + timedelta(seconds=self._ticks)
        if threading.current_thread().name == "first" and not self.first_read.is_set():
            self.first_read.set()
            self.second_done.wait(STALL)
        return moment


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = factories.migrated(db_url)
    bf.people(database, tier="team")
    yield database
    database.dispose()


def in_thread(name: str, work: Callable[[], object], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def run_concurrently(db: Database, first: Callable[[Services], object], second: Callable[[Services], object]) -> None:
    """`first` reads the clock and stalls; `second` runs meanwhile; each on its own connection."""
    clock = StallingClock()
    errors: list[BaseException] = []

    def on_own_database(work: Callable[[Services], object]) -> Callable[[], object]:
        def run() -> object:
            own = Database(db.url)  # a connection of its own, as another process would have
            try:
                return work(Services(own, clock))
            finally:
                own.dispose()

        return run

    one = in_thread("first", on_own_database(first), errors)
    assert clock.first_read.wait(10)
    two = in_thread("second", on_own_database(second), errors)
    two.join(30)
    clock.second_done.set()
    one.join(30)
    assert not errors, errors


def assert_chain(db: Database, actions: list[str]) -> None:
    rows = bf.audit(db)  # oldest first
    assert sorted(r["action"] for r in rows) == sorted(actions)
    assert rows[0]["before"]["tier"] == "team", rows
    assert rows[1]["before"]["tier"] == rows[0]["after"]["tier"], rows
    assert rows[0]["created_at"] < rows[1]["created_at"]
    assert bf.org(db, "acme")["plan_tier"] == rows[1]["after"]["tier"]


def test_two_admin_changes_of_one_workspace_audit_a_chain(db: Database) -> None:
    run_concurrently(
        db,
        lambda svc: svc.billing_ops.set_plan("acme", "enterprise", actor="owner"),
        lambda svc: svc.billing_ops.set_plan("acme", "trial", actor="owner"),
    )
    assert_chain(db, ["workspace.set_plan"] * 2)


def test_a_sync_and_an_admin_change_of_one_workspace_audit_a_chain(
    db: Database, stripe_server: StripeServer, stripe_fast_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    enterprise = stripe_server.add_price()["id"]
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    monkeypatch.setenv("STRIPE_ENTERPRISE_PRICE_ID", enterprise)
    customer = stripe_server.add_customer()["id"]
    stripe_server.add_subscription(customer, enterprise)
    with db.begin() as conn:
        bf.update_org(conn, "acme", stripe_customer_id=customer)
    run_concurrently(
        db,
        lambda svc: svc.stripe_sync.sync("acme", all_workspaces=False, actor="owner"),
        lambda svc: svc.billing_ops.set_plan("acme", "trial", actor="owner"),
    )
    assert_chain(db, ["billing.sync", "workspace.set_plan"])
