"""The restore command on moto: which copy, which parameters from where, the usual failures with their fix."""

from __future__ import annotations

import io
import itertools
import json
from typing import Any

import pytest
from dr_testing import DESTINATION_REGION, SOURCE_REGION, inject_error, make_cluster, make_instance, owned_tags

from rds_snapshot_dr.cli import main as cli


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(["restore", *argv], pause=lambda _s: None, clock=itertools.count(0, 30).__next__, out=out)
    return code, out.getvalue()


def copy_of(source: Any, destination: Any, db: str, name: str, kind: str = "instance", key: str = "") -> None:
    if kind == "instance":
        arn = source.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db))[
            "DBSnapshot"
        ]["DBSnapshotArn"]
        destination.copy_db_snapshot(
            SourceDBSnapshotIdentifier=arn,
            TargetDBSnapshotIdentifier=name,
            CopyTags=True,
            SourceRegion=SOURCE_REGION,
            KmsKeyId=key,
        )
        return
    arn = source.create_db_cluster_snapshot(
        DBClusterIdentifier=db, DBClusterSnapshotIdentifier=name, Tags=owned_tags(db, "cluster")
    )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    destination.copy_db_cluster_snapshot(
        SourceDBClusterSnapshotIdentifier=arn,
        TargetDBClusterSnapshotIdentifier=name,
        CopyTags=True,
        SourceRegion=SOURCE_REGION,
        KmsKeyId=key,
    )


@pytest.fixture(autouse=True)
def offered(aws: str) -> set[str]:
    """DescribeOrderableDBInstanceOptions answered from a set of classes (moto lists no option for postgres)."""
    from botocore.awsrequest import AWSResponse
    from dr_testing import engine_client

    classes = {"db.t3.micro", "db.t4g.medium", "db.r6g.large"}

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        wanted = params.get("body", {}).get("DBInstanceClass")  # the serialized query request
        listed = [c for c in sorted(classes) if wanted is None or c == wanted]
        parsed = {"OrderableDBInstanceOptions": [{"DBInstanceClass": c} for c in listed]}
        return AWSResponse("https://rds.amazonaws.com", 200, {}, None), {**parsed, "ResponseMetadata": {}}

    engine_client(DESTINATION_REGION).meta.events.register("before-call.rds.DescribeOrderableDBInstanceOptions", answer)
    return classes


@pytest.fixture
def orders(source: Any, destination: Any, key_arn: str) -> None:
    make_instance(source, "orders-db", tags={"team": "orders"})
    copy_of(source, destination, "orders-db", "dr-orders-db-20261124-1400", key=key_arn)
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400", key=key_arn)


@pytest.mark.usefixtures("orders")
def test_dry_run_prints_each_parameter_with_its_origin_and_restores_nothing(destination, env):
    env(RESTORE_SETTINGS=json.dumps({"vpc_security_group_ids": ["sg-0123456789abcdef0"]}))

    code, out = run("--database", "orders-db", "--dry-run", "--db-parameter-group-name", "pg-dr")

    assert code == 0, out
    assert "from DR copy dr-orders-db-20261125-1400" in out.splitlines()[0].replace("DR copy ", "from DR copy ")
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "dr-orders-db-20261125-1400" in lines["DBSnapshotIdentifier"]
    assert lines["DBInstanceClass"].rstrip().endswith("from source database")
    assert lines["VpcSecurityGroupIds"].rstrip().endswith("from settings")
    assert lines["DBParameterGroupName"].rstrip().endswith("from flag")
    assert "team=orders" in lines["Tags"]
    assert "DRY RUN" in out
    assert destination.describe_db_instances()["DBInstances"] == []


@pytest.mark.usefixtures("orders")
def test_restore_of_a_named_copy_waits_and_ends_with_the_endpoint(destination):
    code, out = run(
        "--database", "orders-db", "--snapshot", "dr-orders-db-20261124-1400", "--identifier", "orders-dr", "--wait"
    )

    assert code == 0, out
    assert "dr-orders-db-20261124-1400" in out.splitlines()[0]
    [restored] = destination.describe_db_instances(DBInstanceIdentifier="orders-dr")["DBInstances"]
    assert restored["DBInstanceClass"] == "db.t3.micro"
    assert f"endpoint: {restored['Endpoint']['Address']}" in out
    assert "elapsed:" in out


@pytest.mark.usefixtures("orders")
def test_a_restore_the_key_cannot_open_ends_the_wait_with_an_error():
    """inaccessible-encryption-credentials (the DR key disabled or its grant gone) never becomes available: the
    command stops following, as the drill does, instead of polling for ever."""
    from dr_testing import alter_response

    def key_lost(parsed: dict[str, Any]) -> None:
        for db in parsed.get("DBInstances", []):
            db["DBInstanceStatus"] = "inaccessible-encryption-credentials"

    alter_response(DESTINATION_REGION, "DescribeDBInstances", key_lost)
    polls = itertools.count()

    def pause(_seconds: float) -> None:
        if next(polls) > 5:  # a follower that does not know the state would poll for ever
            raise AssertionError("still following a restore that cannot become available")

    out_ = io.StringIO()
    argv = ["restore", "--database", "orders-db", "--snapshot", "dr-orders-db-20261124-1400", "--identifier"]
    code = cli.main([*argv, "orders-dr", "--wait"], pause=pause, clock=itertools.count(0, 30).__next__, out=out_)
    out = out_.getvalue()

    assert code == 1, out
    assert "error: the restore ended inaccessible-encryption-credentials" in out


@pytest.mark.usefixtures("orders")
def test_source_region_down_takes_settings_from_the_copy_and_asks_for_the_class(destination):
    inject_error(SOURCE_REGION, "DescribeDBInstances", "ServiceUnavailable")

    code, out = run("--database", "orders-db", "--dry-run")

    assert code == 1
    assert "error: the source region did not answer and the DR copy does not record DBInstanceClass" in out
    assert "Fix: --instance-class" in out

    code, out = run("--database", "orders-db", "--dry-run", "--instance-class", "db.t3.micro")
    assert code == 0, out
    assert "note: source region us-east-1 did not answer (ServiceUnavailable)" in out


def test_no_copy_yet_says_how_to_take_one(aws, source):
    make_instance(source, "orders-db")

    code, out = run("--database", "orders-db")

    assert code == 1
    assert out.startswith(f"error: no available DR copy of orders-db in {DESTINATION_REGION} yet. Fix: ")
    assert "backup --targets orders-db --wait" in out


@pytest.mark.usefixtures("orders")
def test_missing_subnet_group_in_the_dr_region_is_named(destination):
    code, out = run("--database", "orders-db", "--db-subnet-group-name", "dr-private")

    assert code == 1
    assert f"error: DB subnet group dr-private does not exist in {DESTINATION_REGION}. Fix: create it" in out
    assert destination.describe_db_instances()["DBInstances"] == []


@pytest.mark.usefixtures("orders")
def test_instance_class_not_offered_in_the_dr_region_is_named(destination):
    code, out = run("--database", "orders-db", "--instance-class", "db.x2iedn.32xlarge")

    assert code == 1
    assert "error: instance class db.x2iedn.32xlarge is not offered for postgres" in out
    assert "describe-orderable-db-instance-options" in out


@pytest.mark.usefixtures("orders")
def test_disabled_key_is_named_with_the_fix(key_arn):
    import boto3

    boto3.client("kms", region_name=DESTINATION_REGION).disable_key(
        KeyId=key_arn.split("/")[-1]
    )  # moto finds the key by id only

    code, out = run("--database", "orders-db")

    assert code == 1
    assert f"error: the DR copy's key {key_arn} is Disabled, not Enabled. Fix: enable it" in out


def test_cluster_restore_creates_the_writer(aws, source, destination, key_arn, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="payments")
    make_cluster(source, "payments")
    make_instance(source, "payments-1", cluster="payments")
    copy_of(source, destination, "payments", "dr-payments-20261125-1400", kind="cluster", key=key_arn)

    code, out = run("--database", "payments", "--wait")

    assert code == 0, out
    [cluster] = destination.describe_db_clusters(DBClusterIdentifier="payments")["DBClusters"]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == ["payments-w"]
    assert "CreateDBInstance (writer)" in out


@pytest.mark.usefixtures("orders")
def test_an_older_copy_of_an_upgraded_source_restores_at_the_copys_own_version(destination):
    from dr_testing import alter_response, engine_client

    copy_version = destination.describe_db_snapshots(DBSnapshotIdentifier="dr-orders-db-20261124-1400")["DBSnapshots"][
        0
    ]["EngineVersion"]

    def upgraded(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBInstances", []):
            item["EngineVersion"] = "99.1"

    alter_response(SOURCE_REGION, "DescribeDBInstances", upgraded)
    asked: list[str] = []
    engine_client(DESTINATION_REGION).meta.events.register_first(
        "before-call.rds.DescribeOrderableDBInstanceOptions",
        lambda params, **_: asked.append(params.get("body", {}).get("EngineVersion")),
    )

    code, out = run("--database", "orders-db", "--snapshot", "dr-orders-db-20261124-1400", "--dry-run")

    assert code == 0, out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert copy_version in lines["(EngineVersion)"]
    assert lines["(EngineVersion)"].rstrip().endswith("from DR copy")
    assert "99.1" not in out
    assert asked == [copy_version]
