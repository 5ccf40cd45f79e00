"""The destination KMS key disabled, pending deletion or deleted: its copies cannot be restored.

Reconcile reads the key's state (one kms:DescribeKey). Under a key KMS will not use, a DR copy is no recovery
point (the recovery-point alarm fires), the source snapshot it was copied from is kept (it is the only data
RDS could restore), and the key is reported as a lasting failure on every run, without failing the invocation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from dr_testing import (
    DESTINATION_REGION,
    FIXED_NOW,
    SOURCE_REGION,
    alter_response,
    copy_waiting_state,
    engine_client,
    inject_error,
    instance_snapshots,
    make_copy_waiting_schedule,
    make_instance,
    owned_tags,
)

from rds_snapshot_dr import handler
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules import recovery_point
from rds_snapshot_dr.rules.model import Kind, Snapshot
from rds_snapshot_dr.rules.recovery_point import KeyState

pytestmark = pytest.mark.usefixtures("default_quotas")

ROUND = "dr-orders-db-20261125-1400"


def at(monkeypatch: pytest.MonkeyPatch, days: float) -> None:
    monkeypatch.setattr(handler, "utcnow", lambda: FIXED_NOW + timedelta(days=days))


def key_outcomes(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in result["outcomes"] if o["operation"] == "key"]


def created_a_month_ago(parsed: dict[str, Any]) -> None:
    """moto dates a database by the machine's clock; the function runs on the fixed one."""
    for item in parsed.get("DBInstances", []):
        item["InstanceCreateTime"] = FIXED_NOW - timedelta(days=30)


@pytest.fixture
def copied(default_quotas: None, source: Any, destination: Any, env: Any, lambda_context: Any) -> None:
    """orders-db with one round snapshotted and copied (by reconcile, under the destination key)."""
    env(DB_CLUSTER_IDENTIFIERS="", SOURCE_RETENTION_DAYS="1")
    make_instance(source, "orders-db")
    alter_response(SOURCE_REGION, "DescribeDBInstances", created_a_month_ago)
    lambda_handler({"action": "backup", "scheduled_time": "2026-11-25T14:00:00Z"}, lambda_context)
    lambda_handler({"action": "reconcile"}, lambda_context)
    assert instance_snapshots(destination)[ROUND]["KmsKeyId"]


@pytest.mark.usefixtures("copied")
def test_an_enabled_key_reads_once_and_reports_nothing(lambda_context, monkeypatch):
    at(monkeypatch, 0.5)
    result = lambda_handler({"action": "reconcile"}, lambda_context)

    assert key_outcomes(result) == []
    assert result["metrics"]["RecoveryPointAgeSeconds"] == pytest.approx(0.5 * 86400 + 3600)


@pytest.mark.usefixtures("copied")
def test_a_key_pending_deletion_counts_no_recovery_point_keeps_the_source_and_is_reported(
    source, key_arn, lambda_context, monkeypatch
):
    # a second round, copied: keep-last is met by it, so only the key can keep the first round's source
    at(monkeypatch, 0.5)  # the first round's source is not expired yet
    lambda_handler({"action": "backup", "scheduled_time": "2026-11-26T02:00:00Z"}, lambda_context)
    lambda_handler({"action": "reconcile"}, lambda_context)
    kms = boto3.client("kms", region_name=DESTINATION_REGION)
    kms.schedule_key_deletion(KeyId=recovery_point.key_id(key_arn), PendingWindowInDays=7)
    at(monkeypatch, 2.5)  # the first round's source is past its 1-day retention, its copy is available

    result = lambda_handler({"action": "reconcile"}, lambda_context)  # reported, not raised

    (outcome,) = key_outcomes(result)
    assert outcome["outcome"] == "failed"
    assert "PendingDeletion" in outcome["reason"]
    assert "2 DR copies" in outcome["reason"]
    assert "cancel-key-deletion" in outcome["fix"]
    assert result["metrics"]["TargetFailures"] == 1
    # no copy is a recovery point: the database counts from its creation
    assert result["metrics"]["RecoveryPointAgeSeconds"] == 32.5 * 86400
    # the source is the only data RDS could restore: kept
    assert ROUND in instance_snapshots(source)

    # deletion cancelled and the key enabled: the copies count again, and the expired source goes
    kms.cancel_key_deletion(KeyId=recovery_point.key_id(key_arn))
    kms.enable_key(KeyId=recovery_point.key_id(key_arn))
    result = lambda_handler({"action": "reconcile"}, lambda_context)

    assert key_outcomes(result) == []
    assert result["metrics"]["RecoveryPointAgeSeconds"] == pytest.approx(2 * 86400 + 3600)
    assert ROUND not in instance_snapshots(source)
    assert "dr-orders-db-20261126-0200" in instance_snapshots(source)


@pytest.mark.usefixtures("copied")
def test_a_disabled_key_is_reported_with_the_command_that_enables_it(key_arn, lambda_context, monkeypatch):
    boto3.client("kms", region_name=DESTINATION_REGION).disable_key(KeyId=recovery_point.key_id(key_arn))
    at(monkeypatch, 0.5)

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    (outcome,) = key_outcomes(result)
    assert "is Disabled" in outcome["reason"]
    assert "enable-key" in outcome["fix"]
    assert "cancel-key-deletion" not in outcome["fix"]
    assert result["metrics"]["RecoveryPointAgeSeconds"] == 30.5 * 86400


@pytest.mark.usefixtures("copied")
def test_a_key_that_cannot_be_read_is_reported_and_its_copies_still_count(lambda_context, monkeypatch):
    from dr_testing import BASE_ENV

    from rds_snapshot_dr.gateway.aws import CLIENTS

    kms = CLIENTS.client("kms", DESTINATION_REGION, BASE_ENV["BOTO_RETRY_MODE"], int(BASE_ENV["BOTO_MAX_ATTEMPTS"]))

    def deny(**_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        error = {"Error": {"Code": "AccessDeniedException", "Message": "denied"}, "ResponseMetadata": {}}
        return AWSResponse("https://kms.amazonaws.com", 400, {}, None), error

    kms.meta.events.register_first("before-call.kms.DescribeKey", deny)
    at(monkeypatch, 0.5)

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    (outcome,) = key_outcomes(result)
    assert "could not be read" in outcome["reason"]
    assert "kms:DescribeKey" in outcome["fix"]
    assert result["metrics"]["RecoveryPointAgeSeconds"] == pytest.approx(0.5 * 86400 + 3600)


def test_only_copies_under_the_unusable_key_stop_counting():
    key = "arn:aws:kms:us-west-2:123456789012:key/aaaa"
    other = "arn:aws:kms:us-west-2:123456789012:key/bbbb"
    copies = [
        Snapshot(Kind.INSTANCE, name, f"arn:{name}", DESTINATION_REGION, "available", "manual", FIXED_NOW, kms_key_id=k)
        for name, k in (("under", key), ("other", other), ("plain", None))
    ]

    assert [s.identifier for s in recovery_point.restorable_copies(copies, KeyState(key, "Enabled"))] == [
        "under",
        "other",
        "plain",
    ]
    assert [s.identifier for s in recovery_point.restorable_copies(copies, KeyState(key, "PendingDeletion"))] == [
        "other",
        "plain",
    ]
    assert [s.identifier for s in recovery_point.restorable_copies(copies, KeyState(key, ""))] == ["other", "plain"]
    assert recovery_point.restorable_copies(copies, None) == copies


# --- no copy is tried under a key KMS will not use ---------------------------------------------------------

WAITING = ["dr-orders-db-20261125-1400", "dr-billing-db-20261125-1400"]


@pytest.fixture
def two_waiting(source: Any, env: Any) -> Any:
    """Two owned source snapshots without a copy, and the copy-waiting schedule (ENABLED) the function switches."""
    schedule, arn = make_copy_waiting_schedule()
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="", COPY_WAITING_SCHEDULE_ARN=arn)
    for name in WAITING:
        db = name.split("-20")[0].removeprefix("dr-")
        make_instance(source, db)
        source.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db))
    return schedule


def count_calls(region: str, operation: str) -> list[int]:
    """How often the engine's client sends `operation` from now on (a one-item list, for the count)."""
    seen = [0]

    def count(**_: Any) -> None:
        seen[0] += 1

    # before the call's own hooks, of which an injected error answers without sending
    engine_client(region).meta.events.register(f"before-parameter-build.rds.{operation}", count)
    return seen


def copy_outcomes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((o["snapshot"], o["outcome"]) for o in result["outcomes"] if o["operation"] == "copy")


def test_a_refused_copy_under_a_disabled_key_stops_the_run_and_switches_copy_waiting_off(
    two_waiting, key_arn, lambda_context
):
    boto3.client("kms", region_name=DESTINATION_REGION).disable_key(KeyId=recovery_point.key_id(key_arn))
    inject_error(DESTINATION_REGION, "CopyDBSnapshot", "KMSKeyNotAccessibleFault", "key disabled")
    copies = count_calls(DESTINATION_REGION, "CopyDBSnapshot")

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)  # reported, not raised

    assert copies == [1]  # the first refusal; the key read after it stops the rest
    outcomes = {o["snapshot"]: o for o in result["outcomes"] if o["operation"] == "copy"}
    assert sorted(o["outcome"] for o in outcomes.values()) == ["failed", "skipped"]
    (skipped,) = [o for o in outcomes.values() if o["outcome"] == "skipped"]
    assert "Disabled" in skipped["reason"]
    # nothing can start until a person enables the key: reconcile, which reads it, switches the schedule on
    assert copy_waiting_state(two_waiting) == "DISABLED"


def test_a_refused_copy_under_an_enabled_key_is_the_source_keys_and_the_others_are_tried(two_waiting, lambda_context):
    inject_error(DESTINATION_REGION, "CopyDBSnapshot", "KMSKeyNotAccessibleFault", "source key disabled", times=1)
    copies = count_calls(DESTINATION_REGION, "CopyDBSnapshot")

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    assert copies == [2]
    assert sorted(outcome for _, outcome in copy_outcomes(result)) == ["failed", "started"]


def test_reconcile_tries_no_copy_under_a_disabled_key(two_waiting, key_arn, lambda_context):
    boto3.client("kms", region_name=DESTINATION_REGION).disable_key(KeyId=recovery_point.key_id(key_arn))
    copies = count_calls(DESTINATION_REGION, "CopyDBSnapshot")

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    assert copies == [0]
    assert copy_outcomes(result) == sorted((name, "skipped") for name in WAITING)
    assert len(key_outcomes(result)) == 1
    # skipped, not deferred: no free slot starts them, so reconcile does not switch copy-waiting on
    assert copy_waiting_state(two_waiting) == "ENABLED"  # left as it was: nothing waits for a slot
