"""Helpers and constants for the unit tests (imported by name; conftest.py holds the fixtures)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from rds_snapshot_dr.gateway.aws import CLIENTS

SOURCE_REGION = "us-east-1"
DESTINATION_REGION = "us-west-2"
KEY_ARN = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OWNER_KEY = "rds-snapshot-dr:owner"
OWNER = "orders"
# The time every unit test runs at (conftest.fixed_clock): an hour after the round the sample events
# name (20261125-1400). Tests move it with the `fixed_clock` fixture, never with the machine's clock.
FIXED_NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parent.parent / "events"

BASE_ENV = {
    "SOURCE_REGION": SOURCE_REGION,
    "DESTINATION_REGION": DESTINATION_REGION,
    "DESTINATION_KMS_KEY_ARN": KEY_ARN,
    "SNAPSHOT_PREFIX": "dr",
    "OWNER_TAG_KEY": OWNER_KEY,
    "OWNER_TAG_VALUE": OWNER,
    "DB_INSTANCE_IDENTIFIERS": "orders-db",
    "DB_CLUSTER_IDENTIFIERS": "payments",
    "SELECTION_TAGS": "{}",
    "SNAPSHOT_TAGS": '{"team": "platform"}',
    "SOURCE_RETENTION_DAYS": "7",
    "DESTINATION_RETENTION_DAYS": "14",
    "KEEP_LAST": "1",
    "COPY_CONCURRENCY_LIMIT": "20",
    "COPY_MAX_ATTEMPTS": "3",
    "METRICS_NAMESPACE": "RdsSnapshotDr",
    "TIME_BUDGET_RESERVE_MS": "10000",
    "BOTO_MAX_ATTEMPTS": "3",
    "BOTO_RETRY_MODE": "standard",
    "LOG_LEVEL": "DEBUG",
    # A rate() schedule's times depend on when it was created, which the function is not told: reconcile
    # retakes only the rounds the round tags show. test_backup_rounds.py sets the module's default cron()
    # where the round the schedule says was due matters.
    "BACKUP_SCHEDULE_EXPRESSION": "rate(1 day)",
    "BACKUP_SCHEDULE_TIMEZONE": "UTC",
    # As high as the settings allow, so no unit test paces on the real clock (test_rate_budget.py drives
    # the pacing on a fake clock; test_no_waiting.py fails on any real sleep).
    "RDS_API_REQUESTS_PER_SECOND": "300",
    "RDS_API_CONCURRENT_INVOCATIONS": "1",
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def engine_client(region: str) -> Any:
    """The very client the engine will use (the factory caches it), for injecting errors or states."""
    return CLIENTS.client("rds", region, BASE_ENV["BOTO_RETRY_MODE"], int(BASE_ENV["BOTO_MAX_ATTEMPTS"]))


def inject_error(region: str, operation: str, code: str, message: str = "injected", times: int | None = None) -> None:
    """Make `operation` on the engine's client in `region` fail with an AWS error code (what moto cannot do)."""
    calls = {"n": 0}

    def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        calls["n"] += 1
        if times is not None and calls["n"] > times:
            return None
        response = AWSResponse("https://rds.amazonaws.com", 400, {}, None)
        return response, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}

    engine_client(region).meta.events.register_first(f"before-call.rds.{operation}", fail)


def alter_response(region: str, operation: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite the parsed response of `operation` (e.g. to show a copy still in progress)."""

    def after(parsed: dict[str, Any], **_: Any) -> None:
        change(parsed)

    engine_client(region).meta.events.register(f"after-call.rds.{operation}", after)


def make_instance(client: Any, identifier: str, tags: dict[str, str] | None = None, cluster: str | None = None) -> None:
    params: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceClass": "db.t3.micro",
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }
    if cluster:
        params.update(Engine="aurora-postgresql", DBClusterIdentifier=cluster)
    else:
        params.update(
            Engine="postgres", MasterUsername="admin", MasterUserPassword="not-a-secret-1", AllocatedStorage=20
        )
    client.create_db_instance(**params)


def make_cluster(client: Any, identifier: str, tags: dict[str, str] | None = None, encrypted: bool = True) -> None:
    """An Aurora cluster, encrypted unless told otherwise (an unencrypted cluster's copies cannot take a key)."""
    client.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        StorageEncrypted=encrypted,
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )


def owned_tags(target: str, kind: str = "instance", owner: str = OWNER, slot: bool = True) -> list[dict[str, str]]:
    """The tags of a snapshot the module took; `slot`: the backup run reserved it a copy slot, so its
    snapshot-created event starts its copy (test_copy_slots.py covers a snapshot without)."""
    tags = [
        {"Key": OWNER_KEY, "Value": owner},
        {"Key": "rds-snapshot-dr:source", "Value": target},
        {"Key": "rds-snapshot-dr:source-type", "Value": kind},
    ]
    return tags + ([{"Key": "rds-snapshot-dr:copy-slot", "Value": "reserved"}] if slot else [])


def instance_snapshots(client: Any) -> dict[str, dict[str, Any]]:
    return {s["DBSnapshotIdentifier"]: s for s in client.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}


def cluster_snapshots(client: Any) -> dict[str, dict[str, Any]]:
    items = client.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return {s["DBClusterSnapshotIdentifier"]: s for s in items}


COPY_WAITING_GROUP = "team-rds-snapshot-dr"
COPY_WAITING_NAME = f"{COPY_WAITING_GROUP}-copy-waiting"


def make_copy_waiting_schedule(state: str = "ENABLED") -> tuple[Any, str]:
    """The module's copy-waiting schedule as Terraform creates it (in moto): its Scheduler client and ARN."""
    client = boto3.client("scheduler", region_name=SOURCE_REGION)
    client.create_schedule_group(Name=COPY_WAITING_GROUP)
    arn = client.create_schedule(
        Name=COPY_WAITING_NAME,
        GroupName=COPY_WAITING_GROUP,
        Description="rds-snapshot-dr team: start the cross-region copies that wait for a free copy slot.",
        ScheduleExpression="rate(5 minutes)",
        ScheduleExpressionTimezone="Europe/Berlin",
        FlexibleTimeWindow={"Mode": "OFF"},
        State=state,
        Target={
            "Arn": "arn:aws:lambda:eu-west-1:123456789012:function:team-rds-snapshot-dr",
            "RoleArn": "arn:aws:iam::123456789012:role/team-rds-snapshot-dr-scheduler",
            "Input": '{"action": "copy-waiting"}',
            "RetryPolicy": {"MaximumEventAgeInSeconds": 300, "MaximumRetryAttempts": 0},
            "DeadLetterConfig": {"Arn": "arn:aws:sqs:eu-west-1:123456789012:team-rds-snapshot-dr-dlq"},
        },
    )["ScheduleArn"]
    return client, arn


def copy_waiting_state(client: Any) -> str:
    return client.get_schedule(Name=COPY_WAITING_NAME, GroupName=COPY_WAITING_GROUP)["State"]
