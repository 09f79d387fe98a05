"""The circuit breaker of fire-and-forget event logging (DESIGN section 4). No I/O.

Closed: writes are attempted. After `threshold` consecutive failures it opens for `cooldown`
seconds, during which writes are not attempted. When the cool-down has passed it is half-open:
one write is attempted; success closes it, failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

FAILURE_THRESHOLD = 5
COOLDOWN_SECONDS = 60.0


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures; thread-safe; `clock` is injectable (monotonic seconds)."""

    def __init__(
        self,
        threshold: int = FAILURE_THRESHOLD,
        cooldown: float = COOLDOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold < 1 or cooldown < 0:
            raise ValueError("threshold must be >= 1 and cooldown >= 0")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def failures(self) -> int:
        return self._failures

    @property
    def state(self) -> CircuitState:
        with self._lock:
            return self._state()

    def _state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def allow(self) -> bool:
        """Whether a write may be attempted now."""
        with self._lock:
            return self._state() is not CircuitState.OPEN

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def record_failure(self) -> None:
        with self._lock:
            half_open = self._state() is CircuitState.HALF_OPEN
            self._failures += 1
            if half_open or self._failures >= self.threshold:
                self._opened_at = self._clock()
