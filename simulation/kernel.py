"""The simulated clock and the discrete-event kernel.

One heap of (time, sequence, action). Invocations of the function run in their own threads, but
only one thread ever runs at a time: a thread that makes an AWS call (or pauses, or sleeps between
botocore retries) hands control back to the kernel with a wake-up time, and the kernel resumes it
when the heap reaches that time. So overlapping invocations interleave their calls in time order,
the shared token bucket sees them in that order, and a seeded run is exactly repeatable.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; simulated time t is EPOCH + t seconds


def to_datetime(t: float) -> datetime:
    return EPOCH + timedelta(seconds=t)


class LambdaTimeout(BaseException):
    """Raised inside an invocation's thread when it reaches its timeout: Lambda stops it there."""


class Kernel:
    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._main = _handoff()
        self.current: Task | None = None
        self.until = 0.0
        # called with the task about to run: the harness swaps in that invocation's execution environment
        self.on_switch: Callable[[Task], None] = lambda task: None

    def at(self, t: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (max(t, self.now), next(self._seq), action))

    def run(self, until: float) -> None:
        self.until = until
        heap = self._heap
        while heap and heap[0][0] <= until:
            t, _, action = heapq.heappop(heap)
            self.now = t
            action()
        self.now = max(self.now, until)

    # --- the clock the function sees (rds_snapshot_dr.clock.set_clock) ---

    def datetime_now(self) -> datetime:
        return to_datetime(self.now)

    def wait(self, seconds: float) -> None:
        """Let `seconds` of simulated time pass for the calling invocation (others run meanwhile)."""
        task = self.current
        if task is None:
            raise RuntimeError("simulated time can only pass inside an invocation")
        task.wait_until(self.now + max(0.0, seconds))


class SimClock:
    """`rds_snapshot_dr.clock.Clock` on the kernel's time."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def now(self) -> datetime:
        return self.kernel.datetime_now()

    def monotonic(self) -> float:
        return self.kernel.now

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self.kernel.wait(seconds)


def _handoff() -> Any:
    """A binary semaphore that starts at 0: a lock taken at once, released by the thread that hands control
    over and taken by the one that receives it (threading.Lock may be released by any thread). Hand-offs
    strictly alternate, so a count above 1 never arises; the C lock is several times cheaper than
    threading.Semaphore, whose Condition was a quarter of a large fleet's run."""
    lock = threading.Lock()
    lock.acquire()
    return lock


class Task:
    """One invocation in its own thread, run by the kernel one step at a time."""

    def __init__(self, kernel: Kernel, body: Callable[[], Any], deadline: float, done: Callable[[Task], None]) -> None:
        self.kernel = kernel
        self.body = body
        self.deadline = deadline
        self.done = done
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = kernel.now
        self.environment: dict[str, Any] = {}  # the execution environment's own state (Lambda container)
        self.ended = kernel.now
        self._go = _handoff()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._resume()

    def _resume(self) -> None:
        kernel = self.kernel
        kernel.current = self
        kernel.on_switch(self)
        self._go.release()
        kernel._main.acquire()
        kernel.current = None

    def wait_until(self, t: float) -> None:
        kernel = self.kernel
        heap = kernel._heap
        if t <= self.deadline and t <= kernel.until and (not heap or heap[0][0] > t):
            kernel.now = t  # nothing else is due before then: no need to hand over
            return
        timed_out = t > self.deadline
        self.kernel.at(min(t, self.deadline), self._resume)
        self.kernel._main.release()
        self._go.acquire()
        if timed_out:
            raise LambdaTimeout

    def _run(self) -> None:
        self._go.acquire()
        try:
            self.result = self.body()
        except BaseException as exc:  # the invocation's error, as Lambda records it
            self.error = exc
        self.ended = self.kernel.now
        try:
            self.done(self)
        finally:
            self.kernel._main.release()
