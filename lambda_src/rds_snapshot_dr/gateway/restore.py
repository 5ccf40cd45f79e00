"""AWS calls of the restore command and the restore drill (through `aws.aws_call`, the same error translation).

Restores in the destination region, reads the source database's portable settings, checks what a
restore needs in the DR region, deletes drill databases, and keeps the drill's small state document.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from rds_snapshot_dr.gateway.aws import CLIENTS, ClientFactory, RdsGateway, aws_call, tags_of
from rds_snapshot_dr.rules.errors import AwsError
from rds_snapshot_dr.rules.model import Kind
from rds_snapshot_dr.rules.restore import DrillRecord, DrillState, RestorePlan

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
        tags_of(item.get("TagList")),
        (item.get("Endpoint") or {}).get("Address", ""),
        cluster_identifier=item.get("DBClusterIdentifier") or None,
        engine=item.get("Engine", ""),
    )


def _cluster(item: dict[str, Any]) -> RestoredDatabase:
    return RestoredDatabase(
        Kind.CLUSTER,
        item["DBClusterIdentifier"],
        item.get("Status", ""),
        tags_of(item.get("TagList")),
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

    def _rds(self, region: str) -> Any:
        return self.rds.client(region)

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
                with aws_call("rds:DescribeDBInstances", region):
                    item = client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
                return portable_from_instance(item), tags_of(item.get("TagList"))
            with aws_call("rds:DescribeDBClusters", region):
                item = client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
            writer = next((m for m in item.get("DBClusterMembers", []) if m.get("IsClusterWriter")), None)
            writer_class = None
            if writer is not None:
                with aws_call("rds:DescribeDBInstances", region):
                    found = client.describe_db_instances(DBInstanceIdentifier=writer["DBInstanceIdentifier"])
                writer_class = found["DBInstances"][0].get("DBInstanceClass")
            return portable_from_cluster(item, writer_class), tags_of(item.get("TagList"))
        except AwsError as error:
            if error.code in DB_NOT_FOUND:
                return None
            raise

    def copy_attributes(self, kind: Kind, identifier: str) -> dict[str, object]:
        """Portable settings recorded on the DR copy itself."""
        region = self.destination_region
        if kind is Kind.INSTANCE:
            with aws_call("rds:DescribeDBSnapshots", region):
                item = self._rds(region).describe_db_snapshots(DBSnapshotIdentifier=identifier)["DBSnapshots"][0]
        else:
            with aws_call("rds:DescribeDBClusterSnapshots", region):
                item = self._rds(region).describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)[
                    "DBClusterSnapshots"
                ][0]
        return portable_from_snapshot(kind, item)

    # --- what a restore needs in the DR region ---

    def subnet_group_exists(self, name: str) -> bool:
        region = self.destination_region
        try:
            with aws_call("rds:DescribeDBSubnetGroups", region):
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
        with aws_call("rds:DescribeOrderableDBInstanceOptions", region):
            pages = client.get_paginator("describe_orderable_db_instance_options").paginate(**params)
            if any(page.get("OrderableDBInstanceOptions") for page in pages):
                return True
            listed = client.describe_orderable_db_instance_options(Engine=engine, MaxRecords=20)
        return False if listed.get("OrderableDBInstanceOptions") else None

    def key_state(self, key_id: str) -> str:
        """KeyState of a KMS key in the DR region (Enabled, Disabled, PendingDeletion, ...)."""
        region = self.destination_region
        with aws_call("kms:DescribeKey", region):
            return str(self._client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"].get("KeyState", ""))

    # --- restore ---

    def restore(self, plan: RestorePlan) -> RestoredDatabase:
        region = self.destination_region
        client = self._rds(region)
        if plan.kind is Kind.INSTANCE:
            with aws_call("rds:RestoreDBInstanceFromDBSnapshot", region):
                item = client.restore_db_instance_from_db_snapshot(**plan.api_params())["DBInstance"]
            return _instance(item)
        with aws_call("rds:RestoreDBClusterFromSnapshot", region):
            item = client.restore_db_cluster_from_snapshot(**plan.api_params())["DBCluster"]
        return _cluster(item)

    def create_writer(self, plan: RestorePlan) -> RestoredDatabase:
        region = self.destination_region
        with aws_call("rds:CreateDBInstance", region):
            item = self._rds(region).create_db_instance(**plan.api_params(plan.writer))["DBInstance"]
        return _instance(item)

    def find(self, kind: Kind, identifier: str) -> RestoredDatabase | None:
        region = self.destination_region
        client = self._rds(region)
        try:
            if kind is Kind.INSTANCE:
                with aws_call("rds:DescribeDBInstances", region):
                    items = client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
                return _instance(items[0]) if items else None
            with aws_call("rds:DescribeDBClusters", region):
                items = client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
            return _cluster(items[0]) if items else None
        except AwsError as error:
            if error.code in DB_NOT_FOUND:
                return None
            raise

    def destination_databases(self) -> list[RestoredDatabase]:
        """Every DB instance and cluster in the destination region (the drill picks its own by name and tag)."""
        region = self.destination_region
        instances = self.rds.paginate(region, "describe_db_instances", "DBInstances", "rds:DescribeDBInstances")
        clusters = self.rds.paginate(region, "describe_db_clusters", "DBClusters", "rds:DescribeDBClusters")
        return [_instance(i) for i in instances] + [_cluster(c) for c in clusters]

    # --- drill clean-up: the role may delete only databases carrying the drill tag ---

    def delete_instance(self, identifier: str) -> None:
        region = self.destination_region
        with aws_call("rds:DeleteDBInstance", region):
            self._rds(region).delete_db_instance(
                DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )

    def delete_cluster(self, identifier: str) -> None:
        region = self.destination_region
        with aws_call("rds:DeleteDBCluster", region):
            self._rds(region).delete_db_cluster(DBClusterIdentifier=identifier, SkipFinalSnapshot=True)

    # --- the drill's state (SSM parameter in the source region) ---

    def load_state(self, parameter: str, now: datetime) -> tuple[DrillState, list[str]]:
        """The drill state and what in it was not trusted (see read_state); an absent parameter is a new drill."""
        region = self.source_region
        try:
            with aws_call("ssm:GetParameter", region):
                raw = self._client("ssm", region).get_parameter(Name=parameter)["Parameter"]["Value"]
        except AwsError as error:
            if error.code == "ParameterNotFound":
                return DrillState(), []
            raise
        return read_state(raw, now)

    def save_state(self, parameter: str, state: DrillState) -> None:
        region = self.source_region
        with aws_call("ssm:PutParameter", region):
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


def _seconds(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


# How far a time in the drill state may lie ahead of the function's clock and still be trusted: the clocks
# of two invocations agree to far better than this, so anything later was not written by this function as
# it measured. Trusted as written, a future time would hold off the drill-overdue figure until it came.
STATE_CLOCK_SKEW = timedelta(minutes=5)


class _Untrusted(ValueError):
    """One value of the drill state that cannot be used as written; the message says which and why."""


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    names: dict[type, str] = {dict: "an object", list: "an array", str: "a string"}
    return names.get(type(value), "null")


def _when(value: object, name: str, now: datetime | None) -> datetime | None:
    """A time as either form of the state writes it (Unix seconds, or ISO 8601 in the earlier form); None
    when absent. Not a time, or later than now beyond STATE_CLOCK_SKEW: _Untrusted."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        fraction = " with a fraction" if isinstance(value, float) else ""
        raise _Untrusted(f"{name} is {_json_type(value)}{fraction}, not Unix seconds or an ISO 8601 time")
    try:
        if isinstance(value, int):
            when = datetime.fromtimestamp(value, UTC)
        else:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            when = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise _Untrusted(f"{name} {value!r} is not a time") from None
    if now is not None and when > now + STATE_CLOCK_SKEW:
        raise _Untrusted(f"{name} {when:%Y-%m-%dT%H:%M:%SZ} is later than now ({now:%Y-%m-%dT%H:%M:%SZ})")
    return when


def _rto(value: object) -> float | None:
    """A measured time to restore: absent, or a finite number of seconds, never negative."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Untrusted(f"rto_seconds is {_json_type(value)}, not a number of seconds")
    if not math.isfinite(value):
        raise _Untrusted(f"rto_seconds {value!r} is not a finite number of seconds")
    if value < 0:
        raise _Untrusted(f"rto_seconds {value!r} is negative")
    return value


def _record(value: object, now: datetime | None) -> DrillRecord:
    """One database's record: [success, rto_seconds, failure] (compact) or {"success": ...} (earlier)."""
    if isinstance(value, list) and len(value) == 3:
        success, rto, failure = value
    elif isinstance(value, dict):
        success, rto, failure = value.get("success"), value.get("rto_seconds"), value.get("failure")
    elif isinstance(value, list):
        raise _Untrusted(f"it is an array of {len(value)}, not [success, rto_seconds, failure]")
    else:
        raise _Untrusted(f"it is {_json_type(value)}, not [success, rto_seconds, failure]")
    return DrillRecord(_when(success, "success", now), _rto(rto), _when(failure, "failure", now))


def read_state(raw: str, now: datetime | None) -> tuple[DrillState, list[str]]:
    """The drill state, and what in it could not be trusted (empty when all of it was).

    Anyone allowed ssm:PutParameter on the parameter can write it, so nothing in it is taken as written: an
    unreadable document, an unusable enabled_since or records, or an unusable record is left out (the
    drill starts over: enabled_since becomes now, the record is dropped) and named in the list, never
    raised. With `now`, a time later than now beyond STATE_CLOCK_SKEW is unusable too, so no stored time
    can make a database look drilled in the future or put the start of the overdue period in the future.
    Reads the compact form ({"records": {db: [success, rto_seconds, failure]}}, times as Unix seconds) and
    the earlier one (a dict per database, ISO times).
    """
    try:
        data = json.loads(raw or "{}")
    except (ValueError, RecursionError) as error:
        return DrillState(), [f"it is not JSON ({str(error)[:80]}); the drill starts over"]
    if not isinstance(data, dict):
        return DrillState(), [f"it is {_json_type(data)}, not an object; the drill starts over"]
    problems: list[str] = []
    try:
        since = _when(data.get("enabled_since"), "enabled_since", now)
    except _Untrusted as problem:
        problems.append(f"{problem}; the overdue period starts over now")
        since = None
    stored = data.get("records")
    records: dict[str, DrillRecord] = {}
    if stored is not None and not isinstance(stored, dict):
        problems.append(f"records is {_json_type(stored)}, not an object; every record dropped")
        stored = None
    for db, value in (stored or {}).items():
        try:
            records[db] = _record(value, now)
        except _Untrusted as problem:
            problems.append(f"record {db}: {problem}; record dropped")
    return DrillState(since, records), problems


def state_from_json(raw: str) -> DrillState:
    """The state without the clock check and without its problems (for reading a stored value back)."""
    return read_state(raw, None)[0]


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
