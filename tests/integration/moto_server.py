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

Usage: python moto_server.py --port PORT [--parent-pid PID]   (always binds 127.0.0.1)
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from datetime import timedelta

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
        if arn.split(":")[3] != self.region_name:  # only a cross-region (or cross-account) copy says so
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
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(args.port)])


if __name__ == "__main__":
    main()
