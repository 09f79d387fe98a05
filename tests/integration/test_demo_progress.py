"""`atlas demo` reports determinate progress: the total from the first call, then each batch."""

import sqlalchemy as sa

from atlas_cli.db.database import Database
from atlas_cli.services import Services
from tests import factories


def test_demo_progress_knows_its_total_before_anything_is_written(db_url):
    db = Database(db_url, create=True)
    calls = []

    def progress(done, total):
        with db.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            written = conn.execute(sa.text("SELECT count(*) FROM usage_events")).scalar() if tables else 0
        calls.append((done, total, written))

    try:
        result = Services(db, factories.clock).demo.load(embedded=False, progress=progress)
    finally:
        db.dispose()
    first, last = calls[0], calls[-1]
    assert first[:2] == (0, result.events) and first[2] == 0  # known before a row is generated
    assert last[:2] == (result.events, result.events)
    done = [c[0] for c in calls]
    assert done == sorted(done) and len(calls) > 10  # advances batch by batch
    assert all(total == result.events for _, total, _ in calls)
