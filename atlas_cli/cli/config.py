"""`atlas config`: the effective settings."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="atlas's own configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Show each setting's effective value and where it came from (flag, env, context, .env, default).

    The first row, context, is the context that applies and what chose it (--context,
    ATLAS_CONTEXT, or atlas context use). Secrets are masked; a database password shows as ***.
    The last row, billingModel, is the billing model that applies to the database and why
    (ATLAS_BILLING_MODEL, or detection).
    """
    rt: Runtime = ctx.obj
    from atlas_cli.services.doctor import config_report

    flags = {"database_url": rt.database_url, "atlas_workspace": rt.workspace_key, "atlas_format": rt.fmt}
    with rt.errors():
        url, _embedded = rt.resolved_database_url()
        items = config_report(rt.settings, flags, url, rt.database_url_source(), rt.applied_context())
    rt.render.config_report(items, rt.output_format(fmt, as_json))
