"""The engine's decisions: plain functions over plain data. Never imports boto3.

Every rule that protects data lives here, so it can be read and tested in one place:
what is a target, what is ours, what is expired, what to copy now and what to defer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from .settings import Settings

SOURCE_TAG = "rds-snapshot-dr:source"
SOURCE_TYPE_TAG = "rds-snapshot-dr:source-type"
ROUND_TAG = "rds-snapshot-dr:backup-round"  # set only by a full backup round: its YYYYMMDD-HHMM stamp
ROUND_FORMAT = "%Y%m%d-%H%M"

INSTANCE_SNAPSHOT_STATES = frozenset({"available", "storage-optimization"})
CLUSTER_SNAPSHOT_STATES = frozenset({"available"})
COPY_IN_FLIGHT_STATES = frozenset({"pending", "copying", "creating"})
# Cross-region snapshot copies AWS allows in progress per destination region, for the whole account.
ACCOUNT_COPY_LIMIT = 20
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

    @property
    def target(self) -> str:
        """The database this snapshot belongs to (our source tag, else what RDS reports)."""
        return self.tags.get(SOURCE_TAG) or self.database_identifier

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
        """The point in time the snapshot's data is from (a copy keeps its source's time)."""
        return self.original_created or self.created


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


def parse_round_stamp(value: str) -> datetime | None:
    """The UTC time of a backup-round tag value, or None when it is not a `YYYYMMDD-HHMM` stamp."""
    try:
        parsed = datetime.strptime(value, ROUND_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None
    return parsed if round_stamp(parsed) == value else None


def snapshot_name(prefix: str, target: str, scheduled_time: datetime) -> str:
    """`<prefix>-<target>-<YYYYMMDD>-<HHMM>` from the scheduled (not the current) time, so retries collide."""
    return f"{prefix}-{target}-{round_stamp(scheduled_time)}"


def snapshot_tags(settings: Settings, db: Database, backup_round: str | None = None) -> dict[str, str]:
    """Tags of a new source snapshot; `backup_round` (a stamp) only for snapshots of a full backup round."""
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
    return tags


def has_our_prefix(settings: Settings, identifier: str) -> bool:
    return identifier.startswith(f"{settings.snapshot_prefix}-")


def is_owned(settings: Settings, snapshot: Snapshot) -> bool:
    """Ours = manual snapshot with our name prefix AND our ownership tag. Nothing else is ever touched."""
    return (
        snapshot.snapshot_type == "manual"
        and has_our_prefix(settings, snapshot.identifier)
        and snapshot.tags.get(settings.owner_tag_key) == settings.owner_tag_value
    )


# --- copies ------------------------------------------------------------------------------------------


def is_copy_in_flight(settings: Settings, snapshot: Snapshot) -> bool:
    """A destination snapshot that counts against the 20-copies-in-progress limit (ours or anyone's)."""
    if snapshot.status not in COPY_IN_FLIGHT_STATES:
        return False
    return snapshot.copied_from is not None or is_owned(settings, snapshot)


def plan_copies(
    settings: Settings,
    source: Iterable[Snapshot],
    destination: Iterable[Snapshot],
    wanted_targets: set[str] | None = None,
) -> CopyPlan:
    """Owned, available source snapshots without a destination copy: start up to the limit, defer the rest.

    The limit is this instance's COPY_CONCURRENCY_LIMIT minus its own copies in progress, and never more
    than the account has left of the 20 copies AWS allows in progress per destination region.

    Newest first, so the recovery point moves forward even when the limit holds some copies back.
    """
    destination = list(destination)
    present = {(snap.kind, snap.identifier) for snap in destination}
    in_flight = [snap for snap in destination if is_copy_in_flight(settings, snap)]
    own_in_flight = sum(1 for snap in in_flight if is_owned(settings, snap))
    missing = [
        snap
        for snap in source
        if is_owned(settings, snap)
        and snap.status == "available"
        and (snap.kind, snap.identifier) not in present
        and (wanted_targets is None or snap.target in wanted_targets)
    ]
    missing.sort(key=lambda s: (s.data_time or datetime.min, s.identifier), reverse=True)
    # This instance's own share (COPY_CONCURRENCY_LIMIT), within what the account has left: another
    # module instance's long copies must not hold this one back below its share, only the AWS limit may.
    room = max(0, min(settings.copy_concurrency_limit - own_in_flight, ACCOUNT_COPY_LIMIT - len(in_flight)))
    return CopyPlan(start=missing[:room], defer=missing[room:], in_flight=len(in_flight))


# --- backup rounds ------------------------------------------------------------------------------------


def missed_in_latest_round(
    settings: Settings,
    databases: Iterable[Database],
    source: Iterable[Snapshot],
    now: datetime,
) -> MissedRound | None:
    """The targets that have no source snapshot of the latest full backup round, for reconcile to retake.

    The latest round is the greatest backup-round tag among owned source snapshots (any status).
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
        if (when := parse_round_stamp(stamp)) is not None
    }
    if not rounds:
        return None
    stamp = max(rounds, key=lambda s: rounds[s])
    when = rounds[stamp]
    if when < now - timedelta(days=settings.source_retention_days):
        return None
    tagged = {(snap.kind, snap.target) for snap in owned if snap.tags.get(ROUND_TAG) == stamp}
    named = {(snap.kind, snap.identifier) for snap in owned}
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

    - only snapshots that are ours (prefix + ownership tag, manual), never automated ones;
    - only `available` snapshots older than `retention_days`;
    - never the newest `keep_last` available snapshots of a database (so never its newest copy);
    - for source snapshots (`destination_copies` given): never before the copy is `available`.
    """
    cutoff = now - timedelta(days=retention_days)
    copies = None
    if destination_copies is not None:
        copies = {(c.kind, c.identifier): c for c in destination_copies if is_owned(settings, c)}

    by_target: dict[tuple[Kind, str], list[Snapshot]] = {}
    for snap in snapshots:
        if not is_owned(settings, snap) or snap.status != "available":
            continue
        if wanted_targets is not None and snap.target not in wanted_targets:
            continue
        by_target.setdefault((snap.kind, snap.target), []).append(snap)

    delete: list[Snapshot] = []
    protected: list[tuple[Snapshot, str]] = []
    for group in by_target.values():
        group.sort(key=lambda s: (s.data_time or datetime.min, s.identifier), reverse=True)
        for position, snap in enumerate(group):
            if snap.data_time is None or snap.data_time >= cutoff:
                continue
            if position < settings.keep_last:
                protected.append((snap, f"one of the newest {settings.keep_last} available snapshots of {snap.target}"))
                continue
            if copies is not None:
                copy = copies.get((snap.kind, snap.identifier))
                if copy is None or copy.status != "available":
                    state = "missing" if copy is None else copy.status
                    protected.append((snap, f"its destination copy is not available yet ({state})"))
                    continue
            delete.append(snap)
    return PruneDecision(delete=delete, protected=protected)


# --- recovery point ----------------------------------------------------------------------------------


def recovery_point_age(
    settings: Settings,
    databases: Iterable[Database],
    destination: Iterable[Snapshot],
    now: datetime,
) -> dict[str, float]:
    """Seconds since the newest available destination copy of each database was taken.

    A database with no available copy counts from its own creation time: it has never been protected.
    """
    newest: dict[tuple[Kind, str], datetime] = {}
    for snap in destination:
        if snap.status != "available" or not is_owned(settings, snap) or snap.data_time is None:
            continue
        key = (snap.kind, snap.target)
        if key not in newest or snap.data_time > newest[key]:
            newest[key] = snap.data_time
    ages: dict[str, float] = {}
    for db in databases:
        point = newest.get((db.kind, db.identifier)) or db.created
        if point is not None:
            ages[db.identifier] = max(0.0, (now - point).total_seconds())
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


def _cron_count(spec: str, low: int, high: int, names: Mapping[str, int] | None = None) -> int:
    """How many values of [low, high] a cron field selects (L, W and # select one)."""
    span = high - low + 1
    if spec in ("*", "?"):
        return span

    def value(text: str) -> int:
        return (names or {}).get(text.upper(), None) or int(text)

    total = 0
    for part in spec.split(","):
        if any(mark in part for mark in ("L", "W", "#")) and part.upper() not in (names or {}):
            total += 1
            continue
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", ""):
            first, last = low, high
        elif "-" in base:
            start, end = base.split("-", 1)
            first, last = value(start), value(end)
        else:
            first = value(base)
            last = high if step_text else first
        total += len(range(first, last + 1, step))
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
