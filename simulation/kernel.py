"""The simulated clock and the discrete-event kernel.

One heap of (time, sequence, action). Each invocation of the function runs in its own greenlet (a
stack of its own in the kernel's thread), and only one runs at a time: an invocation that makes an
AWS call (or pauses, or sleeps between botocore retries) hands control back to the kernel with a
wake-up time, and the kernel resumes it when the heap reaches that time. So overlapping invocations
interleave their calls in time order, the shared token bucket sees them in that order, and a seeded
run is exactly repeatable. A greenlet switch is a function call; the operating-system threads this
kernel once handed control between cost a fifth of a large fleet's run.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from greenlet import GreenletExit, greenlet

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; simulated time t is EPOCH + t seconds


def to_datetime(t: float) -> datetime:
    return EPOCH + timedelta(seconds=t)


class LambdaTimeout(BaseException):
    """Raised inside an invocation when it reaches its timeout: Lambda stops it there."""


class Kernel:
    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.current: Task | None = None
        self.until = 0.0
        self.waiting: set[Task] = set()  # invocations started and not finished
        self.closed = False
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

    def close(self) -> None:
        """End every invocation still waiting (at the end of a run): it unwinds without resuming, never
        finishes, and makes no further call."""
        self.closed = True
        for task in list(self.waiting):
            task._greenlet.throw(GreenletExit)  # type: ignore[union-attr]
        self.waiting.clear()

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


class TaskLocal:
    """`threading.local` for the kernel's invocations: each attribute lives on the invocation running now."""

    def __init__(self, kernel: Kernel) -> None:
        object.__setattr__(self, "_kernel", kernel)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kernel.current.local, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._kernel.current.local, name, value)


class Task:
    """One invocation in its own greenlet, run by the kernel one step at a time. It is started and resumed
    only from the kernel's loop, and hands control back to that loop whenever it waits."""

    def __init__(self, kernel: Kernel, body: Callable[[], Any], deadline: float, done: Callable[[Task], None]) -> None:
        self.kernel = kernel
        self.body = body
        self.deadline = deadline
        self.done = done
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = kernel.now
        self.environment: dict[str, Any] = {}  # the execution environment's own state (Lambda container)
        self.local = SimpleNamespace()  # TaskLocal's attributes for this invocation
        self.ended = kernel.now
        self._greenlet: greenlet | None = None

    def start(self) -> None:
        self._greenlet = greenlet(self._run)  # its parent, to which it returns, is the kernel's loop
        self.kernel.waiting.add(self)
        self._resume()

    def _resume(self) -> None:
        kernel = self.kernel
        kernel.current = self
        kernel.on_switch(self)
        self._greenlet.switch()  # type: ignore[union-attr]
        kernel.current = None

    def wait_until(self, t: float) -> None:
        kernel = self.kernel
        if kernel.closed:
            raise GreenletExit
        heap = kernel._heap
        if t <= self.deadline and t <= kernel.until and (not heap or heap[0][0] > t):
            kernel.now = t  # nothing else is due before then: no need to hand over
            return
        timed_out = t > self.deadline
        kernel.at(min(t, self.deadline), self._resume)
        self._greenlet.parent.switch()  # type: ignore[union-attr]
        if timed_out:
            raise LambdaTimeout

    def _run(self) -> None:
        try:
            self.result = self.body()
        except GreenletExit:
            return  # the run ended with this invocation still waiting (Kernel.close): it never finishes
        except BaseException as exc:  # the invocation's error, as Lambda records it
            self.error = exc
        self.kernel.waiting.discard(self)
        self.ended = self.kernel.now
        self.done(self)
