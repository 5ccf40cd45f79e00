"""AWS calls of the restore command and the restore drill (beside aws.py, with the same error translation).

Restores in the destination region, reads the source database's portable settings, checks what a
restore needs in the DR region, deletes drill databases, and keeps the drill's small state document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .aws import CLIENTS, ClientFactory, RdsGateway, _tags
from .decisions import Kind
from .errors import AwsError
from .restore import DrillRecord, DrillState, RestorePlan

DB_NOT_FOUND = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault"})


@dataclass(frozen=True)
class RestoredDatabase:
    """A DB instance or cluster in the destination region, as far as restore and drill need it."""

    kind: Kind
    identifier: str
    status: str
    tags: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""
    members: tuple[str, ...] = ()  # a cluster's instances
    cluster_identifier: str | None = None  # an instance's cluster
    engine: str = ""


def _instance(item: dict[str, Any]) -> RestoredDatabase:
    return RestoredDatabase(
        Kind.INSTANCE,
        item["DBInstanceIdentifier"],
        item.get("DBInstanceStatus", ""),
        _tags(item.get("TagList")),
        (item.get("Endpoint") or {}).get("Address", ""),
        cluster_identifier=item.get("DBClusterIdentifier") or None,
        engine=item.get("Engine", ""),
    )


def _cluster(item: dict[str, Any]) -> RestoredDatabase:
    return RestoredDatabase(
        Kind.CLUSTER,
        item["DBClusterIdentifier"],
        item.get("Status", ""),
        _tags(item.get("TagList")),
        item.get("Endpoint", ""),
        tuple(m["DBInstanceIdentifier"] for m in item.get("DBClusterMembers", [])),
        engine=item.get("Engine", ""),
    )


def portable_from_instance(item: dict[str, Any]) -> dict[str, object]:
    return {
        "Engine": item.get("Engine"),
        "EngineVersion": item.get("EngineVersion"),
        "DBInstanceClass": item.get("DBInstanceClass"),
        "StorageType": item.get("StorageType"),
        "MultiAZ": item.get("MultiAZ"),
        "Port": (item.get("Endpoint") or {}).get("Port") or item.get("DbInstancePort") or None,
        "DeletionProtection": item.get("DeletionProtection"),
        "EnableIAMDatabaseAuthentication": item.get("IAMDatabaseAuthenticationEnabled"),
    }


def portable_from_cluster(item: dict[str, Any], writer_class: str | None) -> dict[str, object]:
    return {
        "Engine": item.get("Engine"),
        "EngineVersion": item.get("EngineVersion"),
        "DBInstanceClass": writer_class,
        "StorageType": item.get("StorageType"),
        "Port": item.get("Port"),
        "DeletionProtection": item.get("DeletionProtection"),
        "EnableIAMDatabaseAuthentication": item.get("IAMDatabaseAuthenticationEnabled"),
    }


def portable_from_snapshot(kind: Kind, item: dict[str, Any]) -> dict[str, object]:
    """What a snapshot records itself: engine, version, storage (type, IOPS, throughput), port, IAM authentication."""
    return {
        "Engine": item.get("Engine"),
        "EngineVersion": item.get("EngineVersion"),
        "StorageType": item.get("StorageType"),
        # DBSnapshot has Iops and StorageThroughput; a DB cluster snapshot has neither (Aurora sets no IOPS).
        "Iops": item.get("Iops") if kind is Kind.INSTANCE else None,
        "StorageThroughput": item.get("StorageThroughput") if kind is Kind.INSTANCE else None,
        "Port": item.get("Port") or None,
        "EnableIAMDatabaseAuthentication": item.get("IAMDatabaseAuthenticationEnabled"),
        "KmsKeyId": item.get("KmsKeyId"),
    }


class RestoreGateway:
    """RDS in both regions (through RdsGateway's clients), KMS in the destination, SSM for the drill's state."""

    def __init__(self, rds: RdsGateway, factory: ClientFactory, retry: tuple[str, int]) -> None:
        self.rds = rds
        self.source_region = rds.source_region
        self.destination_region = rds.destination_region
        self._factory = factory
        self._retry = retry

    @classmethod
    def from_settings(cls, settings: Any, rds: RdsGateway, factory: ClientFactory = CLIENTS) -> RestoreGateway:
        return cls(rds, factory, (settings.boto_retry_mode, settings.boto_max_attempts))

    _call = RdsGateway._call

    def _rds(self, region: str) -> Any:
        return self.rds._clients[region]

    def _client(self, service: str, region: str) -> Any:
        return self._factory.client(service, region, *self._retry)

    # --- the source database ---

    def source_database(self, kind: Kind, identifier: str) -> tuple[dict[str, object], dict[str, str]] | None:
        """Portable settings and tags of the source database; None if it does not exist. Raises AwsError when
        the source region does not answer."""
        region = self.source_region
        client = self._rds(region)
        try:
            if kind is Kind.INSTANCE:
                with self._call("rds:DescribeDBInstances", region):
                    item = client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
                return portable_from_instance(item), _tags(item.get("TagList"))
            with self._call("rds:DescribeDBClusters", region):
                item = client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
            writer = next((m for m in item.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
            writer_class = None
            if writer is not None:
                with self._call("rds:DescribeDBInstances", region):
                    found = client.describe_db_instances(DBInstanceIdentifier=writer["DBInstanceIdentifier"])
                writer_class = found["DBInstances"][0].get("DBInstanceClass")
            return portable_from_cluster(item, writer_class), _tags(item.get("TagList"))
        except AwsError as error:
            if error.code in DB_NOT_FOUND:
                return None
            raise

    def copy_attributes(self, kind: Kind, identifier: str) -> dict[str, object]:
        """Portable settings recorded on the DR copy itself."""
        region = self.destination_region
        if kind is Kind.INSTANCE:
            with self._call("rds:DescribeDBSnapshots", region):
                item = self._rds(region).describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"][0]
        else:
            with self._call("rds:DescribeDBClusterSnapshots", region):
                item = self._rds(region).describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)[
                    "DBClusterSnapshots"
                ][0]
        return portable_from_snapshot(kind, item)

    # --- what a restore needs in the DR region ---

    def subnet_group_exists(self, name: str) -> bool:
        region = self.destination_region
        try:
            with self._call("rds:DescribeDBSubnetGroups", region):
                self._rds(region).describe_db_subnet_groups(DBSubnetGroupName=name)
        except AwsError as error:
            if error.code in {"DBSubnetGroupNotFoundFault", "DBSubnetGroupNotFound"}:
                return False
            raise
        return True

    def instance_class_offered(self, engine: str, engine_version: str | None, instance_class: str) -> bool | None:
        """DescribeOrderableDBInstanceOptions: is the class offered for this engine (and version) in the DR region?

        None when the region lists no orderable option for the engine at all (nothing to judge by).
        """
        region = self.destination_region
        client = self._rds(region)
        params: dict[str, Any] = {"Engine": engine, "DBInstanceClass": instance_class}
        if engine_version:
            params["EngineVersion"] = engine_version
        with self._call("rds:DescribeOrderableDBInstanceOptions", region):
            pages = client.get_paginator("describe_orderable_db_instance_options").paginate(**params)
            if any(page.get("OrderableDBInstanceOptions") for page in pages):
                return True
            listed = client.describe_orderable_db_instance_options(Engine=engine, MaxRecords=20)
        return False if listed.get("OrderableDBInstanceOptions") else None

    def key_state(self, key_id: str) -> str:
        """KeyState of a KMS key in the DR region (Enabled, Disabled, PendingDeletion, ...)."""
        region = self.destination_region
        with self._call("kms:DescribeKey", region):
            return self._client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"].get("KeyState", "")

    # --- restore ---

    def restore(self, plan: RestorePlan) -> RestoredDatabase:
        region = self.destination_region
        client = self._rds(region)
        if plan.kind is Kind.INSTANCE:
            with self._call("rds:RestoreDBInstanceFromDBSnapshot", region):
                item = client.restore_db_instance_from_db_snapshot(**plan.api_params())["DBInstance"]
            return _instance(item)
        with self._call("rds:RestoreDBClusterFromSnapshot", region):
            item = client.restore_db_cluster_from_snapshot(**plan.api_params())["DBCluster"]
        return _cluster(item)

    def create_writer(self, plan: RestorePlan) -> RestoredDatabase:
        region = self.destination_region
        with self._call("rds:CreateDBInstance", region):
            item = self._rds(region).create_db_instance(**plan.api_params(plan.writer))["DBInstance"]
        return _instance(item)

    def find(self, kind: Kind, identifier: str) -> RestoredDatabase | None:
        region = self.destination_region
        client = self._rds(region)
        try:
            if kind is Kind.INSTANCE:
                with self._call("rds:DescribeDBInstances", region):
                    items = client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
                return _instance(items[0]) if items else None
            with self._call("rds:DescribeDBClusters", region):
                items = client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
            return _cluster(items[0]) if items else None
        except AwsError as error:
            if error.code in DB_NOT_FOUND:
                return None
            raise

    def destination_databases(self) -> list[RestoredDatabase]:
        """Every DB instance and cluster in the destination region (the drill picks its own by name and tag)."""
        region = self.destination_region
        instances = self.rds._paginate(region, "describe_db_instances", "DBInstances", "rds:DescribeDBInstances")
        clusters = self.rds._paginate(region, "describe_db_clusters", "DBClusters", "rds:DescribeDBClusters")
        return [_instance(i) for i in instances] + [_cluster(c) for c in clusters]

    # --- drill clean-up: the role may delete only databases carrying the drill tag ---

    def delete_instance(self, identifier: str) -> None:
        region = self.destination_region
        with self._call("rds:DeleteDBInstance", region):
            self._rds(region).delete_db_instance(
                DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )

    def delete_cluster(self, identifier: str) -> None:
        region = self.destination_region
        with self._call("rds:DeleteDBCluster", region):
            self._rds(region).delete_db_cluster(DBClusterIdentifier=identifier, SkipFinalSnapshot=True)

    # --- the drill's state (SSM parameter in the source region) ---

    def load_state(self, parameter: str) -> DrillState:
        region = self.source_region
        try:
            with self._call("ssm:GetParameter", region):
                raw = self._client("ssm", region).get_parameter(Name=parameter)["Parameter"]["Value"]
        except AwsError as error:
            if error.code == "ParameterNotFound":
                return DrillState()
            raise
        return state_from_json(raw)

    def save_state(self, parameter: str, state: DrillState) -> None:
        region = self.source_region
        with self._call("ssm:PutParameter", region):
            self._client("ssm", region).put_parameter(
                Name=parameter,
                Value=state_to_json(state),
                Type="String",
                Overwrite=True,
                # Standard while the value fits 4 KB (free), advanced beyond it (charged), without a code
                # change ("Specifying a default parameter tier",
                # https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-default-tier.html).
                Tier="Intelligent-Tiering",
            )


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _epoch(value: object) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def state_from_json(raw: str) -> DrillState:
    """Reads the compact form ({"records": {db: [success, rto_seconds, failure]}}, times as Unix seconds) and
    the earlier one (a dict per database, ISO times)."""
    try:
        data = json.loads(raw or "{}")
    except json.JSONDecodeError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    records = {}
    for db, r in (data.get("records") or {}).items():
        if isinstance(r, list) and len(r) == 3:
            records[db] = DrillRecord(_epoch(r[0]), r[1], _epoch(r[2]))
        elif isinstance(r, dict):
            records[db] = DrillRecord(_time(r.get("success")), r.get("rto_seconds"), _time(r.get("failure")))
    since = data.get("enabled_since")
    return DrillState(_epoch(since) if isinstance(since, int) else _time(since), records)


def state_to_json(state: DrillState) -> str:
    """Compact: about 33 bytes plus the database's name per record (4 KB holds about 70 databases of
    20-character names)."""
    records = {
        db: [
            _seconds(r.last_success),
            None if r.last_rto_seconds is None else round(r.last_rto_seconds),
            _seconds(r.last_failure),
        ]
        for db, r in sorted(state.records.items())
    }
    return json.dumps({"enabled_since": _seconds(state.enabled_since), "records": records}, separators=(",", ":"))
