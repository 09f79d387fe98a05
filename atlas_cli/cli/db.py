"""`atlas db`: create, upgrade and inspect the schema."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import BillingModelOpt, FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime
from atlas_cli.errors import ExitCode

app = typer.Typer(help="The database schema.", no_args_is_help=True)


@app.command("init")
def init(
    ctx: typer.Context, billing_model: BillingModelOpt = None, fmt: FormatOpt = None, as_json: JsonOpt = False
) -> None:
    """Create every table on an empty database (its plan_tier constraint includes locked).

    Classic by default; `--billing-model per-seat` lays out the tables of a per-seat Atlas server.
    """
    rt: Runtime = ctx.obj
    with rt.services(create=True) as svc:
        state = svc.schema.init(billing_model)
    rt.render.schema_state(state, rt.output_format(fmt, as_json), svc.db.masked_url)


@app.command("upgrade")
def upgrade(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Create what is missing for the database's billing model; never alter or drop a table the Atlas server owns.

    On a per-seat database only atlas's own atlas_ tables are created.
    """
    rt: Runtime = ctx.obj
    with rt.services(create=True) as svc:
        state = svc.schema.upgrade()
    rt.render.schema_state(state, rt.output_format(fmt, as_json), svc.db.masked_url)


@app.command("status")
def status(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Say which billing model applies and why, which tables are present, missing or incompatible,
    and which workspaces are on a tier that model does not know (exit 5 unless all is ready)."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        state = svc.schema.status()
    rt.render.schema_state(state, rt.output_format(fmt, as_json), svc.db.masked_url)
    rt.exit(0 if state.ready else ExitCode.NOT_CONFIGURED)
