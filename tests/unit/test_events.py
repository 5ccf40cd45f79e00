"""Event parsing: scheduled, manual and RDS events; malformed events are clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dr_testing import load_event

from rds_snapshot_dr.jobs.actions import FUNCTION_ACTIONS as ACTIONS
from rds_snapshot_dr.jobs.actions import TARGETED_ACTIONS
from rds_snapshot_dr.rules.events import (
    ActionRequest,
    CopyFinished,
    IgnoredEvent,
    InvalidEventError,
    SnapshotCreated,
    parse_event,
)
from rds_snapshot_dr.rules.model import Kind

NOW = datetime(2026, 11, 25, 14, 7, 31, 123, tzinfo=UTC)


def parse(event):
    return parse_event(event, actions=ACTIONS.keys(), now=NOW)


def test_scheduled_backup_uses_the_scheduled_time():
    assert parse(load_event("scheduled-backup.json")) == ActionRequest(
        "backup", datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    )


def test_manual_invocation_without_time_uses_now_to_the_minute():
    request = parse(load_event("manual-backup.json"))
    assert request == ActionRequest("backup", datetime(2026, 11, 25, 14, 7, tzinfo=UTC), ("orders-db",))


def test_scheduled_time_with_offset_is_converted_to_utc():
    request = parse({"action": "backup", "scheduled_time": "2026-11-25T15:00:00+01:00"})
    assert request.scheduled_time == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def test_snapshot_created_events_for_instances_and_clusters():
    assert parse(load_event("manual-snapshot-created.json")) == SnapshotCreated(
        Kind.INSTANCE,
        "dr-orders-db-20261125-1400",
        "arn:aws:rds:us-east-1:123456789012:snapshot:dr-orders-db-20261125-1400",
    )
    assert parse(load_event("manual-cluster-snapshot-created.json")).kind is Kind.CLUSTER


@pytest.mark.parametrize(
    "fixture", ["rds-db-snapshot-event-aws-sample.json", "rds-db-cluster-snapshot-event-aws-sample.json"]
)
def test_documented_sample_events_that_are_not_snapshot_created_are_ignored(fixture):
    assert isinstance(parse(load_event(fixture)), IgnoredEvent)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "JSON object"),
        ({}, 'no "action"'),
        ({"action": "restore"}, "unknown action 'restore'"),
        ({"action": "backup", "scheduled_time": "yesterday"}, "ISO 8601"),
        ({"action": "backup", "scheduled_time": 5}, "must be a string"),
        ({"action": "backup", "targets": "orders-db"}, "list of DB"),
        ({"action": "backup", "target": ["orders-db"]}, "unknown event field"),
        ({"source": "aws.rds", "detail-type": "RDS DB Snapshot Event"}, '"detail"'),
    ],
)
def test_malformed_event_is_a_clear_error(event, message):
    with pytest.raises(InvalidEventError, match=message):
        parse(event)


@pytest.mark.parametrize("action", ["copy-waiting", "drill"])
def test_an_action_that_covers_every_target_refuses_targets(action):
    with pytest.raises(InvalidEventError, match=f"action '{action}' takes no \"targets\""):
        parse_event({"action": action, "targets": ["orders-db"]}, actions=ACTIONS, now=NOW, targeted=TARGETED_ACTIONS)


@pytest.mark.parametrize("action", sorted(TARGETED_ACTIONS & ACTIONS.keys()))
def test_backup_reconcile_and_preflight_take_targets(action):
    request = parse_event(
        {"action": action, "targets": ["orders-db"]}, actions=ACTIONS, now=NOW, targeted=TARGETED_ACTIONS
    )
    assert request.targets == ("orders-db",)


def test_adding_an_action_is_one_dispatch_entry():
    assert parse_event({"action": "preflight"}, actions=[*ACTIONS, "preflight"], now=NOW).action == "preflight"


@pytest.mark.parametrize(
    ("fixture", "failed"), [("cross-region-copy-finished.json", False), ("cross-region-copy-failed.json", True)]
)
def test_cross_region_copy_events_from_the_destination_are_parsed(fixture, failed):
    request = parse(load_event(fixture))

    assert request == CopyFinished(Kind.INSTANCE, "dr-orders-db-20261125-1400", "us-west-2", failed)


# --- a scheduled_time in the future is forged (or a clock is wrong) -----------------------------------
# NOW is 14:07:31.000123; the tolerance is 15 minutes (model.FUTURE_STAMP_TOLERANCE), so the last
# scheduled_time accepted is 14:22:31.000123.


@pytest.mark.parametrize(
    "scheduled",
    [
        "2026-11-25T14:22:32Z",  # a second beyond the tolerance
        "2026-11-25T15:30:00+01:00",  # 14:30 UTC, written with an offset
        "2026-11-26T14:00:00Z",  # tomorrow's round
        "2099-01-01T00:00:00Z",  # a recovery point that would never age
    ],
)
def test_a_scheduled_time_beyond_the_tolerance_is_refused(scheduled):
    with pytest.raises(InvalidEventError, match=r'"scheduled_time" .* is in the future') as refused:
        parse({"action": "backup", "scheduled_time": scheduled})

    assert "15 minutes" in str(refused.value)
    assert "2026-11-25T14:07:31Z" in str(refused.value)  # the function's own time, to compare with


@pytest.mark.parametrize(
    ("scheduled", "expected"),
    [
        ("2026-11-25T14:22:31Z", datetime(2026, 11, 25, 14, 22, tzinfo=UTC)),  # at the edge of the tolerance
        ("2026-11-25T14:15:00Z", datetime(2026, 11, 25, 14, 15, tzinfo=UTC)),  # a clock a few minutes behind
        ("2026-11-25T13:07:00Z", datetime(2026, 11, 25, 13, 7, tzinfo=UTC)),  # a retry an hour late
    ],
)
def test_a_scheduled_time_within_the_tolerance_or_past_is_accepted(scheduled, expected):
    assert parse({"action": "reconcile", "scheduled_time": scheduled}) == ActionRequest("reconcile", expected)


def test_the_future_tolerance_is_fifteen_minutes():
    from datetime import timedelta

    from rds_snapshot_dr.rules.model import FUTURE_STAMP_TOLERANCE

    assert timedelta(minutes=15) == FUTURE_STAMP_TOLERANCE
