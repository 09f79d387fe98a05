"""Usage events: validation of one event's fields, and time-ordered ids. No I/O.

An event line is a mapping of the fields below (a JSON object, or a CSV row under a header).
Every rule that can reject a line lives here, except "the workspace exists", which needs the
database and is checked when a batch is written.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_TYPES = ("query", "token", "login")
FIELDS = ("id", "workspace_id", "user_id", "event_type", "quantity", "metadata", "created_at")
MAX_QUANTITY = 2**31 - 1  # usage_events.quantity is a 32-bit integer


class InvalidEvent(ValueError):
    """A line that cannot become an event; `reason` says why, in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Event:
    """One validated usage event. `workspace` is the id or slug as given, resolved on write."""

    id: str
    workspace: str
    user_id: str | None
    event_type: str
    quantity: int
    metadata: dict[str, Any] | None
    created_at: datetime
    generated_id: bool = False


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
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise InvalidEvent(f"quantity must be a positive integer, not {shown(value)}")
    if not 1 <= number <= MAX_QUANTITY:
        raise InvalidEvent(f"quantity must be a positive integer up to {MAX_QUANTITY}, not {number}")
    return number


def parse_time(value: Any, option: str = "created_at") -> datetime:
    """An ISO 8601 time as aware UTC; a time without offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"bad {option} {shown(value)}: use ISO 8601, e.g. 2026-01-31T12:00:00Z")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"bad {option} {shown(value)}: use ISO 8601, e.g. 2026-01-31T12:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_metadata(value: Any) -> dict[str, Any] | None:
    """A JSON object (or JSON text of one); absent or null means none."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidEvent(f"bad metadata {shown(value)}: not JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidEvent(f"bad metadata {shown(value)}: must be a JSON object")
    return value


def parse_event_type(value: Any) -> str:
    if value is None or value == "":
        raise InvalidEvent("missing event_type")
    if value not in EVENT_TYPES:
        raise InvalidEvent(f"unknown event_type {shown(value)} (query, token or login)")
    return str(value)


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, not {shown(value)}")
    return value


def event_from_fields(
    fields: Mapping[str, Any],
    *,
    default_workspace: str | None,
    now: datetime,
    new_id: Callable[[], str],
) -> Event:
    """Validate one line's fields. Raises InvalidEvent with the first problem found."""
    event_type = parse_event_type(fields.get("event_type"))
    quantity = parse_quantity(fields.get("quantity"))
    raw_id = fields.get("id")
    generated = raw_id is None or raw_id == ""
    event_id = new_id() if generated else parse_uuid(raw_id)
    raw_time = fields.get("created_at")
    created_at = now if raw_time is None or raw_time == "" else parse_time(raw_time)
    workspace = _text(fields.get("workspace_id"), "workspace_id") or default_workspace
    if not workspace:
        raise InvalidEvent("missing workspace_id (or give -w)")
    return Event(event_id, workspace, _text(fields.get("user_id"), "user_id"), event_type, quantity,
                 parse_metadata(fields.get("metadata")), created_at, generated)


def json_fields(line: str) -> Mapping[str, Any]:
    """The fields of one JSON line."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise InvalidEvent(f"bad JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidEvent("bad JSON: a line must be a JSON object")
    return data


def csv_header(line: str) -> tuple[str, ...]:
    """The column names of a CSV header line. Raises InvalidEvent if it lacks event_type."""
    names = tuple(name.strip() for name in next(csv.reader([line]), []))
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
    return dict(zip(header, values, strict=True))


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
    }


def iso_micro(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z: exact, so events round-trip."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
