"""The tables of a per-seat Atlas server as its migrations leave them, for `atlas db init
--billing-model per-seat` on an empty database (DESIGN section 3).

Every column of the server's tables that atlas works on, with the server's NOT NULLs, defaults,
CHECK constraints and indexes, so a database atlas lays out is one the server itself would accept
and that detection recognises as per-seat. The auth library applies most of its defaults in the
application (member.role, invitation.status, subscription.status, "emailVerified", ...): those
columns are NOT NULL without a default here too, as they are on the server. Left out: the foreign
key workspace_plugins.catalog_id -> plugin_catalog (a table atlas does not use), the expression
index on sha256(lower(email)) and the chat routing-key index (server-side invariants of its own
writes). The query tables of `per_seat_schema` name a subset of these columns.

Its own MetaData: only `db init` creates these, never a migration (on a per-seat database the
server's migrations own them).
"""

from __future__ import annotations

import sqlalchemy as sa

from atlas_cli.db.types import RandomUUID, UTCDateTime, json_type, uuid_type

metadata = sa.MetaData()

PLAN_TIERS = ("free", "trial", "starter", "pro", "business", "locked")

_NOW = sa.func.now()


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _partial(name: str, *columns: str, where: str) -> sa.Index:
    """A unique index over the rows matching `where` (the same SQL on both engines)."""
    return sa.Index(name, *columns, unique=True, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


user = sa.Table(
    "user",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False, unique=True),
    sa.Column("emailVerified", sa.Boolean, nullable=False),
    sa.Column("image", sa.Text),
    sa.Column("createdAt", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("updatedAt", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("role", sa.Text),
    sa.Column("banned", sa.Boolean),
    sa.Column("banReason", sa.Text),
    sa.Column("banExpires", UTCDateTime),
    sa.Column("twoFactorEnabled", sa.Boolean),
    sa.Column("normalizedEmail", sa.Text),
    sa.Column("default_landing", sa.Text, nullable=False, server_default="chat"),
    sa.Column("password_change_required", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint(_in("default_landing", ("chat", "admin")), name="user_default_landing_check"),
    sa.Index("user_normalized_email_unique", "normalizedEmail", unique=True),
)

organization = sa.Table(
    "organization",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False, unique=True),
    sa.Column("logo", sa.Text),
    sa.Column("createdAt", UTCDateTime, nullable=False),
    sa.Column("metadata", sa.Text),
    sa.Column("stripeCustomerId", sa.Text),
    sa.Column("workspace_status", sa.Text, nullable=False, server_default="active"),
    sa.Column("plan_tier", sa.Text, nullable=False, server_default="free"),
    sa.Column("suspended_at", UTCDateTime),
    sa.Column("deleted_at", UTCDateTime),
    sa.Column("byot", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("stripe_customer_id", sa.Text),  # dead on these servers: never written
    sa.Column("trial_ends_at", UTCDateTime),
    sa.Column("region", sa.Text),
    sa.Column("region_assigned_at", UTCDateTime),
    sa.Column("is_operator_workspace", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("last_active_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("suspension_source", sa.Text),
    sa.Column("plan_override_until", UTCDateTime),
    sa.CheckConstraint(_in("workspace_status", ("active", "suspended", "deleted")), name="chk_workspace_status"),
    sa.CheckConstraint(_in("plan_tier", PLAN_TIERS), name="chk_plan_tier"),
    sa.CheckConstraint(
        "suspension_source IS NULL OR " + _in("suspension_source", ("billing", "operator")),
        name="chk_suspension_source",
    ),
    sa.Index("idx_organization_workspace_status", "workspace_status"),
)

member = sa.Table(
    "member",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("organizationId", sa.Text, sa.ForeignKey("organization.id", ondelete="CASCADE"), nullable=False),
    sa.Column("userId", sa.Text, sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("createdAt", UTCDateTime, nullable=False),
    sa.Index("member_organizationId_idx", "organizationId"),
    sa.Index("member_userId_idx", "userId"),
)

invitation = sa.Table(
    "invitation",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("organizationId", sa.Text, sa.ForeignKey("organization.id", ondelete="CASCADE"), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("role", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("expiresAt", UTCDateTime, nullable=False),
    sa.Column("createdAt", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("inviterId", sa.Text, sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
    sa.Index("invitation_organizationId_idx", "organizationId"),
    sa.Index("invitation_email_idx", "email"),
)

subscription = sa.Table(
    "subscription",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("referenceId", sa.Text, nullable=False),
    sa.Column("stripeCustomerId", sa.Text),
    sa.Column("stripeSubscriptionId", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("periodStart", UTCDateTime),
    sa.Column("periodEnd", UTCDateTime),
    sa.Column("trialStart", UTCDateTime),
    sa.Column("trialEnd", UTCDateTime),
    sa.Column("cancelAtPeriodEnd", sa.Boolean),
    sa.Column("cancelAt", UTCDateTime),
    sa.Column("canceledAt", UTCDateTime),
    sa.Column("endedAt", UTCDateTime),
    sa.Column("seats", sa.Integer),
    sa.Column("billingInterval", sa.Text),
    sa.Column("stripeScheduleId", sa.Text),
)

usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("id", uuid_type(), primary_key=True, server_default=RandomUUID()),
    sa.Column("workspace_id", sa.Text),  # NULL: an event outside any workspace
    sa.Column("user_id", sa.Text),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False, server_default="1"),
    sa.Column("metadata", json_type()),
    sa.Column("created_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("weighted_quantity", sa.Integer),  # legacy, no longer written
    sa.Column("gateway_cost_usd", sa.Numeric(12, 6, asdecimal=True)),
    sa.Index("idx_usage_events_workspace", "workspace_id", "created_at"),
    sa.Index("idx_usage_events_type", "event_type", "created_at"),
    sa.Index("idx_usage_events_user", "user_id", "created_at"),
)

usage_summaries = sa.Table(
    "usage_summaries",
    metadata,
    sa.Column("id", uuid_type(), primary_key=True, server_default=RandomUUID()),
    sa.Column("workspace_id", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("period_start", UTCDateTime, nullable=False),
    sa.Column("query_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("token_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("active_users", sa.Integer, nullable=False, server_default="0"),
    sa.Column("storage_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Index("idx_usage_summaries_ws_period", "workspace_id", "period", "period_start", unique=True),
    sa.Index("idx_usage_summaries_workspace", "workspace_id", "period_start"),
)

workspace_plugins = sa.Table(
    "workspace_plugins",
    metadata,
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("workspace_id", sa.Text, primary_key=True),
    sa.Column("catalog_id", sa.Text, primary_key=True),
    sa.Column("config", json_type(), nullable=False, server_default=sa.text("'{}'")),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("installed_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("installed_by", sa.Text),
    sa.Column("install_id", sa.Text, primary_key=True),
    sa.Column("pillar", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="published"),
    sa.Column("updated_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.CheckConstraint(
        _in("pillar", ("datasource", "chat", "action", "knowledge")), name="chk_workspace_plugins_pillar"
    ),
    sa.CheckConstraint(_in("status", ("published", "draft", "archived")), name="chk_workspace_plugins_status"),
    sa.Index("idx_workspace_plugins_workspace", "workspace_id"),
    sa.Index("idx_workspace_plugins_catalog", "catalog_id"),
    sa.Index("idx_workspace_plugins_status", "workspace_id", "status"),
    sa.Index("workspace_plugins_id_unique", "id", unique=True),
    _partial("workspace_plugins_singleton", "workspace_id", "catalog_id", where="pillar IN ('chat', 'action')"),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("updated_by", sa.Text),
    sa.Column("org_id", sa.Text),  # NULL: a platform-wide row
    _partial("uq_settings_key_global", "key", where="org_id IS NULL"),
    _partial("uq_settings_key_org", "key", "org_id", where="org_id IS NOT NULL"),
)

user_trial_grants = sa.Table(
    "user_trial_grants",
    metadata,
    sa.Column("user_id", sa.Text, sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),  # not a foreign key: the grant outlives the workspace
    sa.Column("granted_at", UTCDateTime, nullable=False, server_default=_NOW),
)

stripe_webhook_events = sa.Table(
    "stripe_webhook_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("event_created", UTCDateTime, nullable=False),
    sa.Column("stripe_subscription_id", sa.Text),
    sa.Column("applied_plan_tier", sa.Text),
    sa.Column("processed_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Index("idx_stripe_webhook_events_sub", "stripe_subscription_id", sa.text("event_created DESC")),
    sa.Index("idx_stripe_webhook_events_processed", "processed_at"),
)

overage_meter_reports = sa.Table(
    "overage_meter_reports",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("period_start", UTCDateTime, primary_key=True),
    sa.Column("stripe_customer_id", sa.Text, nullable=False),
    sa.Column("reported_tokens", sa.BigInteger, nullable=False, server_default="0"),  # legacy
    sa.Column("last_event_identifier", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("updated_at", UTCDateTime, nullable=False, server_default=_NOW),
    sa.Column("reported_cost_cents", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("reported_tokens >= 0", name="chk_overage_meter_reports_tokens_nonneg"),
    sa.CheckConstraint("reported_cost_cents >= 0", name="chk_overage_meter_reports_cost_cents_nonneg"),
    sa.Index("idx_overage_meter_reports_updated", "updated_at"),
)

# What `db init --billing-model per-seat` creates, in dependency order.
TABLES = (
    user,
    organization,
    member,
    invitation,
    subscription,
    usage_events,
    usage_summaries,
    workspace_plugins,
    settings,
    user_trial_grants,
    stripe_webhook_events,
    overage_meter_reports,
)
