"""The values of atlas's enumerated options, as Typer choices: `--help` and shell completion list
them, and a value outside them is a usage error (exit 2).

Literal types keep the values plain strings for the services, and import nothing heavy.
"""

from __future__ import annotations

from typing import Literal

OutputFormat = Literal["table", "json", "csv"]
Period = Literal["daily", "monthly"]
Periods = Literal["daily", "monthly", "both"]
Sort = Literal["queries", "tokens", "logins"]
FailOn = Literal["warning", "soft"]
Resource = Literal["members", "connections", "chat", "knowledge"]  # chat, knowledge: per-seat only
InputFormat = Literal["jsonl", "csv"]
ExportFormat = Literal["ndjson", "csv"]
BillingModel = Literal["classic", "per-seat"]

# `--type` stays free text checked by the event rules (the same message as for ingested lines);
# these complete it.
EVENT_TYPES = ("query", "token", "login")
Shell = Literal["bash", "zsh", "fish"]
