"""Metrics (EMF) and structured log lines."""

from __future__ import annotations

import io
import json
import logging

import pytest

import rds_snapshot_dr
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.logs import JsonFormatter
from rds_snapshot_dr.metrics import Metrics, print_emf


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
        "TargetFailures": "Count",
        "SnapshotsDeleted": "Count",
        "RecoveryPointAgeSeconds": "Seconds",
    }
    assert document["ModuleInstance"] == "orders"
    assert document["SnapshotsStarted"] == 2
    assert out.getvalue().count("\n") == 1


@pytest.mark.usefixtures("default_quotas")
def test_each_invocation_prints_exactly_one_emf_line(source, lambda_context, capsys, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    lambda_handler({"action": "reconcile"}, lambda_context)

    lines = [line for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(lines) == 1


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
