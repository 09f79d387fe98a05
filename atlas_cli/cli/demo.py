"""`atlas demo`: load the demo workspaces into the embedded database and show one."""

from __future__ import annotations

import typer

from atlas_cli.cli.runtime import Runtime


def demo(ctx: typer.Context) -> None:
    """Load demo workspaces (every billing state) into the embedded database, then show one.

    Loads only into the embedded SQLite default, or into an explicitly given database that holds
    no workspace yet. Running it again changes nothing.
    """
    rt: Runtime = ctx.obj
    _url, embedded = rt.resolved_database_url()
    with rt.services(create=True) as svc, rt.render.progress("Loading demo events") as progress:
        result = svc.demo.load(embedded=embedded, progress=progress)
        report = svc.usage.current(result.shown)
    rt.render.demo_result(result, svc.db.masked_url)
    rt.render.usage_report(report, rt.output_format(None))
