"""Which billing model a database was laid out for (DESIGN section 4, Detection).

Per-seat when the `organization.plan_tier` CHECK constraint lists a tier only the per-seat
catalog knows (`starter`, ...); classic otherwise, and on a database without the constraint
(SQLite) unless a workspace already holds such a tier. `ATLAS_BILLING_MODEL` overrides it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from atlas_cli.errors import BadInput

T = TypeVar("T")

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from atlas_cli.db.stripe_ledger import Ledger
    from atlas_cli.domain.catalog import Catalog, Meter

CLASSIC, PER_SEAT = "classic", "per-seat"
# The workspace_plugins pillar that each per-seat resource counter counts.
PILLARS = (("connections", "datasource"), ("chat", "chat"), ("knowledge", "knowledge"))
MODELS = (CLASSIC, PER_SEAT)


@dataclass(frozen=True)
class Detection:
    model: str
    reason: str


def per_seat_only_tiers() -> tuple[str, ...]:
    """The tiers the per-seat catalog knows and the classic one does not, in catalog order."""
    from atlas_cli.catalogs import builtin

    classic = builtin(CLASSIC).plans
    return tuple(tier for tier in builtin(PER_SEAT).plans if tier not in classic)


def parse_model(value: str, source: str = "ATLAS_BILLING_MODEL") -> str:
    """`classic` or `per-seat` (case and spacing ignored; `per_seat` and `perseat` accepted).

    Raises:
        BadInput: any other value.
    """
    model = value.strip().lower().replace("_", "-")
    model = PER_SEAT if model == "perseat" else model
    if model not in MODELS:
        raise BadInput(f"{source}: {value.strip()!r} is not a billing model; use classic or per-seat")
    return model


def detect(conn: Connection, override: str | None = None) -> Detection:
    """The billing model of this database, and why.

    Raises:
        BadInput: an override that names no billing model.
    """
    if override is not None and override.strip():
        model = parse_model(override)
        return Detection(model, f"ATLAS_BILLING_MODEL={model} overrides detection")
    import sqlalchemy as sa

    from atlas_cli.db.migrate import tier_values

    inspector = sa.inspect(conn)
    if not inspector.has_table("organization"):
        return Detection(CLASSIC, "no organization table yet: the classic model is the default")
    if "plan_tier" not in {c["name"] for c in inspector.get_columns("organization")}:
        return Detection(CLASSIC, "the organization table has no plan_tier column: the classic model is the default")
    marker = per_seat_only_tiers()
    listed = tier_values(conn)
    if listed is not None:
        found = [tier for tier in marker if tier in listed]
        if found:
            return Detection(PER_SEAT, f"the organization.plan_tier constraint lists {found[0]!r}")
        return Detection(CLASSIC, f"the organization.plan_tier constraint lists no per-seat tier ({marker[0]!r})")
    from atlas_cli.db.schema import organization

    holder = conn.execute(
        sa.select(organization.c.id, organization.c.plan_tier).where(organization.c.plan_tier.in_(marker)).limit(1)
    ).first()
    if holder is not None:
        return Detection(PER_SEAT, f"no plan_tier constraint, and workspace {holder[0]} holds the tier {holder[1]!r}")
    return Detection(CLASSIC, "no plan_tier constraint and no workspace on a per-seat tier")


class Layout:
    """Where a billing model keeps what differs between the two generations: the organization's
    columns, seats and resource counters, the cost of an event, settings. Services ask the layout
    and never branch on the model."""

    model = CLASSIC
    counters: tuple[str, ...] = ("seats", "connections")

    @property
    def organization(self) -> Any:
        from atlas_cli.db.schema import organization

        return organization

    @property
    def usage_events(self) -> Any:
        from atlas_cli.db.schema import usage_events

        return usage_events

    @property
    def customer_column(self) -> str:
        return "stripe_customer_id"

    @property
    def server_tables(self) -> tuple[Any, ...]:
        """The server's tables atlas needs, each with the columns atlas uses: what `db status` checks."""
        from atlas_cli.db.schema import ATLAS_TABLES

        return ATLAS_TABLES

    @property
    def creatable_tables(self) -> tuple[Any, ...]:
        """The server's tables atlas's migrations create when missing (classic servers never
        dropped one, so atlas completes a schema that lacks some)."""
        from atlas_cli.db.schema import ATLAS_TABLES

        return ATLAS_TABLES

    @property
    def init_tables(self) -> tuple[Any, ...]:
        """The server's tables `db init` lays out on an empty database, before atlas's own."""
        return self.creatable_tables

    def counts(self, conn: Connection, workspace_id: str, now: datetime) -> dict[str, int]:
        """Members, pending invitations, and each built-in counter (seats = members + pending)."""
        import sqlalchemy as sa

        row = conn.execute(sa.select(*self._count_columns(sa.literal(workspace_id, sa.Text), now))).mappings().one()
        return _with_seats(dict(row))

    def counts_many(self, conn: Connection, ids: Sequence[str], now: datetime) -> dict[str, dict[str, int]]:
        """`counts` of every workspace in `ids`, in one statement per batch of workspaces: the same
        counting subqueries, correlated to each organization row."""
        import sqlalchemy as sa

        org = self.organization
        found: dict[str, dict[str, int]] = {}
        for batch in batches(list(ids)):
            rows = conn.execute(
                sa.select(org.c.id.label("_workspace"), *self._count_columns(org.c.id, now)).where(org.c.id.in_(batch))
            ).mappings()
            for row in rows:
                found[row["_workspace"]] = _with_seats({k: v for k, v in row.items() if k != "_workspace"})
        return found

    def _count_columns(self, workspace: Any, now: datetime) -> list[Any]:
        """The counting subqueries of one workspace (`workspace`: its id, a literal or a column)."""
        from atlas_cli.db.schema import connections, invitations, member

        return [
            _count(member, member.c.organizationId == workspace).label("members"),
            _count(invitations, invitations.c.org_id == workspace, invitations.c.status == "pending").label(
                "pending_invitations"
            ),
            _count(connections, connections.c.org_id == workspace).label("connections"),
        ]

    def settings(self, conn: Connection, workspace_id: str, keys: Sequence[str]) -> dict[str, str | None]:
        """Setting values for `keys` (the workspace's row, else the platform row): none here."""
        return dict.fromkeys(keys)

    def settings_many(
        self, conn: Connection, ids: Sequence[str], keys: Sequence[str]
    ) -> dict[str, dict[str, str | None]]:
        """`settings` of every workspace in `ids`: none here."""
        return {ws_id: dict.fromkeys(keys) for ws_id in ids}

    def overage_reported(self, conn: Connection, periods: Mapping[str, datetime]) -> dict[str, int]:
        """Cents of metered overage reported to Stripe per workspace for the period starting at
        `periods[workspace_id]`: this model reports none (it has no overage ledger)."""
        return {}

    def platform_settings(self, conn: Connection, keys: Sequence[str]) -> dict[str, str | None]:
        """Platform-wide setting values for `keys` (rows with org_id NULL): none here."""
        return dict.fromkeys(keys)

    def has_column(self, column: str) -> bool:
        """Whether the organization table has `column` (a suspension ladder, a plan override)."""
        return column in self.organization.c

    @property
    def ledger(self) -> Ledger:
        """Where applied Stripe webhook events are recorded: atlas's own atlas_stripe_events."""
        from atlas_cli.db.stripe_ledger import AtlasLedger

        return AtlasLedger()

    def trial_grants_elsewhere(self, conn: Connection, workspace_id: str) -> dict[str, str]:
        """The workspace's owners who already used their one trial on another workspace
        (owner user id -> that workspace's id): none here, a classic server grants no trials per user."""
        return {}

    def grant_trial(self, conn: Connection, workspace_id: str, now: datetime) -> tuple[str, ...]:
        """Record that the workspace's owners used their one trial on it; the user ids recorded: none here."""
        return ()


class PerSeatLayout(Layout):
    model = PER_SEAT
    counters = ("seats", "connections", "chat", "knowledge")

    @property
    def organization(self) -> Any:
        from atlas_cli.db.per_seat_schema import organization

        return organization

    @property
    def usage_events(self) -> Any:
        from atlas_cli.db.per_seat_schema import usage_events

        return usage_events

    @property
    def customer_column(self) -> str:
        return "stripeCustomerId"

    @property
    def server_tables(self) -> tuple[Any, ...]:
        from atlas_cli.db import per_seat_schema, schema

        return (schema.user, schema.member, schema.usage_summaries, *per_seat_schema.SERVER_TABLES)

    @property
    def creatable_tables(self) -> tuple[Any, ...]:
        """None: the per-seat server's migrations own its tables (and dropped `connections` and
        `invitations` on purpose); atlas adds only its own `atlas_` objects."""
        return ()

    @property
    def init_tables(self) -> tuple[Any, ...]:
        from atlas_cli.db.per_seat_server import TABLES

        return TABLES

    def _count_columns(self, workspace: Any, now: datetime) -> list[Any]:
        """Members; pending, unexpired invitations; plugin rows of each capped pillar not archived."""
        from atlas_cli.db.per_seat_schema import invitation, workspace_plugins
        from atlas_cli.db.schema import member

        plugins = workspace_plugins.c
        pending = _count(
            invitation,
            invitation.c.organizationId == workspace,
            invitation.c.status == "pending",
            invitation.c.expiresAt > now,
        )
        pillars = [
            _count(
                workspace_plugins,
                plugins.workspace_id == workspace,
                plugins.pillar == pillar,
                plugins.status != "archived",
            ).label(counter)
            for counter, pillar in PILLARS
        ]
        return [
            _count(member, member.c.organizationId == workspace).label("members"),
            pending.label("pending_invitations"),
            *pillars,
        ]

    def settings(self, conn: Connection, workspace_id: str, keys: Sequence[str]) -> dict[str, str | None]:
        """Each key's value: the workspace's own row, else the platform row (org_id NULL)."""
        import sqlalchemy as sa

        from atlas_cli.db.per_seat_schema import settings

        s = settings.c
        rows = conn.execute(
            sa.select(s.key, s.value, s.org_id).where(
                s.key.in_(list(keys)), sa.or_(s.org_id == workspace_id, s.org_id.is_(None))
            )
        ).all()
        found: dict[str, str | None] = dict.fromkeys(keys)
        for key, value, _org in sorted(rows, key=lambda r: r[2] is not None):  # platform first, then workspace
            found[key] = value
        return found

    def settings_many(
        self, conn: Connection, ids: Sequence[str], keys: Sequence[str]
    ) -> dict[str, dict[str, str | None]]:
        """`settings` of every workspace in `ids`: the platform rows and the workspaces' own rows
        in one statement per batch; a workspace's row wins over the platform's."""
        import sqlalchemy as sa

        from atlas_cli.db.per_seat_schema import settings

        s = settings.c
        platform: dict[str, str | None] = dict.fromkeys(keys)
        own: dict[str, dict[str, str | None]] = {ws_id: {} for ws_id in ids}
        for batch in batches(list(ids)):
            rows = conn.execute(
                sa.select(s.key, s.value, s.org_id).where(
                    s.key.in_(list(keys)), sa.or_(s.org_id.in_(batch), s.org_id.is_(None))
                )
            ).all()
            for key, value, org_id in rows:
                if org_id is None:
                    platform[key] = value
                elif org_id in own:
                    own[org_id][key] = value
        return {ws_id: {**platform, **own[ws_id]} for ws_id in ids}

    def overage_reported(self, conn: Connection, periods: Mapping[str, datetime]) -> dict[str, int]:
        """`reported_cost_cents` of the server's overage_meter_reports row of each workspace and
        period start (the cumulative cents it sent to Stripe's meter), in one statement per
        batch; a workspace without a row is absent. Rows of other periods are never read."""
        import sqlalchemy as sa

        from atlas_cli.db.per_seat_schema import overage_meter_reports

        r = overage_meter_reports.c
        found: dict[str, int] = {}
        pairs = list(periods.items())
        for batch in batches(pairs):
            rows = conn.execute(
                sa.select(r.org_id, r.reported_cost_cents).where(sa.tuple_(r.org_id, r.period_start).in_(batch))
            ).all()
            found.update({org_id: int(cents) for org_id, cents in rows})
        return found

    def platform_settings(self, conn: Connection, keys: Sequence[str]) -> dict[str, str | None]:
        """Platform-wide values (org_id NULL) of `keys`, as the server reads its platform-scoped keys."""
        import sqlalchemy as sa

        from atlas_cli.db.per_seat_schema import settings

        s = settings.c
        found: dict[str, str | None] = dict.fromkeys(keys)
        if keys:
            rows = conn.execute(sa.select(s.key, s.value).where(s.key.in_(list(keys)), s.org_id.is_(None))).all()
            found.update({key: value for key, value in rows})
        return found

    @property
    def ledger(self) -> Ledger:
        """The server's own stripe_webhook_events: an event applied by either is applied once."""
        from atlas_cli.db.stripe_ledger import ServerLedger

        return ServerLedger()

    def trial_grants_elsewhere(self, conn: Connection, workspace_id: str) -> dict[str, str]:
        """Owners of the workspace (member.role `owner`) whose `user_trial_grants` row names
        another workspace: owner user id -> the workspace their trial went to."""
        import sqlalchemy as sa

        from atlas_cli.db.per_seat_schema import user_trial_grants as grants

        rows = conn.execute(
            sa.select(grants.c.user_id, grants.c.org_id)
            .where(grants.c.user_id.in_(_owners(workspace_id)), grants.c.org_id != workspace_id)
            .order_by(grants.c.user_id)
        ).all()
        return {str(user_id): str(org_id) for user_id, org_id in rows}

    def grant_trial(self, conn: Connection, workspace_id: str, now: datetime) -> tuple[str, ...]:
        """One `user_trial_grants` row per owner of the workspace (user_id, org_id, granted_at = now),
        in one statement; an owner who already holds a row keeps it (ON CONFLICT DO NOTHING, as the
        server claims a grant). The user ids inserted."""
        import sqlalchemy as sa

        from atlas_cli.db.dialect import insert_for
        from atlas_cli.db.per_seat_schema import user_trial_grants as grants
        from atlas_cli.db.types import UTCDateTime

        owners = _owners(workspace_id).add_columns(
            sa.literal(workspace_id, sa.Text).label("org_id"), sa.literal(now, UTCDateTime()).label("granted_at")
        )
        stmt = (
            insert_for(conn, grants)
            .from_select(["user_id", "org_id", "granted_at"], owners)
            .on_conflict_do_nothing(index_elements=[grants.c.user_id])
            .returning(grants.c.user_id)
        )
        return tuple(sorted(str(user_id) for user_id in conn.execute(stmt).scalars()))


OWNER_ROLE = "owner"  # member.role of a workspace's owner, as the server writes it


def _owners(workspace_id: str) -> Any:
    """SELECT DISTINCT the user ids of the workspace's owners."""
    import sqlalchemy as sa

    from atlas_cli.db.schema import member

    return (
        sa.select(member.c.userId)
        .where(member.c.organizationId == workspace_id, member.c.role == OWNER_ROLE)
        .distinct()
    )


def layout_for(model: str) -> Layout:
    return PerSeatLayout() if model == PER_SEAT else Layout()


@dataclass(frozen=True)
class Billing:
    """A database's billing model: why it was chosen, its built-in catalog and its layout."""

    detection: Detection
    layout: Layout

    @property
    def model(self) -> str:
        return self.detection.model

    @property
    def catalog(self) -> Catalog:
        from atlas_cli.catalogs import builtin

        return builtin(self.model)


def billing_for(conn: Connection, override: str | None = None) -> Billing:
    """Raises BadInput for an override that names no billing model."""
    detection = detect(conn, override)
    return Billing(detection, layout_for(detection.model))


def _with_seats(row: Mapping[str, Any]) -> dict[str, int]:
    found = {key: int(value) for key, value in row.items()}
    found["seats"] = found["members"] + found["pending_invitations"]
    return found


def _count(table: Any, *where: Any) -> Any:
    import sqlalchemy as sa

    return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()


MICROS = 1_000_000  # gateway_cost_usd is numeric(12, 6): summed as whole micro-dollars, exactly


def meter_totals(
    conn: Connection, layout: Layout, workspace_id: str, window: Any, meters: Mapping[str, Meter]
) -> dict[str, Any]:
    """Each meter's total over the workspace's events in `window`, plus `active_users` (distinct
    users with a login), in one statement. Costs come back as exact Decimal dollars."""
    import sqlalchemy as sa

    e = layout.usage_events.c
    columns = [sa.func.count(sa.distinct(sa.case((e.event_type == "login", e.user_id)))).label("active_users")]
    columns += meter_columns(e, meters)
    row = (
        conn.execute(
            sa.select(*columns).where(
                e.workspace_id == workspace_id, e.created_at >= window.start, e.created_at < window.end
            )
        )
        .mappings()
        .one()
    )
    totals: dict[str, Any] = {"active_users": int(row["active_users"])}
    totals.update(as_totals({key: int(row[key]) for key in meters}, meters))
    return totals


def cost_micros(e: Any) -> Any:
    """An event's gateway cost in whole micro-dollars (0 without one), as every meter sums it."""
    import sqlalchemy as sa

    return sa.cast(sa.func.round(sa.func.coalesce(e.gateway_cost_usd, 0) * MICROS), sa.BigInteger)


def meter_columns(e: Any, meters: Mapping[str, Meter]) -> list[Any]:
    """The SQL total of each meter over the selected events, labelled by its key (costs in whole
    micro-dollars).

    Raises:
        BadInput: a meter sums costs and the events record none.
    """
    import sqlalchemy as sa

    columns = []
    for key, meter in meters.items():
        if meter.sum == "cost":
            if "gateway_cost_usd" not in e:
                raise BadInput(f"the {key!r} meter sums event costs, which this database does not record")
            amount: Any = cost_micros(e)
        else:
            amount = e.quantity
        total = sa.func.coalesce(sa.func.sum(sa.case((e.event_type.in_(meter.event_types), amount), else_=0)), 0)
        columns.append(total.label(key))
    return columns


def as_totals(sums: Mapping[str, int], meters: Mapping[str, Meter]) -> dict[str, Any]:
    """Integer meter sums as totals: costs (summed in micro-dollars) as exact Decimal dollars."""
    return {key: Decimal(value) / MICROS if meters[key].sum == "cost" else value for key, value in sums.items()}


def meter_totals_by_workspace(
    conn: Connection, layout: Layout, windows: Mapping[str, Any], key: str, meter: Meter
) -> dict[str, Any]:
    """One meter's total for each workspace over its own window (`windows[workspace_id]`), in one
    statement per batch of workspaces (see `meters_by_workspace`)."""
    return {ws_id: totals[key] for ws_id, totals in meters_by_workspace(conn, layout, windows, {key: meter}).items()}


def meters_by_workspace(
    conn: Connection, layout: Layout, windows: Mapping[str, Any], meters: Mapping[str, Meter]
) -> dict[str, dict[str, Any]]:
    """Every meter's total for each workspace over its own window (`windows[workspace_id]`) from
    the raw events, in one statement per batch of workspaces, whatever the number of meters (see
    `raw_meter_sums`). Every workspace gets each total (0 without events); costs are exact Decimal
    dollars, as `meter_totals` gives them."""
    if not meters:
        return {ws_id: {} for ws_id in windows}
    spans = [(ws_id, window.start, window.end) for ws_id, window in windows.items()]
    return {ws_id: as_totals(sums, meters) for ws_id, sums in raw_meter_sums(conn, layout, spans, meters).items()}


def raw_meter_sums(
    conn: Connection, layout: Layout, spans: Sequence[tuple[str, datetime, datetime]], meters: Mapping[str, Meter]
) -> dict[str, dict[str, int]]:
    """Each meter's integer sum (micro-dollars for costs) over the raw events of each workspace's
    spans (workspace id, start, end; a workspace may have several, disjoint), in one statement
    per batch of spans: the spans are a derived table joined to the events, grouped by workspace.
    Every workspace named gets each sum (0 without events)."""
    import sqlalchemy as sa

    from atlas_cli.db import dialect

    e = layout.usage_events.c
    sums: dict[str, dict[str, int]] = {}
    for batch in batches(list(spans)):
        table = dialect.windows(conn, batch)
        in_window = sa.and_(
            e.workspace_id == table.c.workspace_id,
            e.created_at >= table.c.period_start,
            e.created_at < table.c.period_end,
        )
        rows = conn.execute(
            sa.select(table.c.workspace_id.label("_workspace"), *meter_columns(e, meters))
            .select_from(table.outerjoin(layout.usage_events, in_window))
            .group_by(table.c.workspace_id)
        ).mappings()
        for row in rows:
            found = sums.setdefault(row["_workspace"], dict.fromkeys(meters, 0))
            for key in meters:
                found[key] += int(row[key])
    return sums


BATCH = 500  # workspaces per statement: SQLite takes at most 32,766 bound parameters


def batches(items: Sequence[T], size: int = BATCH) -> list[list[T]]:
    """`items` in lists of at most `size`, in order: one statement's worth each."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
