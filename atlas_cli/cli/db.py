"""`atlas db`: create, upgrade and inspect the schema."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.admin_options import ActorOpt, DryRunOpt, actor_of
from atlas_cli.cli.options import BillingModelOpt, FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime
from atlas_cli.errors import BadInput, ExitCode

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


@app.command("tune")
def tune(
    ctx: typer.Context,
    covering_index: Annotated[
        bool,
        typer.Option(
            "--covering-index",
            help="The optional index on usage_events (workspace_id, created_at) covering what usage reads.",
        ),
    ] = False,
    drop: Annotated[bool, typer.Option("--drop", help="Remove the covering index instead of adding it.")] = False,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add or remove the optional covering index on usage_events (global admin; audited).

    Never created implicitly. On PostgreSQL it is built and dropped CONCURRENTLY (writers are not
    blocked; on a partitioned table, partition by partition); an invalid index a failed build left
    is rebuilt. Already as asked: nothing changes, exit 0. `--dry-run` prints the DDL.

    Examples:

    \b
      atlas db tune --covering-index --dry-run
      atlas db tune --covering-index --as admin@acme.test
      atlas db tune --drop --as admin@acme.test
    """
    rt: Runtime = ctx.obj
    if not (covering_index or drop):
        rt.fail(BadInput("name what to tune: --covering-index (or --drop to remove it)"))
    with rt.services() as svc:
        result = svc.schema.tune_covering_index(drop=drop, actor=actor_of(rt, actor), dry_run=dry_run)
    rt.render.tune_result(result, rt.output_format(fmt, as_json), svc.db.masked_url)
