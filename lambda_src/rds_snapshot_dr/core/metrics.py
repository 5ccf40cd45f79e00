"""CloudWatch metrics in the embedded metric format (EMF), as JSON lines on stdout.

What is a metric and what stays a log field is a cost decision. CloudWatch bills every custom metric
(name + dimension values) per month (https://aws.amazon.com/cloudwatch/pricing/), so no metric here
has a dimension per database: a fleet of 1,000 databases publishes the same metrics as a fleet of
one. Per-database figures (the recovery-point age of each database) are log-only records: JSON lines
without an EMF directive, free as metrics, read by the dashboard with CloudWatch Logs Insights.

- One EMF line per invocation: the counters and gauges below, dimension `ModuleInstance`.
- Reconcile: one EMF line per region and snapshot kind with `ManualSnapshotQuotaUsedPercent`,
  dimensions `Region` and `SnapshotKind`. The quota is the account's, not a module instance's, so
  these carry no `ModuleInstance`: every instance in the account publishes the same four metrics.
- Reconcile: one record per target, `{"record": "recovery_point", ...}`, no metric.
- Restore drill: the drill counters below when a drill runs, and one EMF line per finished drill with
  `DrillRestoreSeconds` (dimension `ModuleInstance`; the database is a log field of the same line, so
  the measured time to restore of each database is in the log without a metric per database).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from rds_snapshot_dr.core import quotas

DIMENSION = "ModuleInstance"
COUNTS = (
    "SnapshotsStarted",
    "CopiesStarted",
    "CopiesDeferred",
    "CopiesFailed",
    "TargetFailures",
    "SnapshotsDeleted",
)
UNITS = {"RecoveryPointAgeSeconds": "Seconds", "ManualSnapshotQuotaUsedPercent": "Percent"}
GAUGES = tuple(UNITS)
# Published only where a restore drill runs (absent from every invocation when the drill is off).
DRILL_COUNTS = ("DrillsStarted", "DrillsSucceeded", "DrillFailures", "DrillDatabasesDeleted")
DRILL_GAUGES = ("DrillOverdueDatabases",)
DRILL_RESTORE_METRIC = "DrillRestoreSeconds"
UNITS["DrillOverdueDatabases"] = "Count"
DATABASE_FIELD = "Database"

QUOTA_METRIC = "ManualSnapshotQuotaUsedPercent"
QUOTA_DIMENSIONS = ("Region", "SnapshotKind")
# DescribeAccountAttributes quota names, by the snapshot kind they count (quotas.json).
QUOTA_KINDS = quotas.QUOTA_KINDS

RECOVERY_POINT_RECORD = "recovery_point"
RECOVERY_POINT_FIELDS = ("record", "module_instance", "target", "kind", "recovery_point_age_seconds")

# Every metric the function can publish, as (name, dimension names). The dashboard may show only
# these (tests/unit/test_dashboard.py), and tests/unit/test_observability.py checks that what the
# handler really prints is exactly this set.
PUBLISHED: frozenset[tuple[str, tuple[str, ...]]] = frozenset(
    {(name, (DIMENSION,)) for name in (*COUNTS, *GAUGES, *DRILL_COUNTS, *DRILL_GAUGES, DRILL_RESTORE_METRIC)}
    | {(QUOTA_METRIC, QUOTA_DIMENSIONS)}
)
DRILL_PUBLISHED: frozenset[tuple[str, tuple[str, ...]]] = frozenset(
    (name, (DIMENSION,)) for name in (*DRILL_COUNTS, *DRILL_GAUGES, DRILL_RESTORE_METRIC)
)


@dataclass(frozen=True)
class QuotaUse:
    """One manual snapshot quota of one region: used of maximum."""

    region: str
    kind: str
    used: int
    maximum: int

    @property
    def percent(self) -> float:
        return round(100.0 * self.used / self.maximum, 2)


@dataclass(frozen=True)
class RecoveryPoint:
    """Age of the newest available DR copy of one target (from its creation when it has none)."""

    target: str
    kind: str
    age_seconds: float


@dataclass
class Metrics:
    """Counters of one invocation, the gauges reconcile measures, and its per-region/per-target figures."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    gauges: dict[str, float] = field(default_factory=dict)
    quotas: list[QuotaUse] = field(default_factory=list)
    recovery_points: list[RecoveryPoint] = field(default_factory=list)
    # The restore drill's measured time to restore, in seconds, by database.
    restore_seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, value: int = 1) -> None:
        """Count `name`: the COUNTS are always published (0 included), others (the drill's) once counted."""
        self.counts[name] = self.counts.get(name, 0) + value

    def set(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def values(self) -> dict[str, float]:
        return {**self.counts, **self.gauges}


def emf_document(metrics: Metrics, namespace: str, module_instance: str, timestamp_ms: int) -> dict[str, Any]:
    definitions = [{"Name": name, "Unit": "Count"} for name in metrics.counts]
    definitions += [{"Name": name, "Unit": UNITS.get(name, "None")} for name in metrics.gauges]
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [[DIMENSION]], "Metrics": definitions}],
        },
        DIMENSION: module_instance,
        **metrics.values(),
    }


def restore_documents(
    metrics: Metrics, namespace: str, module_instance: str, timestamp_ms: int
) -> list[dict[str, Any]]:
    """One EMF line per finished drill: the metric per module instance, the database as a log field."""
    directive = {
        "Namespace": namespace,
        "Dimensions": [[DIMENSION]],
        "Metrics": [{"Name": DRILL_RESTORE_METRIC, "Unit": "Seconds"}],
    }
    return [
        {
            "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]},
            DIMENSION: module_instance,
            DATABASE_FIELD: database,
            DRILL_RESTORE_METRIC: round(seconds, 3),
        }
        for database, seconds in sorted(metrics.restore_seconds.items())
    ]


def quota_documents(metrics: Metrics, namespace: str, timestamp_ms: int) -> list[dict[str, Any]]:
    """One EMF document per region and snapshot kind; `Used` and `Max` ride along as log fields."""
    directive = {
        "Namespace": namespace,
        "Dimensions": [list(QUOTA_DIMENSIONS)],
        "Metrics": [{"Name": QUOTA_METRIC, "Unit": "Percent"}],
    }
    return [
        {
            "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]},
            "Region": quota.region,
            "SnapshotKind": quota.kind,
            QUOTA_METRIC: quota.percent,
            "Used": quota.used,
            "Max": quota.maximum,
        }
        for quota in metrics.quotas
        if quota.maximum > 0
    ]


def recovery_point_records(metrics: Metrics, module_instance: str) -> list[dict[str, Any]]:
    """Log-only records (no EMF directive, so no metric): one per target, for Logs Insights."""
    return [
        dict(
            zip(
                RECOVERY_POINT_FIELDS,
                (RECOVERY_POINT_RECORD, module_instance, point.target, point.kind, round(point.age_seconds, 3)),
                strict=True,
            )
        )
        for point in metrics.recovery_points
    ]


def print_emf(
    metrics: Metrics, namespace: str, module_instance: str, timestamp_ms: int, stream: TextIO | None = None
) -> None:
    """Print the invocation's EMF line, the quota lines and the recovery-point records, one JSON object a line.

    On Lambda everything on stdout reaches the log group as is; CloudWatch Logs turns EMF lines into
    metrics and Logs Insights reads the fields of every JSON line.
    """
    out = stream or sys.stdout
    documents = [
        emf_document(metrics, namespace, module_instance, timestamp_ms),
        *quota_documents(metrics, namespace, timestamp_ms),
        *restore_documents(metrics, namespace, module_instance, timestamp_ms),
        *recovery_point_records(metrics, module_instance),
    ]
    for document in documents:
        print(json.dumps(document, separators=(",", ":")), file=out)
    out.flush()
