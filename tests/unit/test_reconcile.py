"""reconcile: copy what has no copy, defer over the limit, prune safely, publish recovery point and quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dr_testing import (
    DESTINATION_REGION,
    FIXED_NOW,
    SOURCE_REGION,
    alter_response,
    cluster_snapshots,
    inject_error,
    instance_snapshots,
    make_cluster,
    make_instance,
    owned_tags,
)

from rds_snapshot_dr import handler
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules.errors import TargetFailuresError

pytestmark = pytest.mark.usefixtures("default_quotas")

RECONCILE = {"action": "reconcile"}


def later(monkeypatch: pytest.MonkeyPatch, days: float) -> datetime:
    return at(monkeypatch, FIXED_NOW + timedelta(days=days))


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> datetime:
    """Run the function at `when` (its one clock)."""
    monkeypatch.setattr(handler, "utcnow", lambda: when)
    return when


def snapshot(source: Any, name: str, db: str = "orders-db", tags: list[dict[str, str]] | None = None) -> str:
    return source.create_db_snapshot(
        DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db) if tags is None else tags
    )["DBSnapshot"]["DBSnapshotArn"]


def copy_to_destination(destination: Any, arn: str, name: str) -> None:
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name, CopyTags=True, SourceRegion=SOURCE_REGION
    )


@pytest.fixture
def orders(source: Any, env: Any) -> None:
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")


@pytest.mark.usefixtures("orders")
def test_reconcile_copies_owned_snapshots_that_have_no_copy(source, destination, lambda_context):
    snapshot(source, "dr-orders-db-20261124-1400")
    snapshot(source, "manual-by-a-person", tags=[])

    result = lambda_handler(RECONCILE, lambda_context)

    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261124-1400"}
    assert result["metrics"]["CopiesStarted"] == 1


def test_reconcile_copies_cluster_snapshots(source, destination, lambda_context, env):
    env(DB_INSTANCE_IDENTIFIERS="")
    make_cluster(source, "payments")
    source.create_db_cluster_snapshot(
        DBClusterIdentifier="payments",
        DBClusterSnapshotIdentifier="dr-payments-20261124-1400",
        Tags=owned_tags("payments", "cluster"),
    )

    lambda_handler(RECONCILE, lambda_context)

    assert set(cluster_snapshots(destination)) == {"dr-payments-20261124-1400"}


@pytest.mark.usefixtures("orders")
def test_reconcile_defers_copies_over_the_concurrency_limit(source, destination, lambda_context, env):
    env(COPY_CONCURRENCY_LIMIT="2")
    for day in (21, 22, 23):
        snapshot(source, f"dr-orders-db-202611{day}-1400")

    result = lambda_handler(RECONCILE, lambda_context)

    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261123-1400", "dr-orders-db-20261122-1400"}
    assert result["metrics"]["CopiesStarted"] == 2
    assert result["metrics"]["CopiesDeferred"] == 1


@pytest.mark.usefixtures("orders")
def test_reconcile_defers_the_rest_when_rds_refuses_with_the_copy_limit(source, destination, lambda_context):
    for day in (21, 22, 23):
        snapshot(source, f"dr-orders-db-202611{day}-1400")
    inject_error(
        DESTINATION_REGION,
        "CopyDBSnapshot",
        "SnapshotQuotaExceeded",
        "Cannot copy more than 20 snapshots across regions",
    )

    result = lambda_handler(RECONCILE, lambda_context)

    assert result["metrics"]["CopiesDeferred"] == 3
    assert result["metrics"]["TargetFailures"] == 0


@pytest.mark.usefixtures("orders")
def test_reconcile_time_budget_guard_leaves_copies_for_later(source, destination, lambda_context):
    snapshot(source, "dr-orders-db-20261124-1400")
    lambda_context.remaining_ms = 1_000

    result = lambda_handler(RECONCILE, lambda_context)

    assert instance_snapshots(destination) == {}
    assert result["metrics"]["CopiesDeferred"] == 1


@pytest.mark.usefixtures("orders")
def test_reconcile_prunes_expired_snapshots_in_both_regions_keeping_the_newest(
    source, destination, lambda_context, monkeypatch
):
    for day in (20, 21, 22):
        name = f"dr-orders-db-202611{day}-1400"
        copy_to_destination(destination, snapshot(source, name), name)
    later(monkeypatch, days=30)

    result = lambda_handler(RECONCILE, lambda_context)

    assert set(instance_snapshots(source)) == {"dr-orders-db-20261122-1400"}
    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261122-1400"}
    assert result["metrics"]["SnapshotsDeleted"] == 4


@pytest.mark.usefixtures("orders")
def test_a_pruned_source_does_not_hide_its_own_copy(source, destination, lambda_context, monkeypatch):
    """Issue 20, defect 1: the snapshots deleted in a run were keyed by (kind, name), and a source and its
    copy share their name, so pruning a source dropped its available copy from the destination view: the
    same reconcile then copied the source it had just deleted (refused: not found), every day."""
    # 10 days old: past the source retention (7 days in these tests), inside the DR retention (14)
    for name in ("dr-orders-db-20261115-1400", "dr-orders-db-20261124-1400"):
        copy_to_destination(destination, snapshot(source, name), name)
    at(monkeypatch, FIXED_NOW)

    result = lambda_handler(RECONCILE, lambda_context)

    # the old source is pruned (its copy is available), its copy stays (inside the DR retention)...
    assert set(instance_snapshots(source)) == {"dr-orders-db-20261124-1400"}
    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261115-1400", "dr-orders-db-20261124-1400"}
    assert result["metrics"]["SnapshotsDeleted"] == 1
    # ...and nothing tries to copy the deleted source again
    assert result["metrics"]["CopiesStarted"] == 0
    assert result["metrics"]["TargetFailures"] == 0
    assert [o for o in result["outcomes"] if o["operation"] == "copy"] == []


@pytest.mark.usefixtures("orders")
def test_a_foreign_copy_holding_our_name_is_reported_without_failing_the_invocation(
    source, destination, lambda_context, monkeypatch
):
    """Issue 20, defect 7: every reconcile that met a foreign DR-region snapshot holding our name raised,
    and Lambda's two retries sent each run to the dead-letter queue. A lasting condition is a failed
    target (TargetFailures, its alarm), not a failed invocation; a failure a retry may fix still raises."""
    name = "dr-orders-db-20261124-1400"
    arn = snapshot(source, name)
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name, SourceRegion=SOURCE_REGION
    )
    destination.remove_tags_from_resource(
        ResourceName=instance_snapshots(destination)[name]["DBSnapshotArn"], TagKeys=["rds-snapshot-dr:owner"]
    )
    at(monkeypatch, FIXED_NOW)

    result = lambda_handler(RECONCILE, lambda_context)

    [failed] = [o for o in result["outcomes"] if o["outcome"] == "failed"]
    assert (failed["operation"], failed["snapshot"]) == ("copy", name)
    assert result["metrics"]["TargetFailures"] == 1

    inject_error(SOURCE_REGION, "DescribeDBSnapshots", "InternalFailure", times=None)
    with pytest.raises(TargetFailuresError):
        lambda_handler(RECONCILE, lambda_context)


@pytest.mark.usefixtures("orders")
def test_reconcile_never_deletes_a_foreign_snapshot(source, destination, lambda_context, monkeypatch):
    snapshot(source, "dr-orders-db-20261101-1400", tags=owned_tags("orders-db", owner="another-module"))
    snapshot(source, "dr-orders-db-20261102-1400", tags=[])
    snapshot(source, "nightly-orders-db-20261103", tags=owned_tags("orders-db"))
    snapshot(source, "dr-orders-db-20261104-1400")
    snapshot(source, "dr-orders-db-20261105-1400")
    later(monkeypatch, days=60)

    lambda_handler(RECONCILE, lambda_context)

    assert {
        "dr-orders-db-20261101-1400",
        "dr-orders-db-20261102-1400",
        "nightly-orders-db-20261103",
    } <= set(instance_snapshots(source))


@pytest.mark.usefixtures("orders")
def test_reconcile_never_deletes_a_source_before_its_copy_is_available(
    source, destination, lambda_context, monkeypatch
):
    for day in (20, 21, 22):
        name = f"dr-orders-db-202611{day}-1400"
        copy_to_destination(destination, snapshot(source, name), name)
    later(monkeypatch, days=30)

    def copies_in_progress(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            snap.update(Status="copying", PercentProgress=50, SourceRegion=SOURCE_REGION)

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", copies_in_progress)

    result = lambda_handler(RECONCILE, lambda_context)

    assert len(instance_snapshots(source)) == 3
    assert result["metrics"]["SnapshotsDeleted"] == 0


@pytest.mark.usefixtures("orders")
def test_reconcile_never_deletes_the_last_copy_however_old(source, destination, lambda_context, monkeypatch, env):
    env(KEEP_LAST="1", DESTINATION_RETENTION_DAYS="1", SOURCE_RETENTION_DAYS="1")
    name = "dr-orders-db-20250101-1400"
    copy_to_destination(destination, snapshot(source, name), name)
    later(monkeypatch, days=400)

    lambda_handler(RECONCILE, lambda_context)

    assert set(instance_snapshots(destination)) == {name}
    assert set(instance_snapshots(source)) == {name}


@pytest.mark.usefixtures("orders")
def test_reconcile_never_deletes_automated_snapshots(source, destination, lambda_context, monkeypatch):
    later(monkeypatch, days=60)

    lambda_handler(RECONCILE, lambda_context)

    automated = source.describe_db_snapshots(SnapshotType="automated")["DBSnapshots"]
    assert all(s["SnapshotType"] == "automated" for s in automated)


@pytest.mark.usefixtures("orders")
def test_reconcile_publishes_recovery_point_age_of_newest_available_copy(
    source, destination, lambda_context, monkeypatch, capsys
):
    name = "dr-orders-db-20261124-1400"
    copy_to_destination(destination, snapshot(source, name), name)
    at(monkeypatch, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))

    result = lambda_handler(RECONCILE, lambda_context)

    # Counted from the time stamped in the name (the data's time), whenever RDS made the copy.
    assert result["metrics"]["RecoveryPointAgeSeconds"] == 86_400.0
    assert '"RecoveryPointAgeSeconds"' in capsys.readouterr().out


@pytest.mark.usefixtures("orders")
def test_recovery_point_of_a_database_without_copy_counts_from_its_creation(lambda_context, monkeypatch):
    # moto stamps the database with the machine's time; pin it to the test's clock.
    created = FIXED_NOW - timedelta(hours=1)
    alter_response(SOURCE_REGION, "DescribeDBInstances", _created_at(created))
    later(monkeypatch, days=2)

    result = lambda_handler(RECONCILE, lambda_context)

    assert result["metrics"]["RecoveryPointAgeSeconds"] == (FIXED_NOW + timedelta(days=2) - created).total_seconds()


def _created_at(when: datetime) -> Any:
    def change(parsed: dict[str, Any]) -> None:
        for db in parsed.get("DBInstances", []):
            db["InstanceCreateTime"] = when

    return change


@pytest.mark.usefixtures("orders")
def test_reconcile_publishes_the_highest_manual_snapshot_quota_use(lambda_context, quotas):
    quotas(DESTINATION_REGION, used=93, maximum=100)

    result = lambda_handler(RECONCILE, lambda_context)

    assert result["metrics"]["ManualSnapshotQuotaUsedPercent"] == 93.0


@pytest.mark.usefixtures("orders")
def test_unknown_quota_is_a_warning_not_a_failure(lambda_context, caplog):
    inject_error(SOURCE_REGION, "DescribeAccountAttributes", "AccessDenied", "no", times=None)

    result = lambda_handler(RECONCILE, lambda_context)

    assert result["metrics"]["ManualSnapshotQuotaUsedPercent"] == 10.0  # destination still answered
    assert any("quota unknown" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("orders")
def test_delete_denied_names_the_action(source, destination, lambda_context, monkeypatch):
    for day in (20, 21):
        name = f"dr-orders-db-202611{day}-1400"
        copy_to_destination(destination, snapshot(source, name), name)
    later(monkeypatch, days=30)
    inject_error(SOURCE_REGION, "DeleteDBSnapshot", "AccessDenied", "not authorized")

    with pytest.raises(TargetFailuresError, match="rds:DeleteDBSnapshot"):
        lambda_handler(RECONCILE, lambda_context)
    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261121-1400"}


@pytest.mark.usefixtures("orders")
def test_reconcile_of_a_subset_touches_only_those_targets(source, destination, lambda_context, env):
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db")
    make_instance(source, "billing-db")
    snapshot(source, "dr-orders-db-20261124-1400")
    snapshot(source, "dr-billing-db-20261124-1400", db="billing-db")

    lambda_handler({"action": "reconcile", "targets": ["billing-db"]}, lambda_context)

    assert set(instance_snapshots(destination)) == {"dr-billing-db-20261124-1400"}


def test_full_cycle_backup_event_reconcile_is_idempotent(source, destination, lambda_context, env):
    from dr_testing import load_event

    env(BACKUP_SCHEDULE_EXPRESSION="cron(0 14 * * ? *)")  # the round of the event: copy slots are reserved
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    backup = load_event("scheduled-backup.json")

    lambda_handler(backup, lambda_context)
    lambda_handler(backup, lambda_context)
    lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)
    lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)
    result = lambda_handler(RECONCILE, lambda_context)

    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261125-1400"}
    assert set(cluster_snapshots(destination)) == {"dr-payments-20261125-1400"}
    assert result["metrics"]["CopiesStarted"] == 1  # the cluster copy, whose event never came
