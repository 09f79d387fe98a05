"""`billing report-usage`: usage-based billing in arrears through Stripe's meters (DESIGN 4c).

For every workspace with a Stripe customer and every metered feature of the operator catalog that
names a `stripe_meter`, the usage of each billing period asked for (by default the current one and
the previous one) is measured, what `atlas_meter_reports` says was already sent is subtracted, and
the difference is sent as one meter event whose identifier makes a resend a no-op; each send is
recorded in the same transaction that holds the workspace's row lock, so two runs at once never
send the same usage twice. What was sent before a Stripe failure stays recorded; nothing is
recorded for the failed send, and nothing after it is attempted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from atlas_cli.db import meter_reports as ledger
from atlas_cli.db import queries, workspace_sets
from atlas_cli.db.database import Database
from atlas_cli.domain import meter_reports as rules
from atlas_cli.domain.operator_catalog import OperatorFeature
from atlas_cli.domain.periods import Window
from atlas_cli.errors import AtlasError, BadInput, ExitCode, NotConfigured
from atlas_cli.services import Clock
from atlas_cli.services.catalogs import in_force
from atlas_cli.services.models import Subscription
from atlas_cli.services.workspaces import period_of, resolve

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, RowMapping

    from atlas_cli.db.layout import Billing
    from atlas_cli.stripe_gateway import StripeGateway

NO_CUSTOMER = "no Stripe customer"
SENT, WOULD_SEND, FAILED, NOT_SENT, DELETED = "sent", "would_send", "failed", "not_sent", "deleted"


@dataclass(frozen=True)
class MeterRow:
    """One workspace's feature in one billing period: measured, already sent, and what happened."""

    workspace_id: str
    workspace_slug: str | None
    feature: str
    meter: str
    period: Window
    period_source: str  # stripe | utc-month
    customer: str
    usage: int
    previously_sent: int
    status: str  # sent, would_send, unchanged, over_reported, too_old, failed, not_sent, deleted
    identifier: str | None = None
    timestamp: datetime | None = None

    @property
    def delta(self) -> int:
        """What this row sends (or would): usage beyond what was sent; 0 when there is nothing to send."""
        return max(0, self.usage - self.previously_sent) if self.status != rules.OVER_REPORTED else 0


@dataclass(frozen=True)
class Skipped:
    workspace_id: str
    reason: str


@dataclass(frozen=True)
class UsageReport:
    billing_model: str
    dry_run: bool
    rows: tuple[MeterRow, ...]
    skipped: tuple[Skipped, ...]
    failure: AtlasError | None = None  # the Stripe error that stopped sending

    @property
    def too_old(self) -> tuple[MeterRow, ...]:
        return tuple(row for row in self.rows if row.status == rules.TOO_OLD)

    @property
    def exit_code(self) -> int:
        """The Stripe failure's code; 2 when a period asked for is too old for Stripe; else 0."""
        if self.failure is not None:
            return int(self.failure.exit_code)
        return int(ExitCode.BAD_INPUT) if self.too_old else 0


@dataclass(frozen=True)
class _Target:
    id: str
    slug: str | None
    customer: str
    subscriptions: tuple[Subscription, ...]


class MeterReportService:
    def __init__(self, db: Database, clock: Clock, gateway: StripeGateway) -> None:
        self._db = db
        self._clock = clock
        self._stripe = gateway

    def report(
        self, workspace: str | None, *, all_workspaces: bool = False, period: str | None = None, dry_run: bool = False
    ) -> UsageReport:
        """Measure, then send each delta (or, with `dry_run`, only show it).

        Raises:
            BadInput: both a workspace and `all_workspaces`; a `period` that is neither `current`
                nor a date, or a date ahead of now.
            NotConfigured: no STRIPE_SECRET_KEY (unless `dry_run`); no meter ledger table (run
                `atlas db upgrade`); no metered feature with a `stripe_meter` in the catalog.
            NotFound: unknown workspace.
        """
        if all_workspaces and workspace:
            raise BadInput("give either --workspace or --all, not both")
        now = self._clock()
        try:
            choice = rules.parse_period(period, now=now)
        except ValueError as exc:
            raise BadInput(f"--period: {exc}") from None
        if choice.day is not None and rules.day_moment(choice.day) > now:
            raise BadInput(f"--period: {choice.day.isoformat()} is in the future; its usage cannot be billed yet")
        if not dry_run:
            self._stripe.client  # noqa: B018 -- exit 5 in self-hosted mode, before anything else
        with self._db.connect() as conn:
            billing = self._db.billing(conn)
            features = _metered_features(conn, billing)
            targets, skipped = _targets(conn, billing, workspace, all_workspaces)
            planned = _measure(conn, billing, features, targets, choice, now)
        rows, failure = self._send(billing, planned, now, dry_run)
        return UsageReport(billing.model, dry_run, tuple(rows), tuple(skipped), failure)

    def _send(
        self, billing: Billing, planned: list[MeterRow], now: datetime, dry_run: bool
    ) -> tuple[list[MeterRow], AtlasError | None]:
        """Each row with something to send, in its own transaction; stops at the first Stripe failure."""
        from atlas_cli.errors import StripeFailure

        done: list[MeterRow] = []
        failure: AtlasError | None = None
        for row in planned:
            if row.status != rules.SEND:
                done.append(row)
            elif failure is not None:
                done.append(replace(row, status=NOT_SENT))
            elif dry_run:
                done.append(replace(row, status=WOULD_SEND))
            else:
                try:
                    done.append(self._send_one(billing, row, now))
                except StripeFailure as exc:
                    failure = exc
                    done.append(replace(row, status=FAILED))
        return done, failure

    def _send_one(self, billing: Billing, row: MeterRow, now: datetime) -> MeterRow:
        """Lock the workspace, read what was sent again (another run may have sent meanwhile),
        record the event and send it; a Stripe error rolls the record back. A workspace whose row
        was deleted since it was measured is not billed (status `deleted`)."""
        from atlas_cli.db import billing_queries as bq

        with self._db.begin() as conn:
            if bq.lock_organization_if_present(conn, billing.layout.organization, row.workspace_id) is None:
                return replace(row, status=DELETED, identifier=None)
            sent = ledger.sent_total(conn, row.workspace_id, row.feature, row.period.start)
            status = rules.outcome(row.usage, sent, row.timestamp or now, now)
            if status != rules.SEND:
                return replace(row, previously_sent=sent, status=status, identifier=None)
            ident = rules.identifier(row.workspace_id, row.feature, row.meter, row.period.start, row.usage)
            assert row.timestamp is not None
            ledger.record(conn, _ledger_row(row, sent, ident, now))
            self._stripe.send_meter_event(row.meter, row.customer, row.usage - sent, ident, row.timestamp)
        return replace(row, previously_sent=sent, status=SENT, identifier=ident)


def _ledger_row(row: MeterRow, sent: int, ident: str, now: datetime) -> dict[str, object]:
    assert row.timestamp is not None
    return {
        "workspace_id": row.workspace_id,
        "identifier": ident,
        "feature": row.feature,
        "meter": row.meter,
        "period_start": row.period.start,
        "period_end": row.period.end,
        "value": row.usage - sent,
        "cumulative": row.usage,
        "stripe_customer_id": row.customer,
        "event_timestamp": row.timestamp,
        "sent_at": now,
    }


def _metered_features(conn: Connection, billing: Billing) -> list[OperatorFeature]:
    """The operator catalog's metered features that name a Stripe meter, by key.

    Raises: NotConfigured: no ledger table, or no such feature."""
    if not ledger.has_table(conn):
        raise NotConfigured("this database has no meter ledger (atlas_meter_reports) yet: run `atlas db upgrade`")
    catalog = in_force(conn, billing).catalog
    found = [f for _, f in sorted(catalog.features.items()) if f.kind == "metered" and f.stripe_meter]
    if not found:
        raise NotConfigured(
            "the operator catalog has no metered feature with a stripe_meter: nothing is billed in arrears "
            '(add `stripe_meter = "<meter event name>"` to a metered feature and `atlas plans push` it)'
        )
    return found


def _targets(
    conn: Connection, billing: Billing, workspace: str | None, all_workspaces: bool
) -> tuple[list[_Target], list[Skipped]]:
    """The workspaces to bill (each with its Stripe customer: its own column, else its
    subscription row's, as the other Stripe commands read it) and those skipped for lack of one."""
    from atlas_cli.db import billing_queries as bq

    layout = billing.layout
    if all_workspaces:
        billed = bq.billed_organizations(conn, layout.organization, layout.customer_column, None)
        everyone = [row["id"] for row in queries.all_workspaces(conn, layout.organization)]
    else:
        ws = resolve(conn, workspace, layout)
        billed = bq.billed_organizations(conn, layout.organization, layout.customer_column, ws.id)
        everyone = [ws.id]
    have = {row["id"] for row in billed}
    skipped = [Skipped(ws_id, NO_CUSTOMER) for ws_id in everyone if ws_id not in have]
    subs = workspace_sets.subscriptions_by_workspace(conn, sorted(have))
    targets = [_target(row, subs[row["id"]]) for row in sorted(billed, key=lambda r: r["id"])]
    return targets, skipped


def _target(row: RowMapping, subs: Sequence[RowMapping]) -> _Target:
    return _Target(row["id"], row["slug"], row["customer_id"], tuple(Subscription.from_row(s) for s in subs))


def _periods(billing: Billing, target: _Target, choice: rules.PeriodChoice, now: datetime) -> list[tuple[Window, str]]:
    """The billing periods to report for one workspace, oldest first: the one holding `--period`'s
    date, or the current one, with (by default) the previous one while Stripe still accepts it."""
    subs = list(target.subscriptions)
    anchor = rules.day_moment(choice.day) if choice.day is not None else now
    current, source = period_of(billing, subs, anchor)
    periods = [(current, source)]
    if choice.default:
        before, before_source = period_of(billing, subs, current.start - timedelta(microseconds=1))
        previous = rules.previous_window(current, before)
        if previous is not None and rules.sendable(rules.event_timestamp(previous, now), now):
            periods.insert(0, (previous, before_source))
    return periods


def _measure(
    conn: Connection,
    billing: Billing,
    features: list[OperatorFeature],
    targets: list[_Target],
    choice: rules.PeriodChoice,
    now: datetime,
) -> list[MeterRow]:
    """Usage and what was sent, for every target, feature and period: one scan of the events per
    set of periods shared by workspaces, and one statement for the ledger."""
    if not targets:
        return []
    shared: dict[tuple[Subscription, ...], list[tuple[Window, str]]] = {}  # most workspaces: none, the month
    periods: dict[str, list[tuple[Window, str]]] = {}
    for t in targets:
        if t.subscriptions not in shared:
            shared[t.subscriptions] = _periods(billing, t, choice, now)
        periods[t.id] = shared[t.subscriptions]
    since = min(window.start for p in periods.values() for window, _ in p)
    sent = ledger.sent_totals(conn, [t.id for t in targets], [f.key for f in features], since)
    groups: dict[tuple[Window, ...], list[str]] = {}
    for ws_id, spans in periods.items():
        groups.setdefault(tuple(window for window, _ in spans), []).append(ws_id)
    usage = ledger.usage_totals(conn, billing.layout.usage_events, groups, {f.key: f.event_types for f in features})
    rows: list[MeterRow] = []
    for feature in features:
        assert feature.stripe_meter is not None
        for target in targets:
            for window, source in periods[target.id]:
                used = usage.get((target.id, feature.key, window.start), 0)
                already = sent.get((target.id, feature.key, window.start), 0)
                stamp = rules.event_timestamp(window, now)
                status = rules.outcome(used, already, stamp, now)
                ident = None
                if status == rules.SEND:
                    ident = rules.identifier(target.id, feature.key, feature.stripe_meter, window.start, used)
                rows.append(
                    MeterRow(
                        target.id,
                        target.slug,
                        feature.key,
                        feature.stripe_meter,
                        window,
                        source,
                        target.customer,
                        used,
                        already,
                        status,
                        ident,
                        stamp,
                    )
                )
    rows.sort(key=lambda r: (r.workspace_id, r.feature, r.period.start))
    return rows
