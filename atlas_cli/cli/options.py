"""Options shared by many commands."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli import completion
from atlas_cli.cli.choices import BillingModel, OutputFormat

WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        help="Workspace id or slug [env: ATLAS_WORKSPACE].",
        show_default=False,
        autocompletion=completion.workspaces,
    ),
]
FormatOpt = Annotated[
    OutputFormat | None,
    typer.Option("--format", "-f", help="Output format [env: ATLAS_FORMAT].", show_default=False, case_sensitive=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Shortcut for --format json.")]
DAYS = "YYYY-MM-DD, today, yesterday, or days/weeks/months ago: 7d, 2w, 3m"
StartOpt = Annotated[
    str | None, typer.Option("--start", "--since", help=f"First day (inclusive): {DAYS}.", show_default=False)
]
EndOpt = Annotated[str | None, typer.Option("--end", help=f"Last day (inclusive): {DAYS}.", show_default=False)]
BillingModelOpt = Annotated[
    BillingModel | None,
    typer.Option(
        "--billing-model",
        help="Billing model to lay out: classic or per-seat [default: ATLAS_BILLING_MODEL, else classic].",
        show_default=False,
        case_sensitive=False,
    ),
]


def _zones(incomplete: str) -> list[str]:
    """IANA zone names for shell completion (read from the system's tz database only then)."""
    from zoneinfo import available_timezones

    return sorted(zone for zone in available_timezones() if zone.lower().startswith(incomplete.lower()))


TzOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Time zone (IANA, e.g. Europe/Paris) for the days typed and the times shown [env: ATLAS_TZ]; default UTC.",
        show_default=False,
        metavar="<zone>",
        autocompletion=_zones,
    ),
]
