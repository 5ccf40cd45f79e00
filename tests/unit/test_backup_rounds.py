"""Backup rounds: reconcile retakes the snapshots the latest full backup round missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dr_testing import (
    OWNER,
    OWNER_KEY,
    SOURCE_REGION,
    alter_response,
    cluster_snapshots,
    inject_error,
    instance_snapshots,
    load_event,
    make_cluster,
    make_instance,
)

from rds_snapshot_dr import handler
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.jobs.engine import TIME_BUDGET_REASON

pytestmark = pytest.mark.usefixtures("default_quotas")

ROUND = "20261125-1400"  # tests/events/scheduled-backup.json
ROUND_TAG = "rds-snapshot-dr:backup-round"
RECONCILE = {"action": "reconcile"}


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pin the function's clock an hour after the round (retention is measured from it)."""

    def set_clock(when: datetime) -> None:
        monkeypatch.setattr(handler, "utcnow", lambda: when)

    set_clock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    return set_clock


@pytest.fixture
def statuses() -> dict[str, str]:
    """DB instance status overrides seen by the function (moto cannot put an instance into `modifying`)."""
    overrides: dict[str, str] = {}

    def change(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBInstances", []):
            if item["DBInstanceIdentifier"] in overrides:
                item["DBInstanceStatus"] = overrides[item["DBInstanceIdentifier"]]

    alter_response(SOURCE_REGION, "DescribeDBInstances", change)
    return overrides


@pytest.fixture
def fleet(source: Any, env: Any) -> None:
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="payments")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    make_cluster(source, "payments")


def tags_of(snapshot: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in snapshot["TagList"]}


def snapshot_outcomes(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["target"]: o for o in result["outcomes"] if o["operation"] == "snapshot"}


@pytest.mark.usefixtures("fleet")
def test_target_modifying_at_backup_is_retaken_by_reconcile_with_the_rounds_name_and_tags(
    source, lambda_context, statuses
):
    statuses["billing-db"] = "modifying"
    backup = lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    assert snapshot_outcomes(backup)["billing-db"]["outcome"] == "skipped"
    statuses.clear()  # the modification finished

    result = lambda_handler(RECONCILE, lambda_context)

    retaken = instance_snapshots(source)[f"dr-billing-db-{ROUND}"]
    assert tags_of(retaken) == {
        OWNER_KEY: OWNER,
        "rds-snapshot-dr:source": "billing-db",
        "rds-snapshot-dr:source-type": "instance",
        ROUND_TAG: ROUND,
        "rds-snapshot-dr:portable": "class=db.t3.micro multi-az=false deletion-protection=false",
        "team": "platform",
    }
    outcome = snapshot_outcomes(result)["billing-db"]
    assert (outcome["outcome"], outcome["reason"]) == (
        "started",
        f"missed in backup round {ROUND}; retaken by reconcile",
    )
    assert result["metrics"]["SnapshotsStarted"] == 1


@pytest.mark.parametrize(
    ("operation", "code", "target"),
    [
        ("CreateDBSnapshot", "InvalidDBInstanceState", "billing-db"),  # the first instance target
        ("CreateDBClusterSnapshot", "InvalidDBClusterStateFault", "payments"),
    ],
)
@pytest.mark.usefixtures("fleet")
def test_target_refused_with_invalid_state_at_backup_is_retaken(source, lambda_context, operation, code, target):
    inject_error(SOURCE_REGION, operation, code, "the database is being modified", times=1)
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    assert f"dr-{target}-{ROUND}" not in {**instance_snapshots(source), **cluster_snapshots(source)}

    result = lambda_handler(RECONCILE, lambda_context)

    assert f"dr-{target}-{ROUND}" in {**instance_snapshots(source), **cluster_snapshots(source)}
    assert set(snapshot_outcomes(result)) == {target}


@pytest.mark.usefixtures("fleet")
def test_target_still_not_available_at_reconcile_stays_skipped(source, lambda_context, statuses):
    statuses["billing-db"] = "modifying"
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    result = lambda_handler(RECONCILE, lambda_context)

    assert f"dr-billing-db-{ROUND}" not in instance_snapshots(source)
    outcome = snapshot_outcomes(result)["billing-db"]
    assert outcome["outcome"] == "skipped"
    assert "reconcile retakes" in outcome["fix"]
    assert result["metrics"]["TargetFailures"] == 0


@pytest.mark.usefixtures("fleet")
def test_subset_backup_makes_no_round_so_reconcile_takes_nothing_else(source, lambda_context):
    lambda_handler({"action": "backup", "targets": ["orders-db"]}, lambda_context)

    result = lambda_handler(RECONCILE, lambda_context)

    [name] = instance_snapshots(source)
    assert name.startswith("dr-orders-db-")
    assert ROUND_TAG not in tags_of(instance_snapshots(source)[name])
    assert cluster_snapshots(source) == {}
    assert result["metrics"]["SnapshotsStarted"] == 0


@pytest.mark.usefixtures("fleet")
def test_complete_round_reconcile_creates_nothing(source, lambda_context):
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)

    result = lambda_handler(RECONCILE, lambda_context)

    assert set(instance_snapshots(source)) == {f"dr-orders-db-{ROUND}", f"dr-billing-db-{ROUND}"}
    assert set(cluster_snapshots(source)) == {f"dr-payments-{ROUND}"}
    assert result["metrics"]["SnapshotsStarted"] == 0
    assert snapshot_outcomes(result) == {}


@pytest.mark.usefixtures("fleet")
def test_repeated_reconcile_retakes_once(source, lambda_context, statuses):
    statuses["billing-db"] = "modifying"
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    statuses.clear()

    first = lambda_handler(RECONCILE, lambda_context)
    second = lambda_handler(RECONCILE, lambda_context)

    assert [n for n in instance_snapshots(source) if n.startswith("dr-billing-db-")] == [f"dr-billing-db-{ROUND}"]
    assert (first["metrics"]["SnapshotsStarted"], second["metrics"]["SnapshotsStarted"]) == (1, 0)


@pytest.mark.usefixtures("fleet")
def test_target_added_after_the_round_is_taken_at_reconcile(source, lambda_context, env):
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    make_instance(source, "ledger-db")
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db,ledger-db")

    result = lambda_handler(RECONCILE, lambda_context)

    assert tags_of(instance_snapshots(source)[f"dr-ledger-db-{ROUND}"])[ROUND_TAG] == ROUND
    assert result["metrics"]["SnapshotsStarted"] == 1


@pytest.mark.usefixtures("fleet")
def test_round_older_than_source_retention_is_not_retaken(source, lambda_context, statuses, clock):
    statuses["billing-db"] = "modifying"
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    statuses.clear()
    clock(datetime(2026, 11, 25, 14, 0, tzinfo=UTC) + timedelta(days=7, minutes=1))  # SOURCE_RETENTION_DAYS=7

    result = lambda_handler(RECONCILE, lambda_context)

    assert not [n for n in instance_snapshots(source) if n.startswith("dr-billing-db-")]
    assert result["metrics"]["SnapshotsStarted"] == 0


@pytest.mark.usefixtures("fleet")
def test_time_budget_exhausted_defers_the_retake(source, lambda_context, statuses):
    statuses["billing-db"] = "modifying"
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    statuses.clear()
    lambda_context.remaining_ms = 1_000  # below TIME_BUDGET_RESERVE_MS=10000

    result = lambda_handler(RECONCILE, lambda_context)

    assert f"dr-billing-db-{ROUND}" not in instance_snapshots(source)
    outcome = snapshot_outcomes(result)["billing-db"]
    assert outcome["outcome"] == "deferred"
    assert outcome["reason"] == f"missed in backup round {ROUND}; {TIME_BUDGET_REASON}"


# --- the round the schedule says was due ---------------------------------------------------------------

DAILY_0300 = "cron(0 3 * * ? *)"  # the module's default schedule_expression


@pytest.mark.usefixtures("fleet")
def test_a_round_whose_backup_run_failed_everywhere_is_retaken_from_the_schedule(source, env, lambda_context, clock):
    # The module ran the day before; the 03:00 run met an RDS outage through all its retries: no snapshot of
    # that round exists, so no round tag either. The schedule still says it was due.
    env(BACKUP_SCHEDULE_EXPRESSION=DAILY_0300)
    lambda_handler({"action": "backup", "scheduled_time": "2026-11-25T03:00:00Z"}, lambda_context)
    clock(datetime(2026, 11, 26, 4, 30, tzinfo=UTC))

    result = lambda_handler(RECONCILE, lambda_context)

    taken = {name: snap for name, snap in instance_snapshots(source).items() if name.endswith("20261126-0300")}
    assert set(taken) == {"dr-orders-db-20261126-0300", "dr-billing-db-20261126-0300"}
    assert "dr-payments-20261126-0300" in cluster_snapshots(source)
    assert {tags_of(snap)[ROUND_TAG] for snap in taken.values()} == {"20261126-0300"}
    assert snapshot_outcomes(result)["orders-db"]["reason"].startswith("missed in backup round 20261126-0300")


@pytest.mark.usefixtures("fleet")
def test_the_due_round_is_left_to_the_backup_run_for_an_hour(source, env, lambda_context, clock):
    env(BACKUP_SCHEDULE_EXPRESSION=DAILY_0300)
    lambda_handler({"action": "backup", "scheduled_time": "2026-11-24T03:00:00Z"}, lambda_context)
    clock(datetime(2026, 11, 26, 3, 45, tzinfo=UTC))  # Scheduler may still be retrying the 03:00 run

    result = lambda_handler(RECONCILE, lambda_context)

    # the round before (25 November, 03:00) is the one reconcile looks at, and it is retaken
    assert {n for n in instance_snapshots(source) if not n.endswith("20261124-0300")} == {
        "dr-orders-db-20261125-0300",
        "dr-billing-db-20261125-0300",
    }
    assert result["metrics"]["SnapshotsStarted"] == 3


@pytest.mark.usefixtures("fleet")
def test_the_due_round_is_read_in_the_schedules_time_zone(source, env, lambda_context, clock):
    env(BACKUP_SCHEDULE_EXPRESSION=DAILY_0300, BACKUP_SCHEDULE_TIMEZONE="Europe/Berlin")
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)  # the module ran the day before
    clock(datetime(2026, 11, 26, 4, 30, tzinfo=UTC))  # 03:00 in Berlin is 02:00 UTC in November

    lambda_handler(RECONCILE, lambda_context)

    assert "dr-orders-db-20261126-0200" in instance_snapshots(source)


@pytest.mark.usefixtures("fleet")
def test_a_module_deployed_after_the_schedule_last_fired_waits_for_its_first_round(source, env, lambda_context, clock):
    env(BACKUP_SCHEDULE_EXPRESSION=DAILY_0300)
    clock(datetime(2026, 11, 26, 4, 30, tzinfo=UTC))  # no snapshot of ours yet: it was not running at 03:00

    result = lambda_handler(RECONCILE, lambda_context)

    assert result["metrics"]["SnapshotsStarted"] == 0


@pytest.mark.usefixtures("fleet")
def test_a_complete_due_round_takes_nothing(source, env, lambda_context, clock):
    env(BACKUP_SCHEDULE_EXPRESSION=DAILY_0300)
    clock(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    lambda_handler({"action": "backup", "scheduled_time": "2026-11-26T03:00:00Z"}, lambda_context)
    clock(datetime(2026, 11, 26, 5, 0, tzinfo=UTC))

    result = lambda_handler(RECONCILE, lambda_context)

    assert result["metrics"]["SnapshotsStarted"] == 0


@pytest.mark.usefixtures("fleet")
def test_a_snapshot_that_ended_failed_is_deleted_and_its_round_retaken(source, lambda_context):
    """RDS could not take billing-db's snapshot (status failed: no data). Reconcile deletes it, which frees the
    round's name, and takes the round again under it; the snapshots that are fine stay."""
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    name = f"dr-billing-db-{ROUND}"
    failed = {"yes": True}

    def ended_failed(parsed: dict[str, Any]) -> None:  # moto has no failed snapshot: shown as RDS reports one
        for item in parsed.get("DBSnapshots", []):
            if item["DBSnapshotIdentifier"] == name and failed["yes"]:
                item["Status"] = "failed"

    alter_response(SOURCE_REGION, "DescribeDBSnapshots", ended_failed)

    result = lambda_handler(RECONCILE, lambda_context)
    failed["yes"] = False

    deleted = [o for o in result["outcomes"] if o["operation"] == "delete"]
    assert [(o["snapshot"], o["outcome"]) for o in deleted] == [(name, "deleted")]
    assert "status failed" in deleted[0]["reason"]
    outcome = snapshot_outcomes(result)["billing-db"]
    assert (outcome["outcome"], outcome["reason"]) == (
        "started",
        f"missed in backup round {ROUND}; retaken by reconcile",
    )
    assert tags_of(instance_snapshots(source)[name])[ROUND_TAG] == ROUND  # the retake, under the round's name
    assert set(snapshot_outcomes(result)) == {"billing-db"}  # orders-db's and payments' snapshots are fine
