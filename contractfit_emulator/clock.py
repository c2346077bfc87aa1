"""Virtual clock: a start instant, plus real elapsed time, plus an offset tests can advance.

Real time keeps flowing so that JWT lifetimes and `now` behave naturally; the offset
lets a test jump hours or weeks ahead (token expiry, late reviews) without waiting.
"""

from __future__ import annotations

import threading
import time

from .timeutil import US, now_us


class VirtualClock:
    """Monotonic virtual time in integer microseconds since the epoch (UTC)."""

    def __init__(self, start_us: int | None = None) -> None:
        if start_us is None:
            start_us = now_us() // US * US  # truncated to the second
        self.start_us = start_us
        self._origin = time.monotonic_ns()
        self._offset_us = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        """Current virtual instant."""
        elapsed_us = (time.monotonic_ns() - self._origin) // 1000
        return self.start_us + elapsed_us + self._offset_us

    def advance(self, seconds: float) -> int:
        """Jump ahead (never back: negative values are rejected by the caller)."""
        with self._lock:
            self._offset_us += int(round(seconds * US))
        return self.now()
