"""Targets: which databases of the region this module instance backs up, and which cannot be snapshotted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules.model import (
    CLUSTER_SNAPSHOT_STATES,
    INSTANCE_SNAPSHOT_STATES,
    Database,
    Kind,
    Operation,
    Outcome,
    Result,
)


@dataclass(frozen=True)
class TargetSelection:
    targets: list[Database]
    problems: list[Outcome]


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
                    Operation.DISCOVER,
                    Result.FAILED,
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
                    Operation.DISCOVER,
                    Result.FAILED,
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
                    Operation.DISCOVER,
                    Result.SKIPPED if covered else Result.FAILED,
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
                    Operation.DISCOVER,
                    Result.FAILED,
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
