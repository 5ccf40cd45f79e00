"""The one clock of the function: wall time for names and ages, a monotonic time and a pause for pacing.

Everything in the package that needs the time asks `CLOCK`, so a simulation can run the unchanged
engine on a simulated clock (`set_clock`) and tests can pin the time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals."""

    def pause(self, seconds: float) -> None:
        """Let `seconds` pass: only to pace API calls within the rate budget, never to wait on AWS state."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)  # the one pause in the package (see tests/unit/test_no_waiting.py)


CLOCK: Clock = SystemClock()


def set_clock(clock: Clock) -> Clock:
    """Replace the clock (a simulation's, a test's); returns the previous one so it can be put back."""
    global CLOCK
    previous, CLOCK = CLOCK, clock
    return previous
