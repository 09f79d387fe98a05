"""`atlas config`: the effective settings."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="atlas's own configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Show each setting's effective value and where it came from (flag, env, .env, default).

    Secrets are masked; a database password shows as ***.
    """
    rt: Runtime = ctx.obj
    from atlas_cli.services.doctor import settings_report

    flags = {"database_url": rt.database_url, "atlas_workspace": rt.workspace_key, "atlas_format": rt.fmt}
    with rt.errors():
        items = settings_report(rt.settings, flags)
    rt.render.config_report(items, rt.output_format(fmt, as_json))
