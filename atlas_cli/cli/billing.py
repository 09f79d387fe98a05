"""`atlas billing`: plan status and the enforcement check."""

from __future__ import annotations

from typing import Annotated

import typer

from atlas_cli.cli.choices import FailOn, Resource
from atlas_cli.cli.options import FormatOpt, JsonOpt, TzOpt, WorkspaceOpt
from atlas_cli.cli.runtime import Runtime

app = typer.Typer(help="Billing state and enforcement.", no_args_is_help=True)


@app.command("status")
def status(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    tz: TzOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the plan, limits, usage per dimension and the subscription."""
    rt: Runtime = ctx.obj
    rt.zone(tz)
    with rt.services() as svc:
        report = svc.billing.status(rt.workspace(workspace))
    rt.render.billing_status(report, rt.output_format(fmt, as_json))


@app.command("check")
def check(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Also exit non-zero at this tier: warning (10) or soft (11).",
            show_default=False,
            case_sensitive=False,
        ),
    ] = None,
    resource: Annotated[
        Resource | None,
        typer.Option(
            "--resource",
            help="Instead: may one more of these be added? (chat and knowledge: per-seat databases)",
            show_default=False,
            case_sensitive=False,
        ),
    ] = None,
    all_workspaces: Annotated[
        bool, typer.Option("--all", help="Every workspace that is not deleted; exit with the worst one's code.")
    ] = False,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Sum the usage from raw events only, not the daily rollup.")
    ] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Decide whether the workspace may keep using Atlas, as the server enforces it.

    Exit codes: 0 allowed, 10 warning and 11 soft limit (only with --fail-on), 12 hard limit,
    13 trial expired, 14 billing check failed, 15 subscription required. With --all, the worst
    workspace's: 12, then 15, 13, 14, 11, 10.

    Usage of closed days is read from the daily rollup that `usage aggregate` keeps (where no
    late write marked it stale); the rest of the period from raw events. --recompute reads
    everything from raw events.

    Examples:

    \b
      atlas billing check -w acme --fail-on soft
      atlas billing check -w acme --resource members
      atlas billing check --all --fail-on warning --json
    """
    rt: Runtime = ctx.obj
    if all_workspaces:
        if workspace:
            from atlas_cli.errors import BadInput

            rt.fail(BadInput("give either --workspace or --all, not both"))
        with rt.services() as svc:
            fleet = svc.fleet.check_all(fail_on=fail_on, resource=resource, recompute=recompute)
        rt.render.fleet_check(fleet, rt.output_format(fmt, as_json))
        rt.exit(fleet.exit_code)
        return
    with rt.services() as svc:
        report = svc.billing.check(rt.workspace(workspace), fail_on=fail_on, resource=resource, recompute=recompute)
    rt.render.check_report(report, rt.output_format(fmt, as_json))
    rt.exit(report.exit_code)


@app.command("overage")
def overage(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    all_workspaces: Annotated[
        bool, typer.Option("--all", help="Every workspace on a plan with a usage credit.")
    ] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the metered overage owed this period beside what the server reported to Stripe (per-seat).

    Read only: owed = cost beyond the included credit, in cents; reported = the server's
    overage_meter_reports for the period; unreported = owed - reported.

    Examples:

    \b
      atlas billing overage -w acme
      atlas billing overage --all --json
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.overage.overage(
            workspace if all_workspaces else rt.workspace(workspace), all_workspaces=all_workspaces
        )
    rt.render.overage_report(report, rt.output_format(fmt, as_json))


@app.command("report-usage")
def report_usage(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    all_workspaces: Annotated[
        bool, typer.Option("--all", help="Every workspace (those without a Stripe customer are skipped).")
    ] = False,
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            metavar="current|DATE",
            help="current, or the billing period holding DATE (YYYY-MM-DD, yesterday, 7d, 1m) "
            "[default: current and previous].",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; send and record nothing.")
    ] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send metered usage to Stripe's meters, billed in arrears (features with a stripe_meter).

    Each workspace's usage per billing period goes as the delta beyond what was already sent,
    under an identifier that makes a resend a no-op; every send is recorded. By default the
    current period and the previous one (while Stripe still accepts it) are reported.

    Examples:

    \b
      atlas billing report-usage --all
      atlas billing report-usage -w acme --period 2026-10-15 --dry-run
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        report = svc.meter_reports.report(
            workspace if all_workspaces else rt.workspace(workspace),
            all_workspaces=all_workspaces,
            period=period,
            dry_run=dry_run,
        )
    rt.render.usage_sent_report(report, rt.output_format(fmt, as_json))
    if report.failure is not None:
        rt.fail(report.failure)
    if report.too_old:
        from atlas_cli.errors import BadInput

        rt.fail(
            BadInput(
                f"{len(report.too_old)} period(s) ended too long ago: Stripe takes meter events at most 35 days "
                "old, so their usage (status too_old) was not sent"
            )
        )


# --- billing operations -----------------------------------------------------------------

from atlas_cli.cli.admin_options import ActorOpt, DryRunOpt, actor_of  # noqa: E402


@app.command("byot")
def byot(
    ctx: typer.Context,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn bring-your-own-token on or off.", show_default=False)
    ] = None,
    workspace: WorkspaceOpt = None,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn BYOT on or off: a BYOT workspace's tokens are metered but their limit is not enforced.

    Examples:

    \b
      atlas billing byot --enable -w acme --as admin@acme.test
    """
    rt: Runtime = ctx.obj
    if enable is None:
        from atlas_cli.errors import BadInput

        rt.fail(BadInput("say --enable or --disable"))
    with rt.services() as svc:
        result = svc.billing_ops.byot(
            rt.workspace(workspace), enable=enable, actor=actor_of(rt, actor), dry_run=dry_run
        )
    rt.render.change_result(result, rt.output_format(fmt, as_json))


@app.command("portal")
def portal(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    return_url: Annotated[
        str | None, typer.Option("--return-url", help="Where Stripe sends the customer back.", show_default=False)
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the portal in a web browser.")] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a Stripe billing portal session for the workspace's customer and print its URL.

    Examples:

    \b
      atlas billing portal -w acme --return-url https://app.example.com/admin/usage --open
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        url = svc.stripe_sync.portal(rt.workspace(workspace), return_url=return_url)
    rt.render.portal_url(url, rt.output_format(fmt, as_json))
    if open_browser:
        import webbrowser

        if not webbrowser.open(url):
            rt.render.note("No web browser could be opened; open the URL above yourself.")


@app.command("sync")
def sync(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    all_workspaces: Annotated[
        bool, typer.Option("--all", help="Every workspace with a Stripe customer (needs a global admin).")
    ] = False,
    actor: ActorOpt = None,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reconcile plan tiers and subscription rows with Stripe (a second run changes nothing).

    Examples:

    \b
      atlas billing sync --all --dry-run --as admin@example.com
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc, rt.render.progress("Reading Stripe") as advance:
        report = svc.stripe_sync.sync(
            workspace if all_workspaces else rt.workspace(workspace),
            all_workspaces=all_workspaces,
            actor=actor_of(rt, actor),
            dry_run=dry_run,
            progress=advance,
        )
    rt.render.sync_report(report, rt.output_format(fmt, as_json))


@app.command("webhook")
def webhook(
    ctx: typer.Context,
    payload: Annotated[str, typer.Option("--payload", help="File holding the event's raw body, or - for stdin.")],
    signature: Annotated[str, typer.Option("--signature", help="The Stripe-Signature header sent with it.")],
    tolerance: Annotated[
        int,
        typer.Option(
            "--tolerance",
            min=0,
            metavar="SECONDS",
            help="Oldest signature accepted, in seconds (0: any age, to replay saved events).",
        ),
    ] = 300,
    dry_run: DryRunOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a saved Stripe event with STRIPE_WEBHOOK_SECRET and apply it once.

    Handles checkout.session.completed and customer.subscription.created/updated/deleted with
    the rules of `billing sync`; a repeated event is a no-op, an older one is skipped.

    Examples:

    \b
      atlas billing webhook --payload event.json --signature "t=...,v1=..."
      atlas billing webhook --payload saved.json --signature "t=...,v1=..." --tolerance 0
    """
    rt: Runtime = ctx.obj
    with rt.services() as svc:
        body = _read_payload(payload)
        result = svc.webhooks.apply(body, signature, dry_run=dry_run, tolerance=tolerance)
    rt.render.webhook_result(result, rt.output_format(fmt, as_json))


def _read_payload(source: str) -> bytes:
    from atlas_cli.errors import BadInput

    if source == "-":
        return typer.get_binary_stream("stdin").read()
    try:
        with open(source, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise BadInput(f"--payload: cannot read {source!r}: {exc.strerror}") from None
