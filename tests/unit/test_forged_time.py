"""A snapshot stamped in the future (a forged scheduled_time, or a wrong clock) is never trusted.

Anyone allowed lambda:InvokeFunction can send {"action": "backup", "scheduled_time": "2099-..."}: the event
parser now refuses it (test_events.py), but a snapshot one made earlier, or one the CLI's --scheduled-time
made, still exists. Its stamp must not reset the recovery point age to 0, take a keep-last place from a
real snapshot, stand for the latest backup round, or hide: it is reported on every reconcile.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from dr_testing import (
    BASE_ENV,
    DESTINATION_REGION,
    FIXED_NOW,
    SOURCE_REGION,
    alter_response,
    instance_snapshots,
    make_instance,
    owned_tags,
)

from rds_snapshot_dr.clock import FixedClock
from rds_snapshot_dr.core.settings import load_settings
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules import naming, recovery_point, retention, rounds
from rds_snapshot_dr.rules.model import Database, Kind, Snapshot

NOW = FIXED_NOW  # 2026-11-25 15:00 UTC
OURS = {"rds-snapshot-dr:owner": "orders", "rds-snapshot-dr:source": "orders-db"}
FORGED = "dr-orders-db-20261225-1500"  # stamped a month after NOW
ROUND_TAG = "rds-snapshot-dr:backup-round"


def snap(ident: str, created: datetime, *, tags: dict[str, str] = OURS, region: str = "us-west-2") -> Snapshot:
    return Snapshot(
        kind=Kind.INSTANCE,
        identifier=ident,
        arn=f"arn:aws:rds:{region}:123456789012:snapshot:{ident}",
        region=region,
        status="available",
        snapshot_type="manual",
        created=created,
        tags=dict(tags),
        database_identifier="orders-db",
        # in the destination region: a copy of the source snapshot of the same name
        copied_from=f"arn:aws:rds:us-east-1:123456789012:snapshot:{ident}" if region == "us-west-2" else None,
    )


def name(days_old: float) -> str:
    return naming.snapshot_name("dr", "orders-db", NOW - timedelta(days=days_old))


def real(days_old: float, **extra: Any) -> Snapshot:
    """A snapshot stamped `days_old` days before NOW, which RDS made at that time."""
    return snap(name(days_old), NOW - timedelta(days=days_old), **extra)


@pytest.fixture
def settings() -> Any:
    return load_settings({**BASE_ENV, "KEEP_LAST": "1"})


# --- the decisions -----------------------------------------------------------------------------------


def test_a_copy_stamped_in_the_future_is_not_a_recovery_point(settings):
    orders = Database(Kind.INSTANCE, "orders-db", "available", created=NOW - timedelta(days=100))
    destination = [real(2), snap(FORGED, NOW - timedelta(hours=1))]

    assert recovery_point.recovery_point_age(settings, [orders], destination, NOW) == {"orders-db": 2 * 86_400.0}


def test_a_future_stamp_within_the_tolerance_is_still_a_recovery_point(settings):
    orders = Database(Kind.INSTANCE, "orders-db", "available", created=NOW - timedelta(days=100))
    ahead = snap(naming.snapshot_name("dr", "orders-db", NOW + timedelta(minutes=10)), NOW)

    assert recovery_point.recovery_point_age(settings, [orders], [real(2), ahead], NOW) == {"orders-db": 0.0}


def test_a_database_whose_only_copy_is_stamped_in_the_future_counts_from_its_creation(settings):
    orders = Database(Kind.INSTANCE, "orders-db", "available", created=NOW - timedelta(days=100))

    ages = recovery_point.recovery_point_age(settings, [orders], [snap(FORGED, NOW - timedelta(hours=1))], NOW)

    assert ages == {"orders-db": 100 * 86_400.0}


def test_a_snapshot_stamped_in_the_future_takes_no_keep_last_place_and_is_reported(settings):
    # KEEP_LAST=1: the newest real copy must be the one kept, not the forged one.
    destination = [snap(FORGED, NOW - timedelta(hours=1)), real(20), real(21)]

    plan = retention.expired_snapshots(settings, destination, retention_days=14, now=NOW)

    assert [s.identifier for s in plan.delete] == [name(21)]
    why = {s.identifier: reason for s, reason in plan.protected}
    assert set(why) == {name(20), FORGED}
    assert why[name(20)] == "one of the newest 1 available snapshots of orders-db"
    assert "stamp 20261225-1500 is in the future" in why[FORGED]


def test_a_snapshot_stamped_in_the_future_expires_by_the_time_rds_made_it(settings):
    forged = snap(FORGED, NOW - timedelta(days=15))  # made by a forged event 15 days ago

    plan = retention.expired_snapshots(settings, [real(1), forged], retention_days=14, now=NOW)

    assert plan.delete == [forged]


def test_a_source_stamped_in_the_future_waits_for_its_copy_like_any_other(settings):
    forged = snap(FORGED, NOW - timedelta(days=15), region="us-east-1")
    source = [real(1, region="us-east-1"), forged]
    copies = [real(1)]  # the forged snapshot's copy is missing

    plan = retention.expired_snapshots(settings, source, retention_days=14, now=NOW, destination_copies=copies)

    assert plan.delete == []
    [(kept, why)] = plan.protected
    assert kept is forged
    assert "in the future" in why
    assert "its destination copy is not available yet (missing)" in why


def test_a_round_stamped_in_the_future_is_not_the_latest_round(settings):
    """The forged round names only orders-db: trusted, it would make reconcile retake payments under the
    forged stamp, and hide what the real latest round missed."""
    payments = Database(Kind.CLUSTER, "payments", "available")
    orders = Database(Kind.INSTANCE, "orders-db", "available")
    real_round = {**OURS, ROUND_TAG: "20261125-1400"}
    forged_round = {**OURS, ROUND_TAG: "20261225-1500"}
    source = [
        snap("dr-orders-db-20261125-1400", NOW, tags=real_round, region="us-east-1"),
        snap(FORGED, NOW, tags=forged_round, region="us-east-1"),
    ]

    missed = rounds.missed_in_latest_round(settings, [orders, payments], source, NOW)

    assert missed is not None
    assert missed.stamp == "20261125-1400"
    assert [db.identifier for db in missed.missing] == ["payments"]


# --- the engine: reconcile over moto ---------------------------------------------------------------


def _created_at(when: datetime) -> Callable[[dict[str, Any]], None]:
    """Pin RDS's own times of every listed snapshot (moto stamps them with the machine's clock)."""

    def change(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBSnapshots", []):
            item["SnapshotCreateTime"] = when
            if "OriginalSnapshotCreateTime" in item:
                item["OriginalSnapshotCreateTime"] = when

    return change


def _take_and_copy(source: Any, destination: Any, name_: str) -> None:
    arn = source.create_db_snapshot(
        DBInstanceIdentifier="orders-db", DBSnapshotIdentifier=name_, Tags=owned_tags("orders-db")
    )["DBSnapshot"]["DBSnapshotArn"]
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name_, CopyTags=True, SourceRegion=SOURCE_REGION
    )


@pytest.fixture
def orders(source: Any, env: Callable[..., None], default_quotas: None) -> None:
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")


@pytest.mark.usefixtures("orders")
def test_reconcile_reports_the_age_of_the_real_copy_beside_a_future_stamped_one(
    source, destination, lambda_context, fixed_clock: FixedClock, caplog
):
    two_days_ago = "dr-orders-db-20261123-1500"
    _take_and_copy(source, destination, two_days_ago)
    _take_and_copy(source, destination, FORGED)  # what a forged event made an hour ago
    for region in (SOURCE_REGION, DESTINATION_REGION):
        alter_response(region, "DescribeDBSnapshots", _created_at(NOW - timedelta(hours=1)))
    fixed_clock.set(NOW)

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    assert result["metrics"]["RecoveryPointAgeSeconds"] == 2 * 86_400.0
    reported = [r for r in caplog.records if getattr(r, "snapshot", "") == FORGED]
    assert {r.region for r in reported} == {SOURCE_REGION, DESTINATION_REGION}
    assert all("stamp 20261225-1500 is in the future" in r.reason for r in reported)
    assert set(instance_snapshots(destination)) == {two_days_ago, FORGED}


@pytest.mark.usefixtures("orders")
def test_reconcile_keeps_the_newest_real_copy_beside_a_future_stamped_one(
    source, destination, lambda_context, fixed_clock: FixedClock
):
    """KEEP_LAST=1 and both real copies past the destination retention (14 days): trusting the forged stamp,
    keep-last kept the forged copy and deleted every real one."""
    for stamp in ("20261105-1500", "20261104-1500"):
        _take_and_copy(source, destination, f"dr-orders-db-{stamp}")
    _take_and_copy(source, destination, FORGED)
    for region in (SOURCE_REGION, DESTINATION_REGION):
        alter_response(region, "DescribeDBSnapshots", _created_at(NOW - timedelta(hours=1)))
    fixed_clock.set(NOW)

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261105-1500", FORGED}
    assert result["metrics"]["RecoveryPointAgeSeconds"] == 20 * 86_400.0
