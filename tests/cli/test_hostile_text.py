"""Text that tenants choose (names, emails, metadata) never drives the operator's terminal or
spreadsheet: control characters are shown escaped, CSV formulas are inert, JSON stays exact."""

import csv
import io
import json

import pytest

from atlas_cli.render.base import clean, csv_cell, json_text
from tests import factories
from tests.factories import NOW

CLEAR = "\x1b[2J"  # clears the screen
TITLE = "\x1b]0;pwned\x07"  # sets the window title
C1_CSI = "\x9b2J"  # the one-byte form of ESC [
RTL = "\u202eevil"  # shows what follows right to left
HOSTILE = f"Acme{CLEAR}{TITLE}{C1_CSI}{RTL}\x7f"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\x7f")


@pytest.fixture
def hostile(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "ws_evil", slug="evil", name=HOSTILE)
        factories.user(conn, "u_evil", email=f'=HYPERLINK("http://x.test","{CLEAR}")@evil.test')
        factories.events(conn, "ws_evil", [("query", 3, NOW, "u_evil")])
    return atlas


def assert_no_raw_controls(text):
    assert not [c for c in RAW if c in text], repr(text)


@pytest.mark.parametrize(
    "args",
    [
        ("workspace", "list"),
        ("workspace", "show", "evil"),
        ("usage", "show", "-w", "evil"),
        ("usage", "history", "-w", "evil", "--limit", "2"),
        ("usage", "breakdown", "-w", "evil"),
        ("billing", "status", "-w", "evil"),
        ("trial", "status", "-w", "evil"),
    ],
)
def test_tables_and_text_show_control_characters_escaped(hostile, args):
    result = hostile(*args)
    assert result.exit_code == 0, result.output
    assert_no_raw_controls(result.stdout + result.stderr)
    if args[0] != "usage" or args[1] == "breakdown":
        assert "\\x1b[2J" in result.stdout


def test_json_keeps_the_exact_text_without_raw_controls(hostile):
    result = hostile("workspace", "list", "--json")
    assert result.exit_code == 0
    assert_no_raw_controls(result.stdout)
    assert json.loads(result.stdout)[0]["name"] == HOSTILE


def test_csv_escapes_controls_and_makes_formulas_inert(hostile):
    result = hostile("usage", "breakdown", "-w", "evil", "--format", "csv")
    assert result.exit_code == 0
    assert_no_raw_controls(result.stdout)
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert row["email"].startswith("'=HYPERLINK(") and "\\x1b[2J" in row["email"]
    assert row["query_count"] == "3"
    listing = next(csv.DictReader(io.StringIO(hostile("workspace", "list", "--format", "csv").stdout)))
    assert listing["byot"] == "false"


def test_export_csv_makes_formulas_inert(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme")
        factories.events(conn, "acme", [("query", 1, NOW, "=1+1"), ("query", 1, NOW, "-cmd")])
    result = atlas("usage", "export", "--format", "csv")
    assert result.exit_code == 0, result.output
    users = sorted(row["user_id"] for row in csv.DictReader(io.StringIO(result.stdout)))
    assert users == ["'-cmd", "'=1+1"]
    # and it ingests back unchanged: the guard comes off again, nothing is counted twice
    with atlas_db.begin() as conn:
        conn.exec_driver_sql("DELETE FROM usage_events")
    ingested = atlas("usage", "ingest", "-", "--input-format", "csv", "--json", input=result.stdout)
    assert ingested.exit_code == 0, ingested.output + ingested.stderr
    with atlas_db.connect() as conn:
        stored = sorted(row[0] for row in conn.exec_driver_sql("SELECT user_id FROM usage_events"))
    assert stored == ["-cmd", "=1+1"]


def test_csv_booleans_are_lowercase(atlas, atlas_db):
    with atlas_db.begin() as conn:
        factories.workspace(conn, "acme", tier="trial", trial_ends_at=NOW.replace(day=17))
    row = next(csv.DictReader(io.StringIO(atlas("trial", "status", "-w", "acme", "--format", "csv").stdout)))
    assert row["expired"] == "true" and row["onTrial"] == "true" and row["daysLeft"] == "0"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        (-5, -5),
        (2.5, 2.5),
        (True, "true"),
        (False, "false"),
        (None, ""),
        ("a\x1bb", "a\\x1bb"),
        ("line\nbreak", "line\nbreak"),
    ],
)
def test_csv_cell(value, cell):
    assert csv_cell(value) == cell


def test_clean_and_json_text():
    assert clean("a\x1b[2J\x00\x7f\x9b\u202e\u2066z\n") == "a\\x1b[2J\\x00\\x7f\\x9b\\u202e\\u2066z\\x0a"
    assert clean("Zoë · 東京 [bold]") == "Zoë · 東京 [bold]"
    data = {"name": "a\x9b\u202e\x1bz"}
    text = json_text(data)
    assert_no_raw_controls(text)
    assert json.loads(text) == data
