"""`billing report-usage`: metered usage sent to Stripe's meters as cumulative deltas, on both
engines and both billing models, against the Stripe test server (its meter totals are what Stripe
would bill): first send, a resend that sends nothing, new usage sending only the delta, late
events of a past period, dry runs, workspaces without a customer, Stripe 4xx and 5xx, --all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from atlas_cli.db.schema import meter_reports, subscription
from tests import entitlement_envs
from tests.factories import MONTH_START, NOW, events
from tests.stripe_server import StripeServer, stripe_fast_retries

OCTOBER = datetime(2026, 10, 1, tzinfo=UTC)
METER = "atlas_reports"
NOVEMBER_END = datetime(2026, 12, 1, tzinfo=UTC)


def catalog(env) -> str:
    return f"""
[features.reports]
kind = "metered"
event_types = ["report"]
stripe_meter = "{METER}"

[features.exports]
kind = "metered"
event_types = ["export"]

[plans.{env.paid}]
reports = "unlimited"
exports = {{ max_usage = 10 }}
"""


@pytest.fixture(params=["classic", "per-seat"])
def env(request, db_url, tmp_path, stripe_server: StripeServer, stripe_fast_retries, monkeypatch):
    made = entitlement_envs.make(request.param, db_url, tmp_path)
    made.customers = {
        name: stripe_server.add_customer(email=f"billing@{name}.test")["id"] for name in ("acme", "globex")
    }
    with made.db.begin() as conn:
        for name in ("acme", "globex", "initech"):
            made.workspace(conn, name, made.paid)
            if name in made.customers:
                _set_customer(conn, made, name, made.customers[name])
    made.push(catalog(made))
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_server.api_key)
    monkeypatch.setenv("ATLAS_STRIPE_API_BASE", stripe_server.url)
    made.stripe = stripe_server
    yield made
    made.db.dispose()


def _set_customer(conn, env, ws_id: str, customer: str) -> None:
    column = "stripeCustomerId" if env.model == "per-seat" else "stripe_customer_id"
    conn.execute(sa.text(f'UPDATE organization SET "{column}" = :c WHERE id = :id'), {"c": customer, "id": ws_id})


def report(env, *args: str, code: int = 0, clock=None) -> dict:
    cli = env.cli(clock) if clock else env.cli()
    result = cli("billing", "report-usage", *args, "--json")
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def by_period(out: dict, ws: str = "acme") -> dict[str, dict]:
    return {row["periodStart"][:10]: row for row in out["rows"] if row["workspaceId"] == ws}


def ledger(env) -> list[dict]:
    c = meter_reports.c
    with env.db.connect() as conn:
        rows = conn.execute(sa.select(meter_reports).order_by(c.workspace_id, c.period_start, c.cumulative))
        return [dict(r) for r in rows.mappings()]


def total(env, ws: str = "acme") -> int:
    return env.stripe.meter_totals(METER).get((METER, env.customers[ws]), 0)


def sends(env) -> int:
    return len(env.stripe.requests_to("POST", "/v1/billing/meter_events"))


def usage(env, ws: str, quantity: int, at: datetime, event_type: str = "report") -> None:
    with env.db.begin() as conn:
        events(conn, ws, [(event_type, quantity, at, None)])


# --- sending ------------------------------------------------------------------------------


def test_first_send_reports_the_previous_and_current_period_as_cumulative_deltas(env):
    usage(env, "acme", 3, OCTOBER + timedelta(days=20))
    usage(env, "acme", 7, MONTH_START + timedelta(days=2))
    usage(env, "acme", 5, NOW - timedelta(minutes=1))
    usage(env, "acme", 100, NOW, event_type="export")  # metered, but without a stripe_meter: never sent
    usage(env, "acme", 50, NOVEMBER_END)  # the next period's
    out = report(env, "-w", "acme")
    assert out["billingModel"] == env.model and out["dryRun"] is False and out["skipped"] == []
    rows = by_period(out)
    assert set(rows) == {"2026-10-01", "2026-11-01"}
    october, november = rows["2026-10-01"], rows["2026-11-01"]
    assert (october["usage"], october["previouslySent"], october["delta"], october["status"]) == (3, 0, 3, "sent")
    assert (november["usage"], november["previouslySent"], november["delta"], november["status"]) == (12, 0, 12, "sent")
    assert november["feature"] == "reports" and november["meter"] == METER
    assert november["periodEnd"] == "2026-12-01T00:00:00.000Z"
    assert october["timestamp"] == "2026-10-31T23:59:59.000Z"  # the closed period's last second
    assert november["timestamp"] == "2026-11-22T15:30:00.000Z"
    assert total(env) == 15
    sent = env.stripe.meter_events
    assert [(e["payload"]["value"], e["identifier"]) for e in sent] == [
        ("3", october["identifier"]),
        ("12", november["identifier"]),
    ]
    assert sent[0]["timestamp"] == int(datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    rows_stored = ledger(env)
    assert [(r["value"], r["cumulative"], r["identifier"]) for r in rows_stored] == [
        (3, 3, october["identifier"]),
        (12, 12, november["identifier"]),
    ]
    assert rows_stored[1]["stripe_customer_id"] == env.customers["acme"]


def test_a_second_run_sends_nothing_and_new_usage_sends_only_the_delta(env):
    usage(env, "acme", 12, NOW - timedelta(hours=1))
    first = by_period(report(env, "-w", "acme"))["2026-11-01"]
    again = by_period(report(env, "-w", "acme"))["2026-11-01"]
    assert (again["usage"], again["previouslySent"], again["delta"], again["status"]) == (12, 12, 0, "unchanged")
    assert again["identifier"] is None
    assert sends(env) == 1 and total(env) == 12
    usage(env, "acme", 4, NOW - timedelta(minutes=5))
    later = by_period(report(env, "-w", "acme"))["2026-11-01"]
    assert (later["usage"], later["previouslySent"], later["delta"], later["status"]) == (16, 12, 4, "sent")
    assert later["identifier"] != first["identifier"]
    assert total(env) == 16
    assert [(r["value"], r["cumulative"]) for r in ledger(env)] == [(12, 12), (4, 16)]


def test_a_resend_of_what_stripe_already_has_is_a_no_op(env):
    """A crash between Stripe's answer and the ledger's commit: the next run sends the same delta
    under the same identifier, and Stripe counts it once."""
    usage(env, "acme", 9, NOW - timedelta(hours=1))
    first = by_period(report(env, "-w", "acme"))["2026-11-01"]
    with env.db.begin() as conn:
        conn.execute(sa.delete(meter_reports))
    second = by_period(report(env, "-w", "acme"))["2026-11-01"]
    assert second["identifier"] == first["identifier"] and second["status"] == "sent"
    assert sends(env) == 2 and total(env) == 9
    assert len(ledger(env)) == 1


def test_a_late_event_of_a_closed_period_is_sent_for_that_period(env):
    usage(env, "acme", 3, OCTOBER + timedelta(days=3))
    report(env, "-w", "acme")
    usage(env, "acme", 2, OCTOBER + timedelta(days=30, hours=23))  # arrives late, still October's
    rows = by_period(report(env, "-w", "acme"))
    assert (rows["2026-10-01"]["previouslySent"], rows["2026-10-01"]["delta"]) == (3, 2)
    assert rows["2026-11-01"]["status"] == "unchanged"
    usage(env, "acme", 1, OCTOBER + timedelta(days=5))
    out = report(env, "-w", "acme", "--period", "1m")  # 2026-10-22: that period alone
    assert [(r["periodStart"][:10], r["delta"], r["status"]) for r in out["rows"]] == [("2026-10-01", 1, "sent")]
    assert total(env) == 6
    assert [e["timestamp"] for e in env.stripe.meter_events] == [
        int(datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    ] * 3


def test_period_current_leaves_the_previous_period_alone(env):
    usage(env, "acme", 3, OCTOBER + timedelta(days=3))
    usage(env, "acme", 4, NOW - timedelta(hours=1))
    out = report(env, "-w", "acme", "--period", "current")
    assert [(r["periodStart"][:10], r["delta"]) for r in out["rows"]] == [("2026-11-01", 4)]
    assert total(env) == 4


def test_a_period_stripe_no_longer_accepts_is_not_sent_and_exits_2(env):
    usage(env, "acme", 8, datetime(2026, 9, 10, tzinfo=UTC))
    result = env.cli()("billing", "report-usage", "-w", "acme", "--period", "2026-09-10", "--json")
    assert result.exit_code == 2, result.stderr
    (row,) = json.loads(result.stdout)["rows"]
    assert (row["usage"], row["status"]) == (8, "too_old")
    assert result.stderr.startswith("Error: 1 period(s) ended too long ago") and "35 days" in result.stderr
    assert sends(env) == 0 and ledger(env) == []


def test_the_subscription_period_is_the_billing_period_and_the_previous_one_is_cut_at_its_start(env):
    start, end = datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 12, 10, tzinfo=UTC)
    with env.db.begin() as conn:
        conn.execute(
            sa.insert(subscription),
            [
                {
                    "id": "s1",
                    "plan": env.paid,
                    "referenceId": "acme",
                    "stripeSubscriptionId": "sub_1",
                    "status": "active",
                    "periodStart": start,
                    "periodEnd": end,
                    "cancelAtPeriodEnd": False,
                }
            ],
        )
    usage(env, "acme", 2, datetime(2026, 11, 5, tzinfo=UTC))
    usage(env, "acme", 6, datetime(2026, 11, 12, tzinfo=UTC))
    rows = by_period(report(env, "-w", "acme"))
    assert {k: (r["periodEnd"][:10], r["usage"], r["periodSource"]) for k, r in rows.items()} == {
        "2026-11-01": ("2026-11-10", 2, "utc-month"),
        "2026-11-10": ("2026-12-10", 6, "stripe"),
    }
    assert total(env) == 8


# --- what is not sent ---------------------------------------------------------------------


def test_dry_run_shows_what_would_be_sent_and_sends_and_records_nothing(env, monkeypatch):
    usage(env, "acme", 5, NOW - timedelta(hours=1))
    monkeypatch.delenv("STRIPE_SECRET_KEY")  # a dry run needs no key
    result = env.cli()("billing", "report-usage", "-w", "acme", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    row = by_period(out)["2026-11-01"]
    assert out["dryRun"] is True and (row["delta"], row["status"]) == (5, "would_send")
    assert row["identifier"].startswith("atlas_")
    assert "Dry run" in result.stderr
    assert env.stripe.requests_to("POST", "/v1/billing/meter_events") == [] and ledger(env) == []
    monkeypatch.setenv("STRIPE_SECRET_KEY", env.stripe.api_key)
    assert by_period(report(env, "-w", "acme"))["2026-11-01"]["identifier"] == row["identifier"]


def test_a_workspace_without_a_customer_is_skipped_and_said_so(env):
    usage(env, "initech", 5, NOW - timedelta(hours=1))
    result = env.cli()("billing", "report-usage", "-w", "initech", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["rows"] == [] and out["skipped"] == [{"workspaceId": "initech", "reason": "no Stripe customer"}]
    assert "Skipped 1 workspace(s) without a Stripe customer: initech" in result.stderr
    assert sends(env) == 0


def test_all_reports_every_workspace_with_a_customer(env):
    usage(env, "acme", 5, NOW - timedelta(hours=1))
    usage(env, "globex", 7, NOW - timedelta(hours=2))
    usage(env, "initech", 9, NOW - timedelta(hours=3))
    out = report(env, "--all")
    sent = [(r["workspaceId"], r["periodStart"][:10], r["delta"], r["status"]) for r in out["rows"]]
    assert sent == [
        ("acme", "2026-10-01", 0, "unchanged"),
        ("acme", "2026-11-01", 5, "sent"),
        ("globex", "2026-10-01", 0, "unchanged"),
        ("globex", "2026-11-01", 7, "sent"),
    ]
    assert out["skipped"] == [{"workspaceId": "initech", "reason": "no Stripe customer"}]
    assert (total(env, "acme"), total(env, "globex")) == (5, 7)


def test_table_and_csv_show_the_same_rows(env):
    usage(env, "acme", 5, NOW - timedelta(hours=1))
    table = env.cli()("billing", "report-usage", "-w", "acme", "--dry-run")
    assert table.exit_code == 0, table.stderr
    assert "Usage that would be sent to Stripe meters" in table.stdout and "would_send" in table.stdout
    assert "2026-11-01 – 2026-11-30" in table.stdout
    result = env.cli()("billing", "report-usage", "-w", "acme", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "workspaceId,feature,meter,periodStart,periodEnd,usage,previouslySent,delta,identifier,status"
    assert lines[2].startswith(f"acme,reports,{METER},2026-11-01T00:00:00.000Z,2026-12-01T00:00:00.000Z,5,0,5,atlas_")
    assert lines[2].endswith(",sent")


# --- failures -----------------------------------------------------------------------------


def test_a_stripe_4xx_stops_sending_keeps_what_was_sent_and_records_nothing_for_it(env):
    usage(env, "acme", 5, NOW - timedelta(hours=1))
    usage(env, "globex", 7, NOW - timedelta(hours=1))
    env.stripe.fail_next(400, path_prefix="/v1/billing/meter_events", message="No such meter.", after=1)
    result = env.cli()("billing", "report-usage", "--all", "--json")
    assert result.exit_code == 6, result.stderr
    assert result.stderr.endswith("\nError: Stripe error (HTTP 400): No such meter.\n")
    statuses = {(r["workspaceId"], r["periodStart"][:10]): r["status"] for r in json.loads(result.stdout)["rows"]}
    assert statuses[("acme", "2026-11-01")] == "sent" and statuses[("globex", "2026-11-01")] == "failed"
    assert [(r["workspace_id"], r["value"]) for r in ledger(env)] == [("acme", 5)]
    assert total(env, "acme") == 5 and total(env, "globex") == 0
    report(env, "--all")  # Stripe answers again: only what is missing goes
    assert (total(env, "acme"), total(env, "globex")) == (5, 7)


def test_a_stripe_5xx_is_retried_then_exits_6_with_nothing_recorded(env):
    usage(env, "acme", 5, NOW - timedelta(hours=1))
    usage(env, "globex", 7, NOW - timedelta(hours=1))
    env.stripe.fail_next(500, times=3, path_prefix="/v1/billing/meter_events")
    result = env.cli()("billing", "report-usage", "--all", "--json")
    assert result.exit_code == 6 and "Stripe error (HTTP 500)" in result.stderr
    statuses = [r["status"] for r in json.loads(result.stdout)["rows"] if r["periodStart"].startswith("2026-11")]
    assert statuses == ["failed", "not_sent"]
    assert sends(env) == 3 and ledger(env) == []  # the first try and two retries
    report(env, "--all")
    assert (total(env, "acme"), total(env, "globex")) == (5, 7)


def test_without_a_stripe_key_it_refuses_in_self_hosted_mode(env, monkeypatch):
    usage(env, "acme", 5, NOW - timedelta(hours=1))
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    err = env.cli().fails(5, "billing", "report-usage", "-w", "acme")
    assert "STRIPE_SECRET_KEY is not set" in err
    assert env.stripe.requests == [] and ledger(env) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-w", "acme", "--all"), "give either --workspace or --all"),
        (("-w", "acme", "--period", "last"), "--period: 'last' is neither 'current' nor a date"),
        (("-w", "acme", "--period", "2026-11-23"), "--period: 2026-11-23 is in the future"),
    ],
)
def test_bad_input_exits_2_before_anything_is_sent(env, args, message):
    usage(env, "acme", 5, NOW - timedelta(hours=1))
    assert message in env.cli().fails(2, "billing", "report-usage", *args)
    assert env.stripe.requests == [] and ledger(env) == []


def test_unknown_workspace_exits_3(env):
    assert "workspace 'nope' not found" in env.cli().fails(3, "billing", "report-usage", "-w", "nope")


def test_a_catalog_without_a_stripe_meter_has_nothing_to_bill(env):
    env.push(catalog(env).replace(f'stripe_meter = "{METER}"\n', ""))
    assert "no metered feature with a stripe_meter" in env.cli().fails(5, "billing", "report-usage", "-w", "acme")


# --- runs at once, and a workspace deleted under a run ----------------------------------------


def _service(env):
    from atlas_cli.config import load_settings
    from atlas_cli.db.database import Database
    from atlas_cli.services.meter_reports import MeterReportService
    from atlas_cli.stripe_gateway import StripeGateway
    from tests.factories import clock

    return MeterReportService(Database(env.db.url), clock, StripeGateway(load_settings()))


def test_two_runs_at_once_send_the_usage_once(env):
    import threading

    usage(env, "acme", 7, MONTH_START + timedelta(days=2))
    usage(env, "globex", 4, OCTOBER + timedelta(days=3))
    usage(env, "globex", 9, NOW - timedelta(hours=2))
    services = [_service(env) for _ in range(2)]
    start = threading.Barrier(len(services))
    results: list[object] = []

    def run(service) -> None:
        start.wait()
        try:
            results.append(service.report(None, all_workspaces=True))
        except Exception as exc:  # the test fails below, naming it
            results.append(exc)

    threads = [threading.Thread(target=run, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(isinstance(result, Exception) for result in results), results
    statuses = sorted(row.status for result in results for row in result.rows if row.usage)
    assert statuses == ["sent", "sent", "sent", "unchanged", "unchanged", "unchanged"]  # each delta once
    assert (total(env, "acme"), total(env, "globex")) == (7, 13)
    assert [(r["workspace_id"], r["value"]) for r in ledger(env)] == [("acme", 7), ("globex", 4), ("globex", 9)]
    assert sends(env) == 3
    for service in services:
        service._db.dispose()


def test_a_workspace_deleted_between_measuring_and_sending_is_not_billed(env):
    if env.db.url.startswith("sqlite"):
        pytest.skip("the deletion runs from a second connection while the first send holds SQLite's write lock")
    from atlas_cli.stripe_gateway import StripeGateway

    usage(env, "acme", 2, NOW - timedelta(hours=1))
    usage(env, "globex", 3, NOW - timedelta(hours=1))
    service = _service(env)
    gateway: StripeGateway = service._stripe
    send = gateway.send_meter_event

    def send_then_delete_globex(*args, **kwargs):
        with env.db.begin() as conn:  # another connection: acme's row is locked, globex's is not
            conn.execute(sa.text("DELETE FROM organization WHERE id = 'globex'"))
        return send(*args, **kwargs)

    gateway.send_meter_event = send_then_delete_globex
    out = service.report(None, all_workspaces=True)
    rows = {(row.workspace_id, row.status) for row in out.rows if row.usage}
    assert rows == {("acme", "sent"), ("globex", "deleted")} and out.failure is None
    assert total(env, "acme") == 2 and env.customers["globex"] not in {c for _, c in env.stripe.meter_totals(METER)}
    assert [r["workspace_id"] for r in ledger(env)] == ["acme"]
    service._db.dispose()
