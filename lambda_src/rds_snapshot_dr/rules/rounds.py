"""Backup rounds: the latest round a schedule ran, the targets that missed it, and snapshots RDS
could not take.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules import naming
from rds_snapshot_dr.rules.model import (
    FUTURE_STAMP_TOLERANCE,
    ROUND_TAG,
    Database,
    Snapshot,
    parse_round_stamp,
    round_stamp,
)
from rds_snapshot_dr.rules.naming import snapshot_name, sort_time


@dataclass(frozen=True)
class MissedRound:
    """The latest full backup round and the current targets that have no source snapshot of it."""

    stamp: str  # YYYYMMDD-HHMM, as in the snapshot names of the round
    scheduled_time: datetime
    missing: list[Database]


# How long after its scheduled time a backup round may still be running: EventBridge Scheduler retries the
# invocation for up to maximum_event_age_in_seconds = 3600 (schedule.tf), and a run lasts at most the
# function's timeout (15 minutes). Reconcile retakes a round that left no snapshot at all only after this, so
# it does not race the backup run itself (a race is harmless: both use the round's names, and RDS refuses
# the second snapshot of a name).
ROUND_GRACE = timedelta(hours=1)


# RDS User Guide, "DB snapshot status" / "DB cluster snapshot status": a snapshot RDS could not take.
SNAPSHOT_FAILED_STATES = frozenset({"failed"})


def failed_snapshots(settings: Settings, source: Iterable[Snapshot], wanted: set[str] | None) -> list[Snapshot]:
    """Our source snapshots that ended failed (of the `wanted` targets; None: all): no data, only a name."""
    return [
        snap
        for snap in source
        if snap.status in SNAPSHOT_FAILED_STATES
        and naming.is_owned(settings, snap)
        and (wanted is None or snap.target in wanted)
    ]


def missed_in_latest_round(
    settings: Settings,
    databases: Iterable[Database],
    source: Iterable[Snapshot],
    now: datetime,
    due: datetime | None = None,
) -> MissedRound | None:
    """The targets that have no source snapshot of the latest full backup round, for reconcile to retake.

    The latest round is the greatest backup-round tag among owned source snapshots (any status), leaving out
    a tag later than `now` plus FUTURE_STAMP_TOLERANCE: a forged round would hide what the real latest round
    missed, and its retakes would carry the forged stamp. `due`, the schedule's latest time that should have
    run by now (`latest_scheduled_time`), is a round too, once an owned source snapshot is older than it (the
    module was running then): one whose backup run failed through all its retries left no snapshot, hence no
    tag, and would otherwise wait for the next scheduled round.
    None when there is no round, or when it is older than the source retention (its snapshots may
    be pruned by now, and a newer schedule run is overdue: that is the recovery point alarm's job).
    A target has the round when an owned source snapshot of its kind carries the round's tag and
    the target's source tag, or has exactly the name the round gives the target. Every target
    without one is returned, whatever its state: the caller skips those that cannot be snapshotted.
    """
    owned = [snap for snap in source if naming.is_owned(settings, snap)]
    rounds = {
        stamp: when
        for stamp in {snap.tags.get(ROUND_TAG, "") for snap in owned}
        if (when := parse_round_stamp(stamp)) is not None and when <= now + FUTURE_STAMP_TOLERANCE
    }
    # Only once the module was running before it (an owned snapshot is older): a module deployed after the
    # schedule last fired waits for its first scheduled round rather than taking one under an older name.
    if due is not None and due <= now and any(sort_time(snap.data_time) < due for snap in owned):
        rounds.setdefault(round_stamp(due), parse_round_stamp(round_stamp(due)) or due)
    if not rounds:
        return None
    stamp = max(rounds, key=lambda s: rounds[s])
    when = rounds[stamp]
    if when < now - timedelta(days=settings.source_retention_days):
        return None
    # A snapshot that ended failed holds no data: its target still misses the round (reconcile deletes it first,
    # which frees the name the round is retaken under).
    usable = [snap for snap in owned if snap.status not in SNAPSHOT_FAILED_STATES]
    tagged = {(snap.kind, snap.target) for snap in usable if snap.tags.get(ROUND_TAG) == stamp}
    named = {(snap.kind, snap.identifier) for snap in usable}
    missing = [
        db
        for db in databases
        if (db.kind, db.identifier) not in tagged
        and (db.kind, snapshot_name(settings.snapshot_prefix, db.identifier, when)) not in named
    ]
    return MissedRound(stamp=stamp, scheduled_time=when, missing=missing)
