"""Trial state."""

from __future__ import annotations

from atlas_cli.db.database import Database
from atlas_cli.domain.trial import TrialState
from atlas_cli.services import Clock
from atlas_cli.services.models import TrialReport
from atlas_cli.services.workspaces import resolve, trial_of


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
            ws = resolve(conn, workspace, self._db.billing(conn).layout)
        state = trial_of(ws, self._clock())
        if state is None:
            return TrialReport(ws, False, TrialState(ws.trial_ends_at, False, None))
        return TrialReport(ws, True, state)
