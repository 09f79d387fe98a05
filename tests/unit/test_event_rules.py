"""Pure rules of usage events: line validation, UUIDv7, CSV fields, batches, the circuit breaker."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from atlas_cli.db.events import copy_text
from atlas_cli.domain import events as rules
from atlas_cli.domain.circuit import CircuitBreaker, CircuitState
from atlas_cli.services.ingestion.batching import Batch

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def parse(fields: dict[str, object], default: str | None = None) -> rules.Event:
    return rules.event_from_fields(fields, default_workspace=default, now=NOW, new_id=lambda: "generated")


def test_a_full_line_is_kept_as_given() -> None:
    ev = parse(
        {
            "id": "0190F7C4-9D1C-7CC2-8F5E-2B1F3E4A5D6C",
            "workspace_id": "acme",
            "user_id": "u1",
            "event_type": "token",
            "quantity": 1200,
            "metadata": {"model": "m"},
            "created_at": "2026-03-01T10:00:00+02:00",
        }
    )
    assert ev == rules.Event(
        "0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c",
        "acme",
        "u1",
        "token",
        1200,
        {"model": "m"},
        datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        False,
    )


def test_defaults_quantity_one_time_now_new_id_and_the_given_workspace() -> None:
    ev = parse({"event_type": "login"}, default="acme")
    assert (ev.id, ev.generated_id, ev.quantity, ev.created_at, ev.workspace) == ("generated", True, 1, NOW, "acme")


def test_the_line_workspace_wins_over_the_default() -> None:
    assert parse({"event_type": "query", "workspace_id": "globex"}, default="acme").workspace == "globex"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "missing event_type"),
        ({"event_type": "click"}, "unknown event_type 'click'"),
        ({"event_type": "query", "quantity": 0}, "quantity must be a positive integer"),
        ({"event_type": "query", "quantity": -3}, "quantity must be a positive integer"),
        ({"event_type": "query", "quantity": 1.5}, "quantity must be a positive integer"),
        ({"event_type": "query", "quantity": True}, "quantity must be a positive integer"),
        ({"event_type": "query", "quantity": "2x"}, "quantity must be a positive integer"),
        ({"event_type": "query", "quantity": 2**31}, "quantity must be a positive integer"),
        ({"event_type": "query", "created_at": "yesterday"}, "bad created_at 'yesterday'"),
        ({"event_type": "query", "created_at": 1700000000}, "bad created_at 1700000000"),
        ({"event_type": "query", "id": "not-a-uuid"}, "bad id 'not-a-uuid': not a UUID"),
        ({"event_type": "query", "id": 12}, "bad id 12"),
        ({"event_type": "query", "metadata": [1, 2]}, "bad metadata [1, 2]: must be a JSON object"),
        ({"event_type": "query", "metadata": "{oops"}, "bad metadata '{oops': not JSON"),
        ({"event_type": "query", "user_id": 7}, "user_id must be a string"),
        ({"event_type": "query", "workspace_id": None}, "missing workspace_id"),
    ],
)
def test_each_bad_field_is_rejected_with_its_reason(fields: dict[str, object], reason: str) -> None:
    fields = {"workspace_id": "acme", **fields}
    with pytest.raises(rules.InvalidEvent) as exc:
        parse(fields)
    assert reason in exc.value.reason


def test_quantity_as_digits_and_metadata_as_json_text_come_from_csv() -> None:
    ev = parse(
        {
            "event_type": "token",
            "workspace_id": "acme",
            "quantity": "42",
            "metadata": '{"a": 1}',
            "id": "",
            "created_at": "",
            "user_id": "",
        }
    )
    assert (ev.quantity, ev.metadata, ev.user_id, ev.generated_id, ev.created_at) == (42, {"a": 1}, None, True, NOW)


def test_a_time_without_offset_is_utc() -> None:
    assert rules.parse_time("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rules.parse_time("2026-01-02T03:04:05.123456Z").microsecond == 123456


@pytest.mark.parametrize(
    ("text", "reason"), [("not json", "bad JSON"), ("[1]", "must be a JSON object"), ('"x"', "must be a JSON object")]
)
def test_json_lines_must_be_objects(text: str, reason: str) -> None:
    with pytest.raises(rules.InvalidEvent, match=reason):
        rules.json_fields(text)


def test_csv_fields_follow_the_header_and_count_must_match() -> None:
    header = rules.csv_header("workspace_id, event_type ,quantity,metadata")
    assert rules.csv_fields('acme,query,3,"{""k"": 1}"', header) == {
        "workspace_id": "acme",
        "event_type": "query",
        "quantity": "3",
        "metadata": '{"k": 1}',
    }
    with pytest.raises(rules.InvalidEvent, match="expected 4 fields, found 2"):
        rules.csv_fields("acme,query", header)
    with pytest.raises(rules.InvalidEvent, match="no event_type"):
        rules.csv_header("workspace_id,quantity")


def test_comments_and_blank_lines_are_skipped() -> None:
    assert rules.is_skipped("  ") and rules.is_skipped("# line 3: bad") and not rules.is_skipped('{"a":1}')


def test_uuid7_is_a_version_7_uuid_ordered_by_time() -> None:
    first = rules.uuid7(1_700_000_000_000, b"\xff" * 10)
    later = rules.uuid7(1_700_000_000_001, b"\x00" * 10)
    parsed = uuid.UUID(first)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert int(first[:8] + first[9:13], 16) == 1_700_000_000_000
    assert first < later


def test_an_event_record_round_trips_through_validation() -> None:
    ev = parse(
        {
            "event_type": "token",
            "workspace_id": "acme",
            "quantity": 5,
            "metadata": {"m": 1},
            "id": str(uuid.UUID(int=9)),
            "created_at": "2026-01-01T00:00:00.000123Z",
        }
    )
    assert parse(rules.event_record(ev)) == ev


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_is_due_when_full_or_when_its_first_item_waited_the_interval() -> None:
    clock = Clock()
    batch: Batch[int] = Batch(3, 1.0, clock)
    assert not batch.due() and batch.seconds_left() == 1.0
    batch.add(1)
    clock.now = 0.4
    batch.add(2)
    assert not batch.due() and batch.seconds_left() == pytest.approx(0.6)
    clock.now = 1.0
    assert batch.due()
    assert batch.take() == [1, 2] and len(batch) == 0
    for item in range(3):
        batch.add(item)
    assert batch.full and batch.due()


def test_the_breaker_opens_after_five_consecutive_failures_for_sixty_seconds() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(4):
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_success()  # a success resets the count
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state is CircuitState.CLOSED
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow()
    clock.now = 59.9
    assert not breaker.allow()
    clock.now = 60.0
    assert breaker.state is CircuitState.HALF_OPEN and breaker.allow()
    breaker.record_failure()  # the trial write failed: open for another minute
    assert not breaker.allow()
    clock.now = 120.0
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED and breaker.failures == 0


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            '{"event_type": "query", "workspace_id": "acme", "user_id": "a\\u0000b"}',
            "user_id 'a\\x00b' cannot be stored",
        ),
        ('{"event_type": "query", "workspace_id": "ac\\u0000me"}', "workspace_id 'ac\\x00me' cannot be stored"),
        ('{"event_type": "query", "workspace_id": "acme", "user_id": "\\ud800"}', "cannot be stored"),
        ('{"event_type": "query", "workspace_id": "acme", "metadata": {"k": "\\u0000"}}', "bad metadata"),
        ('{"event_type": "query", "workspace_id": "acme", "metadata": {"k": "\\udfff"}}', "bad metadata"),
        ('{"event_type": "query", "workspace_id": "acme", "metadata": {"k": NaN}}', "bad JSON: NaN is not valid JSON"),
        (
            '{"event_type": "query", "workspace_id": "acme", "metadata": {"k": 1e400}}',
            "bad JSON: the number 1e400 is out",
        ),
    ],
)
def test_values_the_database_cannot_store_are_rejected_when_read(line: str, reason: str) -> None:
    """Caught per line, or the whole batch would fail at COPY (text cannot hold NUL; jsonb refuses
    NaN, Infinity, \\u0000 and lone surrogates)."""
    with pytest.raises(rules.InvalidEvent) as exc:
        parse(dict(rules.json_fields(line)))
    assert reason in exc.value.reason


def test_an_escaped_backslash_before_u0000_is_plain_text() -> None:
    ev = parse(
        dict(rules.json_fields('{"event_type": "query", "workspace_id": "acme", "metadata": {"k": "\\\\u0000"}}'))
    )
    assert ev.metadata == {"k": "\\u0000"}


def test_the_quick_checks_accept_exactly_what_the_parsers_accept() -> None:
    """Canonical ids, known types and in-range integers take the quick path; the rest the parsers."""
    base = {"event_type": "query", "workspace_id": "acme"}
    upper = parse({**base, "id": "0190F7C4-9D1C-7CC2-8F5E-2B1F3E4A5D6C"})
    assert upper.id == "0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c" and not upper.generated_id
    assert parse({**base, "id": "{0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c}"}).id == upper.id
    assert parse({**base, "quantity": 2**31 - 1}).quantity == 2**31 - 1
    assert parse({**base, "created_at": " 2026-01-02T03:04:05z "}).created_at == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert parse({**base, "created_at": "2026-01-02T05:04:05+02:00"}).created_at == datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=UTC
    )
    assert parse({**base, "metadata": {}}).metadata == {}
    assert rules.json_fields('  {"a": 1}  ') == {"a": 1}
    with pytest.raises(rules.InvalidEvent, match="Extra data"):
        rules.json_fields('{"a": 1} x')


# --- values that cannot be stored, duplicate keys, strict quantities, CSV headers ------------


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "0001-01-01T04:59:59.999999+05:00"],
)
def test_a_time_outside_what_the_databases_store_is_rejected(moment: str) -> None:
    with pytest.raises(rules.InvalidEvent, match=r"bad created_at .*out of range"):
        parse({"event_type": "query", "workspace_id": "acme", "created_at": moment})


def test_the_first_and_last_storable_instants_are_kept() -> None:
    first = parse({"event_type": "query", "workspace_id": "acme", "created_at": "0001-01-01T05:00:00+05:00"})
    last = parse({"event_type": "query", "workspace_id": "acme", "created_at": "9999-12-31T18:59:59.999999-05:00"})
    assert first.created_at == datetime(1, 1, 1, tzinfo=UTC)
    assert last.created_at == datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def nested(depth: int) -> str:
    """Metadata nesting `depth` objects: {"a": {"a": ... {} ...}}."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def test_metadata_nested_deeper_than_the_limit_is_rejected_not_a_recursion_error() -> None:
    ok = rules.json_fields(f'{{"event_type": "query", "workspace_id": "acme", "metadata": {nested(rules.MAX_DEPTH)}}}')
    assert parse(dict(ok)).metadata is not None
    for depth in (rules.MAX_DEPTH + 1, 5000, 100_000):
        with pytest.raises(rules.InvalidEvent, match=f"nested more than {rules.MAX_DEPTH} levels"):
            rules.json_fields(f'{{"event_type": "query", "workspace_id": "acme", "metadata": {nested(depth)}}}')
    with pytest.raises(rules.InvalidEvent, match="nested more than"):  # CSV and --metadata: JSON text
        parse({"event_type": "query", "workspace_id": "acme", "metadata": nested(5000)})
    deep: dict[str, object] = {}
    for _ in range(5000):  # the library logger is given a dict
        deep = {"a": deep}
    with pytest.raises(rules.InvalidEvent, match="nested more than"):
        parse({"event_type": "query", "workspace_id": "acme", "metadata": deep})
    brackets_in_text = '{"event_type": "query", "workspace_id": "acme", "metadata": {"k": "' + "[{" * 500 + '"}}'
    assert parse(dict(rules.json_fields(brackets_in_text))).metadata == {"k": "[{" * 500}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"event_type": "query", "workspace_id": "acme", "quantity": 1, "quantity": 500}', "quantity"),
        ('{"workspace_id": "acme", "event_type": "query", "workspace_id": "globex"}', "workspace_id"),
        ('{"event_type": "query", "workspace_id": "acme", "metadata": {"k": 1, "k": 2}}', "k"),
    ],
)
def test_a_key_given_twice_in_a_json_line_is_a_rejection(text: str, key: str) -> None:
    with pytest.raises(rules.InvalidEvent, match=f"duplicate key '{key}'"):
        rules.json_fields(text)
    with pytest.raises(rules.InvalidEvent, match=f"duplicate key '{key}'"):
        rules.json_fields(" " + text)  # the slow path says the same


@pytest.mark.parametrize("quantity", [" 12", "12 ", "１２", "+5", "1_000", "²", "-1", "1e3", "0x10", True, 2.0])
def test_quantities_are_ascii_digits_or_json_integers(quantity: object) -> None:
    with pytest.raises(rules.InvalidEvent, match="quantity must be a positive integer"):
        parse({"event_type": "query", "workspace_id": "acme", "quantity": quantity})


def test_quantity_digits_and_integers_are_accepted() -> None:
    assert [
        parse({"event_type": "query", "workspace_id": "acme", "quantity": q}).quantity for q in ("12", "007", 12)
    ] == [
        12,
        7,
        12,
    ]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("id,event_type,quantity,colour", "unknown CSV header column 'colour'"),
        ("\ufeffid,event_type", "unknown CSV header column '\\ufeffid'"),
        ("id,event_type,quantity,quantity", "names the column 'quantity' more than once"),
        ("workspace_id,event_type,workspace_id", "names the column 'workspace_id' more than once"),
    ],
)
def test_a_csv_header_names_each_field_at_most_once_and_nothing_else(header: str, reason: str) -> None:
    with pytest.raises(rules.InvalidEvent) as exc:
        rules.csv_header(header)
    assert reason in exc.value.reason


def test_ids_longer_than_an_index_entry_can_hold_are_rejected() -> None:
    """PostgreSQL refused a 9,000-byte user_id in the (user_id, created_at) index: the whole run stopped."""
    assert parse({"event_type": "query", "workspace_id": "acme", "user_id": "u" * 1024}).user_id == "u" * 1024
    for name, value in (("user_id", "u" * 1025), ("user_id", "é" * 513), ("workspace_id", "w" * 5000)):
        with pytest.raises(rules.InvalidEvent, match=f"{name} .* is longer than 1,024 bytes"):
            parse({"event_type": "query", "workspace_id": "acme", name: value})


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"created_at": "2026-01-02T03:04:05"},  # no offset: UTC
        {"created_at": "2026-01-02T03:04:05+00:00"},
        {"created_at": "2026-01-02T03:04:05Z"},
        {"created_at": "2026-01-02T05:04:05.5+02:00"},  # another offset: converted
        {"created_at": ""},
        {"workspace_id": "w" * 256},  # the longest taken without counting its bytes
        {"workspace_id": "w" * 257},
        {"workspace_id": "é" * 256},
        {"workspace_id": ""},
        {"user_id": ""},
        {"user_id": "u" * 1024},
        {"user_id": "ü" * 512},
        {"id": "0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c"},
        {"id": " 0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c"},
    ],
)
def test_the_in_line_checks_give_the_event_the_parsers_give(extra: dict[str, object]) -> None:
    """event_from_fields takes the usual forms without calling the parsers (plain lines): the event is
    the one the parsers make of the same fields."""
    fields = {"event_type": "query", "workspace_id": "acme", "user_id": "u1", **extra}
    quick = rules.event_from_fields(fields, default_workspace="dflt", now=NOW, new_id=lambda: "g", plain=True)
    slow = rules.event_from_fields(fields, default_workspace="dflt", now=NOW, new_id=lambda: "g", plain=False)
    assert quick == slow and type(quick) is rules.Event
    assert quick.created_at.tzinfo is UTC
    expected_user = None if extra.get("user_id") == "" else fields["user_id"]
    assert quick.user_id == expected_user
    assert quick.workspace == (fields["workspace_id"] or "dflt")
    if extra.get("created_at"):
        assert quick.created_at == rules.parse_time(extra["created_at"])


def test_the_in_line_checks_reject_what_the_parsers_reject() -> None:
    base = {"event_type": "query", "workspace_id": "acme"}
    for name, value, reason in (
        ("workspace_id", "w" * 1025, "workspace_id .* is longer than 1,024 bytes"),
        ("workspace_id", "é" * 513, "workspace_id .* is longer than 1,024 bytes"),
        ("workspace_id", 7, "workspace_id must be a string, not 7"),
        ("user_id", ["u"], r"user_id must be a string, not \['u'\]"),
        ("created_at", "2026-13-01T00:00:00Z", "bad created_at '2026-13-01T00:00:00Z': use ISO 8601"),
        ("created_at", 1767225600, "bad created_at 1767225600: use ISO 8601"),
        ("id", "0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6", "bad id .*: not a UUID"),
    ):
        with pytest.raises(rules.InvalidEvent, match=reason):
            rules.event_from_fields({**base, name: value}, default_workspace=None, now=NOW, new_id=str, plain=True)


def test_copy_text_writes_metadata_as_json_dumps_does() -> None:
    meta = rules.json_fields('{"m": {"a": [1, 2.50, 1e3, null, true], "é": "tab\\there", "n": -0.0}}')["m"]
    row = ("0190f7c4-9d1c-7cc2-8f5e-2b1f3e4a5d6c", "ws", None, "query", 1, meta, NOW, None)
    fields = copy_text([row]).decode("utf-8").rstrip("\n").split("\t")
    assert fields[5] == json.dumps(meta).replace("\\", "\\\\")
    assert json.loads(fields[5].replace("\\\\", "\\")) == meta
