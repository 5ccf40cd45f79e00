"""One cross-region copy: its state, how many attempts are left, and the outcomes of a failed,
exhausted or foreign-named copy.
"""

from __future__ import annotations

from enum import StrEnum

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules import naming
from rds_snapshot_dr.rules.errors import ALREADY_EXISTS, QUOTA, AwsError, is_copy_limit
from rds_snapshot_dr.rules.model import (
    COPY_FAILED_STATES,
    COPY_FAILURES_TAG,
    COPY_IN_FLIGHT_STATES,
    Kind,
    Operation,
    Outcome,
    Result,
    Snapshot,
)

FOREIGN_NAME_FIX = (
    "Another tool or module instance uses the same name. Give each module instance its own "
    "snapshot_prefix, or rename/delete the foreign snapshot."
)


COPY_FAILED_FIX = (
    "Read the RDS events of {region} for {snapshot} (RDS-EVENT-0061 says why). Usual causes: the destination "
    "key is disabled or its key policy does not let the role use it, the source key cannot be used by RDS, the "
    "destination quota is full. After fixing it, remove the tag {tag} from the source snapshot to allow new "
    "attempts."
)


def is_owned_available(settings: Settings, snapshot: Snapshot) -> bool:
    """Ours and available: a snapshot the copy and order decisions count."""
    return naming.is_owned(settings, snapshot) and snapshot.status == "available"


class CopyState(StrEnum):
    """What the destination region holds under the name of one of our source snapshots."""

    ABSENT = "absent"  # nothing: the copy may start
    IN_FLIGHT = "in-flight"  # our copy, still being made (or being deleted)
    AVAILABLE = "available"  # our copy, done
    FAILED = "failed"  # our copy, ended failed: report it, remove it, retry within copy_max_attempts
    FOREIGN = "foreign"  # a snapshot with our exact name that is not ours: never counted as a copy


def copy_state(settings: Settings, copy: Snapshot | None) -> CopyState:
    """Classify the destination snapshot that carries a source snapshot's name (None: there is none)."""
    if copy is None:
        return CopyState.ABSENT
    if not naming.is_owned(settings, copy):
        return CopyState.FOREIGN
    if copy.status == "available":
        return CopyState.AVAILABLE
    if copy.status in COPY_FAILED_STATES:
        return CopyState.FAILED
    return CopyState.IN_FLIGHT


def copy_attempts_left(settings: Settings, source: Snapshot) -> int:
    """Copies of `source` the engine may still start: copy_max_attempts minus the copies that ended failed."""
    return max(0, settings.copy_max_attempts - source.copy_failures)


def name_taken_outcome(
    settings: Settings,
    *,
    operation: Operation,
    target: str,
    kind: Kind | str,
    name: str,
    region: str,
    existing: Snapshot | None,
    note: str = "",
) -> Outcome:
    """A snapshot named `name` is already in `region` (RDS said so, or a lookup found it).

    Ours (a retried or duplicate event, a copy in progress): `exists`, success. Anyone else's: `failed`,
    since the module cannot make its snapshot under that name and must never count a foreign
    snapshot as its copy. The event path and reconcile both decide here.
    """
    if existing is None or naming.is_owned(settings, existing):
        state = f", {existing.status}" if existing is not None and existing.status else ""
        reason = f"already exists in {region} (retried or duplicate event{state})"
        return Outcome(target, kind, operation, Result.EXISTS, name, _join(note, reason))
    return Outcome(
        target,
        kind,
        operation,
        Result.FAILED,
        name,
        _join(
            note,
            f"a snapshot named {name} exists in {region} but is not this module instance's: it lacks the "
            "ownership tag, is not a manual snapshot, or (in the destination region) is not a copy of the "
            "source snapshot of that name",
        ),
        FOREIGN_NAME_FIX,
    )


def _join(*parts: str) -> str:
    """A reason from its non-empty parts, e.g. the context (a reconcile retaking a missed round) and what happened."""
    return "; ".join(part for part in parts if part)


def failed_copy_outcome(settings: Settings, source: Snapshot, region: str, failures: int) -> Outcome:
    """The copy of `source` ended failed for the `failures`-th time (counting this one)."""
    left = max(0, settings.copy_max_attempts - failures)
    if left:
        then = (
            f"removed; copied again by the next copy-waiting or reconcile run "
            f"({left} of copy_max_attempts={settings.copy_max_attempts} left)"
        )
    else:
        then = f"not retried: copy_max_attempts={settings.copy_max_attempts} reached"
    return Outcome(
        source.target,
        source.kind,
        Operation.COPY,
        Result.FAILED,
        source.identifier,
        f"the copy to {region} ended failed ({failures} failed so far); {then}",
        COPY_FAILED_FIX.format(region=region, tag=COPY_FAILURES_TAG, snapshot=source.identifier),
    )


def exhausted_copy_outcome(settings: Settings, source: Snapshot, region: str) -> Outcome:
    """Every allowed copy attempt of `source` failed: loud on every reconcile until someone acts."""
    return Outcome(
        source.target,
        source.kind,
        Operation.COPY,
        Result.FAILED,
        source.identifier,
        f"{source.copy_failures} copies to {region} ended failed; copy_max_attempts={settings.copy_max_attempts} "
        "reached, so no copy is started and the source is kept",
        COPY_FAILED_FIX.format(region=region, tag=COPY_FAILURES_TAG, snapshot=source.identifier),
    )


def is_copy_in_flight(settings: Settings, snapshot: Snapshot) -> bool:
    """A destination snapshot that counts against the copies-in-progress limit (ours or anyone's)."""
    if snapshot.status not in COPY_IN_FLIGHT_STATES:
        return False
    return snapshot.copied_from is not None or naming.is_owned(settings, snapshot)


class CopyPath(StrEnum):
    """Which path starts a copy, which decides what it may do when RDS refuses it."""

    EVENT = "event"  # a snapshot-created or copy-finished event: one snapshot, looked up a moment ago
    SWEEP = "sweep"  # backup, reconcile, copy-waiting, the command line: they list the regions anyway


class AfterCopyError(StrEnum):
    """What to do when RDS refuses to start a copy (`after_copy_error`)."""

    DUPLICATE = "duplicate"  # the copy was started meanwhile (a duplicate event): `exists`; reconcile checks it
    CHECK_EXISTING = "check-existing"  # look the snapshot under that name up: ours is `exists`, another's `failed`
    DEFER_TO_RECONCILE = "defer-to-reconcile"  # the manual snapshot quota: reconcile prunes and retries
    PRUNE_AND_RETRY = "prune-and-retry"  # prune expired snapshots of that kind in the destination, retry once
    FAIL = "fail"  # classified by `errors.classify`: failed, deferred or skipped with its fix


def after_copy_error(error: AwsError, path: CopyPath) -> AfterCopyError:
    """An event path never lists or prunes a region (an event is a handful of calls); a sweep may prune the
    destination for the manual snapshot quota and retry, as backup does in the source. The copy limit is no
    quota to prune for (`errors.is_copy_limit`): that copy waits for a slot."""
    if error.code in ALREADY_EXISTS:
        return AfterCopyError.DUPLICATE if path is CopyPath.EVENT else AfterCopyError.CHECK_EXISTING
    if error.code == QUOTA and not is_copy_limit(error):
        return AfterCopyError.DEFER_TO_RECONCILE if path is CopyPath.EVENT else AfterCopyError.PRUNE_AND_RETRY
    return AfterCopyError.FAIL
