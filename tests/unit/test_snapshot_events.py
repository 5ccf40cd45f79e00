"""snapshot-created events: copy ours to the destination region, ignore everything else."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.stub import Stubber
from dr_testing import (
    DESTINATION_REGION,
    SOURCE_REGION,
    cluster_snapshots,
    engine_client,
    inject_error,
    instance_snapshots,
    load_event,
    make_cluster,
    make_instance,
    owned_tags,
)

from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules.errors import LASTING_CODES, TargetFailuresError

pytestmark = pytest.mark.usefixtures("aws")

SNAPSHOT = "dr-orders-db-20261125-1400"
CLUSTER_SNAPSHOT = "dr-payments-20261125-1400"


def take_snapshot(source: Any, name: str = SNAPSHOT, tags: list[dict[str, str]] | None = None) -> str:
    make_instance(source, "orders-db")
    snap = source.create_db_snapshot(
        DBInstanceIdentifier="orders-db",
        DBSnapshotIdentifier=name,
        Tags=owned_tags("orders-db") if tags is None else tags,
    )
    return snap["DBSnapshot"]["DBSnapshotArn"]


def take_cluster_snapshot(source: Any, encrypted: bool = True) -> str:
    make_cluster(source, "payments", encrypted=encrypted)
    snap = source.create_db_cluster_snapshot(
        DBClusterIdentifier="payments",
        DBClusterSnapshotIdentifier=CLUSTER_SNAPSHOT,
        Tags=owned_tags("payments", "cluster"),
    )
    return snap["DBClusterSnapshot"]["DBClusterSnapshotArn"]


def test_instance_snapshot_created_event_starts_the_copy(source, destination, lambda_context, key_arn):
    take_snapshot(source)

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    copy_ = instance_snapshots(destination)[SNAPSHOT]
    assert copy_["KmsKeyId"] == key_arn
    assert {t["Key"]: t["Value"] for t in copy_["TagList"]}["rds-snapshot-dr:source"] == "orders-db"
    assert result["metrics"]["CopiesStarted"] == 1
    assert result["outcomes"][0]["outcome"] == "started"


def test_cluster_snapshot_created_event_starts_the_copy(source, destination, lambda_context, key_arn):
    take_cluster_snapshot(source)

    lambda_handler(load_event("manual-cluster-snapshot-created.json"), lambda_context)

    copy_ = cluster_snapshots(destination)[CLUSTER_SNAPSHOT]
    assert copy_["KmsKeyId"] == key_arn
    assert {t["Key"]: t["Value"] for t in copy_["TagList"]}["rds-snapshot-dr:source-type"] == "cluster"


def test_duplicate_snapshot_event_starts_one_copy(source, destination, lambda_context):
    take_snapshot(source)
    event = load_event("manual-snapshot-created.json")

    lambda_handler(event, lambda_context)
    result = lambda_handler(event, lambda_context)

    assert list(instance_snapshots(destination)) == [SNAPSHOT]
    assert result["outcomes"][0]["outcome"] == "exists"
    assert result["metrics"]["CopiesStarted"] == 0


def test_copy_uses_full_source_arn_and_destination_key(source, lambda_context, key_arn):
    arn = take_snapshot(source)
    stub_destination = Stubber(engine_client(DESTINATION_REGION))
    stub_destination.add_client_error(
        "describe_db_snapshots", "DBSnapshotNotFound", expected_params={"DBSnapshotIdentifier": SNAPSHOT}
    )
    stub_destination.add_response(
        "copy_db_snapshot",
        {"DBSnapshot": {"DBSnapshotIdentifier": SNAPSHOT, "Status": "pending", "SnapshotType": "manual"}},
        {
            "SourceDBSnapshotIdentifier": arn,
            "TargetDBSnapshotIdentifier": SNAPSHOT,
            "KmsKeyId": key_arn,
            "CopyTags": True,
            "SourceRegion": SOURCE_REGION,
        },
    )

    with stub_destination:
        lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    stub_destination.assert_no_pending_responses()
    assert arn.startswith(f"arn:aws:rds:{SOURCE_REGION}:")
    assert key_arn.split(":")[3] == DESTINATION_REGION


def test_snapshot_without_our_ownership_tag_is_ignored(source, destination, lambda_context, caplog):
    take_snapshot(source, tags=[{"Key": "rds-snapshot-dr:owner", "Value": "another-module"}])

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert instance_snapshots(destination) == {}
    assert result["outcomes"] == []
    assert any(r.levelname == "DEBUG" and "ownership tag" in r.getMessage() for r in caplog.records)


def test_snapshot_without_our_prefix_is_ignored(source, destination, lambda_context):
    take_snapshot(source, name="nightly-orders-db")
    event = load_event("manual-snapshot-created.json")
    event["detail"]["SourceIdentifier"] = "nightly-orders-db"

    result = lambda_handler(event, lambda_context)

    assert instance_snapshots(destination) == {}
    assert result["outcomes"] == []


@pytest.mark.parametrize(
    "fixture", ["rds-db-snapshot-event-aws-sample.json", "rds-db-cluster-snapshot-event-aws-sample.json"]
)
def test_other_rds_snapshot_events_are_ignored(destination, lambda_context, fixture):
    result = lambda_handler(load_event(fixture), lambda_context)

    assert result == {"action": "ignore", "outcomes": [], "metrics": result["metrics"]}
    assert instance_snapshots(destination) == {}


def test_event_for_a_deleted_snapshot_is_skipped(destination, lambda_context):
    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "skipped"


def test_event_path_leaves_the_share_to_reconcile_and_starts_the_copy(source, destination, lambda_context, env):
    """The event path never lists the destination (its cost must not grow with the fleet): it starts the
    copy and lets RDS refuse at the account's limit; reconcile keeps copy_concurrency_limit."""
    env(COPY_CONCURRENCY_LIMIT="1")
    earlier = take_snapshot(source, name="dr-orders-db-20261124-1400")
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=earlier,
        TargetDBSnapshotIdentifier="dr-orders-db-20261124-1400",
        SourceRegion=SOURCE_REGION,
        CopyTags=True,
    )
    source.create_db_snapshot(
        DBInstanceIdentifier="orders-db", DBSnapshotIdentifier=SNAPSHOT, Tags=owned_tags("orders-db")
    )

    from dr_testing import alter_response

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", _still_copying)

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "started"
    assert SNAPSHOT in instance_snapshots(destination)


def test_another_owners_copies_in_progress_do_not_hold_back_this_instances_share(
    source, destination, lambda_context, env
):
    env(COPY_CONCURRENCY_LIMIT="1")
    make_instance(source, "other-db")
    other = source.create_db_snapshot(DBInstanceIdentifier="other-db", DBSnapshotIdentifier="someone-elses-copy")
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=other["DBSnapshot"]["DBSnapshotArn"],
        TargetDBSnapshotIdentifier="someone-elses-copy",
        SourceRegion=SOURCE_REGION,
    )
    take_snapshot(source)

    from dr_testing import alter_response

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", _still_copying)

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "started"
    assert SNAPSHOT in instance_snapshots(destination)


def _still_copying(parsed: dict[str, Any]) -> None:
    for snap in parsed.get("DBSnapshots", []):
        snap.update(Status="copying", SourceRegion=SOURCE_REGION, PercentProgress=40)


def test_copy_refused_by_the_copy_limit_is_deferred_not_failed(source, destination, lambda_context):
    take_snapshot(source)
    inject_error(
        DESTINATION_REGION,
        "CopyDBSnapshot",
        "SnapshotQuotaExceeded",
        "Cannot copy more than 20 snapshots across regions",
    )

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "deferred"
    assert result["metrics"]["CopiesDeferred"] == 1
    assert result["metrics"]["TargetFailures"] == 0


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("KMSKeyNotAccessibleFault", ":kms:us-west-2:"),
        ("InvalidParameterValue", DESTINATION_REGION),
        ("AccessDenied", "rds:CopyDBSnapshot"),
    ],
)
def test_copy_errors_fail_the_target_and_say_what_to_fix(source, lambda_context, caplog, code, expected):
    take_snapshot(source)
    inject_error(DESTINATION_REGION, "CopyDBSnapshot", code, "Cannot create more than 100 manual snapshots")

    if code in LASTING_CODES:  # reported, not raised: Lambda's retries cannot enable a key
        result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)
        assert result["metrics"]["TargetFailures"] == 1
    else:
        with pytest.raises(TargetFailuresError):
            lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    [failure] = [r for r in caplog.records if getattr(r, "outcome", "") == "failed"]
    assert expected in failure.reason + failure.fix


def test_a_failed_copy_is_counted_in_copies_failed(source, lambda_context, capsys):
    take_snapshot(source)
    inject_error(DESTINATION_REGION, "CopyDBSnapshot", "KMSKeyNotAccessibleFault", "key disabled")

    # a key the copy cannot use stays so until a person acts: reported on every event and run, never raised
    # (Lambda's two retries would only put the event in the dead-letter queue)
    lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert (emf["CopiesFailed"], emf["CopiesStarted"], emf["TargetFailures"]) == (1, 0, 1)


def test_cluster_copy_errors_use_the_cluster_fault_codes(source, lambda_context, caplog):
    take_cluster_snapshot(source)
    inject_error(DESTINATION_REGION, "CopyDBClusterSnapshot", "KMSKeyNotAccessibleFault", "key disabled")

    result = lambda_handler(load_event("manual-cluster-snapshot-created.json"), lambda_context)

    [failed] = [o for o in result["outcomes"] if o["outcome"] == "failed"]
    assert (failed["target"], failed["kind"]) == ("payments", "cluster")
    assert "is not accessible" in failed["reason"]


def test_destination_quota_on_the_event_path_is_left_to_reconcile_to_prune_and_retry(source, lambda_context):
    take_snapshot(source)
    inject_error(DESTINATION_REGION, "CopyDBSnapshot", "SnapshotQuotaExceeded", "Cannot create more than 100 manual")

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    [outcome] = result["outcomes"]
    assert (outcome["outcome"], result["metrics"]["CopiesDeferred"]) == ("deferred", 1)
    assert "reconcile prunes" in outcome["reason"]


def test_destination_lookup_failure_is_reported_and_nothing_copied(source, destination, lambda_context):
    take_snapshot(source)
    inject_error(DESTINATION_REGION, "DescribeDBSnapshots", "Throttling", "slow down")

    with pytest.raises(TargetFailuresError, match="throttled"):
        lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)
    assert instance_snapshots(destination) == {}


def test_copy_racing_an_earlier_copy_of_ours_is_idempotent(source, destination, lambda_context):
    arn = take_snapshot(source)
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=SNAPSHOT, CopyTags=True, SourceRegion=SOURCE_REGION
    )
    listings = {"n": 0}

    def hide_first_listing(parsed: dict[str, Any]) -> None:
        listings["n"] += 1
        if listings["n"] == 1:  # the other invocation's copy appears only after our listing
            parsed["DBSnapshots"] = []

    from dr_testing import alter_response

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", hide_first_listing)

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "exists"
    assert list(instance_snapshots(destination)) == [SNAPSHOT]


def test_event_without_source_identifier_is_a_clear_error(lambda_context):
    event = copy.deepcopy(load_event("manual-snapshot-created.json"))
    del event["detail"]["SourceIdentifier"]

    with pytest.raises(ValueError, match="SourceIdentifier"):
        lambda_handler(event, lambda_context)


def stub_cluster_copy(expected: dict[str, Any]) -> Stubber:
    stub_destination = Stubber(engine_client(DESTINATION_REGION))
    stub_destination.add_client_error(
        "describe_db_cluster_snapshots",
        "DBClusterSnapshotNotFoundFault",
        expected_params={"DBClusterSnapshotIdentifier": CLUSTER_SNAPSHOT},
    )
    stub_destination.add_response(
        "copy_db_cluster_snapshot",
        {
            "DBClusterSnapshot": {
                "DBClusterSnapshotIdentifier": CLUSTER_SNAPSHOT,
                "Status": "copying",
                "SnapshotType": "manual",
            }
        },
        expected,
    )
    return stub_destination


def test_encrypted_cluster_snapshot_is_copied_under_the_destination_key(source, lambda_context, key_arn):
    arn = take_cluster_snapshot(source)
    stub_destination = stub_cluster_copy(
        {
            "SourceDBClusterSnapshotIdentifier": arn,
            "TargetDBClusterSnapshotIdentifier": CLUSTER_SNAPSHOT,
            "KmsKeyId": key_arn,
            "CopyTags": True,
            "SourceRegion": SOURCE_REGION,
        }
    )

    with stub_destination:
        result = lambda_handler(load_event("manual-cluster-snapshot-created.json"), lambda_context)

    stub_destination.assert_no_pending_responses()
    assert result["outcomes"][0]["outcome"] == "started"


def test_unencrypted_cluster_snapshot_is_copied_without_a_key(source, lambda_context):
    """CopyDBClusterSnapshot refuses a KmsKeyId for an unencrypted cluster snapshot (Aurora cannot encrypt
    on copy), so the copy of an unencrypted cluster names no key instead of failing every time."""
    arn = take_cluster_snapshot(source, encrypted=False)
    stub_destination = stub_cluster_copy(
        {
            "SourceDBClusterSnapshotIdentifier": arn,
            "TargetDBClusterSnapshotIdentifier": CLUSTER_SNAPSHOT,
            "CopyTags": True,
            "SourceRegion": SOURCE_REGION,
        }
    )

    with stub_destination:
        result = lambda_handler(load_event("manual-cluster-snapshot-created.json"), lambda_context)

    stub_destination.assert_no_pending_responses()
    outcome = result["outcomes"][0]
    assert outcome["outcome"] == "started"
    assert "unencrypted" in outcome["reason"]
