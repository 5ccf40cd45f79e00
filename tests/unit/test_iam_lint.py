"""scripts/iam_lint.py: a parliament finding fails the stage unless the allowlist explains it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import iam_lint

ACCOUNT = "arn:aws:rds:us-east-1:123456789012"


def write_policy(directory: Path, name: str, *statements: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


CLEAN = {
    "Sid": "DescribeSourceDatabases",
    "Effect": "Allow",
    "Action": ["rds:DescribeDBInstances"],
    "Resource": [f"{ACCOUNT}:db:*"],
}
TAGGED = {
    "Sid": "SnapshotTaggedInstances",
    "Effect": "Allow",
    "Action": "rds:CreateDBSnapshot",
    "Resource": [f"{ACCOUNT}:db:*"],
    "Condition": {"StringEquals": {"rds:db-tag/dr-tier": "gold"}},
}
# The new snapshot's side of CreateDBSnapshot, in its own statement (AWS authorizes each resource alone).
OWN = {
    "Sid": "CreateOwnInstanceSnapshots",
    "Effect": "Allow",
    "Action": "rds:CreateDBSnapshot",
    "Resource": [f"{ACCOUNT}:snapshot:dr6-orders-*-????????-????"],
    "Condition": {"StringEquals": {"aws:RequestTag/rds-snapshot-dr:owner": "orders"}},
}


def run(tmp_path: Path, *statements: dict, allowlist: Path = iam_lint.ALLOWLIST) -> int:
    write_policy(tmp_path / "policies", "orders-rds-snapshot-dr__inline", *statements)
    return iam_lint.main(["--policies", str(tmp_path / "policies"), "--allowlist", str(allowlist)])


def test_the_committed_allowlist_passes_the_statements_it_explains(tmp_path: Path) -> None:
    cluster = {**TAGGED, "Sid": "SnapshotTaggedClusters", "Action": "rds:CreateDBClusterSnapshot"}
    cluster["Resource"] = [f"{ACCOUNT}:cluster:*"]
    cluster["Condition"] = {"StringEquals": {"rds:cluster-tag/dr-tier": "gold"}}
    own_cluster = {**OWN, "Sid": "CreateOwnClusterSnapshots", "Action": "rds:CreateDBClusterSnapshot"}
    own_cluster["Resource"] = [f"{ACCOUNT}:cluster-snapshot:dr6-orders-*-????????-????"]
    drill_delete = {
        "Sid": "DeleteDrillClusters",
        "Effect": "Allow",
        "Action": "rds:DeleteDBCluster",
        "Resource": [f"{ACCOUNT}:cluster:drill-orders-????????????"],
        "Condition": {"StringEquals": {"rds:cluster-tag/rds-snapshot-dr:drill": "orders"}},
    }
    drill_restore = {
        "Sid": "RestoreDrillInstances",
        "Effect": "Allow",
        "Action": "rds:RestoreDBInstanceFromDBSnapshot",
        "Resource": [
            f"{ACCOUNT}:db:drill-orders-????????????",
            f"{ACCOUNT}:snapshot:dr6-orders-*",
            f"{ACCOUNT}:subgrp:default",
            f"{ACCOUNT}:og:default:*",
            f"{ACCOUNT}:pg:default.*",
        ],
        "Condition": {"Bool": {"rds:PubliclyAccessible": "false"}},
    }
    write_policy(tmp_path / "policies", "orders-rds-snapshot-dr-drill__inline", drill_delete, drill_restore)
    assert run(tmp_path, CLEAN, TAGGED, OWN, cluster, own_cluster) == 0


def test_resource_star_on_a_describe_call_fails_the_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    widened = {**CLEAN, "Resource": "*"}
    assert run(tmp_path, widened) == 1
    assert "FINDING RESOURCE_STAR" in capsys.readouterr().out


def test_a_dead_grant_fails_the_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dead = {  # DeleteDBSnapshot takes snapshot, not cluster-snapshot: a grant that allows nothing
        "Sid": "DeleteOwnSnapshots",
        "Effect": "Allow",
        "Action": "rds:DeleteDBSnapshot",
        "Resource": [f"{ACCOUNT}:cluster-snapshot:dr6-orders-*"],
    }
    assert run(tmp_path, CLEAN, dead) == 1
    assert "FINDING RESOURCE_MISMATCH" in capsys.readouterr().out


def test_an_allowlist_entry_that_explains_nothing_fails_the_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(tmp_path, CLEAN) == 1
    assert "STALE allowlist entry" in capsys.readouterr().out


def test_every_allowlist_entry_needs_a_reason(tmp_path: Path) -> None:
    allowlist = tmp_path / "allowlist.json"
    allowlist.write_text(json.dumps([{"issue": "RESOURCE_STAR", "policy": "x", "match": "y", "reason": ""}]))
    with pytest.raises(ValueError, match="reason"):
        run(tmp_path, {**CLEAN, "Resource": "*"}, allowlist=allowlist)
