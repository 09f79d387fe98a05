"""The ndjson line of `usage export` is exactly what json.dumps would write, for any values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from atlas_cli.domain.events import FIELDS, iso_micro
from atlas_cli.render.events import ndjson_formatter

AT = datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
ROWS: list[tuple[Any, ...]] = [
    ("0190a000-0000-7000-8000-000000000001", "ws_acme", None, "query", 1, None, AT),
    ("0190a000-0000-7000-8000-000000000002", "ws_acme", "u1", "token", 2**31 - 1, {"a": 1}, AT),
    (
        "0190a000-0000-7000-8000-000000000003",
        'ws "quoted" \\ back',
        "tab\there\nnew\x01line\x7f é ☃ 😀 \u2028",
        "login",
        3,
        {"nested": {"list": [1, 2.5, -0.0, 1e300, None, True], "ü": '"\\\t'}, "": ""},
        datetime(2026, 1, 1, tzinfo=UTC),
    ),
    (
        "0190a000-0000-7000-8000-000000000004",
        "w",
        "",
        "query",
        7,
        {},
        datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=range(len(ROWS)))
def test_a_line_is_json_dumps_of_the_mapping(row: tuple[Any, ...]) -> None:
    record = dict(zip(FIELDS, row, strict=True))
    record["created_at"] = iso_micro(record["created_at"])
    expected = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
    assert ndjson_formatter()(row) == expected
    assert json.loads(expected)["created_at"].endswith("Z")


def test_times_are_utc_with_microseconds_and_a_z() -> None:
    assert iso_micro(AT) == "2026-03-01T23:59:59.999999Z"
    assert iso_micro(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-01T00:00:00.000000Z"
