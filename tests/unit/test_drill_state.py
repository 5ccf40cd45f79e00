"""The drill's state as read from SSM: anyone with ssm:PutParameter may have written it, so nothing in it is
trusted as written. What cannot be used is reported and left out; nothing in it raises or lies in the future."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from rds_snapshot_dr.gateway.restore import STATE_CLOCK_SKEW, read_state, state_from_json, state_to_json
from rds_snapshot_dr.rules.restore import DrillRecord, DrillState

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SINCE = datetime(2026, 10, 1, tzinfo=UTC)
DRILLED = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
FAILED = datetime(2026, 11, 13, 3, 0, tzinfo=UTC)
GOOD = [int(DRILLED.timestamp()), 612, int(FAILED.timestamp())]  # a record as the function writes it
LATER = int((NOW + STATE_CLOCK_SKEW + timedelta(seconds=1)).timestamp())


def state(since: object = int(SINCE.timestamp()), **records: object) -> str:
    return json.dumps({"enabled_since": since, "records": {"ledger-db": GOOD, **records}})


def test_the_state_the_function_writes_is_read_back_whole():
    written = DrillState(SINCE, {"ledger-db": DrillRecord(DRILLED, 612, FAILED), "orders-db": DrillRecord()})

    assert read_state(state_to_json(written), NOW) == (written, [])


def test_the_earlier_form_with_iso_times_is_still_read():
    raw = json.dumps(
        {
            "enabled_since": "2026-10-01T00:00:00Z",
            "records": {"ledger-db": {"success": "2026-11-20T03:00:00Z", "rto_seconds": 612.5, "failure": None}},
        }
    )

    assert read_state(raw, NOW) == (DrillState(SINCE, {"ledger-db": DrillRecord(DRILLED, 612.5, None)}), [])


def test_a_time_without_a_zone_is_utc():
    found, problems = read_state(json.dumps({"enabled_since": "2026-10-01T00:00:00"}), NOW)

    assert (found.enabled_since, problems) == (SINCE, [])


# (the stored value, words the report must contain); each one's enabled_since or records is unusable.
WHOLE = [
    pytest.param("{not json", "not JSON", id="not-json"),
    pytest.param("[1, 2]", "array, not an object", id="array"),
    pytest.param('"2026-10-01"', "string, not an object", id="string"),
    pytest.param("[" * 5000 + "]" * 5000, "not JSON", id="nested-too-deep"),
]
SINCE_BAD = [
    pytest.param("last tuesday", "enabled_since 'last tuesday' is not a time", id="not-a-time"),
    pytest.param([1], "enabled_since is an array", id="array"),
    pytest.param(True, "enabled_since is a boolean", id="boolean"),
    pytest.param(1.5, "enabled_since is a number with a fraction", id="fraction"),
    pytest.param(10**20, "enabled_since 100000000000000000000 is not a time", id="out-of-range"),
    pytest.param(LATER, "later than now", id="in-the-future"),
    pytest.param("2027-11-25T15:00:00Z", "later than now", id="in-the-future-iso"),
]
RECORD_BAD = [
    pytest.param(7, "it is a number, not", id="number"),
    pytest.param([int(DRILLED.timestamp()), 612], "it is an array of 2", id="too-short"),
    pytest.param(["x", 612, None], "success 'x' is not a time", id="time-wrong-type"),
    pytest.param({"success": "soon"}, "success 'soon' is not a time", id="iso-not-a-time"),
    pytest.param({"success": "2026-11-20T03:00:00Z", "rto_seconds": -5}, "negative", id="negative-rto"),
    pytest.param([int(DRILLED.timestamp()), "fast", None], "rto_seconds is a string", id="rto-string"),
    pytest.param([int(DRILLED.timestamp()), True, None], "rto_seconds is a boolean", id="rto-boolean"),
    pytest.param([int(DRILLED.timestamp()), float("inf"), None], "not a finite", id="rto-infinite"),
    pytest.param([int(DRILLED.timestamp()), float("nan"), None], "not a finite", id="rto-nan"),
    pytest.param([LATER, 612, None], "success 20", id="success-in-the-future"),
    pytest.param([None, None, LATER], "failure 20", id="failure-in-the-future"),
    pytest.param([-(10**15), 612, None], "is not a time", id="time-out-of-range"),
]


@pytest.mark.parametrize(("raw", "words"), WHOLE)
def test_a_document_that_is_not_a_json_object_starts_over(raw, words):
    found, [problem] = read_state(raw, NOW)

    assert found == DrillState()
    assert words in problem


@pytest.mark.parametrize(("since", "words"), SINCE_BAD)
def test_an_unusable_enabled_since_is_reported_and_left_out_and_the_records_kept(since, words):
    found, [problem] = read_state(state(since), NOW)

    assert found.enabled_since is None  # the drill starts the overdue period over from now
    assert found.records == {"ledger-db": DrillRecord(DRILLED, 612, FAILED)}
    assert words in problem
    assert "enabled_since" in problem


def test_records_that_are_not_an_object_are_all_left_out():
    found, [problem] = read_state(json.dumps({"enabled_since": int(SINCE.timestamp()), "records": [GOOD]}), NOW)

    assert found == DrillState(SINCE, {})
    assert "records is an array" in problem


@pytest.mark.parametrize(("record", "words"), RECORD_BAD)
def test_an_unusable_record_is_reported_and_dropped_and_the_others_kept(record, words):
    found, [problem] = read_state(state(**{"orders-db": record}), NOW)

    assert found == DrillState(SINCE, {"ledger-db": DrillRecord(DRILLED, 612, FAILED)})
    assert "orders-db" in problem
    assert words in problem


@pytest.mark.parametrize(
    "raw",
    [p.values[0] for p in WHOLE]
    + [state(p.values[0]) for p in SINCE_BAD]
    + [state(**{"orders-db": p.values[0]}) for p in RECORD_BAD],
)
def test_whatever_was_stored_reads_and_writes_back_without_raising(raw):
    found, _problems = read_state(raw, NOW)

    assert read_state(state_to_json(found), NOW)[1] == []
    state_from_json(raw)  # the lenient reader (no clock) never raises either


def test_a_time_within_the_clock_skew_is_trusted_and_one_beyond_it_is_not():
    near = NOW + STATE_CLOCK_SKEW - timedelta(seconds=1)

    assert read_state(json.dumps({"enabled_since": int(near.timestamp())}), NOW) == (DrillState(near), [])
    found, [problem] = read_state(json.dumps({"enabled_since": LATER}), NOW)
    assert found.enabled_since is None
    assert "later than now" in problem
