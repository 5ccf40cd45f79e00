"""Decisions of the restore command and the restore drill: plain functions over plain data, no boto3.

Which DR copy to restore, with which parameters and where each comes from, which database the drill
takes next, whether a database is a drill database (and so may be deleted), and whether its drill is
overdue or past its lifetime.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from rds_snapshot_dr.core.settings import Regional, Settings
from rds_snapshot_dr.rules import naming, option_groups
from rds_snapshot_dr.rules.copy_state import is_owned_available
from rds_snapshot_dr.rules.events import parse_time
from rds_snapshot_dr.rules.model import PORTABLE_TAG, SOURCE_TAG, TAG_KEYS, Kind, Snapshot

# Tags of a drill database: the module instance it belongs to (the tag the role's delete permission
# requires), the database it proves, the copy it was restored from and when the restore started.
DRILL_TAG = TAG_KEYS["drill"]
DRILL_SOURCE_TAG = TAG_KEYS["drill_source"]
DRILL_SNAPSHOT_TAG = TAG_KEYS["drill_snapshot"]
DRILL_STARTED_TAG = TAG_KEYS["drill_started"]
DRILL_STAMP = "%Y%m%d%H%M"

# Where a parameter's value came from, as --dry-run prints it.
FROM_SOURCE = "source database"
FROM_SNAPSHOT = "DR copy"
FROM_TAG = f"DR copy tag {PORTABLE_TAG}"
FROM_SETTINGS = "settings"
FROM_FLAG = "flag"
FROM_DRILL = "drill settings"
FROM_RULE = "restore rule"

# The portable settings, by the name the restore APIs give them.
PORTABLE_FIELDS = (
    "Engine",
    "EngineVersion",
    "DBInstanceClass",
    "StorageType",
    "MultiAZ",
    "Port",
    "DeletionProtection",
    "EnableIAMDatabaseAuthentication",
    "Iops",
    "StorageThroughput",
)
# Settings a restore takes from the DR copy alone, never from the live source: the copy holds what the
# database was when it was taken. A copy taken before an engine upgrade restores only at its own version
# (an older copy chosen with --at would otherwise ask for the source's newer version), and its storage
# type, provisioned IOPS and throughput belong together (DBSnapshot records all three).
FROM_COPY_ONLY = frozenset({"Engine", "EngineVersion", "StorageType", "Iops", "StorageThroughput"})
_TAG_FIELDS = {"class": "DBInstanceClass", "multi-az": "MultiAZ", "deletion-protection": "DeletionProtection"}


@dataclass(frozen=True)
class Param:
    name: str
    value: object
    origin: str


@dataclass(frozen=True)
class RestorePlan:
    """The calls a restore makes: one restore call, and for a cluster the writer's CreateDBInstance."""

    kind: Kind
    database: str
    snapshot: Snapshot
    identifier: str
    params: tuple[Param, ...]
    writer: tuple[Param, ...] = ()

    def api_params(self, params: Iterable[Param] | None = None) -> dict[str, object]:
        """The parameters as the API takes them (informational ones, such as EngineVersion of an instance, left out)."""
        return {p.name: p.value for p in (self.params if params is None else params) if not p.name.startswith("(")}


@dataclass(frozen=True)
class DrillRecord:
    """What the drill remembers of one database: its last successful drill and last measured time to restore."""

    last_success: datetime | None = None
    last_rto_seconds: float | None = None
    last_failure: datetime | None = None


# --- which copy ----------------------------------------------------------------------------------


def restorable_copies(settings: Settings, copies: Iterable[Snapshot], database: str) -> list[Snapshot]:
    """Owned, available DR copies of `database`, oldest data first."""
    mine = [s for s in copies if s.target == database and is_owned_available(settings, s) and s.data_time]
    return sorted(mine, key=lambda s: (s.data_time, s.identifier))


def choose_copy(
    settings: Settings,
    copies: Iterable[Snapshot],
    database: str,
    *,
    at: datetime | None = None,
    name: str | None = None,
) -> Snapshot | None:
    """The copy to restore: the one named, else the newest whose data is not newer than `at`, else the newest."""
    candidates = restorable_copies(settings, copies, database)
    if name is not None:
        return next((s for s in candidates if s.identifier == name), None)
    if at is not None:
        candidates = [s for s in candidates if s.data_time is not None and s.data_time <= at]
    return candidates[-1] if candidates else None


def databases_with_copies(settings: Settings, copies: Iterable[Snapshot]) -> dict[str, Kind]:
    """Every database that has at least one restorable DR copy, with its kind (read from the copies alone)."""
    found: dict[str, Kind] = {}
    for snap in copies:
        if is_owned_available(settings, snap) and snap.tags.get(SOURCE_TAG):
            found[snap.target] = snap.kind
    return dict(sorted(found.items()))


# --- portable settings ---------------------------------------------------------------------------


def parse_portable_tag(value: str | None) -> dict[str, object]:
    """Inverse of portable_tag_value; unknown or malformed pairs are ignored."""
    found: dict[str, object] = {}
    for pair in (value or "").split():
        key, _, raw = pair.partition("=")
        if key in _TAG_FIELDS and raw:
            found[_TAG_FIELDS[key]] = raw == "true" if raw in ("true", "false") else raw
    return found


def portable_settings(
    source: Mapping[str, object] | None, snapshot: Mapping[str, object], snapshot_tags: Mapping[str, str]
) -> dict[str, tuple[object, str]]:
    """Each portable setting with where it came from: the source database when its region answers, else the
    DR copy's own attributes, else the portable tag written at backup time. Engine, version and storage
    (FROM_COPY_ONLY) come from the DR copy only."""
    layers = (
        (FROM_TAG, parse_portable_tag(snapshot_tags.get(PORTABLE_TAG))),
        (FROM_SNAPSHOT, snapshot),
        (FROM_SOURCE, source or {}),
    )
    merged: dict[str, tuple[object, str]] = {}
    for origin, values in layers:
        for name in PORTABLE_FIELDS:
            if origin == FROM_SOURCE and name in FROM_COPY_ONLY:
                continue
            if values.get(name) is not None:
                merged[name] = (values[name], origin)
    return merged


def carried_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The source's tags a restored database keeps: all but AWS's own and this module's."""
    return {k: v for k, v in tags.items() if not k.startswith(("aws:", "rds-snapshot-dr:"))}


# --- parameters ----------------------------------------------------------------------------------


def _pick(
    name: str,
    flag: object,
    default: object,
    default_origin: str,
) -> Param | None:
    if flag is not None and flag != ():
        return Param(name, list(flag) if isinstance(flag, tuple) else flag, FROM_FLAG)
    if default is not None and default != ():
        return Param(name, list(default) if isinstance(default, tuple) else default, default_origin)
    return None


def _option_group(snapshot: Snapshot, flags: Regional, regional: Regional, regional_origin: str) -> Param | None:
    """OptionGroupName: the flag; else the DR copy's own non-default group (a copy made with
    option_group_mapping carries the destination region's group, and a TDE database opens only with its
    permanent option); else the `restore` settings' group; else none (RDS's default)."""
    if flags.option_group_name is None and option_groups.needs_mapping(snapshot.option_group):
        return Param("OptionGroupName", snapshot.option_group, FROM_SNAPSHOT)
    return _pick("OptionGroupName", flags.option_group_name, regional.option_group_name, regional_origin)


def plan_restore(
    snapshot: Snapshot,
    identifier: str,
    portable: Mapping[str, tuple[object, str]],
    source_tags: Mapping[str, str],
    regional: Regional,
    *,
    overrides: Mapping[str, object] | None = None,
    regional_flags: Regional | None = None,
    regional_origin: str = FROM_SETTINGS,
    override_origin: str = FROM_FLAG,
    extra_tags: Mapping[str, str] | None = None,
) -> RestorePlan:
    """Every parameter of the restore (and of an Aurora cluster's writer), each with its origin.

    `overrides` replace portable settings by API name (flags, or the drill's instance class and safety
    settings); `regional_flags` replace the regional settings field by field.
    """
    overrides = dict(overrides or {})
    flags = regional_flags or Regional()
    values = {
        name: (overrides[name], override_origin) if name in overrides else portable.get(name)
        for name in PORTABLE_FIELDS
    }

    def portable_param(name: str, api_name: str | None = None) -> Param | None:
        found = values.get(name)
        return Param(api_name or name, found[0], found[1]) if found else None

    subnet = _pick("DBSubnetGroupName", flags.db_subnet_group_name, regional.db_subnet_group_name, regional_origin)
    groups = _pick(
        "VpcSecurityGroupIds", flags.vpc_security_group_ids, regional.vpc_security_group_ids, regional_origin
    )
    tags = {**carried_tags(source_tags), **(extra_tags or {})}
    tag_param = Param("Tags", [{"Key": k, "Value": v} for k, v in tags.items()], f"{FROM_SOURCE} tags")
    if snapshot.kind is Kind.INSTANCE:
        params = [
            Param("DBInstanceIdentifier", identifier, FROM_RULE),
            Param("DBSnapshotIdentifier", snapshot.identifier, FROM_SNAPSHOT),
            portable_param("DBInstanceClass"),
            portable_param("StorageType"),
            portable_param("Iops"),
            portable_param("StorageThroughput"),
            portable_param("MultiAZ"),
            portable_param("Port"),
            portable_param("DeletionProtection"),
            portable_param("EnableIAMDatabaseAuthentication"),
            subnet,
            groups,
            _pick(
                "DBParameterGroupName",
                flags.db_parameter_group_name,
                regional.db_parameter_group_name,
                regional_origin,
            ),
            _option_group(snapshot, flags, regional, regional_origin),
            Param("PubliclyAccessible", False, FROM_RULE),
            tag_param,
            portable_param("Engine", "(Engine)"),
            portable_param("EngineVersion", "(EngineVersion)"),
        ]
        return RestorePlan(
            snapshot.kind,
            snapshot.target,
            snapshot,
            identifier,
            tuple(p for p in params if p is not None),
        )
    params = [
        Param("DBClusterIdentifier", identifier, FROM_RULE),
        Param("SnapshotIdentifier", snapshot.identifier, FROM_SNAPSHOT),
        portable_param("Engine"),
        portable_param("EngineVersion"),
        portable_param("StorageType"),
        portable_param("Port"),
        portable_param("DeletionProtection"),
        portable_param("EnableIAMDatabaseAuthentication"),
        subnet,
        groups,
        _pick(
            "DBClusterParameterGroupName",
            flags.db_cluster_parameter_group_name,
            regional.db_cluster_parameter_group_name,
            regional_origin,
        ),
        tag_param,
    ]
    writer = [
        Param("DBInstanceIdentifier", writer_identifier(identifier), FROM_RULE),
        Param("DBClusterIdentifier", identifier, FROM_RULE),
        portable_param("Engine"),
        portable_param("DBInstanceClass"),
        _pick("DBParameterGroupName", flags.db_parameter_group_name, regional.db_parameter_group_name, regional_origin),
        Param("PubliclyAccessible", False, FROM_RULE),
        tag_param,
    ]
    return RestorePlan(
        snapshot.kind,
        snapshot.target,
        snapshot,
        identifier,
        tuple(p for p in params if p is not None),
        tuple(p for p in writer if p is not None),
    )


def writer_identifier(cluster_identifier: str) -> str:
    """The writer instance of a restored Aurora cluster (a DB identifier has at most 63 characters)."""
    return f"{cluster_identifier[: 63 - len(WRITER_SUFFIX)]}{WRITER_SUFFIX}"


def missing_for_restore(plan: RestorePlan) -> list[str]:
    """Parameters a restore cannot go without; the CLI names each with the flag that supplies it."""
    names = {p.name for p in plan.params} | {p.name for p in plan.writer}
    needed = ["DBInstanceClass"] if plan.kind is Kind.INSTANCE else ["Engine", "DBInstanceClass"]
    return [name for name in needed if name not in names]


# --- the drill -----------------------------------------------------------------------------------


def drill_prefix(settings: Settings) -> str:
    """Name prefix of this module instance's drill databases."""
    return f"drill-{settings.owner_tag_value}-"


# The names the drill gives, and nothing else: drill-<name>-<YYYYMMDDHHMM> (instance or cluster) and its
# Aurora writer drill-<name>-<YYYYMMDDHHMM>-w. The role's IAM patterns are the same names with "?" for each
# stamp character (drill.tf), so a prefix alone (a person's drill-<name>-reporting) is never a drill database.
_DRILL_STAMP_DIGITS = len(datetime(2000, 1, 1).strftime(DRILL_STAMP))
WRITER_SUFFIX = "-w"


def drill_identifier(settings: Settings, started: datetime) -> str:
    """drill-<name>-<YYYYMMDDHHMM>: at most 6 + 32 + 1 + 12 = 51 characters, inside RDS's 63."""
    return f"{drill_prefix(settings)}{started.strftime(DRILL_STAMP)}"


def drill_tags(settings: Settings, snapshot: Snapshot, started: datetime) -> dict[str, str]:
    return {
        DRILL_TAG: settings.owner_tag_value,
        DRILL_SOURCE_TAG: snapshot.target,
        DRILL_SNAPSHOT_TAG: snapshot.identifier,
        DRILL_STARTED_TAG: started.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def is_drill_database(settings: Settings, identifier: str, tags: Mapping[str, str], kind: Kind | None = None) -> bool:
    """A drill database of THIS module instance: exactly a name the drill gives (a writer's "-w" name only for
    an instance) AND its drill tag. Only these are deleted."""
    prefix = drill_prefix(settings)
    if tags.get(DRILL_TAG) != settings.owner_tag_value or not identifier.startswith(prefix):
        return False
    stamp = identifier[len(prefix) :]
    if kind is not Kind.CLUSTER and stamp.endswith(WRITER_SUFFIX):
        stamp = stamp[: -len(WRITER_SUFFIX)]
    return len(stamp) == _DRILL_STAMP_DIGITS and stamp.isascii() and stamp.isdigit()


def next_in_rotation(
    candidates: Sequence[str], records: Mapping[str, DrillRecord], allowed: Sequence[str] = ()
) -> str | None:
    """The database the drill takes next: never attempted first, then the oldest latest attempt, ties by name."""
    order = rotation_order(candidates, records, allowed)
    return order[0] if order else None


def rotation_order(
    candidates: Sequence[str], records: Mapping[str, DrillRecord], allowed: Sequence[str] = ()
) -> list[str]:
    """All candidates in the order the drill takes them: never attempted first, then the oldest latest attempt
    (success or failure), so a database whose drill keeps failing waits its turn instead of starving the rest."""
    pool = [db for db in candidates if not allowed or db in allowed]
    never = sorted(db for db in pool if last_attempt(records.get(db, DrillRecord())) is None)
    done = sorted(
        (db for db in pool if last_attempt(records.get(db, DrillRecord())) is not None),
        key=lambda db: (last_attempt(records[db]), db),
    )
    return never + done


def last_attempt(record: DrillRecord) -> datetime | None:
    """The latest drill of a database, successful or not."""
    times = [t for t in (record.last_success, record.last_failure) if t is not None]
    return max(times) if times else None


def drill_age(started: datetime, now: datetime) -> timedelta:
    return now - started


def past_lifetime(started: datetime, now: datetime, max_lifetime: timedelta) -> bool:
    return now - started > max_lifetime


AVAILABLE = "available"
# DB instance and cluster states a restore does not recover from (RDS User Guide, "Viewing Amazon RDS DB
# instance status").
RESTORE_BROKEN_STATES = frozenset(
    {
        "failed",
        "incompatible-restore",
        "incompatible-parameters",
        "incompatible-network",
        "inaccessible-encryption-credentials",
        "storage-full",
    }
)


class DrillStep(StrEnum):
    """Where one drill database stands (`drill_verdict`)."""

    RESTORING = "restoring"  # keep waiting
    NEEDS_WRITER = "needs-writer"  # an available cluster without its instance: create the writer
    AVAILABLE = "available"  # measured: record the time to restore, delete it
    FAILED = "failed"  # broken, or past its maximum lifetime: record the failure, delete it


@dataclass(frozen=True)
class DrillVerdict:
    step: DrillStep
    seconds: float = 0.0  # AVAILABLE: from the restore's start to now
    why: str = ""  # FAILED


def drill_started(tags: Mapping[str, str], now: datetime, max_lifetime_minutes: int) -> datetime:
    """When the drill restore started, from its tag; without a readable one, past its lifetime (so it ends)."""
    try:
        return parse_time(tags[DRILL_STARTED_TAG])
    except (KeyError, ValueError):
        return now - timedelta(minutes=max_lifetime_minutes + 1)


def drill_verdict(
    kind: Kind,
    status: str,
    member_statuses: Sequence[str],
    started: datetime,
    now: datetime,
    max_lifetime_minutes: int,
) -> DrillVerdict:
    """One drill database (a cluster with the statuses of its instances): restoring, in need of its writer,
    available (with the seconds since the restore started) or failed (with why)."""
    if kind is Kind.CLUSTER and status == AVAILABLE and not member_statuses:
        return DrillVerdict(DrillStep.NEEDS_WRITER)
    statuses = [status, *member_statuses]
    if all(s == AVAILABLE for s in statuses):
        return DrillVerdict(DrillStep.AVAILABLE, seconds=round((now - started).total_seconds(), 3))
    broken = [s for s in statuses if s in RESTORE_BROKEN_STATES]
    if broken or past_lifetime(started, now, timedelta(minutes=max_lifetime_minutes)):
        why = (
            f"status {', '.join(broken)}"
            if broken
            else f"still {status} after {max_lifetime_minutes} minutes (maximum lifetime)"
        )
        return DrillVerdict(DrillStep.FAILED, why=why)
    return DrillVerdict(DrillStep.RESTORING)


def overdue_databases(
    candidates: Iterable[str],
    records: Mapping[str, DrillRecord],
    now: datetime,
    overdue_after: timedelta,
    drill_enabled_since: datetime | None,
) -> list[str]:
    """Databases with no successful drill within `overdue_after`. A never-drilled database is overdue once
    the drill has been on for that long (a new drill is not an alarm on its first day)."""
    overdue = []
    for db in sorted(set(candidates)):
        last = records.get(db, DrillRecord()).last_success
        since = last or drill_enabled_since
        if since is None or now - since > overdue_after:
            overdue.append(db)
    return overdue


def drill_pool(settings: Settings, copies: Iterable[Snapshot], allowed: Sequence[str] = ()) -> set[str]:
    """Databases the drill still has reason to remember: an owned DR copy in any status, within `allowed`."""
    return {
        s.target
        for s in copies
        if naming.is_owned(settings, s) and s.tags.get(SOURCE_TAG) and (not allowed or s.target in allowed)
    }


def prune_records(records: Mapping[str, DrillRecord], keep: Iterable[str]) -> dict[str, DrillRecord]:
    """The records of databases that are still drill candidates; the rest are dropped so the state stays small."""
    wanted = set(keep)
    return {db: record for db, record in records.items() if db in wanted}


# Parameter Store's value limits: 4 KB for a standard parameter, 8 KB for an advanced one ("Managing
# parameter tiers", https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html).
# The function writes the state with Tier=Intelligent-Tiering: standard (free) while it fits 4 KB,
# advanced (charged) once it does not.
STATE_STANDARD_LIMIT = 4096
STATE_ADVANCED_LIMIT = 8192


def state_size_problem(size: int, databases: int) -> tuple[str, str] | None:
    """(reason, fix) when the drill state cannot be stored at all; None when it fits a parameter."""
    if size <= STATE_ADVANCED_LIMIT:
        return None
    return (
        f"the drill state of {databases} databases is {size} bytes, over Parameter Store's "
        f"{STATE_ADVANCED_LIMIT}-byte limit for an advanced parameter; it was not saved",
        "Drill fewer databases per module instance: list them in restore_drill.databases, or split the fleet "
        "across module instances (each has its own state).",
    )


def rotation_coverage_problem(databases: int, drills_per_day: float | None, overdue_days: int) -> str | None:
    """Why the rotation cannot drill every database within `overdue_days` (one drill per run), or None.

    With one database per run, covering `databases` takes databases / drills_per_day days: the weekly
    default covers 5 databases in 35 days, so a larger fleet is always overdue.
    """
    if drills_per_day is None or databases == 0:
        return None
    covered = int(drills_per_day * overdue_days + 1e-9)
    if databases <= covered:
        return None
    needed_days = math.ceil(databases / drills_per_day - 1e-9)
    if abs(drills_per_day - 1) < 1e-9:
        pace = "one drill a day"
    elif drills_per_day < 1:
        pace = f"one drill every {1 / drills_per_day:g} days"
    else:
        pace = f"{drills_per_day:g} drills a day"
    return (
        f"{databases} databases in rotation, but {pace} covers only {covered} within overdue_days = "
        f"{overdue_days}: a full rotation takes {needed_days} days, so the drill-overdue alarm will stay on"
    )


@dataclass
class DrillState:
    """What the drill keeps between invocations (one small JSON document)."""

    enabled_since: datetime | None = None
    records: dict[str, DrillRecord] = field(default_factory=dict)
