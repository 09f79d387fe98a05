"""`atlas demo`: load the demo workspaces into the embedded database and show one."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import BillingModelOpt
from atlas_cli.cli.runtime import Runtime


def demo(ctx: typer.Context, billing_model: BillingModelOpt = None) -> None:
    """Load demo workspaces (every billing state) into the embedded database, then show one.

    Loads only into the embedded SQLite default, or into an explicitly given database that holds
    no workspace yet; `--billing-model per-seat` loads the per-seat model's workspaces (into a
    database of that model or an empty one). Running it again changes nothing.
    """
    rt: Runtime = ctx.obj
    _url, embedded = rt.resolved_database_url()
    with rt.services(create=True) as svc, rt.render.progress("Loading demo events") as progress:
        result = svc.demo.load(embedded=embedded, progress=progress, billing_model=billing_model)
        report = svc.usage.current(result.shown)
    rt.render.demo_result(result, svc.db.masked_url)
    rt.render.usage_report(report, rt.output_format(None))
