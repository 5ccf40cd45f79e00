"""Metrics (EMF) and structured log lines."""

from __future__ import annotations

import io
import json
import logging

import pytest
from dr_testing import BASE_ENV, DESTINATION_REGION, SOURCE_REGION, make_cluster, make_instance

import rds_snapshot_dr
from rds_snapshot_dr.core.logs import JsonFormatter
from rds_snapshot_dr.core.metrics import (
    DRILL_PUBLISHED,
    PUBLISHED,
    QUOTA_METRIC,
    RECOVERY_POINT_FIELDS,
    RECOVERY_POINT_RECORD,
    Metrics,
    print_emf,
)
from rds_snapshot_dr.handler import lambda_handler


def test_emf_line_has_namespace_dimension_and_all_counts():
    metrics = Metrics()
    metrics.add("SnapshotsStarted", 2)
    metrics.set("RecoveryPointAgeSeconds", 42.0)
    out = io.StringIO()

    print_emf(metrics, "RdsSnapshotDr", "orders", 1_700_000_000_000, stream=out)

    document = json.loads(out.getvalue())
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "RdsSnapshotDr"
    assert directive["Dimensions"] == [["ModuleInstance"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "SnapshotsStarted": "Count",
        "CopiesStarted": "Count",
        "CopiesDeferred": "Count",
        "CopiesFailed": "Count",
        "TargetFailures": "Count",
        "SnapshotsDeleted": "Count",
        "RecoveryPointAgeSeconds": "Seconds",
    }
    assert document["ModuleInstance"] == "orders"
    assert document["SnapshotsStarted"] == 2
    assert out.getvalue().count("\n") == 1


def emf_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


@pytest.mark.usefixtures("default_quotas")
def test_each_invocation_prints_exactly_one_module_instance_emf_line(source, lambda_context, capsys, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    lambda_handler({"action": "reconcile"}, lambda_context)

    documents = emf_lines(capsys.readouterr().out)
    per_instance = [d for d in documents if d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["ModuleInstance"]]]
    assert len(per_instance) == 1


def test_reconcile_publishes_quota_use_per_region_and_snapshot_kind(source, lambda_context, capsys, env, quotas):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    quotas(SOURCE_REGION, used=40, maximum=100, cluster_used=5)
    quotas(DESTINATION_REGION, used=12, maximum=200, cluster_used=50)

    lambda_handler({"action": "reconcile"}, lambda_context)

    documents = [d for d in emf_lines(capsys.readouterr().out) if "SnapshotKind" in d]
    assert {(d["Region"], d["SnapshotKind"]): d[QUOTA_METRIC] for d in documents} == {
        (SOURCE_REGION, "instance"): 40.0,
        (SOURCE_REGION, "cluster"): 5.0,
        (DESTINATION_REGION, "instance"): 6.0,
        (DESTINATION_REGION, "cluster"): 25.0,
    }
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [["Region", "SnapshotKind"]]
        assert directive["Metrics"] == [{"Name": QUOTA_METRIC, "Unit": "Percent"}]
        assert "ModuleInstance" not in document  # the quota is the account's: one metric for every instance


@pytest.mark.usefixtures("default_quotas")
def test_reconcile_logs_each_targets_recovery_point_without_a_metric(source, lambda_context, capsys, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    make_instance(source, "orders-db", tags={"backup": "dr"})
    make_cluster(source, "payments", tags={"backup": "dr"})

    lambda_handler({"action": "reconcile"}, lambda_context)

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    records = [line for line in lines if line.get("record") == RECOVERY_POINT_RECORD]
    assert {(r["target"], r["kind"], r["module_instance"]) for r in records} == {
        ("orders-db", "instance", BASE_ENV["OWNER_TAG_VALUE"]),
        ("payments", "cluster", BASE_ENV["OWNER_TAG_VALUE"]),
    }
    assert all(set(r) == set(RECOVERY_POINT_FIELDS) for r in records)
    assert all("_aws" not in r for r in records)  # log fields only: no per-database metric is billed
    [main] = [line for line in lines if "_aws" in line and "ModuleInstance" in line]
    assert main["RecoveryPointAgeSeconds"] == max(r["recovery_point_age_seconds"] for r in records)


@pytest.mark.usefixtures("default_quotas")
def test_what_the_function_prints_is_exactly_the_published_metric_set(source, lambda_context, capsys, env):
    """metrics.PUBLISHED is what the dashboard may show; it must be what the code really emits."""
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    make_instance(source, "orders-db", tags={"backup": "dr"})
    lambda_handler({"action": "backup", "scheduled_time": "2026-11-25T14:00:00Z"}, lambda_context)
    lambda_handler({"action": "reconcile"}, lambda_context)

    emitted = {
        (metric["Name"], tuple(dimensions))
        for document in emf_lines(capsys.readouterr().out)
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
        for metric in directive["Metrics"]
    }
    assert emitted == PUBLISHED - DRILL_PUBLISHED  # the drill is off here; tests/unit/test_drill.py covers it


def test_json_formatter_carries_decision_fields():
    record = logging.makeLogRecord(
        {
            "msg": "copy started",
            "levelname": "INFO",
            "name": "rds_snapshot_dr",
            "target": "orders-db",
            "outcome": "started",
        }
    )

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "copy started"
    assert line["target"] == "orders-db"
    assert line["outcome"] == "started"
    assert line["level"] == "INFO"


@pytest.mark.usefixtures("aws")
def test_decision_log_lines_name_target_action_outcome_and_reason(source, lambda_context, caplog, env):
    env(DB_INSTANCE_IDENTIFIERS="missing-db", DB_CLUSTER_IDENTIFIERS="")

    with pytest.raises(RuntimeError):
        lambda_handler({"action": "backup"}, lambda_context)

    [line] = [r for r in caplog.records if getattr(r, "outcome", None) == "failed"]
    assert (line.target, line.action, line.operation) == ("missing-db", "backup", "discover")
    assert "not found" in line.reason
    assert "db_instance_identifiers" in line.fix


@pytest.mark.usefixtures("default_quotas")
def test_the_release_is_logged_once_per_container(source, lambda_context, caplog, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    caplog.set_level(logging.INFO, logger="rds_snapshot_dr")

    lambda_handler({"action": "reconcile"}, lambda_context)
    lambda_handler({"action": "reconcile"}, lambda_context)

    announced = [r for r in caplog.records if getattr(r, "version", None)]
    assert [r.version for r in announced] == [rds_snapshot_dr.__version__]
    assert announced[0].getMessage() == f"rds-snapshot-dr {rds_snapshot_dr.__version__} cold start"
