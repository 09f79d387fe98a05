"""Which billing model a database was laid out for (DESIGN section 4, Detection), on both engines."""

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from atlas_cli.db.layout import detect
from atlas_cli.errors import BadInput
from tests import factories

PER_SEAT_ORGANIZATION = """
CREATE TABLE organization (
    id text PRIMARY KEY, name text NOT NULL, slug text UNIQUE, "createdAt" {ts} NOT NULL,
    workspace_status text NOT NULL DEFAULT 'active', byot boolean NOT NULL DEFAULT false,
    plan_tier text NOT NULL DEFAULT 'free'
        CHECK (plan_tier IN ('free', 'trial', 'starter', 'pro', 'business', 'locked')),
    trial_ends_at {ts}
)
"""
BARE_ORGANIZATION = (
    'CREATE TABLE organization (id text PRIMARY KEY, name text, slug text, "createdAt" {ts}, plan_tier text)'
)


def _lay_out(db: Database, ddl: str) -> None:
    with db.begin() as conn:
        ts = "timestamptz" if conn.dialect.name == "postgresql" else "timestamp"
        conn.execute(sa.text(ddl.format(ts=ts)))


@pytest.fixture
def empty(db_url):
    db = Database(db_url, create=True)
    yield db
    db.dispose()


def test_a_constraint_listing_starter_is_per_seat(empty):
    _lay_out(empty, PER_SEAT_ORGANIZATION)
    with empty.connect() as conn:
        found = detect(conn)
    assert found.model == "per-seat" and "'starter'" in found.reason


def test_the_classic_constraint_and_atlas_own_schema_are_classic(db_url):
    db = factories.migrated(db_url)
    with db.connect() as conn:
        found = detect(conn)
    db.dispose()
    assert found.model == "classic" and "constraint" in found.reason


def test_without_a_constraint_a_per_seat_tier_decides(empty):
    _lay_out(empty, BARE_ORGANIZATION)
    with empty.connect() as conn:
        assert detect(conn).model == "classic"
    with empty.begin() as conn:
        conn.execute(sa.text("INSERT INTO organization (id, name, slug, plan_tier) VALUES ('w1', 'W', 'w', 'pro')"))
    with empty.connect() as conn:
        found = detect(conn)
    assert found.model == "per-seat" and "w1" in found.reason and "'pro'" in found.reason


def test_the_override_wins_and_a_bad_one_is_bad_input(empty):
    _lay_out(empty, PER_SEAT_ORGANIZATION)
    with empty.connect() as conn:
        assert detect(conn, " Classic ").model == "classic"
        assert detect(conn, "per_seat").model == "per-seat"
        assert detect(conn, "").model == "per-seat"
        with pytest.raises(BadInput, match="ATLAS_BILLING_MODEL: 'metered' is not a billing model"):
            detect(conn, "metered")


def test_an_empty_database_is_classic(empty):
    with empty.connect() as conn:
        assert detect(conn).model == "classic"
