"""The tables atlas works on: Atlas's own (names and columns exactly as the server has them)
and atlas's additions, prefixed `atlas_` (DESIGN section 3).

Each table is built the first time it is named (`schema.organization`, `from atlas_cli.db.schema
import member`): a command builds the few tables it uses, not all eighteen, on every start.
`metadata`, `ATLAS_TABLES`, `REQUIRED_COLUMNS` and `OWN_TABLES` build every table they hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from atlas_cli.db.types import RandomUUID, UTCDateTime, json_type, uuid_type

if TYPE_CHECKING:  # built when first named: see `__getattr__`
    metadata: sa.MetaData
    organization: sa.Table
    user: sa.Table
    member: sa.Table
    usage_events: sa.Table
    usage_summaries: sa.Table
    subscription: sa.Table
    connections: sa.Table
    invitations: sa.Table
    audit_log: sa.Table
    stripe_events: sa.Table
    catalog_versions: sa.Table
    usage_days: sa.Table
    usage_days_computed: sa.Table
    entitlement_overrides: sa.Table
    stale_periods: sa.Table
    meter_reports: sa.Table
    credit_accounts: sa.Table
    credit_grants: sa.Table
    credit_ledger: sa.Table
    credit_requests: sa.Table
    ATLAS_TABLES: tuple[sa.Table, ...]
    REQUIRED_COLUMNS: dict[str, tuple[str, ...]]
    OWN_TABLES: tuple[sa.Table, ...]

_metadata = sa.MetaData()

TIERS_WITH_LOCKED = ("free", "trial", "team", "enterprise", "locked")
WORKSPACE_STATUSES = ("active", "suspended", "deleted")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _organization() -> sa.Table:
    return sa.Table(
        "organization",
        _metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("slug", sa.Text, unique=True),
        sa.Column("createdAt", UTCDateTime, nullable=False, server_default=sa.func.now()),
        sa.Column("workspace_status", sa.Text, nullable=False, server_default="active"),
        sa.Column("plan_tier", sa.Text, nullable=False, server_default="free"),
        sa.Column("byot", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("stripe_customer_id", sa.Text),
        sa.Column("trial_ends_at", UTCDateTime),
        sa.Column("suspended_at", UTCDateTime),
        sa.Column("deleted_at", UTCDateTime),
        sa.CheckConstraint(_in("workspace_status", WORKSPACE_STATUSES), name="organization_workspace_status_check"),
        sa.CheckConstraint(_in("plan_tier", TIERS_WITH_LOCKED), name="organization_plan_tier_check"),
    )


def _user() -> sa.Table:
    return sa.Table(
        "user",
        _metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text),
        sa.Column("createdAt", UTCDateTime, nullable=False, server_default=sa.func.now()),
    )


def _member() -> sa.Table:
    _built("organization")  # the tables its foreign keys name are on the metadata before it
    _built("user")
    return sa.Table(
        "member",
        _metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("organizationId", sa.Text, sa.ForeignKey("organization.id", ondelete="CASCADE"), nullable=False),
        sa.Column("userId", sa.Text, sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.Text, nullable=False, server_default="member"),
        sa.Column("createdAt", UTCDateTime, nullable=False, server_default=sa.func.now()),
        sa.Index("idx_member_organization", "organizationId"),
    )


def _usage_events() -> sa.Table:
    return sa.Table(
        "usage_events",
        _metadata,
        sa.Column("id", uuid_type(), primary_key=True, server_default=RandomUUID()),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False, server_default="1"),
        sa.Column("metadata", json_type(), server_default=sa.text("'{}'")),
        sa.Column("created_at", UTCDateTime, nullable=False, server_default=sa.func.now()),
        sa.Index("idx_usage_events_workspace_created", "workspace_id", "created_at"),
        sa.Index("idx_usage_events_type_created", "event_type", "created_at"),
        sa.Index("idx_usage_events_user_created", "user_id", "created_at"),
    )


def _usage_summaries() -> sa.Table:
    return sa.Table(
        "usage_summaries",
        _metadata,
        sa.Column("id", uuid_type(), primary_key=True, server_default=RandomUUID()),
        sa.Column("workspace_id", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("query_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("token_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("active_users", sa.Integer, nullable=False, server_default="0"),
        sa.Column("storage_bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint(
            "workspace_id", "period", "period_start", name="usage_summaries_workspace_id_period_period_start_key"
        ),
    )


def _subscription() -> sa.Table:
    return sa.Table(
        "subscription",
        _metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("referenceId", sa.Text, nullable=False),
        sa.Column("stripeCustomerId", sa.Text),
        sa.Column("stripeSubscriptionId", sa.Text),
        sa.Column("status", sa.Text, server_default="incomplete"),
        sa.Column("periodStart", UTCDateTime),
        sa.Column("periodEnd", UTCDateTime),
        sa.Column("cancelAtPeriodEnd", sa.Boolean, server_default=sa.false()),
        sa.Column("billingInterval", sa.Text),
        sa.Index("idx_subscription_reference", "referenceId"),
    )


def _connections() -> sa.Table:
    return sa.Table(
        "connections",
        _metadata,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Index("idx_connections_org", "org_id"),
    )


def _invitations() -> sa.Table:
    return sa.Table(
        "invitations",
        _metadata,
        sa.Column("id", sa.Text, primary_key=True, server_default=RandomUUID(as_text=True)),
        sa.Column("org_id", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Index("idx_invitations_org", "org_id"),
    )


# The server's tables atlas uses (`db status` checks each one's columns: REQUIRED_COLUMNS).
ATLAS_NAMES = (
    "organization",
    "user",
    "member",
    "usage_events",
    "usage_summaries",
    "subscription",
    "connections",
    "invitations",
)


def _audit_log() -> sa.Table:
    return sa.Table(
        "atlas_audit_log",
        _metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("id", uuid_type(), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("before", json_type()),
        sa.Column("after", json_type()),
        sa.Index("idx_atlas_audit_log_created", "created_at"),
    )


# The Stripe event ledger. Its key is (workspace_id, event_id): every unique key atlas creates
# includes the workspace (DESIGN section 9), and an event concerns exactly one workspace.
def _stripe_events() -> sa.Table:
    return sa.Table(
        "atlas_stripe_events",
        _metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("subscription_id", sa.Text),
        sa.Column("event_created", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Index("idx_atlas_stripe_events_subscription", "workspace_id", "subscription_id", "event_created"),
    )


# Operator catalogs (DESIGN 4c): one row per pushed version, the canonical document as JSON. A
# catalog is platform-wide (no workspace): a small reference table, the one key without workspace_id.
def _catalog_versions() -> sa.Table:
    return sa.Table(
        "atlas_catalog_versions",
        _metadata,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("document", json_type(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("note", sa.Text),
    )


# Per-workspace entitlement overrides. A row holds from created_at until the first of `until`
# (exclusive) and `ended_at` (a clear, or a later override replacing it): history keeps what held when.
def _entitlement_overrides() -> sa.Table:
    return sa.Table(
        "atlas_entitlement_overrides",
        _metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("id", uuid_type(), primary_key=True),
        sa.Column("feature", sa.Text, nullable=False),
        sa.Column("value", json_type(), nullable=False),
        sa.Column("until", UTCDateTime),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("ended_by", sa.Text),
        sa.Column("end_reason", sa.Text),  # cleared | replaced
        sa.Index("idx_atlas_entitlement_overrides_feature", "workspace_id", "feature", "created_at"),
    )


# Periods whose stored usage_summaries row may be older than their events: atlas's writers mark
# every (workspace, daily and monthly period) they insert events into; history and `aggregate`
# recompute a marked period and clear its mark (section 4a, History).
def _stale_periods() -> sa.Table:
    return sa.Table(
        "atlas_stale_periods",
        _metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("period_start", UTCDateTime, primary_key=True),
    )


def _usage_day_tables(metadata: sa.MetaData) -> tuple[sa.Table, ...]:
    """The daily rollup of usage_events (DESIGN 8, billing check): per workspace, UTC day and event
    type, the quantity, the cost in whole micro-dollars (each event's cost rounded as the meters
    round it) and the number of events; and, per workspace and day, when the day was computed (a
    day without events has no sums but is computed all the same). Written by `usage aggregate`
    for closed days only; a daily stale mark, or a missing computed row, sends the day back to
    the raw events."""
    days = sa.Table(
        "atlas_usage_days",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("day", UTCDateTime, primary_key=True),
        sa.Column("event_type", sa.Text, primary_key=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("cost_micros", sa.BigInteger, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
    )
    computed = sa.Table(
        "atlas_usage_days_computed",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("day", UTCDateTime, primary_key=True),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    return days, computed


USAGE_DAY_NAMES = ("usage_days", "usage_days_computed")


# Usage sent to Stripe's meters (billing in arrears, DESIGN 4c): one row per meter event sent, its
# value the delta and `cumulative` the period's total sent once it was. The identifier is derived from
# (workspace, feature, meter, period start, cumulative), so a resend carries the same one.
def _meter_reports() -> sa.Table:
    return sa.Table(
        "atlas_meter_reports",
        _metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("identifier", sa.Text, primary_key=True),
        sa.Column("feature", sa.Text, nullable=False),
        sa.Column("meter", sa.Text, nullable=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("period_end", UTCDateTime, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.Column("cumulative", sa.BigInteger, nullable=False),
        sa.Column("stripe_customer_id", sa.Text, nullable=False),
        sa.Column("event_timestamp", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.Index("idx_atlas_meter_reports_period", "workspace_id", "feature", "period_start"),
    )


def credit_tables(metadata: sa.MetaData) -> tuple[sa.Table, ...]:
    """The credit tables (DESIGN 4c, Credits), on `metadata`: integers only (BIGINT), every key
    including the workspace."""
    accounts = sa.Table(
        "atlas_credit_accounts",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, primary_key=True),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("overage", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_entry", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    grants = sa.Table(
        "atlas_credit_grants",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("remaining", sa.BigInteger, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("effective_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime),
        sa.Column("source", sa.Text, nullable=False),  # allocation | grant | adjust
        sa.Column("key", sa.Text),
        sa.Column("period_start", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime),
        sa.Column("closed_as", sa.Text),  # expired | voided
        sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name="atlas_credit_grants_remaining_check"),
        sa.Index("idx_atlas_credit_grants_unit", "workspace_id", "unit", "remaining"),
    )
    ledger = sa.Table(
        "atlas_credit_ledger",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("grant_id", sa.Text),
        sa.Column("event_id", sa.Text),
        sa.Column("key", sa.Text),
        sa.Column("actor", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "kind IN ('grant', 'debit', 'expire', 'void', 'adjust')", name="atlas_credit_ledger_kind_check"
        ),
        sa.Index("idx_atlas_credit_ledger_created", "workspace_id", "created_at"),
    )
    requests = sa.Table(
        "atlas_credit_requests",
        metadata,
        sa.Column("workspace_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("request", json_type(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    return accounts, grants, ledger, requests


# Credits: accounts (balance and overage per workspace and unit), grants, the append-only ledger
# (`id` numbers one account's entries in order) and the idempotency keys of the changes to them.
CREDIT_NAMES = ("credit_accounts", "credit_grants", "credit_ledger", "credit_requests")

# Atlas's own tables (OWN_TABLES).
OWN_NAMES = (
    "audit_log",
    "stripe_events",
    "catalog_versions",
    "entitlement_overrides",
    *CREDIT_NAMES,
    "stale_periods",
    "meter_reports",
    *USAGE_DAY_NAMES,
)


# How each table is built, in the order the tables were defined (the order `metadata` holds them
# when it builds them all); the four credit tables are built together, as are the two rollup tables.
_BUILDERS: dict[str, Callable[[], sa.Table] | None] = {
    "organization": _organization,
    "user": _user,
    "member": _member,
    "usage_events": _usage_events,
    "usage_summaries": _usage_summaries,
    "subscription": _subscription,
    "connections": _connections,
    "invitations": _invitations,
    "audit_log": _audit_log,
    "stripe_events": _stripe_events,
    "catalog_versions": _catalog_versions,
    "entitlement_overrides": _entitlement_overrides,
    "stale_periods": _stale_periods,
    "meter_reports": _meter_reports,
    **dict.fromkeys(CREDIT_NAMES),
    **dict.fromkeys(USAGE_DAY_NAMES),
}
_BUILDING = threading.RLock()  # the library may name a table from several threads at once


_TABLES: dict[str, sa.Table] = {}  # the tables built so far, also set as this module's attributes


def _built(name: str) -> sa.Table:
    if name not in _TABLES:
        with _BUILDING:
            if name not in _TABLES:
                build = _BUILDERS[name]
                if build is not None:
                    built = {name: build()}
                elif name in CREDIT_NAMES:
                    built = dict(zip(CREDIT_NAMES, credit_tables(_metadata), strict=True))
                else:
                    built = dict(zip(USAGE_DAY_NAMES, _usage_day_tables(_metadata), strict=True))
                globals().update(built)
                _TABLES.update(built)
    return _TABLES[name]


def __getattr__(name: str) -> Any:
    if name in _BUILDERS:
        return _built(name)
    if name == "metadata":
        for table in _BUILDERS:
            _built(table)
        return _metadata
    if name == "ATLAS_TABLES":
        return tuple(_built(n) for n in ATLAS_NAMES)
    if name == "REQUIRED_COLUMNS":
        # The columns atlas reads or writes in each Atlas table: a table lacking one is incompatible.
        return {table.name: tuple(c.name for c in table.columns) for table in (_built(n) for n in ATLAS_NAMES)}
    if name == "OWN_TABLES":
        return tuple(_built(n) for n in OWN_NAMES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
