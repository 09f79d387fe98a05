"""Use cases. No Typer, no Rich: they take plain values and return frozen models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atlas_cli.config import Settings
    from atlas_cli.db.database import Database
    from atlas_cli.services.admin import AdminService
    from atlas_cli.services.billing import BillingService
    from atlas_cli.services.billing_ops import BillingOpsService
    from atlas_cli.services.catalogs import CatalogService
    from atlas_cli.services.credits import CreditService
    from atlas_cli.services.demo import DemoService
    from atlas_cli.services.doctor import DoctorService
    from atlas_cli.services.entitlements import EntitlementService
    from atlas_cli.services.fleet import FleetService
    from atlas_cli.services.ingestion.events import EventService
    from atlas_cli.services.meter_reports import MeterReportService
    from atlas_cli.services.overage import OverageService
    from atlas_cli.services.plans import PlanService
    from atlas_cli.services.schema import SchemaService
    from atlas_cli.services.stripe_sync import StripeSyncService
    from atlas_cli.services.trial import TrialService
    from atlas_cli.services.usage import UsageService
    from atlas_cli.services.webhooks import WebhookService
    from atlas_cli.services.workspaces import WorkspaceService

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Services:
    """Every service over one database and one clock, each built on first use."""

    def __init__(self, db: Database, clock: Clock = utc_now, settings: Settings | None = None) -> None:
        self.db = db
        self.clock = clock
        if settings is not None:
            self.settings = settings  # the caller's, already loaded (and its notes shown)

    @cached_property
    def workspaces(self) -> WorkspaceService:
        from atlas_cli.services.workspaces import WorkspaceService

        return WorkspaceService(self.db, self.clock)

    @cached_property
    def usage(self) -> UsageService:
        from atlas_cli.services.usage import UsageService

        return UsageService(self.db, self.clock)

    @cached_property
    def billing(self) -> BillingService:
        from atlas_cli.services.billing import BillingService

        return BillingService(self.db, self.clock)

    @cached_property
    def fleet(self) -> FleetService:
        from atlas_cli.services.fleet import FleetService

        return FleetService(self.db, self.clock)

    @cached_property
    def overage(self) -> OverageService:
        from atlas_cli.services.overage import OverageService

        return OverageService(self.db, self.clock)

    @cached_property
    def trial(self) -> TrialService:
        from atlas_cli.services.trial import TrialService

        return TrialService(self.db, self.clock)

    @cached_property
    def plans(self) -> PlanService:
        from atlas_cli.services.plans import PlanService

        def model() -> str:
            with self.db.connect() as conn:
                return self.db.billing(conn).model

        return PlanService(model)

    @cached_property
    def catalogs(self) -> CatalogService:
        from atlas_cli.services.catalogs import CatalogService

        return CatalogService(self.db, self.clock)

    @cached_property
    def entitlements(self) -> EntitlementService:
        from atlas_cli.services.entitlements import EntitlementService

        return EntitlementService(self.db, self.clock)

    @cached_property
    def credits(self) -> CreditService:
        from atlas_cli.services.credits import CreditService

        return CreditService(self.db, self.clock)

    @cached_property
    def schema(self) -> SchemaService:
        from atlas_cli.services.schema import SchemaService

        return SchemaService(self.db, self.clock)

    @cached_property
    def events(self) -> EventService:
        from atlas_cli.services.ingestion.events import EventService

        return EventService(self.db, self.clock)

    @cached_property
    def demo(self) -> DemoService:
        from atlas_cli.services.demo import DemoService

        return DemoService(self.db, self.clock)

    # --- billing operations --------------------------------------------------------------

    @cached_property
    def settings(self) -> Settings:
        from atlas_cli.config import load_settings

        return load_settings()

    @cached_property
    def admin(self) -> AdminService:
        from atlas_cli.services.admin import AdminService

        return AdminService(self.db, self.clock)

    @cached_property
    def billing_ops(self) -> BillingOpsService:
        from atlas_cli.services.billing_ops import BillingOpsService

        return BillingOpsService(self.admin)

    @cached_property
    def stripe_sync(self) -> StripeSyncService:
        from atlas_cli.services.stripe_sync import StripeSyncService

        return StripeSyncService(self.db, self.clock, self.settings)

    @cached_property
    def webhooks(self) -> WebhookService:
        from atlas_cli.services.webhooks import WebhookService

        return WebhookService(self.db, self.clock, self.settings)

    @cached_property
    def meter_reports(self) -> MeterReportService:
        from atlas_cli.services.meter_reports import MeterReportService
        from atlas_cli.stripe_gateway import StripeGateway

        return MeterReportService(self.db, self.clock, StripeGateway(self.settings))

    @cached_property
    def doctor(self) -> DoctorService:
        from atlas_cli.services.doctor import DoctorService

        return DoctorService(self.db, self.settings, clock=self.clock)
