"""`cost_usd` in `usage record|ingest|export` and the library logger: the at-cost dollars of an
event (usage_events.gateway_cost_usd, numeric(12,6)) go in and come out exactly where the
database has the column (a per-seat server's), and are refused, never dropped, where it has not."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from atlas_cli.db.database import Database
from atlas_cli.db.per_seat_schema import usage_events as per_seat_events
from atlas_cli.domain.events import NO_COSTS
from atlas_cli.logger import EventLogger
from atlas_cli.services.ingestion.batching import DatabaseSink
from tests import per_seat_factories as ps
from tests.cli.conftest import Atlas
from tests.events_fixtures import event_count, events_db, line, new_id

__all__ = ["events_db"]

AT = "2026-03-01T10:00:00.000000Z"
COSTS = {  # event number: the cost_usd of its line, as written in JSON
    1: "0.000001",
    2: "999999.999999",
    3: "null",
    4: '"0.123456"',
    5: "7",
    6: "1e-6",
    7: "12.500000",
}
STORED = {
    1: Decimal("0.000001"),
    2: Decimal("999999.999999"),
    3: None,
    4: Decimal("0.123456"),
    5: Decimal("7"),
    6: Decimal("0.000001"),
    7: Decimal("12.5"),
    8: None,  # a line without cost_usd
}


@pytest.fixture
def server(db_url):
    db = ps.database(db_url)
    with db.begin() as conn:
        ps.workspace(conn, "acme")
        ps.workspace(conn, "globex")
    yield db
    db.dispose()


def cost_line(n: int, cost: str | None, ws: str = "acme") -> str:
    head = f'{{"id":"{new_id(n)}","workspace_id":"{ws}","event_type":"token","quantity":{n},"created_at":"{AT}"'
    return head + ("}" if cost is None else f',"cost_usd":{cost}}}')


def stored(db: Database) -> dict[str, Decimal | None]:
    """Each event's cost, by id, as the column holds it (read as exact Decimals)."""
    e = per_seat_events.c
    with db.connect() as conn:
        return {str(id_): cost for id_, cost in conn.execute(sa.select(e.id, e.gateway_cost_usd)).all()}


def rows(db: Database) -> list[tuple]:
    e = per_seat_events.c
    query = sa.select(
        e.id, e.workspace_id, e.user_id, e.event_type, e.quantity, e.metadata, e.created_at, e.gateway_cost_usd
    )
    with db.connect() as conn:
        return sorted((str(r[0]), *r[1:]) for r in conn.execute(query).all())


def total(costs: dict[str, Decimal | None]) -> Decimal:
    return sum((c for c in costs.values() if c is not None), Decimal(0))


def ingest(atlas: Atlas, path: Path, *args: str, code: int = 0) -> dict:
    result = atlas("usage", "ingest", str(path), "--json", *args)
    assert result.exit_code == code, result.output + result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_costs_survive_ingest_export_wipe_and_ingest_again(server, tmp_path, fmt):
    atlas = Atlas(server.url)
    source = tmp_path / "in.jsonl"
    lines = [cost_line(n, cost) for n, cost in COSTS.items()] + [cost_line(8, None, ws="globex")]
    source.write_text("\n".join(lines) + "\n")
    assert ingest(atlas, source)["accepted"] == 8
    first = stored(server)
    assert first == {new_id(n): cost for n, cost in STORED.items()}
    before = rows(server)

    exported = atlas("usage", "export", "--format", fmt)
    assert exported.exit_code == 0, exported.stderr
    dump = tmp_path / f"out.{'csv' if fmt == 'csv' else 'jsonl'}"
    dump.write_text(exported.stdout)
    if fmt == "ndjson":  # exact digits as a JSON number; null where none
        assert '"cost_usd":0.000001}' in exported.stdout and '"cost_usd":999999.999999}' in exported.stdout
        assert '"cost_usd":null}' in exported.stdout and '"cost_usd":12.5}' in exported.stdout
        assert all(json.loads(x, parse_float=Decimal).keys() >= {"cost_usd"} for x in exported.stdout.splitlines())
    else:
        head, *body = exported.stdout.splitlines()
        assert head == "id,workspace_id,user_id,event_type,quantity,metadata,created_at,cost_usd"
        assert f"{new_id(2)},acme,,token,2,,{AT},999999.999999" in body

    with server.begin() as conn:
        conn.execute(sa.delete(per_seat_events))
    assert stored(server) == {}
    assert ingest(atlas, dump)["accepted"] == 8
    again = stored(server)
    assert again == first and total(again) == total(first) == Decimal("1000019.623457")
    assert rows(server) == before
    assert atlas("usage", "export", "--format", fmt).stdout == exported.stdout


@pytest.mark.parametrize(
    ("cost", "reason"),
    [
        ("-1", "cost_usd must not be negative"),
        ('"-0.5"', "cost_usd must not be negative"),
        ("1e6", "cost_usd must be below 1000000 dollars"),
        ("1000000", "cost_usd must be below 1000000 dollars"),
        ('"1000000.000000"', "cost_usd must be below 1000000 dollars"),
        ("0.0000001", "cost_usd has more than 6 decimal places"),
        ('"0.1234567"', "cost_usd has more than 6 decimal places"),
        ('"abc"', "cost_usd must be a number of dollars, not 'abc'"),
        ('"NaN"', "cost_usd must be a number of dollars, not 'NaN'"),
        ("NaN", "NaN is not valid JSON"),
        ("Infinity", "Infinity is not valid JSON"),
        ('"1_000"', "cost_usd must be a number of dollars"),
        ("true", "cost_usd must be a number of dollars, not True"),
        ("[1]", "cost_usd must be a number of dollars"),
    ],
)
def test_a_cost_numeric_12_6_cannot_hold_is_rejected_with_its_reason(server, tmp_path, cost, reason):
    source = tmp_path / "in.jsonl"
    source.write_text(cost_line(1, cost) + "\n" + cost_line(2, "0.5") + "\n")
    report = ingest(Atlas(server.url), source, code=2)
    assert (report["accepted"], report["rejected"]) == (1, 1)
    assert report["rejections"][0]["line"] == 1 and reason in report["rejections"][0]["reason"]
    assert stored(server) == {new_id(2): Decimal("0.5")}


def test_csv_cost_cells_are_read_exactly_and_bad_ones_rejected(server, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        "id,workspace_id,event_type,cost_usd\n"
        f"{new_id(1)},acme,token,0.100001\n{new_id(2)},acme,token,\n{new_id(3)},acme,token,NaN\n"
        f"{new_id(4)},acme,token,-1\n{new_id(5)},acme,token,1e6\n{new_id(6)},acme,token,0.0000001\n"
    )
    report = ingest(Atlas(server.url), source, code=2)
    assert [r["line"] for r in report["rejections"]] == [4, 5, 6, 7]
    assert stored(server) == {new_id(1): Decimal("0.100001"), new_id(2): None}


def test_an_unknown_csv_column_lists_cost_usd_where_the_database_records_costs(server, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("event_type,colour\nquery,red\n")
    result = Atlas(server.url)("usage", "ingest", str(bad), "-w", "acme")
    assert result.exit_code == 2 and result.stderr == (
        "Error: line 1: unknown CSV header column 'colour' "
        "(the columns are id, workspace_id, user_id, event_type, quantity, metadata, created_at, cost_usd)\n"
    )


def test_record_stores_the_cost_and_shows_it(server):
    atlas = Atlas(server.url)
    args = ("usage", "record", "-w", "acme", "--type", "token", "--quantity", "900", "--id", new_id(1))
    found = atlas.json(*args, "--cost-usd", "0.004213")
    assert found["costUsd"] == 0.004213 and found["duplicate"] is False
    assert atlas.json("usage", "record", "-w", "acme", "--type", "query", "--id", new_id(2))["costUsd"] is None
    assert stored(server) == {new_id(1): Decimal("0.004213"), new_id(2): None}


@pytest.mark.parametrize("cost", ["-1", "1e6", "0.0000001", "abc", "NaN"])
def test_record_refuses_a_bad_cost_with_exit_2(server, cost):
    result = Atlas(server.url)("usage", "record", "-w", "acme", "--type", "token", "--cost-usd", cost)
    assert result.exit_code == 2 and result.stderr.startswith("Error: cost_usd "), result.output
    assert len(result.stderr.splitlines()) == 1 and stored(server) == {}


def test_the_logger_writes_costs_exactly(server):
    logger = EventLogger(DatabaseSink(server), background=False)
    logger.log("acme", "token", 10, id=new_id(1), cost_usd=Decimal("0.000001"))
    logger.log("acme", "token", 10, id=new_id(2), cost_usd="999999.999999")
    logger.log("acme", "token", 10, id=new_id(3))
    with pytest.raises(ValueError, match="cost_usd must be a number of dollars"):
        logger.log("acme", "token", 10, cost_usd=0.1)  # type: ignore[arg-type] # a float is not exact
    assert logger.flush() == 3
    assert stored(server) == {new_id(1): Decimal("0.000001"), new_id(2): Decimal("999999.999999"), new_id(3): None}


# --- a classic database has no gateway_cost_usd column -------------------------------------


def test_classic_ingest_rejects_lines_with_a_cost_and_takes_the_others(events_db, tmp_path):
    url, db = events_db
    source = tmp_path / "in.jsonl"
    source.write_text(
        "\n".join([line(id=new_id(1)), line(id=new_id(2), cost_usd=0.5), line(id=new_id(3), cost_usd=None)]) + "\n"
    )
    report = ingest(Atlas(url), source, code=2)
    assert (report["accepted"], report["rejected"]) == (2, 1)
    assert report["rejections"] == [{"line": 2, "reason": NO_COSTS}]
    assert event_count(db) == 2


def test_classic_ingest_takes_a_csv_with_an_empty_cost_column(events_db, tmp_path):
    url, db = events_db
    source = tmp_path / "in.csv"
    source.write_text(f"id,workspace_id,event_type,cost_usd\n{new_id(1)},acme,query,\n{new_id(2)},acme,query,1\n")
    report = ingest(Atlas(url), source, code=2)
    assert (report["accepted"], report["rejections"]) == (1, [{"line": 3, "reason": NO_COSTS}])
    assert event_count(db) == 1


def test_classic_record_refuses_a_cost_and_writes_nothing(events_db):
    url, db = events_db
    result = Atlas(url)("usage", "record", "-w", "acme", "--type", "token", "--cost-usd", "1")
    assert result.exit_code == 2 and result.stderr == f"Error: --cost-usd: {NO_COSTS}\n"
    assert event_count(db) == 0
    plain = Atlas(url).json("usage", "record", "-w", "acme", "--type", "token")
    assert "costUsd" not in plain


def test_classic_logger_drops_an_event_with_a_cost_and_counts_it(events_db):
    _url, db = events_db
    logger = EventLogger(DatabaseSink(db), background=False)
    logger.log("acme", "token", id=new_id(1), cost_usd="0.5")
    logger.log("acme", "token", id=new_id(2))
    assert logger.flush() == 1 and logger.dropped == 1 and event_count(db) == 1


def test_classic_export_has_no_cost_column(events_db):
    url, _db = events_db
    atlas = Atlas(url)
    atlas.json("usage", "record", "-w", "acme", "--type", "query", "--id", new_id(1), "--at", AT)
    assert atlas("usage", "export", "--format", "csv").stdout == (
        f"id,workspace_id,user_id,event_type,quantity,metadata,created_at\n{new_id(1)},ws_acme,,query,1,,{AT}\n"
    )
    assert "cost_usd" not in atlas("usage", "export").stdout
