"""Malformed events of every shape: each ends in InvalidEventError naming the field, never a TypeError.

Property-based (hypothesis): the events are generated, not hand-picked. Each valid event below has one
field replaced by a value of a wrong JSON type (list, object, number, boolean, null where a string
belongs), and whole events are arbitrary JSON.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rds_snapshot_dr import handler
from rds_snapshot_dr.jobs.actions import FUNCTION_ACTIONS as ACTIONS
from rds_snapshot_dr.rules.events import ActionRequest, IgnoredEvent, InvalidEventError, SnapshotCreated, parse_event

NOW = datetime(2026, 11, 25, 14, 7, tzinfo=UTC)

# Any JSON value, as json.loads produces them.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
NOT_A_STRING = JSON.filter(lambda value: not isinstance(value, str))
NOT_A_STRING_OR_NULL = NOT_A_STRING.filter(lambda value: value is not None)

ACTION_EVENT = {"action": "backup", "scheduled_time": "2026-11-25T14:00:00Z", "targets": ["orders-db"]}
INSTANCE_EVENT = {
    "source": "aws.rds",
    "detail-type": "RDS DB Snapshot Event",
    "detail": {
        "EventID": "RDS-EVENT-0042",
        "SourceIdentifier": "dr6-orders-orders-db-20261125-1400",
        "SourceArn": "arn:aws:rds:eu-west-1:123456789012:snapshot:dr6-orders-orders-db-20261125-1400",
    },
}
CLUSTER_EVENT = copy.deepcopy(INSTANCE_EVENT)
CLUSTER_EVENT["detail-type"] = "RDS DB Cluster Snapshot Event"
CLUSTER_EVENT["detail"]["EventID"] = "RDS-EVENT-0075"


def parse(event: Any) -> Any:
    return parse_event(event, actions=ACTIONS.keys(), now=NOW)


def parse_or_error(event: Any) -> Any:
    """The parsed request, or the InvalidEventError (any other exception fails the test)."""
    try:
        return parse(event)
    except InvalidEventError as error:
        return error


def replaced(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    where = changed
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    return changed


def test_the_unchanged_events_parse() -> None:
    assert isinstance(parse(ACTION_EVENT), ActionRequest)
    assert isinstance(parse(INSTANCE_EVENT), SnapshotCreated)
    assert isinstance(parse(CLUSTER_EVENT), SnapshotCreated)


# (event, path of the field, wrong values, name the error must give)
WRONG_TYPES = [
    (ACTION_EVENT, ("action",), NOT_A_STRING, '"action"'),
    (ACTION_EVENT, ("scheduled_time",), NOT_A_STRING_OR_NULL, '"scheduled_time"'),
    (ACTION_EVENT, ("targets",), JSON.filter(lambda v: v is not None and not isinstance(v, list)), '"targets"'),
    (ACTION_EVENT, ("targets",), st.lists(NOT_A_STRING, min_size=1, max_size=3), '"targets"'),
    (INSTANCE_EVENT, ("source",), NOT_A_STRING_OR_NULL, '"source"'),
    (INSTANCE_EVENT, ("detail-type",), NOT_A_STRING_OR_NULL, '"detail-type"'),
    (CLUSTER_EVENT, ("detail-type",), NOT_A_STRING_OR_NULL, '"detail-type"'),
    (INSTANCE_EVENT, ("detail",), JSON.filter(lambda v: not isinstance(v, dict)), '"detail"'),
    (INSTANCE_EVENT, ("detail", "EventID"), NOT_A_STRING_OR_NULL, '"detail.EventID"'),
    (CLUSTER_EVENT, ("detail", "SourceIdentifier"), NOT_A_STRING, '"detail.SourceIdentifier"'),
    (INSTANCE_EVENT, ("detail", "SourceIdentifier"), NOT_A_STRING, '"detail.SourceIdentifier"'),
    (INSTANCE_EVENT, ("detail", "SourceArn"), NOT_A_STRING_OR_NULL, '"detail.SourceArn"'),
]


@pytest.mark.parametrize(
    ("event", "path", "values", "named"),
    WRONG_TYPES,
    ids=[f"{'rds' if 'source' in event else 'action'}:{'.'.join(path)}" for event, path, _, _ in WRONG_TYPES],
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_field_of_the_wrong_json_type_is_an_invalid_event_naming_it(
    event: dict[str, Any], path: tuple[str, ...], values: Any, named: str, data: st.DataObject
) -> None:
    value = data.draw(values, label=".".join(path))
    with pytest.raises(InvalidEventError, match=named.replace(".", r"\.")):
        parse(replaced(event, path, value))


@settings(max_examples=300, deadline=None)
@given(event=JSON)
def test_any_json_value_as_the_event_parses_or_is_an_invalid_event(event: Any) -> None:
    result = parse_or_error(event)
    assert isinstance(result, InvalidEventError | ActionRequest | SnapshotCreated | IgnoredEvent)
    assert not isinstance(result, InvalidEventError) or str(result)


@settings(max_examples=300, deadline=None)
@given(
    event=st.fixed_dictionaries(
        {},
        optional={
            "action": JSON | st.sampled_from(sorted(ACTIONS)),
            "scheduled_time": JSON | st.just("2026-11-25T14:00:00Z") | st.just("0001-01-01T00:00:00+01:00"),
            "targets": JSON,
            "source": JSON | st.just("aws.rds"),
            "detail-type": JSON | st.sampled_from(["RDS DB Snapshot Event", "RDS DB Cluster Snapshot Event"]),
            "detail": JSON
            | st.fixed_dictionaries(
                {},
                optional={
                    "EventID": JSON | st.sampled_from(["RDS-EVENT-0042", "RDS-EVENT-0075"]),
                    "SourceIdentifier": JSON,
                    "SourceArn": JSON,
                },
            ),
        },
    )
)
def test_events_mixing_known_fields_and_any_values_parse_or_are_invalid(event: dict[str, Any]) -> None:
    result = parse_or_error(event)
    assert isinstance(result, InvalidEventError | ActionRequest | SnapshotCreated | IgnoredEvent)
    if isinstance(result, InvalidEventError):
        assert str(result)
    if isinstance(result, SnapshotCreated):
        assert isinstance(result.snapshot_identifier, str)
        assert isinstance(result.snapshot_arn, str)
    if isinstance(result, ActionRequest):
        assert isinstance(result.action, str)
        assert result.scheduled_time.tzinfo is UTC


@pytest.mark.parametrize(
    "event",
    [
        {"action": ["backup"]},
        {"action": {"name": "backup"}},
        {"source": "aws.rds", "detail-type": {"x": 1}, "detail": {"EventID": "RDS-EVENT-0042"}},
        {"source": "aws.rds", "detail-type": "RDS DB Snapshot Event", "detail": {"EventID": ["RDS-EVENT-0042"]}},
        {"action": "backup", "scheduled_time": "0001-01-01T00:00:00+01:00"},
    ],
)
def test_shapes_that_used_to_raise_type_or_overflow_errors(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidEventError):
        parse(event)


def test_a_malformed_event_reaches_no_aws_client(aws: str, monkeypatch: pytest.MonkeyPatch, lambda_context) -> None:
    """The handler parses before it builds a gateway: a bad event cannot start, copy or delete anything."""

    def no_gateway(*_: Any, **__: Any) -> Any:
        raise AssertionError("a malformed event must not build an AWS gateway")

    monkeypatch.setattr(handler.RdsGateway, "from_settings", no_gateway)
    with pytest.raises(InvalidEventError, match='"action"'):
        handler.lambda_handler({"action": ["backup"]}, lambda_context)
