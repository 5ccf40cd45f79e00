"""The values the rules work on: databases, snapshots, outcomes, the tag keys the function writes and
the snapshot states AWS reports. Plain data; never imports boto3.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

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
    # Engine, as DescribeDBInstances / DescribeDBClusters report it (None where the response does not say).
    engine: str | None = None
    # An instance's option group (OptionGroupMemberships), None where the response does not say or for a cluster.
    option_group: str | None = None


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
    option_group: str | None = None  # an instance snapshot's OptionGroupName (None: not said, or a cluster snapshot)
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


class Operation(StrEnum):
    """What the function attempted for one target."""

    DISCOVER = "discover"  # finding the targets
    SNAPSHOT = "snapshot"
    COPY = "copy"
    DELETE = "delete"
    SCHEDULE = "schedule"  # switching the copy-waiting schedule
    KEY = "key"  # the destination key's state
    DRILL = "drill"
    QUOTA = "quota"  # the manual snapshot quotas
    PREFLIGHT = "preflight"


class Result(StrEnum):
    """How it ended (the `outcome` field of an outcome, its log line and the handler's answer)."""

    STARTED = "started"
    EXISTS = "exists"
    DELETED = "deleted"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    IGNORED = "ignored"
    FAILED = "failed"
    MEASURED = "measured"  # a drill's restore finished and was timed
    WARNING = "warning"
    KEPT = "kept"  # expired but kept by a rule (keep-last, no restorable copy yet)
    SUPERSEDED = "superseded"  # a source deleted without a copy, since a newer copy supersedes it
    RESERVED = "reserved"  # a copy slot reserved for a snapshot still being made
    OVERDUE = "overdue"  # a drill later than its schedule
    GONE = "gone"  # an error's classification only: the snapshot no longer exists (recorded as skipped)


@dataclass(frozen=True)
class Outcome:
    """What happened to one target for one operation; the handler returns a list of these."""

    target: str
    kind: str
    operation: Operation
    outcome: Result
    snapshot: str = ""
    reason: str = ""
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome is Result.FAILED


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
