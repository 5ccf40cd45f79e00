"""The one clock of the function: wall time for names and ages, a monotonic time and a pause for pacing.

Everything in the package that needs the time asks `CLOCK`, so a simulation can run the unchanged
engine on a simulated clock (`set_clock`) and tests can pin the time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
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


class FixedClock:
    """A wall clock that stands still until told to move: for tests, whose snapshot stamps must not age
    as the calendar does. Monotonic time is its own counter and a pause moves both clocks on; nothing sleeps."""

    def __init__(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware time")
        self.when = when
        self.seconds = 0.0

    def now(self) -> datetime:
        return self.when

    def monotonic(self) -> float:
        return self.seconds

    def pause(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))

    def set(self, when: datetime) -> None:
        self.when = when

    def advance(self, seconds: float) -> None:
        self.when += timedelta(seconds=seconds)
        self.seconds += seconds


CLOCK: Clock = SystemClock()


def set_clock(clock: Clock) -> Clock:
    """Replace the clock (a simulation's, a test's); returns the previous one so it can be put back."""
    global CLOCK
    previous, CLOCK = CLOCK, clock
    return previous
