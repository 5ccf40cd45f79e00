"""Targets: which databases of the region this module instance backs up, and which cannot be snapshotted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    refused: list[Outcome] = field(default_factory=list)
    """Selected databases whose snapshots AWS cannot copy to another region (`copy_refusal`): failed once
    per run, never snapshotted or retried (a retry cannot change them)."""


# Why AWS offers no cross-region copy of a database's snapshots, and what the user can do.
# Multi-AZ DB clusters: RDS User Guide, "Limitations of Multi-AZ DB clusters" (not supported: "Copying a snapshot
# of a Multi-AZ DB cluster", "Cross-Region automated backups",
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/multi-az-db-clusters-concepts.Limitations.html); nor do
# AWS Backup copies ("copying a Multi-AZ DB cluster snapshot is not supported",
# https://docs.aws.amazon.com/aws-backup/latest/devguide/recov-point-create-a-copy.html) or cross-Region read
# replicas (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/multi-az-db-clusters-create-instance-read-replica.html).
MULTI_AZ_ENGINES = frozenset({"mysql", "postgres"})  # CreateDBCluster.Engine: the non-Aurora cluster engines
MULTI_AZ_DB_CLUSTER = (
    "{kind} {ident} is a Multi-AZ DB cluster (engine {engine}): RDS cannot copy its snapshots, in a region or to "
    "another (RDS User Guide, 'Limitations of Multi-AZ DB clusters'), so this module cannot protect it; "
    "not snapshotted"
)
MULTI_AZ_DB_CLUSTER_FIX = (
    "Remove it from db_cluster_identifiers or the selection tags. AWS documents no cross-region copy of a "
    "Multi-AZ DB cluster (no snapshot copy, no cross-Region automated backups or read replicas, no AWS Backup "
    "copy): for DR in another region, run it as a DB instance (Multi-AZ) or an Aurora cluster."
)
# RDS Custom: RDS API Reference, CopyDBSnapshot: "This command doesn't apply to RDS Custom"
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CopyDBSnapshot.html); RDS Custom for SQL Server
# documents a copy of its own (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/custom-copying-snapshot-sqlserver.html).
RDS_CUSTOM = (
    "{kind} {ident} is an RDS Custom DB instance (engine {engine}): RDS's CopyDBSnapshot does not apply to RDS "
    "Custom (RDS API Reference), so this module does not copy or restore it; not snapshotted"
)
RDS_CUSTOM_FIX = (
    "Remove it from db_instance_identifiers or the selection tags, and back it up as the RDS Custom guide for "
    "its engine documents (RDS Custom for SQL Server: 'Copying an RDS Custom for SQL Server DB snapshot')."
)


def copy_refusal(db: Database) -> tuple[str, str] | None:
    """(reason, fix) when AWS cannot copy this database's snapshots to another region; None when it can.

    A Multi-AZ DB cluster is a DB cluster whose engine is RDS for MySQL or PostgreSQL (`mysql`, `postgres`), not
    Aurora (`aurora-mysql`, `aurora-postgresql`) nor another service's cluster that DescribeDBClusters may list
    (`neptune`, `docdb`); an RDS Custom instance's engine starts with `custom-`. An engine the response did not
    name is given the benefit of the doubt (the copy would say)."""
    engine = (db.engine or "").lower()
    if db.kind is Kind.CLUSTER and engine in MULTI_AZ_ENGINES:
        reason, fix = MULTI_AZ_DB_CLUSTER, MULTI_AZ_DB_CLUSTER_FIX
    elif engine.startswith("custom-"):
        reason, fix = RDS_CUSTOM, RDS_CUSTOM_FIX
    else:
        return None
    kind = "DB cluster" if db.kind is Kind.CLUSTER else "DB instance"
    return reason.format(kind=kind, ident=db.identifier, engine=db.engine), fix


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

    refused: list[Outcome] = []
    for key, db in sorted(selected.items()):
        refusal = copy_refusal(db)
        if refusal is not None:
            del selected[key]
            refused.append(Outcome(db.identifier, db.kind, Operation.DISCOVER, Result.FAILED, "", *refusal))
    ordered = sorted(selected.values(), key=lambda db: (db.kind, db.identifier))
    return TargetSelection(targets=ordered, problems=problems, refused=refused)


def can_snapshot(db: Database) -> bool:
    """RDS accepts a manual snapshot only in these states; anything else is skipped, not failed."""
    allowed = INSTANCE_SNAPSHOT_STATES if db.kind is Kind.INSTANCE else CLUSTER_SNAPSHOT_STATES
    return db.status in allowed
