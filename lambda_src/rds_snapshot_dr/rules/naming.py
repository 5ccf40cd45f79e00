"""Names, tags and ownership: what the function calls its snapshots, what it writes on them, which
snapshots are its own and which times in a name can be believed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules.model import (
    COPY_SLOT_TAG,
    FUTURE_STAMP_TOLERANCE,
    PORTABLE_TAG,
    ROUND_TAG,
    SOURCE_TAG,
    SOURCE_TYPE_TAG,
    Database,
    Kind,
    Snapshot,
    parse_round_stamp,
    round_stamp,
    stamp_of,
)

# The earliest time there is: the sort key of a snapshot without a date (aware, like every time here).
_NO_TIME = datetime.min.replace(tzinfo=UTC)


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
