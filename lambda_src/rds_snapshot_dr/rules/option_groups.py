"""Option groups: the option group a cross-region copy of a DB snapshot needs in the destination region.

RDS API Reference, CopyDBSnapshot, OptionGroupName: "Specify this option if you are copying a snapshot from
one AWS Region to another, and your DB instance uses a nondefault option group. If your source DB instance
uses Transparent Data Encryption for Oracle or Microsoft SQL Server, you must specify this option when
copying across AWS Regions." (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CopyDBSnapshot.html)
An option group belongs to its region, so the module cannot name one by itself: `option_group_mapping` says,
for each source option group, which group of the destination region a copy gets. DB cluster snapshots take
no option group.
"""

from __future__ import annotations

from dataclasses import dataclass

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules.model import Database, Kind, Operation, Outcome, Result, Snapshot

# RDS names its default option groups "default:<engine>-<major version>", e.g. default:oracle-ee-19.
DEFAULT_PREFIX = "default:"


@dataclass(frozen=True)
class OptionGroupChoice:
    name: str | None = None
    """The OptionGroupName to give the copy; None: the copy needs none."""
    missing: str | None = None
    """The source option group that needs a mapping and has none (then there is nothing to copy with)."""


def needs_mapping(group: str | None) -> bool:
    """A non-default option group: a cross-region copy needs one of the destination region named."""
    return group is not None and group != "" and not group.startswith(DEFAULT_PREFIX)


def _choice(settings: Settings, kind: Kind, group: str | None) -> OptionGroupChoice:
    if kind is not Kind.INSTANCE or group is None or not needs_mapping(group):
        return OptionGroupChoice()
    mapped = settings.option_group_mapping.get(group)
    return OptionGroupChoice(name=mapped) if mapped else OptionGroupChoice(missing=group)


def for_copy(settings: Settings, snapshot: Snapshot) -> OptionGroupChoice:
    """What a cross-region copy of `snapshot` passes as OptionGroupName, or which mapping it lacks."""
    return _choice(settings, snapshot.kind, snapshot.option_group)


def _fix(settings: Settings, group: str) -> str:
    return (
        f"Create an option group in {settings.destination_region} with the options of {group} (the same engine "
        f"and major version; for TDE, its TDE option) and map it: option_group_mapping = "
        f'{{ "{group}" = "<that group\'s name>" }}.'
    )


def unmapped_copy(settings: Settings, snapshot: Snapshot, group: str) -> Outcome:
    """The failed copy of a snapshot whose option group has no mapping: RDS would refuse it, so it is not asked."""
    return Outcome(
        snapshot.target,
        snapshot.kind,
        Operation.COPY,
        Result.FAILED,
        snapshot.identifier,
        f"{snapshot.identifier} uses the option group {group}: RDS copies it to {settings.destination_region} only "
        f"with an option group there (CopyDBSnapshot OptionGroupName), and option_group_mapping names none for "
        f"{group}; not copied",
        _fix(settings, group),
    )


def unmapped_target(settings: Settings, db: Database) -> tuple[str, str] | None:
    """(detail, fix) for preflight when the database's snapshots would need a mapping they do not have."""
    group = _choice(settings, db.kind, db.option_group).missing
    if group is None:
        return None
    return (
        f"{db.identifier} uses the option group {group}: its copies to {settings.destination_region} need an "
        "option group there, and option_group_mapping names none",
        _fix(settings, group),
    )
