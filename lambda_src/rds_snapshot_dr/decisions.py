"""The engine's decisions: plain functions over plain data. Never imports boto3.

Every rule that protects data lives here, so it can be read and tested in one place:
what is a target, what is ours, what is expired, what to copy now and what to defer.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path

from .settings import Settings

# Every tag key the function writes comes from tag_keys.json, which the module reads too for the keys
# the role's policy allows (iam.tf): what IAM allows and what the function writes cannot drift apart.
TAG_KEYS_FILE = json.loads(Path(__file__).with_name("tag_keys.json").read_text())
TAG_KEYS: dict[str, str] = TAG_KEYS_FILE["keys"]
# Keys of a new source snapshot (its copy receives them through CopyTags), and keys set on it later.
SNAPSHOT_ON_CREATE_TAGS = frozenset(TAG_KEYS[name] for name in TAG_KEYS_FILE["snapshot_on_create"])
SNAPSHOT_LATER_TAGS = frozenset(TAG_KEYS[name] for name in TAG_KEYS_FILE["snapshot_later"])

SOURCE_TAG = TAG_KEYS["source"]
SOURCE_TYPE_TAG = TAG_KEYS["source_type"]
ROUND_TAG = TAG_KEYS["backup_round"]  # set only by a full backup round: its YYYYMMDD-HHMM stamp
# On a source snapshot: how many of its cross-region copies ended `failed` (the engine sets it before it
# deletes the failed copy). CopyTags carries it to the next copy, which is harmless.
COPY_FAILURES_TAG = TAG_KEYS["copy_failures"]
# On a source snapshot: the backup run reserved one of this instance's copy slots for it (`copy_slots_for_round`),
# so its snapshot-created event may start its copy; without it, the event leaves the copy to the paths that
# count the copies in flight (copy-waiting, a finished copy, reconcile). CopyTags carries it to the copy.
COPY_SLOT_TAG = TAG_KEYS["copy_slot"]
ROUND_FORMAT = "%Y%m%d-%H%M"
# Written on each source snapshot at backup time: the portable settings a snapshot does not record
# itself (instance class, Multi-AZ, deletion protection), so a restore can use them while the source
# region is down (CopyTags carries the tag to the DR copy).
PORTABLE_TAG = TAG_KEYS["portable"]

_TRAILING_STAMP = re.compile(r"-(\d{8}-\d{4})$")

INSTANCE_SNAPSHOT_STATES = frozenset({"available", "storage-optimization"})
CLUSTER_SNAPSHOT_STATES = frozenset({"available"})
COPY_IN_FLIGHT_STATES = frozenset({"pending", "copying", "creating"})
COPY_FAILED_STATES = frozenset({"failed", "incompatible-parameters", "incompatible-restore"})
# Cross-region snapshot copies AWS allows in progress per destination region, for the whole account:
# 20 DB snapshots (RDS User Guide, "Copying a DB snapshot"); 5 DB cluster snapshots ("You can have up to
# five snapshot copy requests in progress to a single destination Region per account": Aurora User Guide,
# "Copying a DB cluster snapshot", Limitations,
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_CopySnapshot.html).
ACCOUNT_COPY_LIMIT = 20
ACCOUNT_CLUSTER_COPY_LIMIT = 5
# How far a time may be ahead of the function's clock and still be believed: a scheduled_time in an event
# (events.parse_event) and the stamp in an owned snapshot's name. EventBridge Scheduler invokes a target at
# or after the scheduled time, never before: the backup, reconcile and copy-waiting schedules set
# flexible_time_window OFF (schedule.tf), the drill FLEXIBLE with maximum_window_in_minutes = 15 (drill.tf),
# which invokes "within 15 minutes after the scheduled time" (EventBridge Scheduler User Guide, "Configuring
# flexible time windows"), and the retry policy (maximum_event_age_in_seconds = 3600) only delays further.
# So a genuine <aws.scheduler.scheduled-time> is never later than the invocation, and a time ahead of the
# clock is skew between two AWS clocks (well under a second) or a forged event. 15 minutes, the widest window
# the module's schedules use, leaves room for a clock that is wrong by minutes without ever moving a recovery
# point by more than that; a stamp further ahead is forged or made by a clock that is wrong, and is not
# trusted (a forged future stamp would clamp the recovery point age to 0, silencing its alarm).
FUTURE_STAMP_TOLERANCE = timedelta(minutes=15)
# The earliest time there is: the sort key of a snapshot without a date (aware, like every time here).
_NO_TIME = datetime.min.replace(tzinfo=UTC)
MAX_SNAPSHOT_ID_LENGTH = {"instance": 255, "cluster": 63}


class Kind(StrEnum):
    INSTANCE = "instance"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class Database:
    """A DB instance or an Aurora DB cluster, as DescribeDBInstances / DescribeDBClusters report it."""

    kind: Kind
    identifier: str
    status: str
    tags: Mapping[str, str] = field(default_factory=dict)
    created: datetime | None = None
    cluster_identifier: str | None = None  # set on instances that are members of a DB cluster
    # Portable settings a snapshot does not record itself (None where the response does not say).
    instance_class: str | None = None
    multi_az: bool | None = None
    deletion_protection: bool | None = None
    # DbiResourceId / DbClusterResourceId: unique to this database, never reused when a new database later
    # takes its identifier (None where the response does not say).
    resource_id: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """A manual (or automated) DB snapshot or DB cluster snapshot in one region."""

    kind: Kind
    identifier: str
    arn: str
    region: str
    status: str
    snapshot_type: str
    created: datetime | None
    tags: Mapping[str, str] = field(default_factory=dict)
    database_identifier: str = ""
    original_created: datetime | None = None  # for a copy: when the source snapshot was taken
    copied_from: str | None = None  # for a cross-region copy: the source region or source snapshot ARN
    percent_progress: int | None = None
    encrypted: bool | None = None  # None when the response does not say
    # The resource id of the database the snapshot was taken of (DbiResourceId / DbClusterResourceId; a copy
    # reports its source database's): which generation of the database `target` names.
    resource_id: str | None = None
    kms_key_id: str | None = None  # the key it is encrypted under (KmsKeyId: a key ARN), None when not encrypted
    # is_owned's last answer and the settings it was for: a snapshot is listed once per run and asked whether
    # it is ours by every decision of the run (a 1,000-database reconcile asks ~100,000 times)
    _owned: list[object] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def target(self) -> str:
        """The database this snapshot belongs to (our source tag, else what RDS reports)."""
        return self.tags.get(SOURCE_TAG) or self.database_identifier

    @property
    def generation(self) -> tuple[Kind, str, str]:
        """The database generation this snapshot belongs to: kind, target and resource id ("" unknown).

        A database deleted and recreated under the same identifier is a new generation: retention, keep-last
        and recovery points count each apart, so the new database's snapshots never push the old one's last
        copy out of keep-last."""
        return (self.kind, self.target, self.resource_id or "")

    @property
    def copy_takes_key(self) -> bool:
        """Whether the cross-region copy may name a KMS key.

        CopyDBSnapshot encrypts even an unencrypted snapshot under the key it is given, but
        CopyDBClusterSnapshot refuses a key for an unencrypted cluster snapshot (Aurora cannot encrypt
        on copy): such a copy stays unencrypted.
        """
        return not (self.kind is Kind.CLUSTER and self.encrypted is False)

    @property
    def data_time(self) -> datetime | None:
        """When the snapshot's data was taken.

        For a snapshot the module named (`...-<YYYYMMDD>-<HHMM>`), the scheduled time stamped in its name:
        the same in both regions and for both kinds, whenever the copy was made (cluster snapshot copies
        carry no OriginalSnapshotCreateTime, so their own create time is when the copy was made). For any
        other snapshot, what RDS reports (None while RDS is still creating it).
        """
        return stamp_of(self.identifier) or self.original_created or self.created

    @property
    def copy_failures(self) -> int:
        """How many cross-region copies of this (source) snapshot ended `failed` so far."""
        value = self.tags.get(COPY_FAILURES_TAG, "")
        return int(value) if value.isdigit() else 0


@dataclass(frozen=True)
class Outcome:
    """What happened to one target for one operation; the handler returns a list of these."""

    target: str
    kind: str
    operation: str  # discover | snapshot | copy | delete
    outcome: str  # started | exists | deleted | skipped | deferred | ignored | failed
    snapshot: str = ""
    reason: str = ""
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


@dataclass(frozen=True)
class TargetSelection:
    targets: list[Database]
    problems: list[Outcome]


@dataclass(frozen=True)
class CopyPlan:
    start: list[Snapshot]
    defer: list[Snapshot]
    in_flight: int  # all cross-region copies in progress in the destination region, anyone's
    failed: list[tuple[Snapshot, Snapshot]] = field(default_factory=list)  # (source, its failed copy)
    foreign: list[Snapshot] = field(default_factory=list)  # sources whose name a foreign snapshot holds
    exhausted: list[Snapshot] = field(default_factory=list)  # sources with no copy attempt left
    # sources that will never be copied (`superseded_sources`), each with the newer copy that supersedes it
    superseded: list[tuple[Snapshot, Snapshot]] = field(default_factory=list)


@dataclass(frozen=True)
class MissedRound:
    """The latest full backup round and the current targets that have no source snapshot of it."""

    stamp: str  # YYYYMMDD-HHMM, as in the snapshot names of the round
    scheduled_time: datetime
    missing: list[Database]


@dataclass(frozen=True)
class PruneDecision:
    delete: list[Snapshot]
    protected: list[tuple[Snapshot, str]]  # expired but kept, with the rule that kept it
    # sources deleted without a copy, because none will ever be made (`superseded_sources`): with the reason
    superseded: dict[tuple[Kind, str], str] = field(default_factory=dict)


# --- targets -------------------------------------------------------------------------------------


def _carries_all(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return bool(wanted) and all(tags.get(key) == value for key, value in wanted.items())


def targets(
    settings: Settings,
    instances: Sequence[Database],
    clusters: Sequence[Database],
    requested: Sequence[str] | None = None,
) -> TargetSelection:
    """Resolve the databases to back up: named ones plus tag-selected ones, cluster members excluded.

    A named database that does not exist, or a named cluster member, is a problem of its own
    target and never stops the others. `requested` narrows the result to a subset.
    """
    by_instance = {db.identifier: db for db in instances}
    by_cluster = {db.identifier: db for db in clusters}
    selected: dict[tuple[Kind, str], Database] = {}
    problems: list[Outcome] = []

    for cluster_id in settings.db_cluster_identifiers:
        if cluster_id in by_cluster:
            selected[(Kind.CLUSTER, cluster_id)] = by_cluster[cluster_id]
        else:
            problems.append(
                Outcome(
                    cluster_id,
                    Kind.CLUSTER,
                    "discover",
                    "failed",
                    reason=f"DB cluster {cluster_id} not found in {settings.source_region}",
                    fix="Check db_cluster_identifiers: the cluster was deleted, renamed, or is in another region.",
                )
            )
    for cluster in clusters:
        if _carries_all(cluster.tags, settings.selection_tags):
            selected[(Kind.CLUSTER, cluster.identifier)] = cluster
    cluster_targets = {ident for kind, ident in selected if kind is Kind.CLUSTER}

    for instance_id in settings.db_instance_identifiers:
        db = by_instance.get(instance_id)
        if db is None:
            problems.append(
                Outcome(
                    instance_id,
                    Kind.INSTANCE,
                    "discover",
                    "failed",
                    reason=f"DB instance {instance_id} not found in {settings.source_region}",
                    fix="Check db_instance_identifiers: the instance was deleted, renamed, or is in another region.",
                )
            )
        elif db.cluster_identifier:
            covered = db.cluster_identifier in cluster_targets
            problems.append(
                Outcome(
                    instance_id,
                    Kind.INSTANCE,
                    "discover",
                    "skipped" if covered else "failed",
                    reason=f"DB instance {instance_id} is a member of DB cluster {db.cluster_identifier}; "
                    "cluster members are backed up through their cluster",
                    fix=""
                    if covered
                    else f"Name the cluster {db.cluster_identifier} in db_cluster_identifiers "
                    "instead of its member instance.",
                )
            )
        else:
            selected[(Kind.INSTANCE, instance_id)] = db
    for db in instances:
        if not db.cluster_identifier and _carries_all(db.tags, settings.selection_tags):
            selected[(Kind.INSTANCE, db.identifier)] = db

    if requested is not None:
        wanted = {ident.lower() for ident in requested}
        problems = [p for p in problems if p.target in wanted]
        found = {ident for _, ident in selected} | {p.target for p in problems}
        for ident in sorted(wanted - found):
            problems.append(
                Outcome(
                    ident,
                    "",
                    "discover",
                    "failed",
                    reason=f"{ident} is not a target of this module instance",
                    fix="Name only configured targets in 'targets', or add it to db_instance_identifiers, "
                    "db_cluster_identifiers or the selection tags.",
                )
            )
        selected = {key: db for key, db in selected.items() if key[1] in wanted}

    ordered = sorted(selected.values(), key=lambda db: (db.kind, db.identifier))
    return TargetSelection(targets=ordered, problems=problems)


def can_snapshot(db: Database) -> bool:
    """RDS accepts a manual snapshot only in these states; anything else is skipped, not failed."""
    allowed = INSTANCE_SNAPSHOT_STATES if db.kind is Kind.INSTANCE else CLUSTER_SNAPSHOT_STATES
    return db.status in allowed


# --- names, tags, ownership -------------------------------------------------------------------------


def round_stamp(scheduled_time: datetime) -> str:
    """The `YYYYMMDD-HHMM` of a scheduled time: the end of every snapshot name and the backup-round tag."""
    return f"{scheduled_time:{ROUND_FORMAT}}"


@functools.lru_cache(maxsize=4096)  # every ordering and age reads it, for the same few hundred names
def parse_round_stamp(value: str) -> datetime | None:
    """The UTC time of a backup-round tag value, or None when it is not a `YYYYMMDD-HHMM` stamp."""
    try:
        parsed = datetime.strptime(value, ROUND_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None
    return parsed if round_stamp(parsed) == value else None


@functools.lru_cache(maxsize=32768)  # a name per database, round and region: a 1,000-database fleet holds ~18,000
def stamp_of(identifier: str) -> datetime | None:
    """The scheduled time of the `-YYYYMMDD-HHMM` stamp that ends a snapshot name, or None."""
    match = _TRAILING_STAMP.search(identifier)
    return parse_round_stamp(match.group(1)) if match else None


def stamped_in_future(snapshot: Snapshot, now: datetime) -> bool:
    """Whether the stamp that ends the snapshot's name is later than `now` plus FUTURE_STAMP_TOLERANCE.

    Such a stamp came from a forged scheduled_time (anyone allowed lambda:InvokeFunction can send one; the
    event parser refuses it now, but the snapshot may predate that, or come from the CLI's --scheduled-time)
    or from a clock that is wrong. Its date is not trusted: see `recovery_point_age`, `expired_snapshots`
    and `missed_in_latest_round`.
    """
    stamp = stamp_of(snapshot.identifier)
    return stamp is not None and stamp > now + FUTURE_STAMP_TOLERANCE


def future_stamp_reason(snapshot: Snapshot, now: datetime) -> str:
    """Why a snapshot stamped in the future is not trusted, for the log line that reports it."""
    stamp = stamp_of(snapshot.identifier)
    return (
        f"its stamp {round_stamp(stamp) if stamp else '?'} is in the future (now {round_stamp(now)} UTC, "
        f"tolerance {FUTURE_STAMP_TOLERANCE.total_seconds() / 60:.0f} minutes): a forged scheduled_time or a "
        "wrong clock made it, so it is neither a recovery point nor one of the newest keep_last snapshots"
    )


def untrusted_prune_time(snapshot: Snapshot, now: datetime) -> datetime:
    """The date retention reads for a snapshot stamped in the future: when RDS made it, never later than now.

    RDS's own time (OriginalSnapshotCreateTime for an instance copy, else SnapshotCreateTime: for a cluster
    copy that is when the copy was made, later than its data) does not come from the event, and is never
    earlier than the data, so the snapshot is never deleted before a real one of that day would be.
    Capped at `now`: a wrong clock ahead of ours never makes it look younger than brand new.
    """
    rds_time = snapshot.original_created or snapshot.created
    return min(sort_time(rds_time), now) if rds_time is not None else now


def sort_time(value: datetime | None) -> datetime:
    """A sort key for an optional time: None sorts first, and a naive time (never expected) counts as UTC."""
    if value is None:
        return _NO_TIME
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def snapshot_name(prefix: str, target: str, scheduled_time: datetime) -> str:
    """`<prefix>-<target>-<YYYYMMDD>-<HHMM>` from the scheduled (not the current) time, so retries collide."""
    return f"{prefix}-{target}-{round_stamp(scheduled_time)}"


def snapshot_tags(
    settings: Settings, db: Database, backup_round: str | None = None, copy_slot: bool = False
) -> dict[str, str]:
    """Tags of a new source snapshot; `backup_round` (a stamp) only for snapshots of a full backup round,
    `copy_slot` for one the backup run reserved a copy slot for."""
    tags = dict(settings.snapshot_tags)
    tags.update(
        {
            settings.owner_tag_key: settings.owner_tag_value,
            SOURCE_TAG: db.identifier,
            SOURCE_TYPE_TAG: str(db.kind),
        }
    )
    if backup_round is not None:
        tags[ROUND_TAG] = backup_round
    if copy_slot:
        tags[COPY_SLOT_TAG] = "reserved"
    portable = portable_tag_value(db.instance_class, db.multi_az, db.deletion_protection)
    if portable:
        tags[PORTABLE_TAG] = portable
    return tags


def portable_tag_value(instance_class: str | None, multi_az: bool | None, deletion_protection: bool | None) -> str:
    """The PORTABLE_TAG value: "class=db.r6g.large multi-az=true deletion-protection=true".

    RDS tag values allow letters, digits, spaces and _ . : / = + - @ (RDS User Guide, "Tagging Amazon RDS
    resources"), so the pairs are separated by spaces.
    """
    pairs = {"class": instance_class, "multi-az": multi_az, "deletion-protection": deletion_protection}
    return " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in pairs.items() if v is not None)


def has_our_prefix(settings: Settings, identifier: str) -> bool:
    return identifier.startswith(f"{settings.snapshot_prefix}-")


def has_our_name(settings: Settings, snapshot: Snapshot) -> bool:
    """The exact name the module gives: `<prefix>-<database>-<YYYYMMDD>-<HHMM>`, nothing before or after.

    The database is the one the snapshot belongs to (our source tag, else what RDS reports), so a copy
    named ours plus a suffix (`...-1400-legal-hold`) is not ours, even with our tags copied onto it.
    """
    head = f"{settings.snapshot_prefix}-{snapshot.target}-"
    return snapshot.identifier.startswith(head) and parse_round_stamp(snapshot.identifier[len(head) :]) is not None


def is_owned(settings: Settings, snapshot: Snapshot) -> bool:
    """Ours = manual snapshot with our ownership tag AND the exact name the module gives, and in the
    destination region also a copy of the source snapshot of that name (`copied_from_our_source`).

    "Copy tags" carries our tags to anyone's copy of our snapshots, so a tag alone proves nothing, and
    name and tag together do not prove a DR snapshot is the copy of that day's source: a person's copy of
    an older source, or a snapshot made in the destination region, may carry both. Nothing that is not
    ours is ever touched, counted as a copy or as a recovery point.
    """
    known = snapshot._owned
    if known and known[0] is settings:
        return bool(known[1])
    owned = (
        snapshot.snapshot_type == "manual"
        and snapshot.tags.get(settings.owner_tag_key) == settings.owner_tag_value
        and has_our_name(settings, snapshot)
        and (snapshot.region != settings.destination_region or copied_from_our_source(settings, snapshot))
    )
    known[:] = (settings, owned)
    return owned


def copied_from_our_source(settings: Settings, snapshot: Snapshot) -> bool:
    """Whether a destination snapshot is a copy of the source-region snapshot with its own name.

    RDS records a cross-region copy's source: SourceDBSnapshotIdentifier, the ARN of the DB snapshot it was
    copied from ("It only has a value in the case of a cross-account or cross-Region copy"), and
    SourceDBClusterSnapshotArn for a DB cluster snapshot copy (RDS API Reference, data types DBSnapshot and
    DBClusterSnapshot, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBSnapshot.html).
    Where a response gives only SourceRegion, the region must be the source region.
    """
    source = snapshot.copied_from
    if not source:
        return False
    if not source.startswith("arn:"):
        return source == settings.source_region
    parts = source.split(":", 6)
    resource = "snapshot" if snapshot.kind is Kind.INSTANCE else "cluster-snapshot"
    return (
        len(parts) == 7
        and parts[3] == settings.source_region
        and parts[5] == resource
        and parts[6].lower() == snapshot.identifier.lower()
    )


# --- copies ------------------------------------------------------------------------------------------


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
    return is_owned(settings, snapshot) and snapshot.status == "available"


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
    if not is_owned(settings, copy):
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
    operation: str,
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
    if existing is None or is_owned(settings, existing):
        state = f", {existing.status}" if existing is not None and existing.status else ""
        reason = f"already exists in {region} (retried or duplicate event{state})"
        return Outcome(target, kind, operation, "exists", name, _join(note, reason))
    return Outcome(
        target,
        kind,
        operation,
        "failed",
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
        "copy",
        "failed",
        source.identifier,
        f"the copy to {region} ended failed ({failures} failed so far); {then}",
        COPY_FAILED_FIX.format(region=region, tag=COPY_FAILURES_TAG, snapshot=source.identifier),
    )


def exhausted_copy_outcome(settings: Settings, source: Snapshot, region: str) -> Outcome:
    """Every allowed copy attempt of `source` failed: loud on every reconcile until someone acts."""
    return Outcome(
        source.target,
        source.kind,
        "copy",
        "failed",
        source.identifier,
        f"{source.copy_failures} copies to {region} ended failed; copy_max_attempts={settings.copy_max_attempts} "
        "reached, so no copy is started and the source is kept",
        COPY_FAILED_FIX.format(region=region, tag=COPY_FAILURES_TAG, snapshot=source.identifier),
    )


def is_copy_in_flight(settings: Settings, snapshot: Snapshot) -> bool:
    """A destination snapshot that counts against the copies-in-progress limit (ours or anyone's)."""
    if snapshot.status not in COPY_IN_FLIGHT_STATES:
        return False
    return snapshot.copied_from is not None or is_owned(settings, snapshot)


# How long after its round's scheduled time a reserved copy slot is held for a snapshot still being made: the
# hour in which the backup run itself may start late (ROUND_GRACE: Scheduler's retries), and an hour for the
# snapshot (an incremental one takes minutes). A snapshot slower than that lets its slot go to a copy that
# waits (copy-waiting, a finished copy, reconcile), and its own snapshot-created event no longer starts its
# copy: a slow snapshot does not keep a slot idle for hours.
COPY_SLOT_HOLD = timedelta(hours=2)


def holds_copy_slot(snapshot: Snapshot, now: datetime) -> bool:
    """Whether the backup run reserved a copy slot for this source snapshot (COPY_SLOT_TAG) and it still holds:
    its stamp is at most COPY_SLOT_HOLD old."""
    if not snapshot.tags.get(COPY_SLOT_TAG):
        return False
    stamp = stamp_of(snapshot.identifier)
    return stamp is not None and now - COPY_SLOT_HOLD <= stamp <= now + FUTURE_STAMP_TOLERANCE


def reserved_copy_slots(settings: Settings, source: Iterable[Snapshot], now: datetime) -> dict[Kind, int]:
    """Per kind, the copy slots held for owned source snapshots still being made: the backup run reserved
    them (COPY_SLOT_TAG), and each one's snapshot-created event will start its copy. The paths that count the
    copies in flight leave them free, so the event's copy never takes the instance over its share. A holder
    that is available and has no copy yet is a waiting copy like any other (it goes first: `slot_first`)."""
    reserved = dict.fromkeys(Kind, 0)
    for snap in source:
        if snap.status == "creating" and holds_copy_slot(snap, now) and is_owned(settings, snap):
            reserved[snap.kind] += 1
    return reserved


def slot_first(snapshot: Snapshot) -> int:
    """The leading sort key of the copy order: a snapshot the backup run reserved a copy slot for goes first (0)."""
    return 0 if snapshot.tags.get(COPY_SLOT_TAG) else 1


def copy_room(
    settings: Settings,
    own_in_flight: Sequence[Snapshot],
    in_flight: Sequence[Snapshot],
    reserved: Mapping[Kind, int] | None = None,
) -> dict[Kind, int]:
    """How many more copies of each kind this instance may start: its share (COPY_CONCURRENCY_LIMIT, per kind)
    less its own copies of that kind in progress, within what the account has left of AWS's limit for the
    kind (20 DB snapshot and, apart, 5 DB cluster snapshot copies in progress per destination region).

    Per kind, because AWS counts the kinds apart: one share over both would let a backlog of instance copies
    hold every slot of the share while cluster slots, which instances cannot use, stand idle (the fleet
    simulation found Aurora clusters never copied that way when their snapshot events were lost). Another
    module instance's long copies must not hold this one back below its share; only the AWS limits may.
    `reserved` (`reserved_copy_slots`) counts as copies of this instance in progress.
    """
    aws_limit = {Kind.INSTANCE: ACCOUNT_COPY_LIMIT, Kind.CLUSTER: ACCOUNT_CLUSTER_COPY_LIMIT}
    held = reserved or {}
    return {
        kind: min(
            settings.copy_concurrency_limit - sum(1 for snap in own_in_flight if snap.kind is kind) - held.get(kind, 0),
            limit - sum(1 for snap in in_flight if snap.kind is kind) - held.get(kind, 0),
        )
        for kind, limit in aws_limit.items()
    }


def copy_priority(snap: Snapshot, rank: int, recovery_point: datetime | None) -> tuple[int, datetime, float, int, str]:
    """The order in which copies start when not all may start at once (a sort key: smallest first).

    `rank` is the snapshot's place among its database's owned, available source snapshots, newest first
    (0: the newest): every database's newest snapshot goes before any database's older one. Then the
    database whose newest copy of ours (`recovery_point`, available or in flight: None when it has none or it
    is not known) is the oldest goes first; reconcile reads it from its listing, copy-waiting from
    `recovery_points_from_previous`. When the copy limit cannot take a whole backup round (say 900 instance
    copies a day through 5 slots), the databases left over wait once, then go first in the next round,
    instead of waiting every round. Then the newest snapshot first. Among equals (one round's snapshots) the
    order is a hash of the name, which carries the round's stamp, so it changes each round rather than
    favouring the same names (and it is the same in every invocation).
    """
    return (
        rank,
        sort_time(recovery_point),
        -sort_time(snap.data_time).timestamp(),
        name_order(snap.identifier),
        snap.identifier,
    )


def name_order(name: str) -> int:
    """A stable order hashed from a snapshot name, which carries its round's stamp: among one round's snapshots
    it changes every round instead of favouring the same names (and is the same in every invocation)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest())


def newest_first_rank(settings: Settings, source: Iterable[Snapshot]) -> dict[tuple[Kind, str], int]:
    """Each owned, available source snapshot's place among its database's, newest first (0: the newest),
    keyed by (kind, identifier)."""
    by_database: dict[tuple[Kind, str], list[Snapshot]] = {}
    for snap in source:
        if is_owned_available(settings, snap):
            by_database.setdefault((snap.kind, snap.target), []).append(snap)
    rank: dict[tuple[Kind, str], int] = {}
    for snaps in by_database.values():
        snaps.sort(key=lambda s: (sort_time(s.data_time), s.identifier), reverse=True)
        rank.update({(snap.kind, snap.identifier): place for place, snap in enumerate(snaps)})
    return rank


def superseded_sources(
    settings: Settings, source: Iterable[Snapshot], destination: Iterable[Snapshot], now: datetime
) -> dict[tuple[Kind, str], Snapshot]:
    """The owned, available source snapshots that will never be copied, each with the copy that supersedes it.

    A source snapshot without a copy (none was ever made, or it was deleted by hand) whose data is already
    older than destination_retention_days, while the destination holds a newer available copy of ours of the
    same database generation: its copy would be an expired snapshot behind a newer one, pruned at once, so
    it is not made. Such a source no longer waits for its copy before retention deletes it: it would wait
    forever, held against the source region's manual snapshot quota (source_retention_days never exceeds
    destination_retention_days, so it is past the source retention too). A source whose copy attempts are
    exhausted is not among them: it stays, reported, until someone acts. Keyed by (kind, identifier).
    """
    cutoff = now - timedelta(days=settings.destination_retention_days)
    newest: dict[tuple[Kind, str, str], Snapshot] = {}
    names: set[tuple[Kind, str]] = set()
    for snap in destination:
        names.add((snap.kind, snap.identifier))
        if copy_state(settings, snap) is not CopyState.AVAILABLE or snap.data_time is None:
            continue
        held = newest.get(snap.generation)
        if held is None or sort_time(snap.data_time) > sort_time(held.data_time):
            newest[snap.generation] = snap
    found: dict[tuple[Kind, str], Snapshot] = {}
    for snap in source:
        if not is_owned_available(settings, snap) or (snap.kind, snap.identifier) in names:
            continue
        if not copy_attempts_left(settings, snap):
            continue  # its copies all failed: kept, and reported on every reconcile until someone acts
        taken = sort_time(snap.data_time)
        newer = newest.get(snap.generation) or newest.get((snap.kind, snap.target, ""))
        if taken < cutoff and newer is not None and sort_time(newer.data_time) > taken:
            found[(snap.kind, snap.identifier)] = newer
    return found


def superseded_reason(settings: Settings, newer: Snapshot) -> str:
    return (
        f"never copied: older than retention.destination_days={settings.destination_retention_days} while "
        f"{newer.region} holds a newer copy ({newer.identifier}), so its copy would be pruned at once"
    )


SUPERSEDED_FIX = (
    "Nothing to do for this snapshot. If it happens often, copies are failing or refused for days (see the "
    "copy outcomes and the RecoveryPointAgeSeconds alarm)."
)


def plan_copies(
    settings: Settings,
    source: Iterable[Snapshot],
    destination: Iterable[Snapshot],
    wanted_targets: set[str] | None = None,
    now: datetime | None = None,
) -> CopyPlan:
    """What to do about each owned, available source snapshot, from its destination copy's state.

    No copy: start it, up to the limit, and defer the rest; once copy_max_attempts copies have failed,
    report it instead. A copy that ended failed: report, remove and (within the attempts) retry it.
    A foreign snapshot with our name: report it. In flight or available: nothing to do.

    The limit is, per kind, this instance's COPY_CONCURRENCY_LIMIT minus its own copies of that kind in
    progress, and never more than the account has left of the copies AWS allows in progress per destination
    region: 20 instance snapshots and, counted on their own, 5 cluster snapshots (`copy_room`).
    In `copy_priority` order: each database's newest snapshot before any older one, and among those the
    databases with the oldest DR copy first, so a limit that holds copies back delays each database in turn
    rather than the same ones every day. With `now`, a source that will never be copied (`superseded_sources`)
    is reported as such, not started: its copy would only be pruned again. Exhausted attempts are reported
    first, whatever the source's age: a source whose copies all failed stays loud.
    """
    destination = list(destination)
    source_list = list(source)
    by_name = {(snap.kind, snap.identifier): snap for snap in destination}
    in_flight = [snap for snap in destination if is_copy_in_flight(settings, snap)]
    copied_up_to: dict[tuple[Kind, str], datetime] = {}  # available or in flight: the copy order's recovery point
    for snap in destination:
        state = copy_state(settings, snap)
        if state not in (CopyState.AVAILABLE, CopyState.IN_FLIGHT) or snap.data_time is None:
            continue
        key = (snap.kind, snap.target)
        copied_up_to[key] = max(snap.data_time, copied_up_to.get(key, snap.data_time))
    superseded = superseded_sources(settings, source_list, destination, now) if now is not None else {}
    missing: list[Snapshot] = []
    failed: list[tuple[Snapshot, Snapshot]] = []
    foreign: list[Snapshot] = []
    exhausted: list[Snapshot] = []
    never: list[tuple[Snapshot, Snapshot]] = []
    for snap in source_list:
        if not is_owned_available(settings, snap):
            continue
        if wanted_targets is not None and snap.target not in wanted_targets:
            continue
        copy = by_name.get((snap.kind, snap.identifier))
        state = copy_state(settings, copy)
        if state is CopyState.ABSENT:
            if not copy_attempts_left(settings, snap):
                exhausted.append(snap)
            elif (snap.kind, snap.identifier) in superseded:
                never.append((snap, superseded[(snap.kind, snap.identifier)]))
            else:
                missing.append(snap)
        elif state is CopyState.FAILED and copy is not None:
            failed.append((snap, copy))
        elif state is CopyState.FOREIGN:
            foreign.append(snap)
    rank = newest_first_rank(settings, source_list)
    missing.sort(
        key=lambda s: (
            slot_first(s),
            copy_priority(s, rank.get((s.kind, s.identifier), 0), copied_up_to.get((s.kind, s.target))),
        )
    )
    room = copy_room(
        settings,
        [snap for snap in in_flight if is_owned(settings, snap)],
        in_flight,
        reserved_copy_slots(settings, source_list, now) if now is not None else None,
    )
    start: list[Snapshot] = []
    defer: list[Snapshot] = []
    for snap in missing:
        if room[snap.kind] > 0:
            start.append(snap)
            room[snap.kind] -= 1
        else:
            defer.append(snap)
    return CopyPlan(
        start=start,
        defer=defer,
        in_flight=len(in_flight),
        failed=failed,
        foreign=foreign,
        exhausted=exhausted,
        superseded=never,
    )


def waiting_copy_candidates(settings: Settings, source: Iterable[Snapshot]) -> list[Snapshot]:
    """The snapshots that may wait for a copy slot: each database's newest owned, available source snapshot
    with copy attempts left, in `copy_priority` order as far as the source tells it (newest first). Older ones
    without a copy are reconcile's business."""
    newest: dict[tuple[Kind, str], Snapshot] = {}
    for snap in source:
        if not (is_owned_available(settings, snap) and copy_attempts_left(settings, snap)):
            continue
        key = (snap.kind, snap.target)
        if key not in newest or sort_time(snap.data_time) > sort_time(newest[key].data_time):
            newest[key] = snap
    return sorted(newest.values(), key=lambda s: copy_priority(s, 0, None))


def snapshots_being_made(settings: Settings, source: Iterable[Snapshot]) -> int:
    """Owned source snapshots still being made: each one's copy waits for it, so the copy-waiting schedule stays
    on until they are available (a lost snapshot-created event, or a snapshot without a reserved copy slot,
    leaves its copy to copy-waiting)."""
    return sum(1 for snap in source if snap.status == "creating" and is_owned(settings, snap))


def copy_waiting_reason(waiting: Mapping[Kind, int], being_made: int, slot_was_free: bool = False) -> str:
    """Why the copy-waiting schedule should run ("" when it need not).

    - Snapshots of ours are being made: their copies may have to wait (no reserved slot, or a lost
      snapshot-created event).
    - Cluster snapshot copies wait: RDS announces no finished cluster copy, so nothing else fills a freed
      cluster slot before reconcile.
    - Instance snapshot copies wait and a slot was free (`slot_was_free`: this run could start one): the
      copy-finished events did not keep the share busy, so keep looking.

    Instance copies that wait while every slot is busy need no schedule: each copy-finished event starts as
    many as the share has free (`plan_refill`), so the event after one RDS did not deliver fills that slot
    too; reconcile fills what is left when no event comes at all. `waiting`: the copies that wait, per kind.
    """
    parts = []
    if being_made:
        parts.append(f"{being_made} snapshot{' is' if being_made == 1 else 's are'} being made")
    clusters, instances = waiting.get(Kind.CLUSTER, 0), waiting.get(Kind.INSTANCE, 0)
    if clusters:
        parts.append(
            f"{clusters} cluster snapshot cop{'y waits' if clusters == 1 else 'ies wait'} for a slot "
            "(RDS announces no finished cluster copy)"
        )
    if instances and slot_was_free:
        parts.append(
            f"{instances} instance snapshot cop{'y waits' if instances == 1 else 'ies wait'} and a slot was free"
        )
    return " and ".join(parts)


def previous_snapshots(
    settings: Settings, source: Iterable[Snapshot], candidates: Iterable[Snapshot]
) -> dict[tuple[Kind, str], Snapshot]:
    """For each candidate's database, keyed by (kind, database): its newest owned, available source snapshot
    older than the candidate. Whether that one has a copy tells whether the database's recovery point is the
    previous round's, without listing the destination."""
    wanted = {(snap.kind, snap.target): sort_time(snap.data_time) for snap in candidates}
    previous: dict[tuple[Kind, str], Snapshot] = {}
    for snap in source:
        key = (snap.kind, snap.target)
        if key not in wanted or not is_owned_available(settings, snap):
            continue
        when = sort_time(snap.data_time)
        if when < wanted[key] and (key not in previous or when > sort_time(previous[key].data_time)):
            previous[key] = snap
    return previous


def recovery_points_from_previous(
    settings: Settings,
    previous: Mapping[tuple[Kind, str], Snapshot],
    found: Iterable[Snapshot],
    known_copied: Iterable[tuple[Kind, str]] = (),
) -> dict[tuple[Kind, str], datetime | None]:
    """Each database's recovery point as copy-waiting can know it: its previous snapshot's time when a copy of
    that snapshot (`found`: a lookup of the previous snapshots' names; `known_copied`: (kind, name) already
    known to have an available copy) is ours and available or on its way; else None (older, or none), which
    `copy_priority` puts first."""
    copied = set(known_copied) | {
        (snap.kind, snap.identifier)
        for snap in found
        if copy_state(settings, snap) in (CopyState.AVAILABLE, CopyState.IN_FLIGHT)
    }
    return {key: snap.data_time if (snap.kind, snap.identifier) in copied else None for key, snap in previous.items()}


@dataclass(frozen=True)
class WaitingCopies:
    """What the copy-waiting action starts, and the copies that wait for a slot, in the order they start."""

    start: list[Snapshot]
    queue: list[Snapshot]  # candidates with nothing under their name in the destination, in the order they start
    own_in_flight: int  # this instance's copies of the candidates in progress


def plan_waiting_copies(
    settings: Settings,
    candidates: Sequence[Snapshot],
    found: Iterable[Snapshot],
    recovery_points: Mapping[tuple[Kind, str], datetime | None] | None = None,
    reserved: Mapping[Kind, int] | None = None,
) -> WaitingCopies:
    """The waiting copies to start now: `candidates` are `waiting_copy_candidates` (both kinds), `found` what a
    lookup of their names in the destination returned. With `recovery_points` (by (kind, database), from
    `recovery_points_from_previous`), in `copy_priority` order; else in the candidates' order.

    The room is `copy_room`, per kind, from this instance's copies in progress that `found` holds (copy-waiting
    looks up the candidates' names and those of the older owned snapshots not known to be copied). Other module
    instances' copies are not counted: RDS refuses a copy past its limit, and that refusal stops the rest. A
    candidate whose name is taken (in flight, available, failed or foreign) is not waiting: reconcile handles
    failed and foreign ones.
    """
    taken = {(snap.kind, snap.identifier) for snap in found}
    own_in_flight = [snap for snap in found if is_copy_in_flight(settings, snap) and is_owned(settings, snap)]
    room = copy_room(settings, own_in_flight, own_in_flight, reserved)
    waiting = [snap for snap in candidates if (snap.kind, snap.identifier) not in taken]
    if recovery_points is not None:
        waiting.sort(key=lambda s: (slot_first(s), copy_priority(s, 0, recovery_points.get((s.kind, s.target)))))
    else:
        waiting.sort(key=slot_first)  # stable: the candidates' order otherwise
    start: list[Snapshot] = []
    for snap in waiting:
        if room[snap.kind] > 0:
            start.append(snap)
            room[snap.kind] -= 1
    return WaitingCopies(start=start, queue=waiting, own_in_flight=len(own_in_flight))


@dataclass(frozen=True)
class Refill:
    """What a copy-finished event may start, from one lookup of the watched and waiting names."""

    start: list[Snapshot]  # the first waiting ones, as many as the share has free
    waiting: list[Snapshot]  # the looked-up queue names with nothing under them in the destination, in order
    watch: list[Snapshot]  # source snapshots whose copy is still in flight, or whose reserved slot still holds
    done: set[str]  # names now taken in the destination and not in flight: no longer waiting or watched
    room: int  # the free slots of the kind (may be 0: a duplicate event, or reserved slots)


def plan_refill(
    settings: Settings,
    kind: Kind,
    queue: Sequence[Snapshot],
    watch: Sequence[Snapshot],
    found: Iterable[Snapshot],
    now: datetime,
) -> Refill:
    """The copies a copy-finished event starts: as many as the share of `kind` has free, not one per event.

    `queue` is the waiting copies in start order, `watch` the source snapshots whose copy the execution
    environment last saw in flight or that were still being made at the listing (another invocation may copy
    them: their copies hold slots too), and `found` what one lookup of all their names returned in the
    destination. The room is `copy_room` from the copies found in flight and the slots the backup run reserved
    (`holds_copy_slot`) for snapshots with no copy yet: an event
    delivered twice finds its slot refilled (room 0, nothing starts), and the event after a lost one finds two
    slots free and fills both.
    """
    by_name = {snap.identifier: snap for snap in found if snap.kind is kind}
    own_in_flight = [
        snap for snap in by_name.values() if is_copy_in_flight(settings, snap) and is_owned(settings, snap)
    ]
    in_flight = {snap.identifier for snap in own_in_flight}
    reserved = dict.fromkeys(Kind, 0)
    still: dict[str, Snapshot] = {}
    watched = {snap.identifier for snap in watch}
    for snap in list(watch) + list(queue):
        name = snap.identifier
        if name in still:
            continue
        if name in in_flight:
            still[name] = snap
        elif name not in by_name and name in watched and snap.status == "creating":
            # still being made when listed, and no copy yet: watched until its copy starts (by any invocation)
            still[name] = snap
            if holds_copy_slot(snap, now):
                reserved[kind] += 1
    waiting = [snap for snap in queue if snap.identifier not in by_name]
    room = copy_room(settings, own_in_flight, own_in_flight, reserved)[kind]
    done = {name for name in by_name if name not in in_flight}
    return Refill(start=waiting[: max(0, room)], waiting=waiting, watch=list(still.values()), done=done, room=room)


def copy_slots_for_round(
    settings: Settings,
    targets: Sequence[Database],
    scheduled: datetime,
    previous: Iterable[Snapshot] | None,
    backlog: Sequence[Snapshot] = (),
) -> set[tuple[Kind, str]]:
    """The targets, as (kind, identifier), whose new snapshot gets a copy slot reserved (COPY_SLOT_TAG), so its
    snapshot-created event may start its copy at once: as many of each kind as the instance's share has free.

    `previous` is what the destination holds under the names of the targets' snapshots of the previous
    scheduled round (None: that round is not known, e.g. a rate() schedule: then no slot is reserved, and the
    copies start from copy-waiting, a finished copy or reconcile, which count the copies in flight). Its copies
    still in flight hold the share now. With a `backlog` (`copy_backlog`) no slot is reserved: the copies of the
    round queue behind it on the paths that count the copies in flight (a reconcile or a finished copy starting
    a backlog copy at the round's time could not see the slots reserved a moment later). The slots go first to
    the databases whose previous copy is not available, then in an order hashed from the new name, as
    `copy_priority` orders one round; a database that cannot be snapshotted now takes none.
    """
    if previous is None or backlog:
        return set()
    previous = list(previous)
    own = [snap for snap in previous if is_copy_in_flight(settings, snap) and is_owned(settings, snap)]
    room = copy_room(settings, own, own)
    copied = {(snap.kind, snap.target) for snap in previous if copy_state(settings, snap) is CopyState.AVAILABLE}

    def order(db: Database) -> tuple[bool, int, str]:
        name = snapshot_name(settings.snapshot_prefix, db.identifier, scheduled)
        return (
            (db.kind, db.identifier) in copied,
            name_order(name),
            name,
        )

    slots: set[tuple[Kind, str]] = set()
    for db in sorted(targets, key=order):
        if room[db.kind] > 0 and can_snapshot(db):
            slots.add((db.kind, db.identifier))
            room[db.kind] -= 1
    return slots


def copy_backlog(settings: Settings, older: Iterable[Snapshot], found: Iterable[Snapshot]) -> list[Snapshot]:
    """Owned source snapshots older than the previous round (`older`) whose copy is still to come: in flight, or
    none under their name in the destination (`found`: a lookup of their names) with copy attempts left. An
    older snapshot with an available copy, or out of attempts, is no backlog."""
    by_name = {(snap.kind, snap.identifier): snap for snap in found}
    backlog = []
    for snap in older:
        copy = by_name.get((snap.kind, snap.identifier))
        if copy is None:
            if copy_attempts_left(settings, snap):
                backlog.append(snap)
        elif is_copy_in_flight(settings, copy):
            backlog.append(snap)
    return backlog


def may_copy_more(outcome: Outcome) -> bool:
    """Whether to go on starting copies after this copy outcome: not once RDS refused one for the limit."""
    return not (outcome.operation == "copy" and outcome.outcome == "deferred")


def freed_room(outcomes: Iterable[Outcome]) -> bool:
    """Whether a quota prune freed room: at least one snapshot was deleted."""
    return any(o.operation == "delete" and o.outcome == "deleted" for o in outcomes)


# --- backup rounds ------------------------------------------------------------------------------------

# How long after its scheduled time a backup round may still be running: EventBridge Scheduler retries the
# invocation for up to maximum_event_age_in_seconds = 3600 (schedule.tf), and a run lasts at most the
# function's timeout (15 minutes). Reconcile retakes a round that left no snapshot at all only after this, so
# it does not race the backup run itself (a race is harmless: both use the round's names, and RDS refuses
# the second snapshot of a name).
ROUND_GRACE = timedelta(hours=1)
_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
)}  # fmt: skip


def _cron_set(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> frozenset[int] | None:
    """The values of [low, high] a cron field selects; None for what this reader does not evaluate (L, W, #)."""
    if spec in ("*", "?"):
        return frozenset(range(low, high + 1))
    parts = _cron_parts(spec, low, high, names)
    if any(part is None for part in parts):
        return None
    return frozenset(v for part in parts if part is not None for v in part if low <= v <= high)


def latest_scheduled_time(
    expression: str, zone: tzinfo | None, before: datetime, horizon: timedelta
) -> datetime | None:
    """The latest time, not after `before` and not older than `horizon` before it, at which the backup schedule
    fired (in UTC, as Scheduler's <aws.scheduler.scheduled-time>); None when it cannot be known.

    EventBridge Scheduler evaluates cron() and at() in the schedule's time zone (`zone`) with the fields
    minutes, hours, day-of-month, month, day-of-week (1-7 = SUN-SAT) and year (EventBridge Scheduler User
    Guide, "Schedule types", cron-based schedules). A rate() schedule's times depend on when it was created,
    which the function is not told: None, as for a zone whose rules are unknown and for L, W and # fields.
    """
    if zone is None:
        return None
    expression = expression.strip()
    earliest = before - horizon
    if _AT.match(expression):
        at = datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=zone).astimezone(UTC)
        return at if earliest <= at <= before else None
    cron = _CRON.match(expression)
    if not cron:
        return None
    minutes, hours, day_of_month, month, day_of_week, year = cron.group("fields").split(" ")
    try:
        fields = (
            _cron_set(minutes, 0, 59),
            _cron_set(hours, 0, 23),
            _cron_set(day_of_month, 1, 31),
            _cron_set(month, 1, 12, _MONTHS),
            _cron_set(day_of_week, 1, 7, _WEEKDAYS),
            _cron_set(year, 1970, 2199),
        )
    except ValueError:
        return None
    if any(field is None for field in fields):
        return None
    mins, hrs, doms, months, dows, years = (sorted(f or (), reverse=True) for f in fields)
    by_day_of_month = day_of_month not in ("*", "?")
    by_day_of_week = day_of_week not in ("*", "?")
    day = before.astimezone(zone).date()
    while True:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        if midnight + timedelta(days=1) < earliest:
            return None
        weekday = (day.weekday() + 1) % 7 + 1  # Monday is 0 to Python, 2 to cron
        if (
            day.year in years
            and day.month in months
            and (not by_day_of_month or day.day in doms)
            and (not by_day_of_week or weekday in dows)
        ):
            for hour in hrs:
                for minute in mins:
                    fired = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
                    if fired <= before:
                        return fired if fired >= earliest else None
        day -= timedelta(days=1)


# RDS User Guide, "DB snapshot status" / "DB cluster snapshot status": a snapshot RDS could not take.
SNAPSHOT_FAILED_STATES = frozenset({"failed"})


def failed_snapshots(settings: Settings, source: Iterable[Snapshot], wanted: set[str] | None) -> list[Snapshot]:
    """Our source snapshots that ended failed (of the `wanted` targets; None: all): no data, only a name."""
    return [
        snap
        for snap in source
        if snap.status in SNAPSHOT_FAILED_STATES
        and is_owned(settings, snap)
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
    owned = [snap for snap in source if is_owned(settings, snap)]
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


# --- retention ---------------------------------------------------------------------------------------


def expired_snapshots(
    settings: Settings,
    snapshots: Iterable[Snapshot],
    *,
    retention_days: int,
    now: datetime,
    destination_copies: Iterable[Snapshot] | None = None,
    wanted_targets: set[str] | None = None,
) -> PruneDecision:
    """Which owned snapshots to delete in one region, under the data-safety rules.

    - only snapshots that are ours (exact name + ownership tag, manual), never automated ones;
    - only `available` snapshots older than `retention_days`;
    - never the newest `keep_last` available snapshots of a database (so never its newest copy);
    - for source snapshots (`destination_copies` given): never before the copy is `available`, unless none
      will ever be made (`superseded_sources`): those are listed in `superseded` with the reason.

    A snapshot stamped in the future (`stamped_in_future`) is ours (name and tag), but its date is not
    trusted. It takes no keep-last place: it would push a real snapshot out of keep-last and let it be
    deleted. It may still be pruned by the rules above, dated by `untrusted_prune_time` (when RDS made it,
    at most now) instead of its stamp: never earlier than a real snapshot of that day, and not kept forever
    as its stamp would keep it. Until then it is listed in `protected` with `future_stamp_reason`, so every
    reconcile reports it by name rather than trusting it in silence.
    """
    cutoff = now - timedelta(days=retention_days)
    copies = None
    superseded: dict[tuple[Kind, str], str] = {}
    if destination_copies is not None:
        destination_copies = list(destination_copies)
        snapshots = list(snapshots)
        copies = {(c.kind, c.identifier): c for c in destination_copies if is_owned(settings, c)}
        superseded = {
            key: superseded_reason(settings, newer)
            for key, newer in superseded_sources(settings, snapshots, destination_copies, now).items()
        }

    decided: dict[tuple[Kind, str], str] = {}
    by_target: dict[tuple[Kind, str, str], list[Snapshot]] = {}
    for snap in snapshots:
        if not is_owned(settings, snap) or snap.status != "available":
            continue
        if wanted_targets is not None and snap.target not in wanted_targets:
            continue
        by_target.setdefault(snap.generation, []).append(snap)

    delete: list[Snapshot] = []
    protected: list[tuple[Snapshot, str]] = []
    for group in by_target.values():
        trusted = [snap for snap in group if not stamped_in_future(snap, now)]
        trusted.sort(key=lambda s: (sort_time(s.data_time), s.identifier), reverse=True)
        for position, snap in enumerate(trusted):
            if snap.data_time is None or snap.data_time >= cutoff:
                continue
            if position < settings.keep_last:
                protected.append((snap, f"one of the newest {settings.keep_last} available snapshots of {snap.target}"))
                continue
            key = (snap.kind, snap.identifier)
            waiting = _copy_not_available(copies, snap)
            if waiting and key not in superseded:
                protected.append((snap, waiting))
                continue
            if waiting:
                decided[key] = superseded[key]
            delete.append(snap)
        for snap in sorted((s for s in group if stamped_in_future(s, now)), key=lambda s: s.identifier):
            untrusted = future_stamp_reason(snap, now)
            made = untrusted_prune_time(snap, now)
            if made >= cutoff:
                expires = f"{made + timedelta(days=retention_days):%Y-%m-%d %H:%M}"
                protected.append((snap, f"{untrusted}; dated by when RDS made it, it expires {expires} UTC"))
                continue
            waiting = _copy_not_available(copies, snap)
            if waiting and (snap.kind, snap.identifier) not in superseded:
                protected.append((snap, f"{untrusted}; {waiting}"))
                continue
            if waiting:
                decided[(snap.kind, snap.identifier)] = superseded[(snap.kind, snap.identifier)]
            delete.append(snap)
    return PruneDecision(delete=delete, protected=protected, superseded=decided)


def _copy_not_available(copies: Mapping[tuple[Kind, str], Snapshot] | None, snap: Snapshot) -> str:
    """Why a source snapshot must wait for its destination copy ("" when it need not: a destination
    snapshot, `copies` None, or its copy is available)."""
    if copies is None:
        return ""
    copy = copies.get((snap.kind, snap.identifier))
    if copy is not None and copy.status == "available":
        return ""
    return f"its destination copy is not available yet ({'missing' if copy is None else copy.status})"


# --- recovery point ----------------------------------------------------------------------------------


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
        "key",
        "failed",
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
        if snap.status != "available" or not is_owned(settings, snap) or snap.data_time is None:
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


# --- capacity ----------------------------------------------------------------------------------------

# The Service Quotas entries RDS counts manual snapshots against, per region (RDS User Guide, "Quotas and
# constraints for Amazon RDS", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html:
# "Manual DB instance snapshots" and "Manual DB cluster snapshots", 100 each by default, adjustable; the
# page links each to its Service Quotas code). Keyed by DescribeAccountAttributes' AccountQuotaName.
SNAPSHOT_QUOTAS = {
    Kind.INSTANCE: ("ManualSnapshots", "Manual DB instance snapshots", "L-272F1212"),
    Kind.CLUSTER: ("ManualClusterSnapshots", "Manual DB cluster snapshots", "L-9B510759"),
}

_RATE = re.compile(r"^rate\((?P<n>[1-9][0-9]*) (?P<unit>minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^ ()]+( [^ ()]+){5})\)$")
_AT = re.compile(r"^at\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\)$")
_PER_DAY = {"minute": 1440.0, "hour": 24.0, "day": 1.0}
_WEEKDAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}


@dataclass(frozen=True)
class SnapshotCapacity:
    """The most manual snapshots of one kind this module instance holds in one region, in steady state."""

    region: str
    role: str  # source | destination
    kind: Kind
    targets: int
    per_target: int  # max(snapshots inside the retention window, keep_last) + 1
    in_flight: int  # copies in flight on top (a backlog's copies, held source snapshots)
    quota_name: str  # the DescribeAccountAttributes AccountQuotaName
    quota_title: str  # the Service Quotas name
    quota_code: str

    @property
    def total(self) -> int:
        return self.targets * self.per_target + self.in_flight


def _cron_parts(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> list[range | None]:
    """Each comma-separated part of a cron field (not `*` or `?`) as the range of values it names, or None for a
    part with L, W or # (a name such as JUL or WED is a value). Raises ValueError for a part that is neither."""
    known = names or {}

    def value(text: str) -> int:
        return known.get(text.upper(), None) or int(text)

    parts: list[range | None] = []
    for part in spec.split(","):
        if any(mark in part for mark in ("L", "W", "#")) and part.upper() not in known:
            parts.append(None)
            continue
        base, _, step_text = part.partition("/")
        if base in ("*", ""):
            first, last = low, high
        elif "-" in base:
            start, end = base.split("-", 1)
            first, last = value(start), value(end)
        else:
            first = value(base)
            last = high if step_text else first
        parts.append(range(first, last + 1, int(step_text) if step_text else 1))
    return parts


def _cron_count(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> int:
    """How many values of [low, high] a cron field selects (L, W and # select one)."""
    span = high - low + 1
    if spec in ("*", "?"):
        return span
    total = sum(1 if part is None else len(part) for part in _cron_parts(spec, low, high, names))
    return min(total, span)


def snapshots_per_day(schedule_expression: str) -> float | None:
    """Backups per day of an EventBridge Scheduler expression; None for a one-time `at()` schedule.

    A cron that runs on some days only counts the average over a week (day of week) or a 28-day
    month (day of month), so evenly spaced schedules come out exact and the rest close.
    Raises ValueError for an expression that is none of rate(), cron() or at().
    """
    expression = schedule_expression.strip()
    if _AT.match(expression):
        return None
    rate = _RATE.match(expression)
    if rate:
        return _PER_DAY[rate.group("unit").rstrip("s")] / int(rate.group("n"))
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"not a rate(), cron() or at() expression: {schedule_expression!r}")
    minutes, hours, day_of_month, _month, day_of_week, _year = cron.group("fields").split(" ")
    try:
        per_run_day = _cron_count(minutes, 0, 59) * _cron_count(hours, 0, 23)
        if day_of_week not in ("*", "?"):
            days = _cron_count(day_of_week, 1, 7, _WEEKDAYS) / 7
        elif day_of_month not in ("*", "?"):
            days = min(1.0, _cron_count(day_of_month, 1, 31) / 28)
        else:
            days = 1.0
    except ValueError as exc:
        raise ValueError(f"cannot read the cron fields of {schedule_expression!r}: {exc}") from exc
    return per_run_day * days


def snapshots_per_target(per_day: float | None, retention_days: int, keep_last: int) -> int:
    """The most snapshots of one database in one region: those inside the retention window or kept by
    keep-last, plus one (the expired one a prune has not reached yet, or the new one being taken while
    keep-last still holds the newest available one)."""
    window = 1 if per_day is None else math.ceil(per_day * retention_days - 1e-9)
    return max(window, keep_last) + 1


def snapshot_capacity(settings: Settings, targets: Iterable[Database], per_day: float | None) -> list[SnapshotCapacity]:
    """Steady-state manual snapshots per region and kind: targets x per-target + copies in flight.

    `per_day` comes from the backup schedule (`snapshots_per_day`). Copies in flight add up to
    COPY_CONCURRENCY_LIMIT (at most one per target) in both regions: in the destination the copies
    themselves, in the source the snapshots held until their copy is available.
    """
    counts = dict.fromkeys(Kind, 0)
    for db in targets:
        counts[db.kind] += 1
    result = []
    for role, region, days in (
        ("source", settings.source_region, settings.source_retention_days),
        ("destination", settings.destination_region, settings.destination_retention_days),
    ):
        for kind in Kind:
            name, title, code = SNAPSHOT_QUOTAS[kind]
            result.append(
                SnapshotCapacity(
                    region=region,
                    role=role,
                    kind=kind,
                    targets=counts[kind],
                    per_target=snapshots_per_target(per_day, days, settings.keep_last),
                    in_flight=min(settings.copy_concurrency_limit, counts[kind]),
                    quota_name=name,
                    quota_title=title,
                    quota_code=code,
                )
            )
    return result


def quota_to_request(needed: int, warn_percent: float) -> int:
    """The quota value to ask for so `needed` snapshots stay below the quota alarm's `warn_percent`,
    rounded up to a multiple of 10."""
    value = math.floor(needed * 100.0 / warn_percent) + 1
    return max(10, -(-value // 10) * 10)
