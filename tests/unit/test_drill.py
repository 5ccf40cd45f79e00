"""The restore drill on moto: start one restore of the newest DR copy, then measure it and delete it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from dr_testing import DESTINATION_REGION, OWNER, SOURCE_REGION, alter_response, make_cluster, make_instance, owned_tags

from rds_snapshot_dr import handler
from rds_snapshot_dr.aws_restore import state_from_json
from rds_snapshot_dr.errors import TargetFailuresError
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.metrics import DRILL_PUBLISHED, PUBLISHED
from rds_snapshot_dr.restore import DRILL_SNAPSHOT_TAG, DRILL_SOURCE_TAG, DRILL_TAG

pytestmark = pytest.mark.usefixtures("default_quotas")

STATE = "/rds-snapshot-dr/orders/drill"
DRILL = {
    "databases": [],
    "instance_class": "db.t3.micro",
    "db_subnet_group_name": None,
    "vpc_security_group_ids": [],
    "max_lifetime_minutes": 240,
    "overdue_days": 7,
    "state_parameter": STATE,
}


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> datetime:
    monkeypatch.setattr(handler, "utcnow", lambda: when)
    return when


def copy_of(source: Any, destination: Any, db: str, name: str, kind: str = "instance") -> str:
    if kind == "instance":
        arn = source.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db))[
            "DBSnapshot"
        ]["DBSnapshotArn"]
        destination.copy_db_snapshot(
            SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name, CopyTags=True, SourceRegion=SOURCE_REGION
        )
    else:
        arn = source.create_db_cluster_snapshot(
            DBClusterIdentifier=db, DBClusterSnapshotIdentifier=name, Tags=owned_tags(db, "cluster")
        )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
        destination.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=arn,
            TargetDBClusterSnapshotIdentifier=name,
            CopyTags=True,
            SourceRegion=SOURCE_REGION,
            KmsKeyId=handler.current_settings().destination_kms_key_arn,
        )
    return name


def drill_databases(destination: Any) -> dict[str, dict[str, str]]:
    found = {}
    for item in destination.describe_db_instances()["DBInstances"]:
        found[item["DBInstanceIdentifier"]] = {t["Key"]: t["Value"] for t in item.get("TagList", [])}
    for item in destination.describe_db_clusters()["DBClusters"]:
        found[item["DBClusterIdentifier"]] = {t["Key"]: t["Value"] for t in item.get("TagList", [])}
    return found


@pytest.fixture
def drill_on(env: Any) -> None:
    env(DRILL_SETTINGS=json.dumps(DRILL), DB_CLUSTER_IDENTIFIERS="")


@pytest.mark.usefixtures("drill_on")
def test_drill_restores_the_newest_copy_then_reconcile_measures_and_deletes_it(
    source, destination, lambda_context, monkeypatch, capsys
):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261124-1400")
    newest = copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    start = at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    started = lambda_handler({"action": "drill"}, lambda_context)

    [outcome] = [o for o in started["outcomes"] if o["operation"] == "drill"]
    assert outcome["outcome"] == "started"
    assert outcome["snapshot"] == newest
    restored = destination.describe_db_instances(DBInstanceIdentifier=f"drill-{OWNER}-202611251500")["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in restored["TagList"]}
    assert tags[DRILL_TAG] == OWNER
    assert tags[DRILL_SOURCE_TAG] == "orders-db"
    assert tags[DRILL_SNAPSHOT_TAG] == newest
    assert restored["DBInstanceClass"] == "db.t3.micro"

    at(monkeypatch, start + timedelta(minutes=20))
    finished = lambda_handler({"action": "reconcile"}, lambda_context)

    [measured] = [o for o in finished["outcomes"] if o["operation"] == "drill"]
    assert measured["outcome"] == "measured"
    assert measured["target"] == "orders-db"
    assert finished["metrics"]["DrillsSucceeded"] == 1
    assert finished["metrics"]["DrillOverdueDatabases"] == 0
    assert f"drill-{OWNER}-202611251500" not in drill_databases(destination)
    # The drill never touches the copies it restores from.
    names = {s["DBSnapshotIdentifier"] for s in destination.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}
    assert newest in names
    state = state_from_json(
        boto3.client("ssm", region_name=SOURCE_REGION).get_parameter(Name=STATE)["Parameter"]["Value"]
    )
    assert state.records["orders-db"].last_rto_seconds == 1200
    # Every drill metric printed is one the dashboard may show, and the time to restore is per module
    # instance with the database as a log field (no metric per database).
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted = {
        (metric["Name"], tuple(dimensions))
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
        for metric in directive["Metrics"]
    }
    assert emitted & DRILL_PUBLISHED == DRILL_PUBLISHED - {("DrillFailures", ("ModuleInstance",))}
    assert emitted <= PUBLISHED
    [restore_line] = [d for d in documents if "DrillRestoreSeconds" in d]
    assert restore_line["Database"] == "orders-db"
    assert restore_line["DrillRestoreSeconds"] == 1200.0


@pytest.mark.usefixtures("drill_on")
def test_drill_restores_a_cluster_with_its_writer_and_deletes_both(
    source, destination, lambda_context, monkeypatch, env
):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="payments")
    make_cluster(source, "payments")
    copy_of(source, destination, "payments", "dr-payments-20261125-1400", kind="cluster")
    start = at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    lambda_handler({"action": "drill"}, lambda_context)

    cluster = destination.describe_db_clusters(DBClusterIdentifier=f"drill-{OWNER}-202611251500")["DBClusters"][0]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [f"drill-{OWNER}-202611251500-w"]

    at(monkeypatch, start + timedelta(minutes=30))
    finished = lambda_handler({"action": "reconcile"}, lambda_context)

    assert [o["outcome"] for o in finished["outcomes"] if o["operation"] == "drill"] == ["measured"]
    assert drill_databases(destination) == {}


@pytest.mark.usefixtures("drill_on")
def test_only_one_drill_is_in_flight(source, destination, lambda_context, monkeypatch):
    make_instance(source, "orders-db")
    make_instance(source, "ledger-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    copy_of(source, destination, "ledger-db", "dr-ledger-db-20261125-1400")
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    lambda_handler({"action": "drill"}, lambda_context)
    # moto makes a restored instance available at once; show the first drill still restoring.

    def restoring(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBInstances", []):
            item["DBInstanceStatus"] = "creating"

    alter_response(DESTINATION_REGION, "DescribeDBInstances", restoring)
    at(monkeypatch, datetime(2026, 11, 25, 16, 0, tzinfo=UTC))

    second = lambda_handler({"action": "drill"}, lambda_context)

    assert [o["outcome"] for o in second["outcomes"]] == ["skipped"]
    assert len(drill_databases(destination)) == 1


@pytest.mark.usefixtures("drill_on")
def test_drill_past_its_lifetime_is_deleted_and_reported_failed(source, destination, lambda_context, monkeypatch):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    start = at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    lambda_handler({"action": "drill"}, lambda_context)

    def stuck(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBInstances", []):
            item["DBInstanceStatus"] = "creating"

    alter_response(DESTINATION_REGION, "DescribeDBInstances", stuck)
    at(monkeypatch, start + timedelta(minutes=241))

    with pytest.raises(TargetFailuresError, match="maximum lifetime"):
        lambda_handler({"action": "reconcile"}, lambda_context)

    assert drill_databases(destination) == {}


@pytest.mark.usefixtures("drill_on")
def test_drill_never_deletes_a_database_without_its_tag_even_with_the_prefix(
    source, destination, lambda_context, monkeypatch
):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    make_instance(destination, f"drill-{OWNER}-202601010000")  # the prefix, but no drill tag: a real database
    make_instance(destination, "orders-db-dr", tags={DRILL_TAG: OWNER})  # the tag, but not the prefix
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    lambda_handler({"action": "drill"}, lambda_context)
    at(monkeypatch, datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    lambda_handler({"action": "reconcile"}, lambda_context)

    remaining = drill_databases(destination)
    assert f"drill-{OWNER}-202601010000" in remaining
    assert "orders-db-dr" in remaining
    assert f"drill-{OWNER}-202611251500" not in remaining


def test_drill_action_when_the_drill_is_off_says_so(aws, lambda_context):
    result = lambda_handler({"action": "drill"}, lambda_context)

    assert result["outcomes"][0]["outcome"] == "skipped"
    assert "off" in result["outcomes"][0]["reason"]


@pytest.mark.usefixtures("drill_on")
def test_drill_state_forgets_databases_no_longer_drilled_and_lets_parameter_store_choose_the_tier(
    source, destination, lambda_context, monkeypatch
):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    ssm = boto3.client("ssm", region_name=SOURCE_REGION)
    # The earlier format, with 60 databases that have left the fleet: 6.9 KB, past a standard parameter.
    old = {
        "enabled_since": "2026-01-01T00:00:00Z",
        "records": {
            f"retired-database-{n:03d}": {
                "success": "2026-10-01T03:00:00Z",
                "rto_seconds": 612.345,
                "failure": "2026-10-08T03:00:00Z",
            }
            for n in range(60)
        },
    }
    ssm.put_parameter(Name=STATE, Value=json.dumps(old), Type="String", Tier="Advanced")
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    lambda_handler({"action": "drill"}, lambda_context)

    value = ssm.get_parameter(Name=STATE)["Parameter"]["Value"]
    state = state_from_json(value)
    assert set(state.records) == set()  # orders-db's drill is still in flight; the retired ones are gone
    assert state.enabled_since == datetime(2026, 1, 1, tzinfo=UTC)
    assert len(value) < 100
    [parameter] = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [STATE]}])["Parameters"]
    assert parameter["Tier"] == "Intelligent-Tiering"


def test_drill_warns_when_the_rotation_cannot_cover_the_fleet_within_overdue_days(
    env, source, destination, lambda_context, monkeypatch
):
    env(DRILL_SETTINGS=json.dumps({**DRILL, "schedule_expression": "cron(0 3 ? * SUN *)", "overdue_days": 14}))
    for db in ("orders-db", "ledger-db", "billing-db"):
        make_instance(source, db)
        copy_of(source, destination, db, f"dr-{db}-20261125-1400")
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    result = lambda_handler({"action": "drill"}, lambda_context)

    [warning] = [o for o in result["outcomes"] if o["outcome"] == "warning"]
    assert "3 databases" in warning["reason"]
    assert "covers only 2" in warning["reason"]
    assert "schedule_expression" in warning["fix"]
    assert [o["outcome"] for o in result["outcomes"] if o["outcome"] != "warning"] == ["started"]
