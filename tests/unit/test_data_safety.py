"""The data-safety defects a scripted RDS found, each shown with the state moto cannot produce by itself.

1. owned snapshots are dated by the stamp in their name (cluster copies carry no OriginalSnapshotCreateTime);
2. a copy that ends `failed` is reported, removed and retried a bounded number of times;
3. a destination snapshot with our name that is not ours fails on the event path and in reconcile alike;
4. owned means the exact name the module gives, not only our tags, and in the DR region a copy of our
   source snapshot of that name;
6. a database deleted and created again under its identifier is a new generation: its snapshots never
   push the old one's last copy out of keep-last;
7. a snapshot without SnapshotCreateTime (or any odd item) never stops reconcile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dr_testing import (
    DESTINATION_REGION,
    FIXED_NOW,
    SOURCE_REGION,
    alter_response,
    cluster_snapshots,
    instance_snapshots,
    load_event,
    make_cluster,
    make_instance,
    owned_tags,
)

from rds_snapshot_dr import handler
from rds_snapshot_dr.gateway.aws import RdsGateway
from rds_snapshot_dr.jobs.actions import FUNCTION_ACTIONS
from rds_snapshot_dr.jobs.engine import Engine, Report
from rds_snapshot_dr.rules.copy_state import FOREIGN_NAME_FIX
from rds_snapshot_dr.rules.events import ActionRequest, parse_event
from rds_snapshot_dr.rules.model import COPY_FAILURES_TAG

pytestmark = pytest.mark.usefixtures("default_quotas")

SNAPSHOT = "dr-orders-db-20261125-1400"  # tests/events/manual-snapshot-created.json


def run(event: dict[str, Any], now: datetime | None = None) -> Report:
    """One invocation through the engine, returning its report even when a target failed."""
    settings = handler.current_settings()
    now = now or FIXED_NOW
    engine = Engine(settings, RdsGateway.from_settings(settings), now=now, remaining_ms=lambda: 900_000)
    request = parse_event(event, actions=FUNCTION_ACTIONS.keys(), now=now)
    if isinstance(request, ActionRequest):
        runner = FUNCTION_ACTIONS[request.action].function
        assert runner is not None
        return runner(engine, request)  # type: ignore[return-value]
    return engine.copy_created(request)  # type: ignore[arg-type]


def reconcile(days_later: float = 0) -> Report:
    return run({"action": "reconcile"}, FIXED_NOW + timedelta(days=days_later))


def outcomes(report: Report, outcome: str) -> list[Any]:
    return [o for o in report.outcomes if o.outcome == outcome]


def take(source: Any, name: str, db: str = "orders-db", tags: list[dict[str, str]] | None = None) -> str:
    return source.create_db_snapshot(
        DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db) if tags is None else tags
    )["DBSnapshot"]["DBSnapshotArn"]


def copy_over(destination: Any, arn: str, name: str) -> None:
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name, CopyTags=True, SourceRegion=SOURCE_REGION
    )


@pytest.fixture
def orders(source: Any, env: Callable[..., None]) -> None:
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")


# --- 1. the date of an owned snapshot is the stamp in its name ----------------------------------------


def test_cluster_copies_finished_out_of_order_keep_the_newest_recovery_point(source, destination, env):
    """A backlog copied newest first: the older day's copy finishes (is created) last. Dated by RDS's
    create time it looked newest, so keep-last kept it and pruned the newest recovery point."""
    env(DB_INSTANCE_IDENTIFIERS="")
    make_cluster(source, "payments")
    arns = {}
    for stamp in ("20261101-1400", "20261102-1400"):
        name = f"dr-payments-{stamp}"
        arns[name] = source.create_db_cluster_snapshot(
            DBClusterIdentifier="payments", DBClusterSnapshotIdentifier=name, Tags=owned_tags("payments", "cluster")
        )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    for name in ("dr-payments-20261102-1400", "dr-payments-20261101-1400"):  # newest first
        destination.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=arns[name],
            TargetDBClusterSnapshotIdentifier=name,
            CopyTags=True,
            SourceRegion=SOURCE_REGION,
        )

    reconcile(days_later=30)

    assert set(cluster_snapshots(destination)) == {"dr-payments-20261102-1400"}


@pytest.mark.usefixtures("orders")
def test_recovery_point_age_counts_from_the_stamp_not_from_when_the_copy_was_made(source, destination):
    name = "dr-orders-db-20261120-1400"
    copy_over(destination, take(source, name), name)
    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", _drop("OriginalSnapshotCreateTime"))

    report = reconcile()

    stamp = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    age = report.metrics.gauges["RecoveryPointAgeSeconds"]
    assert age == (FIXED_NOW - stamp).total_seconds()


# --- 2. a copy that ends failed --------------------------------------------------------------------


def _fail_copies(state: dict[str, bool]) -> Callable[[dict[str, Any]], None]:
    def change(parsed: dict[str, Any]) -> None:
        if state["failing"]:
            for snap in parsed.get("DBSnapshots", []):  # the destination's: all copies
                snap["Status"] = "failed"

    return change


@pytest.mark.usefixtures("orders")
def test_a_failed_copy_is_reported_removed_counted_and_retried_until_the_bound(source, destination, env):
    env(COPY_MAX_ATTEMPTS="2")
    take(source, SNAPSHOT)
    state = {"failing": True}
    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", _fail_copies(state))

    first = reconcile()  # starts the copy
    second = reconcile()  # sees it failed: report, count on the source, delete
    third = reconcile()  # retries (one attempt left)
    fourth = reconcile()  # fails again: the bound is reached
    fifth = reconcile()  # stays failed and loud, starts nothing

    assert first.metrics.counts["CopiesStarted"] == 1
    [failed] = outcomes(second, "failed")
    assert (failed.operation, failed.snapshot) == ("copy", SNAPSHOT)
    assert "ended failed" in failed.reason
    assert COPY_FAILURES_TAG in failed.fix
    assert (second.metrics.counts["CopiesFailed"], second.metrics.counts["TargetFailures"]) == (1, 1)
    assert third.metrics.counts["CopiesStarted"] == 1
    assert "copy_max_attempts=2 reached" in outcomes(fourth, "failed")[0].reason
    assert fifth.metrics.counts["CopiesStarted"] == 0
    assert (fifth.metrics.counts["CopiesFailed"], fifth.metrics.counts["TargetFailures"]) == (1, 1)
    assert instance_snapshots(destination) == {}
    tags = {t["Key"]: t["Value"] for t in instance_snapshots(source)[SNAPSHOT]["TagList"]}
    assert tags[COPY_FAILURES_TAG] == "2"


@pytest.mark.usefixtures("orders")
def test_a_failed_copy_is_never_deleted_before_its_failure_is_counted(source, destination):
    from dr_testing import inject_error

    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)
    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", _fail_copies({"failing": True}))
    inject_error(SOURCE_REGION, "AddTagsToResource", "AccessDenied", "not authorized")

    report = reconcile()

    [failed] = outcomes(report, "failed")
    assert "could not be removed" in failed.reason
    assert "rds:AddTagsToResource" in failed.reason
    assert SNAPSHOT in instance_snapshots(destination)


# --- 3. a snapshot with our name in the destination that is not ours -------------------------------


@pytest.fixture
def foreign_copy(source: Any, destination: Any) -> None:
    take(source, SNAPSHOT)
    make_instance(destination, "orders-db")
    destination.create_db_snapshot(DBInstanceIdentifier="orders-db", DBSnapshotIdentifier=SNAPSHOT)


@pytest.mark.usefixtures("orders", "foreign_copy")
def test_a_foreign_snapshot_with_our_name_fails_the_event_path():
    report = run(load_event("manual-snapshot-created.json"))

    [outcome] = report.outcomes
    assert (outcome.operation, outcome.outcome, outcome.fix) == ("copy", "failed", FOREIGN_NAME_FIX)


@pytest.mark.usefixtures("orders", "foreign_copy")
def test_a_foreign_snapshot_with_our_name_fails_reconcile_the_same_way():
    report = reconcile()

    [outcome] = outcomes(report, "failed")
    assert (outcome.operation, outcome.snapshot, outcome.fix) == ("copy", SNAPSHOT, FOREIGN_NAME_FIX)
    assert report.metrics.counts["CopiesFailed"] == 1


# --- 4. owned means the exact name ------------------------------------------------------------------


@pytest.mark.usefixtures("orders")
def test_a_legal_hold_copy_named_ours_plus_a_suffix_with_our_tags_is_never_pruned(source, destination):
    hold = f"{SNAPSHOT}-legal-hold"
    for name in (SNAPSHOT, hold, "dr-orders-db-20261126-1400"):
        copy_over(destination, take(source, name), name)

    report = reconcile(days_later=60)

    assert hold in instance_snapshots(source)
    assert hold in instance_snapshots(destination)
    assert SNAPSHOT not in instance_snapshots(source)  # the module's own expired snapshot does go
    assert all(o.snapshot != hold for o in report.outcomes)


@pytest.fixture
def look_alike(source: Any, destination: Any) -> str:
    """A person's copy of an older source snapshot, given today's name and (CopyTags) our tags: in the DR
    region it has our exact name and our owner tag, but not today's data."""
    older = "dr-orders-db-20261118-1400"
    copy_over(destination, take(source, older), SNAPSHOT)
    take(source, SNAPSHOT)
    return SNAPSHOT


@pytest.mark.usefixtures("orders", "look_alike")
def test_a_look_alike_copy_of_another_snapshot_is_not_taken_for_ours_on_the_event_path():
    report = run(load_event("manual-snapshot-created.json"))

    [outcome] = report.outcomes
    assert (outcome.operation, outcome.outcome, outcome.fix) == ("copy", "failed", FOREIGN_NAME_FIX)
    assert report.retryable_failures == []  # lasting: reported, not retried into the dead-letter queue


@pytest.mark.usefixtures("orders", "look_alike")
def test_a_look_alike_keeps_the_source_counts_for_no_recovery_point_and_is_never_pruned(source, destination):
    created = FIXED_NOW - timedelta(days=60)
    alter_response(SOURCE_REGION, "DescribeDBInstances", _set_instance_created(created))

    report = reconcile(days_later=30)

    assert SNAPSHOT in instance_snapshots(source)  # its data never reached DR: kept, and said so
    assert SNAPSHOT in instance_snapshots(destination)  # not ours: never deleted
    assert [o.snapshot for o in outcomes(report, "failed")] == [SNAPSHOT]
    [point] = report.metrics.recovery_points
    # no copy of ours: the database counts from its creation, not from the look-alike's stamp (30 days)
    assert point.age_seconds == (FIXED_NOW + timedelta(days=30) - created).total_seconds()


def _set_instance_created(when: datetime) -> Callable[[dict[str, Any]], None]:
    def change(parsed: dict[str, Any]) -> None:
        for db in parsed.get("DBInstances", []):
            db["InstanceCreateTime"] = when

    return change


# --- 6. a database recreated under the same identifier is a new generation ---------------------------


@pytest.mark.usefixtures("orders")
def test_a_recreated_database_keeps_its_predecessors_last_copy(source, destination):
    for day in ("20261101", "20261102", "20261103"):
        name = f"dr-orders-db-{day}-1400"
        copy_over(destination, take(source, name), name)
    source.delete_db_instance(DBInstanceIdentifier="orders-db", SkipFinalSnapshot=True)
    make_instance(source, "orders-db")  # a new database under the old identifier: a new DbiResourceId
    for day in ("20261123", "20261124", "20261125"):
        name = f"dr-orders-db-{day}-1400"
        copy_over(destination, take(source, name), name)

    reconcile(days_later=30)

    # KEEP_LAST=1 per database generation: the deleted database's last copy is the one that mattered
    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261103-1400", "dr-orders-db-20261125-1400"}


# --- 7. odd snapshots never stop reconcile ----------------------------------------------------------


def _drop(field: str, identifier: str | None = None) -> Callable[[dict[str, Any]], None]:
    def change(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            if identifier is None or snap.get("DBSnapshotIdentifier") == identifier:
                snap.pop(field, None)

    return change


@pytest.mark.usefixtures("orders")
def test_a_snapshot_without_create_time_does_not_stop_pruning_or_metrics(source, destination):
    for day in ("20261101", "20261102", "20261103"):
        name = f"dr-orders-db-{day}-1400"
        copy_over(destination, take(source, name), name)
    alter_response(SOURCE_REGION, "DescribeDBSnapshots", _drop("SnapshotCreateTime", "dr-orders-db-20261102-1400"))
    alter_response(
        SOURCE_REGION, "DescribeDBSnapshots", lambda parsed: parsed.get("DBSnapshots", []).append({"Status": "odd"})
    )

    report = reconcile(days_later=60)

    assert set(instance_snapshots(source)) == {"dr-orders-db-20261103-1400"}
    assert "RecoveryPointAgeSeconds" in report.metrics.gauges
    assert "ManualSnapshotQuotaUsedPercent" in report.metrics.gauges
