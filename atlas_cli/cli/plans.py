"""`atlas plans`: the plan table, and the operator catalog (pull, push, history)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from atlas_cli.cli import completion
from atlas_cli.cli.admin_options import ActorOpt, DryRunOpt, actor_of
from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime

if TYPE_CHECKING:
    from atlas_cli.domain.operator_catalog import OperatorCatalog

app = typer.Typer(help="Plans and their limits, and the operator catalog of features.", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List the plans and their limits."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.plans import PlanService

    with rt.errors():
        table = PlanService(rt.billing_model).list()
    rt.render.plan_list(table, rt.output_format(fmt, as_json))


@app.command("show")
def show(
    ctx: typer.Context,
    tier: Annotated[
        str,
        typer.Argument(
            help="A tier of the billing model: `atlas plans list` names them.", autocompletion=completion.tiers
        ),
    ],
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one plan's limits, with the operator catalog's features beside the built-in ones."""
    rt: Runtime = ctx.obj
    from atlas_cli.services.catalogs import catalog_at
    from atlas_cli.services.plans import PlanService

    def operator() -> OperatorCatalog | None:
        url, _embedded = rt.resolved_database_url()
        return catalog_at(url, rt.database_url_source(), rt.settings.atlas_billing_model)

    with rt.errors():
        table = PlanService(rt.billing_model, operator).show(tier)
    rt.render.plan_detail(table, rt.output_format(fmt, as_json))


@app.command("pull")
def pull(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(metavar="[FILE]", help="Write the catalog here (default: stdout).", dir_okay=False)
    ] = None,
) -> None:
    """Write the catalog in force as TOML: operator features editable, built-in ones as comments.

    Examples:

    \b
      atlas plans pull catalog.toml
      atlas plans pull > catalog.toml
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.catalogs.pull(file)
    rt.render.catalog_file(result)


@app.command("push")
def push(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The catalog TOML file.", dir_okay=False)],
    note: Annotated[str | None, typer.Option("--note", help="Why: kept with the version.", show_default=False)] = None,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a catalog file, show what changes, and store it as a new version (global admin).

    Nothing is stored when the file is not valid (exit 2) or identical to the version in force.

    Examples:

    \b
      atlas plans push catalog.toml --dry-run
      atlas plans push catalog.toml --as admin@acme.test --note "projects: 5 -> 10 on team"
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.catalogs.push(file, actor=actor_of(rt, actor), dry_run=dry_run, note=note)
    rt.render.push_result(result, rt.output_format(fmt, as_json))


@app.command("history")
def history(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """List the stored catalog versions, newest (in force) first."""
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        result = svc.catalogs.history()
    rt.render.catalog_history(result, rt.output_format(fmt, as_json))
