"""No unit test depends on today's date: every one runs on the pinned clock, and none reads the machine's.

A snapshot stamp a test names (20261125-1400) is dated by the engine against its clock; on the
machine's clock such a test passes this month and fails once the stamp ages past a retention.
"""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

from dr_testing import FIXED_NOW

from rds_snapshot_dr import clock, handler
from rds_snapshot_dr.clock import FixedClock

UNIT_TESTS = Path(__file__).resolve().parent

# Calls that read the machine's calendar. Monotonic timers measure durations and are not here.
WALL_CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
}


def wall_clock_reads(source: str) -> list[str]:
    """`datetime.now(...)`-style calls and SystemClock uses in `source`, as 'line: call'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in WALL_CLOCK_READS:
                found.append(f"{node.lineno}: {name}.{node.func.attr}()")
        if (
            isinstance(node, ast.Name | ast.Attribute)
            and getattr(node, "id", getattr(node, "attr", "")) == "SystemClock"
        ):
            found.append(f"{node.lineno}: SystemClock")
    return found


def test_every_unit_test_runs_at_the_fixed_time():
    assert isinstance(clock.CLOCK, FixedClock)
    assert handler.utcnow() == FIXED_NOW


def test_the_fixed_clock_moves_only_when_told(fixed_clock):
    fixed_clock.advance(90)
    fixed_clock.pause(30)  # a pause for pacing moves the clock on instead of sleeping

    assert handler.utcnow() == FIXED_NOW + timedelta(minutes=2)
    assert fixed_clock.monotonic() == 120


def test_no_unit_test_reads_the_machine_clock():
    offenders = {
        path.name: reads
        for path in sorted(UNIT_TESTS.glob("*.py"))
        if path.name != Path(__file__).name and (reads := wall_clock_reads(path.read_text()))
    }
    assert offenders == {}, "use the fixed_clock fixture (FIXED_NOW), not the machine's clock"


def test_the_scan_finds_each_way_of_reading_the_machine_clock():
    sample = (
        "import time, datetime as dt\n"
        "from datetime import UTC, date, datetime\n"
        "a = datetime.now(UTC)\n"
        "b = dt.datetime.utcnow()\n"
        "c = date.today()\n"
        "d = time.time()\n"
        "e = clock.SystemClock()\n"
        "f = time.monotonic()\n"
    )
    assert wall_clock_reads(sample) == [
        "3: datetime.now()",
        "4: datetime.utcnow()",
        "5: date.today()",
        "6: time.time()",
        "7: SystemClock",
    ]
