"""The command line's one follow loop (cli.follow): both --wait paths print only changes and never
pause after the check that found the work done."""

from __future__ import annotations

import io
import itertools

from rds_snapshot_dr.cli.follow import Progress, elapsed, until_done


def test_until_done_pauses_between_checks_never_after_the_last():
    answers = iter([False, False, True])
    pauses: list[float] = []
    until_done(lambda: next(answers), pauses.append, 30)
    assert pauses == [30, 30]


def test_progress_prints_a_line_only_when_the_state_changed():
    out = io.StringIO()
    progress = Progress(out, itertools.count(0, 45).__next__, began=0)
    for state in ("creating", "creating", "available"):
        progress.show("db", state, f"db {state}")
    progress.show("other", "creating", "other creating")
    # The clock is read once per printed line: 0 s, 45 s, 90 s.
    assert out.getvalue().splitlines() == [
        "       0s  db creating",
        "      45s  db available",
        "    1m30s  other creating",
    ]


def test_elapsed_reads_as_minutes_and_seconds():
    assert [elapsed(s) for s in (0, 42, 60, 187.9)] == ["0s", "42s", "1m00s", "3m07s"]
