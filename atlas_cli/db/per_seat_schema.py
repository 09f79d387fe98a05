"""The tables of a per-seat Atlas server that differ from the classic ones (DESIGN section 3).

Only the columns atlas reads or writes. They live in their own MetaData: atlas never creates them
(the server's migrations do), so no `create_all` may ever reach them.
"""

from __future__ import annotations

import sqlalchemy as sa

from atlas_cli.db.types import UTCDateTime, json_type, uuid_type

metadata = sa.MetaData()

organization = sa.Table(
    "organization",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("slug", sa.Text),
    sa.Column("createdAt", UTCDateTime, nullable=False),
    sa.Column("workspace_status", sa.Text, nullable=False),
    sa.Column("plan_tier", sa.Text, nullable=False),
    sa.Column("byot", sa.Boolean, nullable=False),
    sa.Column("stripeCustomerId", sa.Text),
    sa.Column("trial_ends_at", UTCDateTime),
    sa.Column("suspended_at", UTCDateTime),
    sa.Column("deleted_at", UTCDateTime),
    sa.Column("suspension_source", sa.Text),
    sa.Column("plan_override_until", UTCDateTime),
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
    sa.Column("cancelAtPeriodEnd", sa.Boolean),
    sa.Column("billingInterval", sa.Text),
    sa.Column("seats", sa.Integer),
    sa.Column("trialStart", UTCDateTime),
    sa.Column("trialEnd", UTCDateTime),
    sa.Column("canceledAt", UTCDateTime),
    sa.Column("endedAt", UTCDateTime),
)

usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("id", uuid_type(), primary_key=True),
    sa.Column("workspace_id", sa.Text),
    sa.Column("user_id", sa.Text),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("metadata", json_type()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("gateway_cost_usd", sa.Numeric(12, 6, asdecimal=True)),
)

invitation = sa.Table(
    "invitation",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("organizationId", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("role", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("expiresAt", UTCDateTime, nullable=False),
    sa.Column("createdAt", UTCDateTime, nullable=False),
    sa.Column("inviterId", sa.Text, nullable=False),
)

workspace_plugins = sa.Table(
    "workspace_plugins",
    metadata,
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("workspace_id", sa.Text, primary_key=True),
    sa.Column("catalog_id", sa.Text, primary_key=True),
    sa.Column("install_id", sa.Text, primary_key=True),
    sa.Column("pillar", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("config", json_type(), nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("org_id", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.Text),
)

user_trial_grants = sa.Table(
    "user_trial_grants",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("org_id", sa.Text, nullable=False),
    sa.Column("granted_at", UTCDateTime, nullable=False),
)

stripe_webhook_events = sa.Table(
    "stripe_webhook_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("event_created", UTCDateTime, nullable=False),
    sa.Column("stripe_subscription_id", sa.Text),
    sa.Column("applied_plan_tier", sa.Text),
    sa.Column("processed_at", UTCDateTime, nullable=False),
)

overage_meter_reports = sa.Table(
    "overage_meter_reports",
    metadata,
    sa.Column("org_id", sa.Text, primary_key=True),
    sa.Column("period_start", UTCDateTime, primary_key=True),
    sa.Column("stripe_customer_id", sa.Text, nullable=False),
    sa.Column("reported_cost_cents", sa.BigInteger, nullable=False),
    sa.Column("last_event_identifier", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# The tables a per-seat server has and atlas needs, with the columns atlas uses in each.
SERVER_TABLES = (
    organization,
    subscription,
    usage_events,
    invitation,
    workspace_plugins,
    settings,
    user_trial_grants,
    stripe_webhook_events,
    overage_meter_reports,
)
