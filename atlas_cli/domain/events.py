"""Usage events: validation of one event's fields, and time-ordered ids. No I/O.

An event line is a mapping of the fields below (a JSON object, or a CSV row under a header).
Every rule that can reject a line lives here, except "the workspace exists", which needs the
database and is checked when a batch is written.
"""

from __future__ import annotations

import csv
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

EVENT_TYPES = ("query", "token", "login")
FIELDS = ("id", "workspace_id", "user_id", "event_type", "quantity", "metadata", "created_at")
COST_FIELD = "cost_usd"  # optional: only databases with usage_events.gateway_cost_usd (per-seat) store it
ALL_FIELDS = (*FIELDS, COST_FIELD)
MAX_QUANTITY = 2**31 - 1  # usage_events.quantity is a 32-bit integer
MAX_ID_BYTES = 1024  # workspace_id, user_id: PostgreSQL's btree indexes refuse entries over ~2.7 kB
MAX_DEPTH = 64  # nesting of objects and arrays in a line (metadata deeper than this is refused)
COST_LIMIT = Decimal(10) ** 6  # gateway_cost_usd is numeric(12, 6): below a million dollars...
COST_QUANTUM = Decimal("0.000001")  # ...to the micro-dollar
NO_COSTS = "this database does not record event costs (no usage_events.gateway_cost_usd column)"
_TYPES = frozenset(EVENT_TYPES)
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch
_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?").fullmatch
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000").search  # a \u0000 escape (not an escaped backslash)


class InvalidEvent(ValueError):
    """A line that cannot become an event; `reason` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Event(NamedTuple):
    """One validated usage event. `workspace` is the id or slug as given, resolved on write.

    A named tuple rather than a dataclass: ingestion builds one per line, and this is the cheapest
    immutable record CPython has."""

    id: str
    workspace: str
    user_id: str | None
    event_type: str
    quantity: int
    metadata: dict[str, Any] | None
    created_at: datetime
    generated_id: bool = False
    cost_usd: Decimal | None = None  # the at-cost dollars (gateway_cost_usd), exact


_new_event = tuple.__new__  # Event(...) without the Python-level __new__ of a named tuple (all fields given)
_FROM_ISO = datetime.fromisoformat


def shown(value: Any, limit: int = 40) -> str:
    """`value` quoted for a reason, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def uuid7(unix_ms: int, random: bytes) -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits."""
    if len(random) < 10:
        raise ValueError("uuid7 needs 10 random bytes")
    rand = int.from_bytes(random[:10], "big")
    value = (unix_ms & (2**48 - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a: 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & (2**62 - 1)  # rand_b: 62 bits
    return str(uuid.UUID(int=value))


def parse_uuid(value: Any) -> str:
    """The canonical lower-case form of a UUID given as text."""
    if type(value) is str and _CANONICAL_UUID(value):
        return value  # the usual form, without building a uuid.UUID
    if not isinstance(value, str):
        raise InvalidEvent(f"bad id {shown(value)}: not a UUID")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidEvent(f"bad id {shown(value)}: not a UUID") from None


def parse_quantity(value: Any) -> int:
    """A positive integer from a JSON integer or a string of digits; absent means 1."""
    if value is None or value == "":
        return 1
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():  # not " 12", "+5", "1_000", "１２"
        number = int(value)
    else:
        raise InvalidEvent(f"quantity must be a positive integer, not {shown(value)}")
    if not 1 <= number <= MAX_QUANTITY:
        raise InvalidEvent(f"quantity must be a positive integer up to {MAX_QUANTITY}, not {number}")
    return number


def parse_cost(value: Any, option: str = "cost_usd") -> Decimal | None:
    """Dollars that numeric(12, 6) holds exactly: a JSON number (read from its text, never through a
    float) or a decimal string, finite, >= 0, below 10^6, at most 6 decimal places; absent or null
    means none."""
    if value is None or value == "":
        return None
    if isinstance(value, JsonFloat):
        text = value.text
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str) and _DECIMAL(value):  # not " 1", "1_000", "NaN", other scripts' digits
        text = value
    else:
        raise InvalidEvent(f"{option} must be a number of dollars, not {shown(value)}")
    try:
        cost = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the forms above are all valid
        raise InvalidEvent(f"{option} must be a number of dollars, not {shown(value)}") from None
    if not cost.is_finite():
        raise InvalidEvent(f"{option} must be a finite number of dollars, not {shown(value)}")
    if cost < 0:
        raise InvalidEvent(f"{option} must not be negative, not {text[:40]}")
    if cost >= COST_LIMIT:
        raise InvalidEvent(f"{option} must be below 1000000 dollars (numeric(12,6)), not {text[:40]}")
    exact = cost.quantize(COST_QUANTUM)
    if exact != cost:
        raise InvalidEvent(f"{option} has more than 6 decimal places: {text[:40]}")
    return exact.copy_abs()  # -0 is 0


def cost_text(cost: Decimal) -> str:
    """`cost` as a plain decimal numeral without trailing zeros or exponent (0.000001, 12.5, 3):
    exact, and valid as a JSON number."""
    text = format(cost.normalize(), "f")
    return "0" if text == "-0" else text


def parse_time(value: Any, option: str = "created_at") -> datetime:
    """An ISO 8601 time as aware UTC; a time without offset is taken as UTC."""
    moment: datetime | None = None
    if type(value) is str:
        try:  # noqa: SIM105 (hot path: cheaper than contextlib.suppress); Python 3.11 reads a trailing Z
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
    if moment is None:
        moment = _parse_time_leniently(value, option)
    zone = moment.tzinfo
    if zone is UTC:
        return moment
    if zone is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise InvalidEvent(f"bad {option} {shown(value)}: out of range (0001-01-01 to 9999-12-31 in UTC)") from None


def _parse_time_leniently(value: Any, option: str) -> datetime:
    """Surrounding blanks and a lower-case z allowed. Raises InvalidEvent."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"bad {option} {shown(value)}: use ISO 8601, e.g. 2026-01-31T12:00:00Z")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"bad {option} {shown(value)}: use ISO 8601, e.g. 2026-01-31T12:00:00Z") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JsonFloat(float):
    """A JSON number with a fraction or exponent, which keeps its text: `cost_usd` is read from the
    text exactly (0.1 is not the float 0.1000000000000000055...), everything else uses the float."""

    __slots__ = ("text",)
    text: str


def _finite(text: str) -> float:
    number = JsonFloat(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:20]} is out of range")
    number.text = text
    return number


class _Refused(ValueError):
    """Valid JSON that a line may not hold (a key given twice, nesting too deep)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members; a key given twice is an error, never "the last one wins"."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {shown(key)}")
            seen.add(key)
    return found


_JSON_OPTIONS: dict[str, Any] = {
    "parse_constant": _no_constant,
    "parse_float": _finite,
    "object_pairs_hook": _unique_keys,
}
# PostgreSQL's jsonb refuses NaN and Infinity: refuse them when a line is read, not when its batch is written.
_DECODER = json.JSONDecoder(**_JSON_OPTIONS)
_scan_json: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]').finditer  # strings (skipped) and brackets


def _too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON `text` nests objects and arrays more than `limit` levels deep. Linear; the
    usual line has too few brackets to need the scan."""
    if text.count("{") + text.count("[") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKEN(text):
        bracket = token.group()
        if bracket in "{[":
            depth += 1
            if depth > limit:
                return True
        elif bracket in "}]":
            depth -= 1
    return False


def _loads(text: str) -> Any:
    """json.loads without NaN/Infinity, duplicate keys or deep nesting; raises ValueError with
    json's message (or ours)."""
    if _too_deep(text, MAX_DEPTH + 1):  # the line's own object, then metadata MAX_DEPTH levels deep
        raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
    try:
        value, end = _scan_json(text, 0)
    except (StopIteration, ValueError):
        end = -1
    if end != len(text):  # blanks around it, trailing data or an error: let json say exactly what
        value = json.loads(text, **_JSON_OPTIONS)
    return value


def _nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether a Python value nests dicts and lists more than `limit` levels (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def storable_text(value: str) -> bool:
    """False for text no database column can hold: NUL characters or lone surrogates."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable_json(value: Any) -> bool:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):  # not JSON data, or NaN/Infinity
        return False
    return _NUL_ESCAPE(text) is None and storable_text(text)


def parse_metadata(value: Any, *, plain: bool = False) -> dict[str, Any] | None:
    """A JSON object (or JSON text of one); absent or null means none. `plain`: see event_from_fields."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = _loads(value)
        except _Refused as exc:
            raise InvalidEvent(f"bad metadata: {exc}") from None
        except ValueError:
            raise InvalidEvent(f"bad metadata {shown(value)}: not JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidEvent(f"bad metadata {shown(value)}: must be a JSON object")
    if not plain and _nesting_exceeds(value, MAX_DEPTH):
        raise InvalidEvent(f"bad metadata: nested more than {MAX_DEPTH} levels deep")
    if not plain and not _storable_json(value):
        raise InvalidEvent(f"bad metadata {shown(value)}: cannot be stored (NaN, Infinity, NUL or a lone surrogate)")
    return value


def parse_event_type(value: Any) -> str:
    if value is None or value == "":
        raise InvalidEvent("missing event_type")
    if value not in EVENT_TYPES:
        raise InvalidEvent(f"unknown event_type {shown(value)} (query, token or login)")
    return str(value)


def _text(value: Any, name: str, plain: bool) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, not {shown(value)}")
    if not plain and not storable_text(value):
        raise InvalidEvent(f"{name} {shown(value)} cannot be stored (a NUL character or a lone surrogate)")
    if len(value) * 4 > MAX_ID_BYTES and len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise InvalidEvent(f"{name} {shown(value)} is longer than {MAX_ID_BYTES:,} bytes (an index cannot hold it)")
    return value


def event_from_fields(
    fields: Mapping[str, Any],
    *,
    default_workspace: str | None,
    now: datetime,
    new_id: Callable[[], str],
    plain: bool = False,
) -> Event:
    """Validate one line's fields. Raises InvalidEvent with the first problem found.

    `plain`: the caller knows that no string in `fields` can hold a NUL or a lone surrogate (they
    come from JSON text without a \\u escape, or CSV text without one and without NUL), so the
    checks for those are skipped. The usual values are accepted by quick tests; anything else goes
    through the parse_* functions, which give the reasons.
    """
    # Each field is checked in line (no call) when it has its usual form, in the order the
    # reasons are given; the parse_* and _text calls, taken otherwise, say what is wrong.
    get = fields.get
    event_type = get("event_type")
    if type(event_type) is not str or event_type not in _TYPES:
        event_type = parse_event_type(event_type)
    quantity = get("quantity")
    if type(quantity) is not int or not 0 < quantity <= MAX_QUANTITY:
        quantity = parse_quantity(quantity)
    raw_id = get("id")
    generated = raw_id is None or raw_id == ""
    if generated:
        event_id = new_id()
    elif type(raw_id) is str and _CANONICAL_UUID(raw_id):
        event_id = raw_id
    else:
        event_id = parse_uuid(raw_id)
    raw_time = get("created_at")
    created_at = None
    if type(raw_time) is str:
        try:  # noqa: SIM105 (hot path: cheaper than contextlib.suppress)
            created_at = _FROM_ISO(raw_time)
        except ValueError:
            pass
    if created_at is not None and (zone := created_at.tzinfo) is not UTC:
        created_at = created_at.replace(tzinfo=UTC) if zone is None else None  # another offset: parse_time
    if created_at is None:  # absent, or not read above
        created_at = now if raw_time is None or raw_time == "" else parse_time(raw_time)
    workspace = get("workspace_id")
    if not (plain and type(workspace) is str and workspace and len(workspace) * 4 <= MAX_ID_BYTES):
        workspace = _text(workspace, "workspace_id", plain)
    workspace = workspace or default_workspace
    if not workspace:
        raise InvalidEvent("missing workspace_id (or give -w)")
    user_id = get("user_id")
    if not (plain and type(user_id) is str and user_id and len(user_id) * 4 <= MAX_ID_BYTES):
        user_id = _text(user_id, "user_id", plain)
    metadata = get("metadata")
    if metadata is not None and not (plain and type(metadata) is dict):
        metadata = parse_metadata(metadata, plain=plain)
    cost = get(COST_FIELD)
    if cost is not None:
        cost = parse_cost(cost)
    values = (event_id, workspace, user_id, event_type, quantity, metadata, created_at, generated, cost)
    return _new_event(Event, values)


def json_fields(line: str) -> Mapping[str, Any]:
    """The fields of one JSON line."""
    if line.count("{") + line.count("[") <= MAX_DEPTH + 1:  # the usual line, read in one call (as _loads)
        try:
            value, end = _scan_json(line, 0)
        except (StopIteration, ValueError):  # an error (a key given twice too): _loads says which
            end = -1
        if end == len(line) and type(value) is dict:
            return value
    try:
        data = _loads(line)
    except _Refused as exc:
        raise InvalidEvent(str(exc)) from None
    except ValueError as exc:
        raise InvalidEvent(f"bad JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidEvent("bad JSON: a line must be a JSON object")
    return data


def csv_header(line: str, listed: Sequence[str] = FIELDS) -> tuple[str, ...]:
    """The column names of a CSV header line. Raises InvalidEvent if it lacks event_type, names
    a column that is not a field, or names one twice. `listed`: the columns a rejection names (the
    database's); cost_usd is a known column whether listed or not (a line with a cost is refused
    later where the database cannot store it)."""
    try:
        names = tuple(name.strip() for name in next(csv.reader([line]), []))
    except csv.Error as exc:
        raise InvalidEvent(f"bad CSV header: {exc}") from None
    unknown = [name for name in names if name not in ALL_FIELDS]
    if unknown:
        raise InvalidEvent(f"unknown CSV header column {shown(unknown[0])} (the columns are {', '.join(listed)})")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidEvent(f"the CSV header names the column {shown(twice[0])} more than once")
    if "event_type" not in names:
        raise InvalidEvent(f"the CSV header must name the columns ({', '.join(FIELDS)}); it has no event_type")
    return names


def csv_fields(line: str, header: Sequence[str]) -> Mapping[str, Any]:
    """The fields of one CSV line under `header`."""
    try:
        values = next(csv.reader([line]), [])
    except csv.Error as exc:
        raise InvalidEvent(f"bad CSV: {exc}") from None
    if len(values) != len(header):
        raise InvalidEvent(f"bad CSV: expected {len(header)} fields, found {len(values)}")
    return {name: _formula_guard_removed(value) for name, value in zip(header, values, strict=True)}


# atlas's CSV writers put a `'` before a text cell a spreadsheet would run as a formula; reading
# one back takes it off again, so an export ingests back unchanged.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _formula_guard_removed(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value


def is_skipped(line: str) -> bool:
    """Blank lines and `#` comments (as in a rejects file) are not events."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def event_record(event: Event, workspace_id: str | None = None) -> dict[str, Any]:
    """The event as a JSON-ready line that `atlas usage ingest` reads back unchanged."""
    return {
        "id": event.id,
        "workspace_id": workspace_id or event.workspace,
        "user_id": event.user_id,
        "event_type": event.event_type,
        "quantity": event.quantity,
        "metadata": event.metadata,
        "created_at": iso_micro(event.created_at),
    } | ({} if event.cost_usd is None else {COST_FIELD: cost_text(event.cost_usd)})


def iso_micro(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z: exact, so events round-trip."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"  # without its "+00:00"
