"""The `restore` command: the newest (or a chosen) DR copy of one database becomes a database in the DR region.

    rds-snapshot-dr restore --function-name orders-rds-snapshot-dr --database orders-db --dry-run
    rds-snapshot-dr restore --function-name orders-rds-snapshot-dr --database orders-db --wait

Portable settings come from the source database when its region answers, else from the DR copy itself and
the portable tag the backup wrote on it; regional settings (subnet group, security groups, parameter and
option groups of the DR region) come from the module's `restore` variable; every one can be overridden by a
flag. Runs with the caller's credentials, never inside the function.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from rds_snapshot_dr.cli.follow import Progress, until_done
from rds_snapshot_dr.core.settings import Regional, Settings
from rds_snapshot_dr.gateway.aws import RdsGateway
from rds_snapshot_dr.gateway.restore import RestoredDatabase, RestoreGateway
from rds_snapshot_dr.rules import restore
from rds_snapshot_dr.rules.errors import NOT_READY, AwsError
from rds_snapshot_dr.rules.events import parse_time
from rds_snapshot_dr.rules.model import Kind, Snapshot
from rds_snapshot_dr.rules.restore import RestorePlan

EXIT_OK, EXIT_FAILED = 0, 1
# A restore in one of these states never becomes available (the drill judges its restores by the same
# states); one being deleted will not either.
BROKEN = restore.RESTORE_BROKEN_STATES | {"deleting"}


class RestoreError(Exception):
    """A restore that cannot go ahead: one line saying what is wrong and how to fix it."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}. Fix: {fix}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to restore")
    what.add_argument("--database", required=True, help="identifier of the source DB instance or Aurora cluster")
    what.add_argument("--snapshot", help="restore this DR copy (default: the newest available one)")
    what.add_argument("--at", help="restore the newest DR copy whose data is not newer than this ISO 8601 time")
    what.add_argument("--identifier", help="identifier of the restored database (default: the source's)")
    portable = parser.add_argument_group("portable settings (default: the source's)")
    portable.add_argument("--instance-class", help="DB instance class (Aurora: the writer's)")
    portable.add_argument("--storage-type", help="storage type, e.g. gp3, io2, aurora-iopt1")
    portable.add_argument("--port", type=int, help="database port")
    portable.add_argument("--multi-az", action=argparse.BooleanOptionalAction, default=None, help="Multi-AZ")
    portable.add_argument(
        "--deletion-protection", action=argparse.BooleanOptionalAction, default=None, help="deletion protection"
    )
    portable.add_argument(
        "--iam-database-authentication",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="IAM database authentication",
    )
    regional = parser.add_argument_group("regional settings (default: the module's `restore` variable)")
    regional.add_argument("--db-subnet-group-name", help="DB subnet group in the DR region")
    regional.add_argument("--vpc-security-group-ids", help="comma-separated security group IDs in the DR region")
    regional.add_argument("--db-parameter-group-name", help="DB parameter group in the DR region")
    regional.add_argument("--db-cluster-parameter-group-name", help="DB cluster parameter group (Aurora)")
    regional.add_argument("--option-group-name", help="option group in the DR region")


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    flags = {
        "DBInstanceClass": args.instance_class,
        "StorageType": args.storage_type,
        "Port": args.port,
        "MultiAZ": args.multi_az,
        "DeletionProtection": args.deletion_protection,
        "EnableIAMDatabaseAuthentication": args.iam_database_authentication,
    }
    return {k: v for k, v in flags.items() if v is not None}


def _regional_flags(args: argparse.Namespace) -> Regional:
    groups = tuple(g.strip() for g in (args.vpc_security_group_ids or "").split(",") if g.strip())
    return Regional(
        db_subnet_group_name=args.db_subnet_group_name,
        vpc_security_group_ids=groups,
        db_parameter_group_name=args.db_parameter_group_name,
        db_cluster_parameter_group_name=args.db_cluster_parameter_group_name,
        option_group_name=args.option_group_name,
    )


@dataclass
class Prepared:
    plan: RestorePlan
    notes: list[str]


def prepare(args: argparse.Namespace, settings: Settings, gateway: RestoreGateway) -> Prepared:
    """Choose the copy, gather the settings, and check what the DR region must offer. Raises RestoreError."""
    database = args.database.strip().lower()
    region = gateway.destination_region
    copies: list[Snapshot] = []
    for kind in (Kind.INSTANCE, Kind.CLUSTER):
        copies.extend(gateway.rds.list_manual_snapshots(region, kind))
    kinds = restore.databases_with_copies(settings, copies)
    if database not in kinds:
        raise RestoreError(
            f"no available DR copy of {database} in {region} yet",
            f"wait for the copy in progress, or take one now: rds-snapshot-dr backup --targets {database} "
            "--wait (with the same --function-name)",
        )
    kind = kinds[database]
    at = parse_time(args.at) if args.at else None
    copy = restore.choose_copy(settings, copies, database, at=at, name=args.snapshot)
    if copy is None:
        chosen = f"named {args.snapshot}" if args.snapshot else f"with data from {args.at} or earlier"
        names = ", ".join(s.identifier for s in restore.restorable_copies(settings, copies, database)[-5:])
        raise RestoreError(
            f"no available DR copy of {database} {chosen} in {region}", f"choose one of the newest: {names}"
        )

    notes: list[str] = []
    try:
        found = gateway.source_database(kind, database)
    except AwsError as error:
        found = None
        notes.append(
            f"source region {gateway.source_region} did not answer ({error.code}): portable settings come from "
            "the DR copy and its portable tag"
        )
    if found is None and not notes:
        notes.append(f"{database} not found in {gateway.source_region}: portable settings come from the DR copy")
    source_portable, source_tags = found if found is not None else (None, {})
    attributes = gateway.copy_attributes(kind, copy.identifier)
    portable = restore.portable_settings(source_portable, attributes, copy.tags)
    identifier = (args.identifier or database).strip().lower()
    plan = restore.plan_restore(
        copy,
        identifier,
        portable,
        source_tags,
        settings.restore,
        overrides=_overrides(args),
        regional_flags=_regional_flags(args),
    )
    missing = restore.missing_for_restore(plan)
    if missing:
        flag = {"DBInstanceClass": "--instance-class", "Engine": "(the DR copy names no engine)"}
        raise RestoreError(
            f"the source region did not answer and the DR copy does not record {', '.join(missing)}",
            " ".join(flag[m] for m in missing),
        )
    check(plan, gateway, kind, attributes, notes)
    return Prepared(plan, notes)


def check(
    plan: RestorePlan, gateway: RestoreGateway, kind: Kind, attributes: dict[str, object], notes: list[str]
) -> None:
    """The usual failures, before any call that creates something."""
    region = gateway.destination_region
    values = {p.name: p.value for p in (*plan.params, *plan.writer)}
    subnet = values.get("DBSubnetGroupName")
    if subnet and not gateway.subnet_group_exists(str(subnet)):
        raise RestoreError(
            f"DB subnet group {subnet} does not exist in {region}",
            f"create it in {region} (aws rds create-db-subnet-group --region {region} ...) or pass "
            "--db-subnet-group-name with one that exists",
        )
    engine = str(values.get("Engine") or values.get("(Engine)") or "")
    version = values.get("EngineVersion") or values.get("(EngineVersion)")
    instance_class = values.get("DBInstanceClass")
    offered = gateway.instance_class_offered(engine, str(version or ""), str(instance_class)) if engine else True
    if offered is None:
        notes.append(f"{region} lists no orderable options for {engine}: could not confirm {instance_class} is offered")
    elif instance_class and not offered:
        raise RestoreError(
            f"instance class {instance_class} is not offered for {engine} {version or ''} in {region}".replace(
                "  ", " "
            ),
            "pass --instance-class with one it offers (aws rds describe-orderable-db-instance-options "
            f"--region {region} --engine {engine} --query 'OrderableDBInstanceOptions[].DBInstanceClass')",
        )
    key = attributes.get("KmsKeyId")
    if key:
        try:
            state = gateway.key_state(str(key))
        except AwsError as error:
            raise RestoreError(
                f"the DR copy's key {key} is not usable ({error.code})",
                "allow kms:DescribeKey, kms:CreateGrant and kms:Decrypt on it to the caller (through RDS), in "
                f"the key policy of {key}",
            ) from error
        if state != "Enabled":
            raise RestoreError(
                f"the DR copy's key {key} is {state}, not Enabled",
                f"enable it (aws kms enable-key --region {region} --key-id {key}) or cancel its deletion "
                "(aws kms cancel-key-deletion)",
            )
    if gateway.find(kind, plan.identifier) is not None:
        raise RestoreError(
            f"a database named {plan.identifier} already exists in {region}", "pass --identifier with a new name"
        )


def print_plan(prepared: Prepared, out: TextIO) -> None:
    plan = prepared.plan
    call = "RestoreDBInstanceFromDBSnapshot" if plan.kind is Kind.INSTANCE else "RestoreDBClusterFromSnapshot"
    print(f"Restore {plan.database} ({plan.kind}) from DR copy {plan.snapshot.identifier}", file=out)
    for note in prepared.notes:
        print(f"note: {note}", file=out)
    for title, params in ((call, plan.params), ("CreateDBInstance (writer)", plan.writer)):
        if not params:
            continue
        print(f"\n{title}:", file=out)
        width = max(len(p.name) for p in params)
        for p in params:
            value = ", ".join(f"{t['Key']}={t['Value']}" for t in p.value) if p.name == "Tags" else p.value  # type: ignore[attr-defined]
            print(f"  {p.name:<{width}}  {value!s:<40}  from {p.origin}", file=out)


def run(
    args: argparse.Namespace,
    settings: Settings,
    rds: RdsGateway,
    out: TextIO,
    *,
    pause: Callable[[float], None],
    clock: Callable[[], float],
) -> int:
    gateway = RestoreGateway.from_settings(settings, rds)
    try:
        prepared = prepare(args, settings, gateway)
    except RestoreError as error:
        print(f"error: {error}", file=out)
        return EXIT_FAILED
    except (AwsError, ValueError) as error:
        print(f"error: {error}", file=out)
        return EXIT_FAILED
    print_plan(prepared, out)
    if args.dry_run:
        print("\nDRY RUN: nothing was restored.", file=out)
        return EXIT_OK
    plan = prepared.plan
    began = clock()
    try:
        gateway.restore(plan)
        writer_pending = plan.kind is Kind.CLUSTER and not _writer(gateway, plan)
    except AwsError as error:
        print(f"error: {error}", file=out)
        return EXIT_FAILED
    print(f"\nstarted: {plan.identifier} in {gateway.destination_region}", file=out)
    if not args.follow:
        if writer_pending:
            print(
                f"the writer is created once the cluster is available: rerun with --wait, or {_writer_hint(plan)}",
                file=out,
            )
        return EXIT_OK
    return follow(gateway, plan, writer_pending, out, pause=pause, clock=clock, began=began, poll=args.poll_seconds)


def _writer(gateway: RestoreGateway, plan: RestorePlan) -> bool:
    try:
        gateway.create_writer(plan)
    except AwsError as error:
        if error.code in NOT_READY:
            return False
        raise
    return True


def _writer_hint(plan: RestorePlan) -> str:
    values = plan.api_params(plan.writer)
    return (
        f"aws rds create-db-instance --db-instance-identifier {values['DBInstanceIdentifier']} "
        f"--db-cluster-identifier {plan.identifier} --engine {values.get('Engine')} "
        f"--db-instance-class {values.get('DBInstanceClass')}"
    )


def follow(
    gateway: RestoreGateway,
    plan: RestorePlan,
    writer_pending: bool,
    out: TextIO,
    *,
    pause: Callable[[float], None],
    clock: Callable[[], float],
    began: float,
    poll: float,
) -> int:
    """Poll until the database (and an Aurora writer) is available; end with the endpoint and elapsed time."""
    progress = Progress(out, clock, began)
    code = EXIT_FAILED

    def check() -> bool:
        nonlocal writer_pending, code
        db = gateway.find(plan.kind, plan.identifier)
        writer: RestoredDatabase | None = None
        if plan.kind is Kind.CLUSTER:
            if writer_pending and db is not None and db.status == "available":
                writer_pending = not _writer(gateway, plan)
            writer = gateway.find(Kind.INSTANCE, restore.writer_identifier(plan.identifier))
        status = db.status if db else "missing"
        line = status + (f", writer {writer.status}" if writer else "")
        progress.show(plan.identifier, line, f"{plan.identifier:<40} {line}")
        if db is None or status in BROKEN or (writer is not None and writer.status in BROKEN):
            print(f"error: the restore ended {line}. Fix: see the RDS events of {plan.identifier}", file=out)
            code = EXIT_FAILED
            return True
        if status == restore.AVAILABLE and (
            plan.kind is Kind.INSTANCE or (writer and writer.status == restore.AVAILABLE)
        ):
            print(f"\navailable: {plan.identifier}", file=out)
            print(f"endpoint: {db.endpoint or '(none reported)'}", file=out)
            print(f"elapsed:  {progress.elapsed()}", file=out)
            code = EXIT_OK
            return True
        return False

    until_done(check, pause, poll)
    return code
