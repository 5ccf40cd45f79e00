"""backup: one snapshot per target, named from the scheduled time, tagged, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from dr_testing import (
    OWNER,
    OWNER_KEY,
    SOURCE_REGION,
    cluster_snapshots,
    inject_error,
    instance_snapshots,
    load_event,
    make_cluster,
    make_instance,
)

from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules.errors import TargetFailuresError
from rds_snapshot_dr.rules.events import InvalidEventError

pytestmark = pytest.mark.usefixtures("aws")


def outcomes(result: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(o["target"], o["operation"]): o["outcome"] for o in result["outcomes"]}


def test_backup_snapshots_named_instance_and_cluster_from_scheduled_time(source, lambda_context):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")

    result = lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert set(instance_snapshots(source)) == {"dr-orders-db-20261125-1400"}
    assert set(cluster_snapshots(source)) == {"dr-payments-20261125-1400"}
    assert result["metrics"]["SnapshotsStarted"] == 2
    assert outcomes(result) == {("orders-db", "snapshot"): "started", ("payments", "snapshot"): "started"}


def test_backup_tags_snapshot_with_owner_source_round_and_user_tags(source, lambda_context):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    tags = {t["Key"]: t["Value"] for t in instance_snapshots(source)["dr-orders-db-20261125-1400"]["TagList"]}
    assert tags == {
        OWNER_KEY: OWNER,
        "rds-snapshot-dr:source": "orders-db",
        "rds-snapshot-dr:source-type": "instance",
        "rds-snapshot-dr:backup-round": "20261125-1400",
        "rds-snapshot-dr:portable": "class=db.t3.micro multi-az=false deletion-protection=false",
        "team": "platform",
    }
    cluster_tags = {t["Key"]: t["Value"] for t in cluster_snapshots(source)["dr-payments-20261125-1400"]["TagList"]}
    assert cluster_tags["rds-snapshot-dr:source-type"] == "cluster"


def test_duplicate_backup_event_is_idempotent_success(source, lambda_context):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    event = load_event("scheduled-backup.json")

    lambda_handler(event, lambda_context)
    result = lambda_handler(event, lambda_context)

    assert len(instance_snapshots(source)) == 1
    assert len(cluster_snapshots(source)) == 1
    assert outcomes(result) == {("orders-db", "snapshot"): "exists", ("payments", "snapshot"): "exists"}
    assert result["metrics"]["TargetFailures"] == 0


def test_existing_snapshot_with_our_name_but_not_ours_fails_the_target_not_the_invocation(source, lambda_context, env):
    """Issue 20, defect 7: a foreign snapshot holding our name stays until a person acts, so the invocation
    does not fail for it (Lambda's retries would only repeat it into the dead-letter queue); the target
    fails, and TargetFailures and its alarm report it."""
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    source.create_db_snapshot(DBInstanceIdentifier="orders-db", DBSnapshotIdentifier="dr-orders-db-20261125-1400")

    result = lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    [failed] = [o for o in result["outcomes"] if o["outcome"] == "failed"]
    assert "it lacks the ownership tag" in failed["reason"]
    assert result["metrics"]["TargetFailures"] == 1


def test_selection_tags_add_instances_and_clusters(source, lambda_context, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr", "tier": "1"}')
    make_instance(source, "tagged-db", {"backup": "dr", "tier": "1"})
    make_instance(source, "half-tagged-db", {"backup": "dr"})
    make_instance(source, "other-db")
    make_cluster(source, "tagged-cluster", {"backup": "dr", "tier": "1"})

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert set(instance_snapshots(source)) == {"dr-tagged-db-20261125-1400"}
    assert set(cluster_snapshots(source)) == {"dr-tagged-cluster-20261125-1400"}


def test_aurora_cluster_members_are_backed_up_only_through_their_cluster(source, lambda_context, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    make_cluster(source, "payments", {"backup": "dr"})
    make_instance(source, "payments-1", {"backup": "dr"}, cluster="payments")

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert instance_snapshots(source) == {}
    assert set(cluster_snapshots(source)) == {"dr-payments-20261125-1400"}


def test_named_cluster_member_without_its_cluster_fails_with_fix(source, lambda_context, env):
    env(DB_INSTANCE_IDENTIFIERS="payments-1", DB_CLUSTER_IDENTIFIERS="")
    make_cluster(source, "payments")
    make_instance(source, "payments-1", cluster="payments")

    with pytest.raises(TargetFailuresError, match="member of DB cluster payments"):
        lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    assert instance_snapshots(source) == {}


def test_missing_named_target_is_reported_and_others_still_backed_up(source, lambda_context, capsys):
    make_cluster(source, "payments")  # orders-db does not exist

    with pytest.raises(TargetFailuresError, match="orders-db"):
        lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert set(cluster_snapshots(source)) == {"dr-payments-20261125-1400"}
    assert '"TargetFailures":1' in capsys.readouterr().out  # metrics printed before raising


def test_manual_backup_of_a_subset_snapshots_only_that_target(source, lambda_context):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")

    result = lambda_handler({"action": "backup", "targets": ["orders-db"]}, lambda_context)

    assert len(instance_snapshots(source)) == 1
    assert cluster_snapshots(source) == {}
    [name] = instance_snapshots(source)
    assert name.startswith("dr-orders-db-")
    assert result["action"] == "backup"


def test_manual_backup_of_a_target_not_configured_fails(source, lambda_context):
    make_instance(source, "orders-db")
    make_instance(source, "someone-elses-db")
    make_cluster(source, "payments")

    with pytest.raises(TargetFailuresError, match="someone-elses-db is not a target"):
        lambda_handler({"action": "backup", "targets": ["someone-elses-db"]}, lambda_context)
    assert instance_snapshots(source) == {}


def test_database_not_available_is_skipped_not_failed(source, lambda_context, env):
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    source.stop_db_instance(DBInstanceIdentifier="orders-db")

    result = lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert outcomes(result) == {("orders-db", "snapshot"): "skipped"}
    assert instance_snapshots(source) == {}


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("InvalidDBInstanceState", "skipped"), ("InvalidDBClusterStateFault", "skipped")],
)
def test_invalid_state_errors_are_skipped(source, lambda_context, code, outcome):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    inject_error(SOURCE_REGION, "CreateDBSnapshot", "InvalidDBInstanceState", "instance is modifying")
    inject_error(SOURCE_REGION, "CreateDBClusterSnapshot", "InvalidDBClusterStateFault", "cluster is modifying")

    result = lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    kind_target = "orders-db" if code == "InvalidDBInstanceState" else "payments"
    assert outcomes(result)[(kind_target, "snapshot")] == outcome


def test_access_denied_names_the_action_and_other_targets_continue(source, lambda_context):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    inject_error(SOURCE_REGION, "CreateDBSnapshot", "AccessDenied", "not authorized")

    with pytest.raises(TargetFailuresError, match="rds:CreateDBSnapshot"):
        lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    assert set(cluster_snapshots(source)) == {"dr-payments-20261125-1400"}


def test_throttling_that_survives_retries_fails_the_target_with_a_fix(source, lambda_context, caplog):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    inject_error(SOURCE_REGION, "CreateDBClusterSnapshot", "Throttling", "Rate exceeded")

    with pytest.raises(TargetFailuresError, match="throttled"):
        lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    [failure] = [r for r in caplog.records if getattr(r, "outcome", "") == "failed"]
    assert failure.target == "payments"
    assert 'aws_api_retry_mode = "adaptive"' in failure.fix
    assert set(instance_snapshots(source)) == {"dr-orders-db-20261125-1400"}


def test_snapshot_quota_prunes_then_reports_the_quota_hint(source, lambda_context, env):
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    inject_error(
        SOURCE_REGION, "CreateDBSnapshot", "SnapshotQuotaExceeded", "Cannot create more than 100 manual snapshots"
    )

    with pytest.raises(TargetFailuresError) as raised:
        lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    assert "SnapshotQuotaExceeded" in str(raised.value)


def test_snapshot_quota_retries_once_after_pruning_freed_space(source, destination, lambda_context, env, monkeypatch):
    env(DB_CLUSTER_IDENTIFIERS="", SOURCE_RETENTION_DAYS="1")
    make_instance(source, "orders-db")
    from dr_testing import owned_tags

    for stamp in ("20261101-1400", "20261102-1400"):
        name = f"dr-orders-db-{stamp}"
        arn = source.create_db_snapshot(
            DBInstanceIdentifier="orders-db", DBSnapshotIdentifier=name, Tags=owned_tags("orders-db")
        )["DBSnapshot"]["DBSnapshotArn"]
        destination.copy_db_snapshot(
            SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name, CopyTags=True, SourceRegion=SOURCE_REGION
        )
    _shift_clock(monkeypatch, days=3)
    inject_error(SOURCE_REGION, "CreateDBSnapshot", "SnapshotQuotaExceeded", "Cannot create more than 100", times=1)

    result = lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert set(instance_snapshots(source)) == {"dr-orders-db-20261102-1400", "dr-orders-db-20261125-1400"}
    # Dated by their names, both copies are past the destination retention: keep-last keeps the newer one.
    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261102-1400"}
    assert result["metrics"]["SnapshotsDeleted"] == 2
    assert result["metrics"]["SnapshotsStarted"] == 1


def test_time_budget_guard_defers_targets_when_time_runs_low(source, lambda_context):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    lambda_context.remaining_ms = 5_000  # below TIME_BUDGET_RESERVE_MS=10000

    result = lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert set(outcomes(result).values()) == {"deferred"}
    assert instance_snapshots(source) == {}
    assert cluster_snapshots(source) == {}


def test_snapshot_name_too_long_for_a_cluster_snapshot_fails_with_fix(source, lambda_context, env):
    env(DB_INSTANCE_IDENTIFIERS="", SNAPSHOT_PREFIX="a-very-long-prefix-for-cluster-snapshots-indeed")
    make_cluster(source, "payments")

    with pytest.raises(TargetFailuresError, match="RDS allows 63"):
        lambda_handler(load_event("scheduled-backup.json"), lambda_context)


def _shift_clock(monkeypatch: pytest.MonkeyPatch, *, days: int) -> None:
    from datetime import timedelta

    from rds_snapshot_dr import clock, handler

    later = clock.CLOCK.now() + timedelta(days=days)
    monkeypatch.setattr(handler, "utcnow", lambda: later)


def test_a_forged_backup_event_stamped_in_the_future_is_refused_before_any_snapshot(
    source, lambda_context, fixed_clock
):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    fixed_clock.set(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    with pytest.raises(InvalidEventError, match=r'"scheduled_time" .* is in the future'):
        lambda_handler({"action": "backup", "scheduled_time": "2026-11-26T15:00:00Z"}, lambda_context)

    assert instance_snapshots(source) == {}
    assert cluster_snapshots(source) == {}


def test_a_backup_event_minutes_ahead_of_the_functions_clock_is_taken(source, lambda_context, fixed_clock):
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    fixed_clock.set(datetime(2026, 11, 25, 13, 50, tzinfo=UTC))  # ten minutes behind the 14:00 round

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    assert set(instance_snapshots(source)) == {"dr-orders-db-20261125-1400"}
