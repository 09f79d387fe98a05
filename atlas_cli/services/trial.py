"""Trial state."""

from __future__ import annotations

from atlas_cli.db.database import Database
from atlas_cli.domain.plans import Tier
from atlas_cli.domain.trial import TrialState, trial_state
from atlas_cli.services import Clock
from atlas_cli.services.models import TrialReport
from atlas_cli.services.workspaces import resolve


class TrialService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def status(self, workspace: str | None) -> TrialReport:
        """The effective trial end, days left, and whether it has expired.

        Raises:
            NotFound: unknown workspace.
        """
        with self._db.connect() as conn:
            ws = resolve(conn, workspace)
        if ws.tier is not Tier.TRIAL:
            return TrialReport(ws, False, TrialState(ws.trial_ends_at, False, None))
        return TrialReport(ws, True, trial_state(self._clock(), ws.trial_ends_at, ws.created_at))
