"""Turn the event the function receives into a request. Pure: no AWS calls, no clock."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rds_snapshot_dr.rules.model import FUTURE_STAMP_TOLERANCE, Kind

SNAPSHOT_CREATED_EVENTS: Mapping[tuple[str, str], Kind] = {
    # (detail-type, EventID) of "manual snapshot created" in the RDS event reference
    ("RDS DB Snapshot Event", "RDS-EVENT-0042"): Kind.INSTANCE,
    ("RDS DB Cluster Snapshot Event", "RDS-EVENT-0075"): Kind.CLUSTER,
}


# (detail-type, EventID) of a cross-region DB snapshot copy that finished, or was canceled or failed; RDS
# emits both in the DESTINATION region ("Amazon RDS event categories and event messages", DB snapshot
# events: RDS-EVENT-0060 "Finished copy of snapshot ... from region ...", RDS-EVENT-0061 "Canceled snapshot
# copy request of ... from region ..."). The DB cluster snapshot events list no copy events, so cluster
# copies are followed by reconcile only.
COPY_FINISHED_EVENTS: Mapping[tuple[str, str], bool] = {
    ("RDS DB Snapshot Event", "RDS-EVENT-0060"): False,
    ("RDS DB Snapshot Event", "RDS-EVENT-0061"): True,
}


class InvalidEventError(ValueError):
    """The event is malformed or names an unknown action; the message names the field and what is wrong.

    Every malformed event, whatever the JSON type of any field, ends here: parsing runs before any
    client exists, so a bad event has no side effects.
    """


def _optional_text(mapping: Mapping[str, Any], key: str, field_name: str) -> str:
    """The string at `key`, "" when absent or null; any other JSON type is an InvalidEventError."""
    value = mapping.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidEventError(f'"{field_name}" must be a string, got {type(value).__name__}')
    return value


@dataclass(frozen=True)
class ActionRequest:
    """A scheduled or manual invocation: {"action": ..., "scheduled_time"?: ..., "targets"?: [...]}."""

    action: str
    scheduled_time: datetime
    targets: tuple[str, ...] | None = None
    role_arn: str | None = None
    """The function's role when the caller knows it (the command line reads it from the function), for
    preflight's permission check; an event never sets it (inside the function it is the caller's identity)."""


@dataclass(frozen=True)
class SnapshotCreated:
    """An aws.rds "manual snapshot created" event (instance or cluster)."""

    kind: Kind
    snapshot_identifier: str
    snapshot_arn: str


@dataclass(frozen=True)
class CopyFinished:
    """An aws.rds event from the destination region: a cross-region copy finished (or failed/was canceled)."""

    kind: Kind
    snapshot_identifier: str
    region: str
    failed: bool


@dataclass(frozen=True)
class IgnoredEvent:
    """An RDS event this function does not act on (another EventID, another detail-type)."""

    reason: str


Request = ActionRequest | SnapshotCreated | CopyFinished | IgnoredEvent


def parse_time(value: str) -> datetime:
    """ISO 8601 time as EventBridge Scheduler sends it (e.g. 2026-11-25T14:00:00Z), in UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_event(
    event: Any, *, actions: Collection[str], now: datetime, targeted: Collection[str] | None = None
) -> Request:
    """Classify the event. `actions` are the names the function runs (jobs.actions.FUNCTION_ACTIONS);
    `targeted` those that take a `targets` subset (None: all of them). Another action with `targets` is
    refused rather than run over every target.

    A `scheduled_time` later than `now` plus FUTURE_STAMP_TOLERANCE is refused: Scheduler never invokes
    before the scheduled time, and snapshot names and the recovery point age are dated by it, so a time in
    the future is forged (or a clock is wrong) and would silence the recovery point alarm. Without a
    `scheduled_time` (a manual run), the request is for `now`."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"the event must be a JSON object, got {type(event).__name__}")
    if not all(isinstance(key, str) for key in event):
        raise InvalidEventError("the event's field names must be strings")
    if _optional_text(event, "source", "source") == "aws.rds":
        return _parse_rds_event(event)
    if "action" not in event:
        raise InvalidEventError(
            'the event has no "action": send {"action": "'
            + '"|"'.join(sorted(actions))
            + '", "targets": [...]} or an aws.rds snapshot event'
        )
    action = event["action"]
    if not isinstance(action, str):
        raise InvalidEventError(f'"action" must be a string, got {type(action).__name__}')
    if action not in actions:
        raise InvalidEventError(f"unknown action {action!r}; known actions: {', '.join(sorted(actions))}")
    unknown = sorted(set(event) - {"action", "scheduled_time", "targets"})
    if unknown:
        raise InvalidEventError(
            f"unknown event field(s) {', '.join(unknown)}; allowed: action, scheduled_time, targets"
        )

    scheduled = event.get("scheduled_time")
    if scheduled is None:
        when = now.astimezone(UTC)
    elif isinstance(scheduled, str):
        try:
            when = parse_time(scheduled)
        except (ValueError, OverflowError) as exc:
            raise InvalidEventError(
                f'"scheduled_time" must be an ISO 8601 time such as 2026-11-25T14:00:00Z, got {scheduled!r}'
            ) from exc
    else:
        raise InvalidEventError(f'"scheduled_time" must be a string, got {type(scheduled).__name__}')
    _refuse_future(scheduled, when, now)

    targets = event.get("targets")
    if targets is not None:
        if not isinstance(targets, list) or not all(isinstance(t, str) and t.strip() for t in targets):
            raise InvalidEventError('"targets" must be a list of DB instance or cluster identifiers')
        targets = tuple(dict.fromkeys(t.strip().lower() for t in targets))
        if targeted is not None and action not in targeted:
            raise InvalidEventError(
                f'action {action!r} takes no "targets": it always covers every target '
                f"(actions that take targets: {', '.join(sorted(targeted))})"
            )
    return ActionRequest(action=action, scheduled_time=when.replace(second=0, microsecond=0), targets=targets)


def _refuse_future(scheduled: str | None, when: datetime, now: datetime) -> None:
    """An InvalidEventError when `when` is later than `now` plus FUTURE_STAMP_TOLERANCE (see parse_event)."""
    if when <= now + FUTURE_STAMP_TOLERANCE:
        return
    minutes = FUTURE_STAMP_TOLERANCE.total_seconds() / 60
    raise InvalidEventError(
        f'"scheduled_time" {scheduled!r} is in the future: the function\'s time is '
        f"{now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} and a scheduled time may be at most {minutes:.0f} minutes "
        "ahead of it (EventBridge Scheduler invokes at or after the scheduled time). Snapshot names and the "
        "recovery point age are dated by it; send the time of the run, or no scheduled_time to use the current time"
    )


def _parse_rds_event(event: Mapping[str, Any]) -> Request:
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEventError('the aws.rds event has no "detail" object')
    detail_type = _optional_text(event, "detail-type", "detail-type")
    event_id = _optional_text(detail, "EventID", "detail.EventID")
    kind = SNAPSHOT_CREATED_EVENTS.get((detail_type, event_id))
    failed = COPY_FINISHED_EVENTS.get((detail_type, event_id))
    if kind is None and failed is None:
        return IgnoredEvent(
            f"{detail_type or 'unknown detail-type'} {event_id or 'without EventID'} is not a "
            "manual-snapshot-created or cross-region-copy-finished event"
        )
    identifier = _optional_text(detail, "SourceIdentifier", "detail.SourceIdentifier")
    arn = _optional_text(detail, "SourceArn", "detail.SourceArn")
    if not identifier:
        raise InvalidEventError(f'the {detail_type} event has no "detail.SourceIdentifier"')
    if kind is None:
        return CopyFinished(
            kind=Kind.INSTANCE,
            snapshot_identifier=identifier,
            region=_optional_text(event, "region", "region"),
            failed=bool(failed),
        )
    return SnapshotCreated(kind=kind, snapshot_identifier=identifier, snapshot_arn=arn)
