"""The dashboard shows only metrics the function really publishes, under its namespace and dimensions.

dashboard.tf declares every metric it shows in `local.dashboard_metrics`; tests/dashboard.tftest.hcl
proves the rendered dashboard shows exactly those. This test ties them to the function:
`rds_snapshot_dr.core.metrics.PUBLISHED`, which tests/unit/test_observability.py proves is exactly what the
handler prints. The per-database widget reads log records, not metrics: its query must use the
record the function prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
from hcl2.utils import SerializationOptions

from rds_snapshot_dr.core.metrics import DIMENSION, PUBLISHED, RECOVERY_POINT_FIELDS, RECOVERY_POINT_RECORD

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_NAMESPACE = "${var.metrics_namespace}"
AWS_METRICS = {
    ("AWS/Lambda", "Errors", ("FunctionName",)),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", ("QueueName",)),
}


def _locals() -> dict:
    options = SerializationOptions(
        with_comments=False, explicit_blocks=False, preserve_heredocs=False, strip_string_quotes=True
    )
    with (ROOT / "dashboard.tf").open() as handle:
        parsed = hcl2.load(handle, serialization_options=options)
    return {name: value for block in parsed["locals"] for name, value in block.items()}


DASHBOARD = _locals()["dashboard_metrics"]


def test_every_function_metric_on_the_dashboard_is_published():
    shown = {
        (metric["name"], tuple(sorted(metric["dimensions"])))
        for metric in DASHBOARD.values()
        if metric["namespace"] == FUNCTION_NAMESPACE
    }
    assert shown, "the dashboard shows none of the function's metrics"
    assert shown - PUBLISHED == set(), f"shown on the dashboard but never published: {shown - PUBLISHED}"


def test_the_other_metrics_come_from_aws_namespaces_only():
    others = {
        (metric["namespace"], metric["name"], tuple(sorted(metric["dimensions"])))
        for metric in DASHBOARD.values()
        if metric["namespace"] != FUNCTION_NAMESPACE
    }
    assert others == AWS_METRICS


def test_per_instance_metrics_are_this_instances():
    for key, metric in DASHBOARD.items():
        if DIMENSION in metric["dimensions"]:
            assert metric["dimensions"][DIMENSION] == "${var.name}", key


def test_no_metric_has_a_per_database_dimension():
    """CloudWatch bills each metric per month: a dimension per database would cost per database."""
    dimensions = {name for _, names in PUBLISHED for name in names}
    assert dimensions == {"ModuleInstance", "Region", "SnapshotKind"}


def test_per_database_widget_reads_the_records_the_function_prints():
    query = _locals()["recovery_point_query"]
    assert f'filter record = \\"{RECOVERY_POINT_RECORD}\\"' in query
    used = set(re.findall(r"\b(recovery_point_age_seconds|target|kind|record)\b", query))
    assert used == {"recovery_point_age_seconds", "target", "kind", "record"}
    assert used <= set(RECOVERY_POINT_FIELDS)
