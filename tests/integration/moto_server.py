"""Start the local stand-in for AWS: moto's server, plus the one RDS call moto lacks.

Two additions, then moto's own server unchanged:

* moto 5.2 does not implement RDS ``DescribeAccountAttributes``, which the function calls at
  reconcile to publish how much of each region's manual-snapshot quota is used. The launcher adds
  it (``ManualSnapshots`` and ``ManualClusterSnapshots``: used = manual snapshots in the region,
  max = AWS's default quota of 100).
* moto stamps every snapshot with the current time, so nothing could ever be old enough to prune.
  A snapshot created or copied with the tag ``stand-in:age-days`` = N is dated N days back. Only
  the seed uses this tag; the function under test never sees a difference in the API.
* moto 5.2 does not say where a copy came from, and gives every DB instance the same resource id.
  RDS reports a cross-region copy's source (``SourceDBSnapshotIdentifier`` and ``SourceRegion``,
  ``SourceDBClusterSnapshotArn``), and each database's own resource id on its snapshots and their
  copies (``DbiResourceId``, ``DbClusterResourceId``): the function tells its copies from
  look-alikes, and one database generation from the next, by them. ``add_snapshot_sources`` adds
  them; the unit tests use it too.
* moto 5.2 looks a snapshot ARN up in the caller's own account whatever account the ARN names, so a
  copy of a snapshot another account shared (the vault account's copy) is not found, or finds a
  look-alike of the caller's. RDS copies "a snapshot that is in a different account" when it is shared
  with the caller (``AttributeName=restore``), and needs ``KmsKeyId`` when that snapshot is encrypted
  (RDS API Reference, CopyDBSnapshot / CopyDBClusterSnapshot: SourceDBSnapshotIdentifier,
  SourceDBClusterSnapshotIdentifier, KmsKeyId); an encrypted snapshot is shared with named accounts
  only, never ``all`` (ModifyDBSnapshotAttribute / ModifyDBClusterSnapshotAttribute: ValuesToAdd).
  ``add_cross_account_snapshots`` does so. (The error codes for the two refusals are the stand-in's
  choice: AWS documents the rule, not the code.)
* moto 5.2's DB snapshots carry no ``OptionGroupName`` and copy to another region whatever their option
  group. RDS reports the option group of the instance a snapshot was taken of, and copies a snapshot with
  a non-default option group to another region only with ``OptionGroupName`` naming a group there (RDS
  API Reference, CopyDBSnapshot: OptionGroupName); the copy then carries that group.
  ``add_snapshot_option_groups`` does so (its refusal's error code is the stand-in's choice). The unit
  tests use it too.
* moto 5.2's Lambda accepts ``DeadLetterConfig`` on CreateFunction and UpdateFunctionConfiguration but
  neither keeps nor returns it; Lambda returns it in GetFunction / GetFunctionConfiguration. The
  launcher keeps it, so what Terraform configured can be read back (the authorization stage judges
  the function's sends to its dead-letter queue) and a second plan shows no change for it.

Usage: python moto_server.py --port PORT [--parent-pid PID]   (always binds 127.0.0.1)
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import timedelta
from typing import Any

MANUAL_SNAPSHOT_QUOTA = 100


def add_describe_account_attributes() -> None:
    """Teach moto's RDS backend DescribeAccountAttributes (manual snapshot quotas only)."""
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    if hasattr(RDSResponse, "describe_account_attributes"):
        return  # a later moto has it: use moto's own

    def describe_account_attributes(self: RDSResponse) -> ActionResult:
        backend = self.backend
        instance_manual = sum(1 for s in backend.database_snapshots.values() if s.snapshot_type == "manual")
        cluster_manual = sum(1 for s in backend.cluster_snapshots.values() if s.snapshot_type == "manual")
        quotas = [
            {"AccountQuotaName": "ManualSnapshots", "Used": instance_manual, "Max": MANUAL_SNAPSHOT_QUOTA},
            {"AccountQuotaName": "ManualClusterSnapshots", "Used": cluster_manual, "Max": MANUAL_SNAPSHOT_QUOTA},
        ]
        return ActionResult({"AccountQuotas": quotas})

    RDSResponse.describe_account_attributes = describe_account_attributes  # type: ignore[attr-defined]


AGE_TAG = "stand-in:age-days"


def add_snapshot_backdating() -> None:
    """Date a snapshot created or copied with the AGE_TAG tag that many days back."""
    from moto.rds.models import RDSBackend

    def backdated(create):  # type: ignore[no-untyped-def]
        def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            snapshot = create(self, *args, **kwargs)
            days = next((int(t["Value"]) for t in snapshot.tags or [] if t["Key"] == AGE_TAG), 0)
            if days:
                snapshot.created -= timedelta(days=days)
                if hasattr(snapshot, "original_snapshot_create_time"):
                    snapshot.original_snapshot_create_time = snapshot.created
            return snapshot

        return wrapper

    for name in ("create_db_snapshot", "copy_db_snapshot", "create_db_cluster_snapshot", "copy_db_cluster_snapshot"):
        setattr(RDSBackend, name, backdated(getattr(RDSBackend, name)))


def add_snapshot_sources() -> None:
    """Report a copy's source and each database's own resource id, as RDS does (see the module docstring).

    RDS API Reference, DBSnapshot: SourceDBSnapshotIdentifier "only has a value in the case of a
    cross-account or cross-Region copy"; DBClusterSnapshot: SourceDBClusterSnapshotArn, and
    DbClusterResourceId, "the resource ID of the DB cluster that this DB cluster snapshot was created from".
    """
    import secrets

    from moto.rds.models import DBClusterSnapshot, DBInstance, RDSBackend

    if getattr(RDSBackend, "_rsd_snapshot_sources", False):
        return
    RDSBackend._rsd_snapshot_sources = True  # type: ignore[attr-defined]

    def source_arn(backend: RDSBackend, identifier: str, kind: str) -> str:
        if identifier.startswith("arn:"):
            return identifier
        return f"arn:aws:rds:{backend.region_name}:{backend.account_id}:{kind}:{identifier}"

    copy_instance = RDSBackend.copy_db_snapshot
    copy_cluster = RDSBackend.copy_db_cluster_snapshot

    def copy_db_snapshot(self, source_db_snapshot_identifier, *args, **kwargs):  # type: ignore[no-untyped-def]
        snapshot = copy_instance(self, source_db_snapshot_identifier, *args, **kwargs)
        arn = source_arn(self, source_db_snapshot_identifier, "snapshot")
        if arn.split(":")[3] != self.region_name or arn.split(":")[4] != self.account_id:  # only these say so
            snapshot.source_db_snapshot_identifier = arn
            snapshot.source_region = arn.split(":")[3]
        return snapshot

    def copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier, *args, **kwargs):  # type: ignore[no-untyped-def]
        snapshot = copy_cluster(self, source_db_cluster_snapshot_identifier, *args, **kwargs)
        snapshot.source_db_cluster_snapshot_arn = source_arn(
            self, source_db_cluster_snapshot_identifier, "cluster-snapshot"
        )
        return snapshot

    RDSBackend.copy_db_snapshot = copy_db_snapshot
    RDSBackend.copy_db_cluster_snapshot = copy_db_cluster_snapshot
    DBClusterSnapshot.db_cluster_resource_id = property(lambda self: self.cluster.db_cluster_resource_id)  # type: ignore[attr-defined]

    instance_init = DBInstance.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        instance_init(self, *args, **kwargs)
        self.dbi_resource_id = "db-" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(26))

    DBInstance.__init__ = init


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str) -> Any:
    """One argument of a wrapped moto backend method, however it was passed (moto's responses pass keywords)."""
    return kwargs.get(name, args[position] if len(args) > position else None)


def add_snapshot_option_groups() -> None:
    """A DB snapshot reports its option group; a cross-region copy of one with a non-default group needs
    OptionGroupName and carries it (see the module docstring)."""
    from moto.rds.exceptions import InvalidParameterCombination
    from moto.rds.models import DBSnapshot, RDSBackend

    if getattr(RDSBackend, "_rsd_option_groups", False):
        return
    RDSBackend._rsd_option_groups = True  # type: ignore[attr-defined]

    def option_group_name(self: DBSnapshot) -> str | None:
        given = self.__dict__.get("_rsd_option_group")
        return given if given is not None else getattr(self.database, "option_group_name", None)

    DBSnapshot.option_group_name = property(option_group_name)  # type: ignore[attr-defined]
    copy_instance = RDSBackend.copy_db_snapshot

    def copy_db_snapshot(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        source_id = _argument(args, kwargs, 0, "source_db_snapshot_identifier") or ""
        wanted = kwargs.pop("option_group_name", None)
        source = self.get_db_snapshot(source_id)
        group = source.option_group_name
        cross_region = source_id.startswith("arn:") and source_id.split(":")[3] != self.region_name
        if cross_region and group and not group.startswith("default:") and not wanted:
            raise InvalidParameterCombination(
                f"The snapshot {source_id} uses the option group {group}: specify OptionGroupName, an option "
                f"group in {self.region_name}, to copy it to this region"
            )
        copy = copy_instance(self, *args, **kwargs)
        copy._rsd_option_group = wanted or group
        return copy

    RDSBackend.copy_db_snapshot = copy_db_snapshot  # type: ignore[method-assign]


def _encrypted(snapshot: object) -> bool:
    return bool(getattr(snapshot, "storage_encrypted", False) or getattr(snapshot, "kms_key_id", None))


def add_cross_account_snapshots() -> None:
    """Find a snapshot ARN of another account there, when it is shared with the caller (see the docstring)."""
    from moto.rds.exceptions import InvalidParameterCombination, InvalidParameterValue
    from moto.rds.models import RDSBackend, SnapshotAttributesMixin

    if getattr(RDSBackend, "_rsd_cross_account", False):
        return
    RDSBackend._rsd_cross_account = True  # type: ignore[attr-defined]

    lookup = RDSBackend.get_snapshot
    copy_instance, copy_cluster = RDSBackend.copy_db_snapshot, RDSBackend.copy_db_cluster_snapshot
    modify = SnapshotAttributesMixin.modify_attribute

    def elsewhere(self: RDSBackend, identifier: str) -> tuple[str, str, str] | None:
        """(region, account, name) of an ARN in another account; None for one of the caller's."""
        parts = identifier.split(":") if identifier.startswith("arn:") else []
        return (parts[3], parts[4], parts[-1]) if len(parts) >= 7 and parts[4] != self.account_id else None

    def get_snapshot(self, identifier, resource_type, not_found_exception):  # type: ignore[no-untyped-def]
        where = elsewhere(self, identifier)
        if where is None:
            return lookup(self, identifier, resource_type, not_found_exception)
        region, account, name = where
        snapshot = self.get_backend("rds", region=region, account_id=account).resource_map[resource_type].get(name)
        shared = snapshot is not None and (
            self.account_id in snapshot.attributes["restore"] or "all" in snapshot.attributes["restore"]
        )
        if not shared:
            raise not_found_exception(name)
        return snapshot

    def needs_key(self, source, kms_key_id, find):  # type: ignore[no-untyped-def]
        if elsewhere(self, source) is not None and kms_key_id is None and _encrypted(find(self, source)):
            raise InvalidParameterCombination(
                "KmsKeyId is required to copy an encrypted snapshot shared from another account"
            )

    def copy_db_snapshot(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        source = _argument(args, kwargs, 0, "source_db_snapshot_identifier")
        needs_key(self, source, _argument(args, kwargs, 2, "kms_key_id"), RDSBackend.get_db_snapshot)
        return copy_instance(self, *args, **kwargs)

    def copy_db_cluster_snapshot(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        source = _argument(args, kwargs, 0, "source_db_cluster_snapshot_identifier")
        needs_key(self, source, _argument(args, kwargs, 2, "kms_key_id"), RDSBackend.get_db_cluster_snapshot)
        return copy_cluster(self, *args, **kwargs)

    def modify_attribute(self, attribute_name, values_to_add, values_to_remove):  # type: ignore[no-untyped-def]
        if "all" in (values_to_add or []) and _encrypted(self):
            raise InvalidParameterValue("an encrypted snapshot cannot be shared with all: name the accounts")
        return modify(self, attribute_name, values_to_add, values_to_remove)

    RDSBackend.get_snapshot = get_snapshot  # type: ignore[method-assign]
    RDSBackend.copy_db_snapshot = copy_db_snapshot  # type: ignore[method-assign]
    RDSBackend.copy_db_cluster_snapshot = copy_db_cluster_snapshot  # type: ignore[method-assign]
    SnapshotAttributesMixin.modify_attribute = modify_attribute  # type: ignore[method-assign]


def add_dead_letter_config() -> None:
    """Keep a function's DeadLetterConfig and return it, as Lambda does (Lambda API Reference,
    FunctionConfiguration: DeadLetterConfig, "The function's dead letter queue")."""
    from moto.awslambda.models import LambdaFunction

    create, configuration, update = (
        LambdaFunction.__init__,
        LambdaFunction.get_configuration,
        LambdaFunction.update_configuration,
    )

    def __init__(self, account_id, spec, *args, **kwargs):  # type: ignore[no-untyped-def]
        create(self, account_id, spec, *args, **kwargs)
        self.stand_in_dead_letter = (spec.get("DeadLetterConfig") or {}).get("TargetArn")

    def get_configuration(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        config = configuration(self, *args, **kwargs)
        if getattr(self, "stand_in_dead_letter", None):
            config["DeadLetterConfig"] = {"TargetArn": self.stand_in_dead_letter}
        return config

    def update_configuration(self, config_updates):  # type: ignore[no-untyped-def]
        if "DeadLetterConfig" in config_updates:
            self.stand_in_dead_letter = (config_updates["DeadLetterConfig"] or {}).get("TargetArn")
        return update(self, config_updates)

    LambdaFunction.__init__ = __init__  # type: ignore[method-assign]
    LambdaFunction.get_configuration = get_configuration  # type: ignore[method-assign]
    LambdaFunction.update_configuration = update_configuration  # type: ignore[method-assign]


def exit_with_parent(parent_pid: int) -> None:
    """Stop when the process that started the server is gone (killed before it could stop us)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, help="exit when this process is no longer our parent")
    args = parser.parse_args()
    if args.parent_pid:
        exit_with_parent(args.parent_pid)
    # moto counts every snapshot (automated ones too) against this limit on create/copy.
    os.environ.setdefault("MOTO_RDS_SNAPSHOT_LIMIT", str(MANUAL_SNAPSHOT_QUOTA))
    add_describe_account_attributes()
    add_snapshot_backdating()
    add_snapshot_sources()
    add_cross_account_snapshots()
    add_snapshot_option_groups()
    add_dead_letter_config()
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(args.port)])


if __name__ == "__main__":
    main()
