"""The AtlasError hierarchy. Each error carries the exit code it ends the process with.

Exit codes are an interface (README, "Exit codes"): never renumber them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BUG = 1
    BAD_INPUT = 2
    NOT_FOUND = 3
    CONFLICT = 4
    NOT_CONFIGURED = 5
    STRIPE = 6
    DATABASE_UNAVAILABLE = 7
    PERMISSION_DENIED = 8
    CHECK_WARNING = 10
    CHECK_SOFT_LIMIT = 11
    CHECK_HARD_LIMIT = 12
    CHECK_TRIAL_EXPIRED = 13
    CHECK_FAILED = 14
    CHECK_SUBSCRIPTION_REQUIRED = 15
    NOT_ENTITLED = 16  # entitlements check: the plan lacks the feature, or a limit has no counter


class AtlasError(Exception):
    """An expected failure: printed as one line on stderr, then exit with `exit_code`."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(AtlasError):
    exit_code = ExitCode.BAD_INPUT


class NotFound(AtlasError):
    exit_code = ExitCode.NOT_FOUND


class Conflict(AtlasError):
    exit_code = ExitCode.CONFLICT


class NotConfigured(AtlasError):
    exit_code = ExitCode.NOT_CONFIGURED


class StripeFailure(AtlasError):
    exit_code = ExitCode.STRIPE


class DatabaseUnavailable(AtlasError):
    exit_code = ExitCode.DATABASE_UNAVAILABLE


class PermissionDenied(AtlasError):
    exit_code = ExitCode.PERMISSION_DENIED
