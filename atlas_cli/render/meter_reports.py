"""`billing report-usage`: what was sent to Stripe's meters, per workspace, feature and period."""

from __future__ import annotations

from typing import Any

from atlas_cli.render.base import Output, days, iso

SENT_COLUMNS = (
    "workspaceId",
    "feature",
    "meter",
    "periodStart",
    "periodEnd",
    "usage",
    "previouslySent",
    "delta",
    "identifier",
    "status",
)


class UsageSentViews(Output):
    @staticmethod
    def usage_sent_json(row: Any) -> dict[str, Any]:
        return {
            "workspaceId": row.workspace_id,
            "feature": row.feature,
            "meter": row.meter,
            "periodStart": iso(row.period.start),
            "periodEnd": iso(row.period.end),
            "periodSource": row.period_source,
            "customerId": row.customer,
            "usage": row.usage,
            "previouslySent": row.previously_sent,
            "delta": row.delta,
            "identifier": row.identifier,
            "timestamp": iso(row.timestamp),
            "status": row.status,
        }

    def usage_sent_report(self, r: Any, fmt: str) -> None:
        data = {
            "billingModel": r.billing_model,
            "dryRun": r.dry_run,
            "rows": [self.usage_sent_json(row) for row in r.rows],
            "skipped": [{"workspaceId": s.workspace_id, "reason": s.reason} for s in r.skipped],
        }
        rows = [[d[k] for k in SENT_COLUMNS] for d in data["rows"]]

        def table() -> None:
            shown = [
                [
                    row.workspace_slug or row.workspace_id,
                    row.feature,
                    row.meter,
                    days(row.period),
                    f"{row.usage:,}",
                    f"{row.previously_sent:,}",
                    f"{row.delta:,}",
                    row.identifier or "",
                    row.status,
                ]
                for row in r.rows
            ]
            columns = ["Workspace", "Feature", "Meter", "Period", "Usage#", "Sent before#", "Delta#", "Identifier",
                       "Status"]  # fmt: skip
            title = "Usage that would be sent to Stripe meters" if r.dry_run else "Usage sent to Stripe meters"
            self._print_table(title, columns, shown)
            if not r.rows:
                self.out.print("No workspace with a Stripe customer to report.")

        self._emit(fmt, data, SENT_COLUMNS, rows, table)
        if r.skipped:
            names = ", ".join(s.workspace_id for s in r.skipped)
            self.note(f"Skipped {len(r.skipped)} workspace(s) without a Stripe customer: {names}")
        if r.dry_run:
            self.note("Dry run: nothing was sent to Stripe or recorded.")
