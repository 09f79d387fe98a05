"""Output of the billing operations: changes, audit log, portal, sync, webhooks, config, doctor,
and the metered overage against what was reported."""

from __future__ import annotations

from typing import Any

from atlas_cli.render.base import Output, iso, json_text

OVERAGE_COLUMNS = (
    "workspace",
    "tier",
    "seats",
    "costUsd",
    "creditUsd",
    "overageCents",
    "reportedCents",
    "unreportedCents",
    "periodStart",
    "periodSource",
)


class BillingOpsViews(Output):
    """Write commands' changes, the audit log, Stripe sync and webhooks, config and doctor."""

    @staticmethod
    def change_json(r: Any) -> dict[str, Any]:
        """A write: `{"workspaceId", <the columns it sets>, "changed", "dryRun", "before", "after"}`."""
        return {
            "workspaceId": r.workspace_id,
            **r.values,
            "action": r.action,
            "actor": r.actor,
            "changed": r.changed,
            "dryRun": r.dry_run,
            "before": r.before,
            "after": r.after,
            "auditId": r.audit_id,
            "billingModel": r.billing_model,
        }

    def change_result(self, r: Any, fmt: str) -> None:
        data = self.change_json(r)

        def text() -> None:
            if not r.changed:
                self.out.print(f"{r.workspace_id}: nothing to change ({self._pairs(r.values)}).")
                return
            verb = "Would change" if r.dry_run else "Changed"
            self.out.print(f"{verb} {r.workspace_id} ({r.action}): {self._pairs(r.before)} → {self._pairs(r.after)}")
            if r.dry_run:
                self.note("Dry run: nothing was written.")

        header = ["workspaceId", *r.values, "changed", "dryRun"]
        self._emit(fmt, data, header, [[data[k] for k in header]], text)

    @staticmethod
    def _pairs(values: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"

    @staticmethod
    def audit_json(e: Any) -> dict[str, Any]:
        return {
            "id": e.id,
            "workspaceId": e.workspace_id,
            "createdAt": iso(e.created_at),
            "actor": e.actor,
            "action": e.action,
            "before": e.before,
            "after": e.after,
        }

    def audit_list(self, entries: list[Any], fmt: str) -> None:
        data = [self.audit_json(e) for e in entries]
        header = ["createdAt", "workspaceId", "actor", "action", "before", "after"]
        rows = [
            [d["createdAt"], d["workspaceId"], d["actor"], d["action"], json_text(d["before"]), json_text(d["after"])]
            for d in data
        ]

        def table() -> None:
            shown = [[self.when(e.created_at), *row[1:]] for e, row in zip(entries, rows, strict=True)]
            self._print_table(None, ["When", "Workspace", "Actor", "Action", "Before~", "After~"], shown)

        self._emit(fmt, data, header, rows, table)

    def portal_url(self, url: str, fmt: str) -> None:
        self._emit(fmt, {"url": url}, ["url"], [[url]], lambda: print(url))

    @staticmethod
    def sync_json(row: Any) -> dict[str, Any]:
        return {
            "workspaceId": row.workspace_id,
            "customerId": row.customer_id,
            "subscriptionId": row.subscription_id,
            "status": row.status,
            "outcome": row.outcome,
            "changed": row.changed,
            "before": row.before,
            "after": row.after,
            "why": row.why,
        }

    def sync_report(self, r: Any, fmt: str) -> None:
        data = [{**self.sync_json(row), "dryRun": r.dry_run} for row in r.rows]
        header = ["workspaceId", "subscriptionId", "status", "outcome", "changed", "before", "after", "why"]
        rows = [
            [
                d["workspaceId"],
                d["subscriptionId"],
                d["status"],
                d["outcome"],
                d["changed"],
                self._pairs(d["before"]),
                self._pairs(d["after"]),
                d["why"],
            ]
            for d in data
        ]

        def table() -> None:
            title = "Stripe sync (dry run: nothing written)" if r.dry_run else "Stripe sync"
            changes = [
                [d["workspaceId"], row[5] if d["changed"] else "", row[6] if d["changed"] else "unchanged", d["why"]]
                for d, row in zip(data, rows, strict=True)
            ]
            self._print_table(title, ["Workspace", "Before~", "After~", "Why~"], changes)

        self._emit(fmt, data, header, rows, table)
        for row in r.rows:
            if row.outcome in ("unknown_price", "no_subscription", "override"):
                self.warn(f"Warning: {row.workspace_id}: {row.why}")

    @staticmethod
    def webhook_json(r: Any) -> dict[str, Any]:
        return {
            "eventId": r.event_id,
            "type": r.event_type,
            "outcome": r.outcome,
            "workspaceId": r.workspace_id,
            "subscriptionId": r.subscription_id,
            "changed": r.changed,
            "before": r.before,
            "after": r.after,
            "why": r.why,
        }

    def webhook_result(self, r: Any, fmt: str) -> None:
        data = self.webhook_json(r)
        header = ["eventId", "type", "outcome", "workspaceId", "subscriptionId", "changed", "why"]
        self._emit(
            fmt,
            data,
            header,
            [[data[k] for k in header]],
            lambda: self.out.print(f"{r.event_id} ({r.event_type}): {r.outcome}. {r.why}"),
        )

    @staticmethod
    def setting_json(item: Any) -> dict[str, Any]:
        return {"name": item.name, "value": item.value, "source": item.source}

    def config_report(self, items: list[Any], fmt: str) -> None:
        data = [self.setting_json(i) for i in items]
        rows = [[d["name"], d["value"], d["source"]] for d in data]

        def table() -> None:
            shown = [[name, "" if value is None else str(value), source] for name, value, source in rows]
            self._print_table("Effective settings", ["Setting", "Value~", "From"], shown)

        self._emit(fmt, data, ["name", "value", "source"], rows, table)

    @staticmethod
    def check_json(c: Any) -> dict[str, Any]:
        state = "skipped" if c.ok is None else ("ok" if c.ok else "failed")
        return {"check": c.name, "status": state, "detail": c.detail, "fix": c.fix}

    def doctor_report(self, r: Any, fmt: str) -> None:
        data = {
            "ok": r.ok,
            "billingModel": r.billing_model,
            "billingModelReason": r.billing_reason,
            "checks": [self.check_json(c) for c in r.checks],
        }
        rows = [[d["check"], d["status"], d["detail"], d["fix"] or ""] for d in data["checks"]]

        def table() -> None:
            checks = [[name, self._status(state), detail] for name, state, detail, _fix in rows]
            self._print_table("atlas doctor", ["Check", "Status", "Detail~"], checks)
            if r.billing_model:
                self.out.print(f"Billing model: {r.billing_model} ({r.billing_reason})")
            for name, state, _detail, fix in rows:
                if state == "failed" and fix:
                    self.out.print(f"To fix {name}: {fix}")
            self.out.print("All checks passed." if r.ok else "Some checks failed.")

        self._emit(fmt, data, ["check", "status", "detail", "fix"], rows, table)

    @staticmethod
    def overage_json(report: Any, row: Any) -> dict[str, Any]:
        """One workspace's overage: the columns of `billing overage`, keyed as JSON reports are."""
        return {
            "workspaceId": row.workspace.id,
            "billingModel": report.billing_model,
            "tier": row.workspace.tier_value,
            "byot": row.workspace.byot,
            "seats": row.seats,
            "costUsd": row.cost_usd,
            "creditUsd": row.credit_usd,
            "overageCents": row.overage_cents,
            "reportedCents": row.reported_cents,
            "unreportedCents": row.unreported_cents,
            "periodStart": iso(row.period.start),
            "periodEnd": iso(row.period.end),
            "periodSource": row.period_source,
        }

    def overage_report(self, r: Any, fmt: str) -> None:
        data = [self.overage_json(r, row) for row in r.rows]
        rows = [[d["workspaceId"], *(d[k] for k in OVERAGE_COLUMNS[1:])] for d in data]

        def table() -> None:
            shown = [
                [
                    row.workspace.slug or row.workspace.id,
                    row.workspace.tier_value + (" (BYOT)" if row.workspace.byot else ""),
                    f"{row.seats:,}",
                    f"{row.cost_usd:,}",
                    f"{row.credit_usd:,}",
                    f"{row.overage_cents:,}",
                    f"{row.reported_cents:,}",
                    f"{row.unreported_cents:,}",
                    f"{row.period.start:%Y-%m-%d}",
                    row.period_source,
                ]
                for row in r.rows
            ]
            columns = ["Workspace", "Tier", "Seats#", "Cost $#", "Credit $#", "Owed ¢#", "Reported ¢#",
                       "Unreported ¢#", "Period start", "From"]  # fmt: skip
            self._print_table("Metered overage this billing period", columns, shown)
            if not r.rows:
                self.out.print("No workspace is on a plan with a usage credit.")

        self._emit(fmt, data, OVERAGE_COLUMNS, rows, table)
