"""The recovery point: which DR copies can be restored under the destination key, how old the newest
is per database, and how full the snapshot quotas are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules import naming
from rds_snapshot_dr.rules.model import Database, Kind, Operation, Outcome, Result, Snapshot
from rds_snapshot_dr.rules.naming import sort_time, stamped_in_future


@dataclass(frozen=True)
class KeyState:
    """The destination KMS key as DescribeKey reports it: `state` is its KeyState ("" when it no longer exists),
    `deletion_date` when it is PendingDeletion."""

    arn: str
    state: str
    deletion_date: datetime | None = None

    @property
    def usable(self) -> bool:
        """Only an Enabled key takes part in cryptographic operations: Disabled, PendingDeletion, PendingImport
        and Unavailable keys refuse them (KMS Developer Guide, "Key states of AWS KMS keys",
        https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html), so RDS can neither restore a
        copy encrypted under such a key nor make a new one."""
        return self.state == "Enabled"

    def describe(self) -> str:
        if not self.state:
            return "deleted (DescribeKey: NotFoundException): the copies under it can never be restored"
        if self.state == "PendingDeletion" and self.deletion_date is not None:
            return (
                f"PendingDeletion: KMS deletes it on {self.deletion_date:%Y-%m-%d %H:%M} UTC, and the copies under it "
                "can never be restored after that"
            )
        return self.state


def key_id(arn: str) -> str:
    """The key id of a key ARN (arn:...:key/<id>), or the value itself."""
    return arn.rsplit("/", 1)[-1]


def restorable_copies(snapshots: Iterable[Snapshot], key: KeyState | None) -> list[Snapshot]:
    """The snapshots RDS could restore: all but those encrypted under `key` when KMS will not use it (None: the
    key is usable, or its state is unknown). A copy encrypted under another key counts: the function may read
    only its own destination key."""
    if key is None or key.usable:
        return list(snapshots)
    unusable = key_id(key.arn)
    return [s for s in snapshots if not (s.kms_key_id and key_id(s.kms_key_id) == unusable)]


def unusable_key_outcome(settings: Settings, key: KeyState, copies: int) -> Outcome:
    """The failed outcome of a reconcile that found the destination key unusable: reported on every run (lasting:
    no retry changes it) until a person enables the key."""
    region = settings.destination_region
    fix = (
        f"Cancel the key's deletion and enable it: aws kms cancel-key-deletion --region {region} --key-id {key.arn}, "
        f"then aws kms enable-key --region {region} --key-id {key.arn}. Its copies count again at the next "
        "reconcile and copies resume."
        if key.state == "PendingDeletion"
        else f"Enable the key: aws kms enable-key --region {region} --key-id {key.arn}."
        if key.state
        else f"The key is gone. Set kms_key_arn to a key of {region}: the next round's copies are made under it."
    )
    return Outcome(
        "*",
        "",
        Operation.KEY,
        Result.FAILED,
        "",
        f"the destination KMS key {key.arn} is {key.describe()}; {copies} DR copies under it cannot be restored and "
        "count as no recovery point, new copies are refused, and no source snapshot whose copy is under it is "
        "deleted",
        fix,
    )


def recovery_point_age(
    settings: Settings,
    databases: Iterable[Database],
    destination: Iterable[Snapshot],
    now: datetime,
) -> dict[str, float]:
    """Seconds since the newest available destination copy of each database was taken.

    A database with no available copy counts from its own creation time: it has never been protected.
    Only copies of the database itself count: where RDS reports both resource ids, a copy of an earlier
    database that had the same identifier (deleted, then created again) is no recovery point of this one.
    A copy stamped in the future (`stamped_in_future`) is no recovery point: trusted, its stamp would clamp
    the age to 0 and silence the alarm for as long as the forger chose. It does not count even by RDS's time
    (the pruning reports it instead), so a forged event cannot make a database look protected.
    """
    # per database (kind, identifier): the newest copy of each generation (resource id; "" where not said)
    newest: dict[tuple[Kind, str], dict[str, datetime]] = {}
    # per database generation (kind, resource id): its newest copy under any name, for a database renamed
    # since (ModifyDBInstance keeps the resource id; its copies keep the name they were taken under)
    by_resource: dict[tuple[Kind, str], datetime] = {}
    for snap in destination:
        if snap.status != "available" or not naming.is_owned(settings, snap) or snap.data_time is None:
            continue
        if stamped_in_future(snap, now):
            continue
        kind, target, resource = snap.generation
        generations = newest.setdefault((kind, target), {})
        if resource not in generations or snap.data_time > generations[resource]:
            generations[resource] = snap.data_time
        if resource and ((kind, resource) not in by_resource or snap.data_time > by_resource[(kind, resource)]):
            by_resource[(kind, resource)] = snap.data_time
    ages: dict[str, float] = {}
    for db in databases:
        generations = newest.get((db.kind, db.identifier), {})
        if db.resource_id:
            # its own copies, and those whose response does not say whose they are
            found = [when for resource in (db.resource_id, "") if (when := generations.get(resource)) is not None]
            if (db.kind, db.resource_id) in by_resource:
                found.append(by_resource[(db.kind, db.resource_id)])
        else:
            found = list(generations.values())
        point = max(found) if found else db.created
        if point is not None:
            ages[db.identifier] = max(0.0, (now - sort_time(point)).total_seconds())
    return ages


def quota_used_percent(quotas: Iterable[tuple[str, int, int]]) -> float | None:
    """Highest ManualSnapshots / ManualClusterSnapshots use, in percent of the quota."""
    values = [100.0 * used / maximum for name, used, maximum in quotas if maximum > 0]
    return round(max(values), 2) if values else None
