"""`atlas doctor`: check the database, its schema and the Stripe set-up."""

from __future__ import annotations

import typer

from atlas_cli.cli.options import FormatOpt, JsonOpt
from atlas_cli.cli.runtime import Runtime


def doctor(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Check the database, schema, Stripe key, webhook secret and price ids; say how to fix each problem.

    Exit 0 only when every check passes (Stripe checks are skipped in self-hosted mode); otherwise
    the exit code of the first failing check (5 not configured, 6 Stripe, 7 database unavailable).
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.doctor.run()
    rt.render.doctor_report(report, rt.output_format(fmt, as_json))
    rt.exit(report.exit_code)
