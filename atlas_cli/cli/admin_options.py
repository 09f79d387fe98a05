"""Options of the commands that change data: who acts, and the dry run."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.runtime import Runtime

ActorOpt = Annotated[
    str | None,
    typer.Option("--as", help="Who acts: user id or email of an owner/admin [env: ATLAS_ACTOR].", show_default=False),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]


def actor_of(rt: Runtime, local: str | None) -> str | None:
    """`--as`, else ATLAS_ACTOR."""
    return local or rt.settings.atlas_actor
