"""`atlas db`: create, upgrade and inspect the schema."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime
from atlas_cli.errors import ExitCode

app = typer.Typer(help="The database schema.", no_args_is_help=True)


@app.command("init")
def init(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Create every table on an empty database (its plan_tier constraint includes locked)."""
    rt: Runtime = ctx.obj
    with rt.services(create=True) as svc:
        state = svc.schema.init()
    rt.render.schema_state(state, rt.output_format(fmt, as_json), svc.db.masked_url)


@app.command("upgrade")
def upgrade(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Create what is missing; never alter or drop a table the Atlas server owns."""
    rt: Runtime = ctx.obj
    with rt.services(create=True) as svc:
        state = svc.schema.upgrade()
    rt.render.schema_state(state, rt.output_format(fmt, as_json), svc.db.masked_url)


@app.command("status")
def status(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Say which tables are present, missing or incompatible (exit 5 unless all are ready)."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        state = svc.schema.status()
    rt.render.schema_state(state, rt.output_format(fmt, as_json), svc.db.masked_url)
    rt.exit(0 if state.ready else ExitCode.NOT_CONFIGURED)
