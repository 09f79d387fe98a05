"""cost_usd rules without a database: exact parsing, the bounds of numeric(12,6), exact output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from atlas_cli.domain import events as rules
from atlas_cli.render.events import csv_formatter, ndjson_formatter

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", Decimal("0")),
        ("-0", Decimal("0")),
        ("0.000001", Decimal("0.000001")),
        ("999999.999999", Decimal("999999.999999")),
        ("0.1000000", Decimal("0.1")),  # a seventh decimal that is zero changes nothing
        ("1e-6", Decimal("0.000001")),
        (".5", Decimal("0.5")),
        (42, Decimal("42")),
    ],
)
def test_a_cost_is_read_exactly(value, expected):
    assert rules.parse_cost(value) == expected


@pytest.mark.parametrize(
    "value", ["-0.000001", "1000000", "1e6", "0.0000001", "abc", "NaN", "Infinity", " 1", "1_0", "١", True, 0.5, [1]]
)
def test_a_cost_numeric_12_6_cannot_hold_is_invalid(value):
    with pytest.raises(rules.InvalidEvent, match="cost_usd"):
        rules.parse_cost(value)


def test_a_json_number_is_read_from_its_text_not_through_a_float():
    fields = rules.json_fields('{"event_type":"token","cost_usd":0.1,"metadata":{"x":0.1}}')
    event = rules.event_from_fields(fields, default_workspace="acme", now=NOW, new_id=lambda: "x", plain=True)
    assert event.cost_usd == Decimal("0.1") and str(event.cost_usd) == "0.100000"
    assert event.metadata == {"x": 0.1} and json.dumps(event.metadata) == '{"x": 0.1}'


def test_an_event_record_with_a_cost_round_trips_through_validation():
    fields = {"id": "0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c", "event_type": "token", "cost_usd": "999999.999999"}
    event = rules.event_from_fields(fields, default_workspace="acme", now=NOW, new_id=lambda: "x")
    record = json.loads(json.dumps(rules.event_record(event)))
    assert rules.event_from_fields(record, default_workspace=None, now=NOW, new_id=lambda: "y") == event


@pytest.mark.parametrize(
    ("cost", "text"),
    [(Decimal("0.000001"), "0.000001"), (Decimal("5.000000"), "5"), (Decimal("100"), "100"), (None, "null")],
)
def test_export_lines_carry_the_exact_digits(cost, text):
    row = ("0190a000-0000-7000-8000-000000000001", "ws", None, "token", 3, None, NOW, cost)
    line = ndjson_formatter(costs=True)(row)
    assert line.endswith(f',"cost_usd":{text}}}\n')
    assert json.loads(line, parse_float=Decimal)["cost_usd"] == cost
    assert ndjson_formatter()(row[:7]) == line.replace(f',"cost_usd":{text}', "")
    assert csv_formatter(costs=True)(row).endswith("," + ("" if cost is None else text) + "\n")
