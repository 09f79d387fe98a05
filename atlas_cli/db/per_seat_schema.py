"""The tables of a per-seat Atlas server that differ from the classic ones (DESIGN section 3), as
atlas queries them.

Each is the server's own table of `per_seat_server` narrowed to the columns atlas reads or writes
(names, types, keys and NULLs as there; no defaults or constraints), so a query never names a
column atlas does not need. They live in their own MetaData: atlas never creates them (the
server's migrations do), so no `create_all` may ever reach them.
"""

from __future__ import annotations

import sqlalchemy as sa

from atlas_cli.db import per_seat_server as server

metadata = sa.MetaData()


def _narrow(table: sa.Table, *names: str) -> sa.Table:
    """`table` with only the columns `names`, in this module's MetaData."""
    columns = (table.c[name] for name in names)
    return sa.Table(
        table.name,
        metadata,
        *(sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in columns),
    )


organization = _narrow(
    server.organization,
    "id", "name", "slug", "createdAt", "workspace_status", "plan_tier", "byot", "stripeCustomerId",
    "trial_ends_at", "suspended_at", "deleted_at", "suspension_source", "plan_override_until",
)  # fmt: skip
subscription = _narrow(
    server.subscription,
    "id", "plan", "referenceId", "stripeCustomerId", "stripeSubscriptionId", "status", "periodStart", "periodEnd",
    "cancelAtPeriodEnd", "billingInterval", "seats", "trialStart", "trialEnd", "canceledAt", "endedAt",
)  # fmt: skip
usage_events = _narrow(
    server.usage_events,
    "id", "workspace_id", "user_id", "event_type", "quantity", "metadata", "created_at", "gateway_cost_usd",
)  # fmt: skip
invitation = _narrow(
    server.invitation, "id", "organizationId", "email", "role", "status", "expiresAt", "createdAt", "inviterId"
)
workspace_plugins = _narrow(
    server.workspace_plugins, "id", "workspace_id", "catalog_id", "install_id", "pillar", "status", "config"
)
settings = _narrow(server.settings, "key", "value", "org_id", "updated_at", "updated_by")
user_trial_grants = _narrow(server.user_trial_grants, "user_id", "org_id", "granted_at")
stripe_webhook_events = _narrow(
    server.stripe_webhook_events,
    "event_id", "event_type", "event_created", "stripe_subscription_id", "applied_plan_tier", "processed_at",
)  # fmt: skip
overage_meter_reports = _narrow(
    server.overage_meter_reports,
    "org_id", "period_start", "stripe_customer_id", "reported_tokens", "reported_cost_cents",
    "last_event_identifier", "created_at", "updated_at",
)  # fmt: skip

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
