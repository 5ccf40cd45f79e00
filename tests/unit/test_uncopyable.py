"""Databases AWS offers no cross-region copy for are refused plainly: Multi-AZ DB clusters and RDS Custom.

Named or tag-selected, such a database is a failed target once per run, with why and what to do; it
is never snapshotted, and the failure is lasting, so Lambda does not retry the invocation into the
dead-letter queue for it. The other targets are backed up as before.
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testing import cluster_snapshots, instance_snapshots, load_event, make_cluster, make_instance

from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules import selection
from rds_snapshot_dr.rules.model import Database, Kind

pytestmark = pytest.mark.usefixtures("aws")


@pytest.mark.parametrize(
    ("kind", "engine", "refused"),
    [
        (Kind.CLUSTER, "aurora-postgresql", None),
        (Kind.CLUSTER, "aurora-mysql", None),
        (Kind.CLUSTER, "aurora", None),  # Aurora MySQL 1's engine name
        (Kind.CLUSTER, "postgres", "Multi-AZ DB cluster"),
        (Kind.CLUSTER, "mysql", "Multi-AZ DB cluster"),
        (Kind.CLUSTER, "neptune", None),  # DescribeDBClusters lists other services' clusters too
        (Kind.CLUSTER, "docdb", None),
        (Kind.CLUSTER, None, None),  # not said: the copy would tell
        (Kind.INSTANCE, "postgres", None),
        (Kind.INSTANCE, "oracle-ee", None),
        (Kind.INSTANCE, "custom-oracle-ee", "RDS Custom"),
        (Kind.INSTANCE, "custom-sqlserver-ee", "RDS Custom"),
    ],
)
def test_copy_refusal_by_kind_and_engine(kind, engine, refused):
    found = selection.copy_refusal(Database(kind, "db-1", "available", engine=engine))
    if refused is None:
        assert found is None
    else:
        reason, fix = found
        assert refused in reason
        assert "db-1" in reason
        assert str(engine) in reason
        assert "not snapshotted" in reason
        assert "Remove it from" in fix


def make_multi_az_cluster(client: Any, identifier: str, tags: dict[str, str] | None = None) -> None:
    """A Multi-AZ DB cluster: an RDS for PostgreSQL cluster with a cluster instance class."""
    client.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="postgres",
        DBClusterInstanceClass="db.m6gd.large",
        StorageType="io1",
        AllocatedStorage=100,
        Iops=1000,
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )


def failures(result: dict[str, Any]) -> dict[str, str]:
    return {o["target"]: o["reason"] for o in result["outcomes"] if o["outcome"] == "failed"}


@pytest.mark.usefixtures("default_quotas")
@pytest.mark.parametrize("action", ["backup", "reconcile"])
def test_a_multi_az_db_cluster_is_refused_once_per_run_without_a_retry(source, lambda_context, env, action):
    env(DB_CLUSTER_IDENTIFIERS="payments,ledger-maz", SELECTION_TAGS='{"dr": "daily"}')
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    make_multi_az_cluster(source, "ledger-maz")
    make_multi_az_cluster(source, "billing-maz", {"dr": "daily"})

    event = load_event("scheduled-backup.json") if action == "backup" else {"action": "reconcile"}
    result = lambda_handler(event, lambda_context)  # raises nothing: a retry could not change it

    failed = failures(result)
    assert sorted(failed) == ["billing-maz", "ledger-maz"]
    assert all("Multi-AZ DB cluster" in reason for reason in failed.values())
    assert [o["target"] for o in result["outcomes"]].count("ledger-maz") == 1  # once per run
    assert result["metrics"]["TargetFailures"] == 2
    if action == "backup":
        assert set(instance_snapshots(source)) == {"dr-orders-db-20261125-1400"}
        assert set(cluster_snapshots(source)) == {"dr-payments-20261125-1400"}  # the Multi-AZ ones: none


@pytest.mark.usefixtures("default_quotas")
def test_preflight_fails_a_multi_az_db_cluster_with_the_fix(source, lambda_context, env):
    env(DB_CLUSTER_IDENTIFIERS="ledger-maz")
    make_instance(source, "orders-db")
    make_multi_az_cluster(source, "ledger-maz")

    result = lambda_handler({"action": "preflight"}, lambda_context)

    [check] = [c for c in result["checks"] if c["check"] == "target ledger-maz"]
    assert check["status"] == "fail"
    assert "Multi-AZ DB cluster" in check["detail"]
    assert "Remove it from db_cluster_identifiers" in check["fix"]
