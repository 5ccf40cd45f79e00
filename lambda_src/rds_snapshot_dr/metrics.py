"""CloudWatch metrics in the embedded metric format (EMF): one JSON line on stdout per invocation."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

DIMENSION = "ModuleInstance"
DATABASE_DIMENSION = "Database"
COUNTS = ("SnapshotsStarted", "CopiesStarted", "CopiesDeferred", "TargetFailures", "SnapshotsDeleted")
UNITS = {
    "RecoveryPointAgeSeconds": "Seconds",
    "ManualSnapshotQuotaUsedPercent": "Percent",
    "DrillRestoreSeconds": "Seconds",
}


@dataclass
class Metrics:
    """Counters of one invocation, plus the gauges reconcile measures."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    gauges: dict[str, float] = field(default_factory=dict)
    # Per database (dimensions ModuleInstance + Database): the restore drill's measured time to restore.
    per_database: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, name: str, value: int = 1) -> None:
        self.counts[name] += value

    def set(self, name: str, value: float) -> None:
        self.gauges[name] = value

    def set_for_database(self, database: str, name: str, value: float) -> None:
        self.per_database.setdefault(database, {})[name] = value

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


def print_emf(
    metrics: Metrics, namespace: str, module_instance: str, timestamp_ms: int, stream: TextIO | None = None
) -> None:
    """Print the EMF document as one line; the Lambda log agent turns it into metrics."""
    document = emf_document(metrics, namespace, module_instance, timestamp_ms)
    print(json.dumps(document, separators=(",", ":")), file=stream or sys.stdout, flush=True)
    for database, values in sorted(metrics.per_database.items()):
        print(
            json.dumps(
                database_emf_document(database, values, namespace, module_instance, timestamp_ms), separators=(",", ":")
            ),
            file=stream or sys.stdout,
            flush=True,
        )


def database_emf_document(
    database: str, values: dict[str, float], namespace: str, module_instance: str, timestamp_ms: int
) -> dict[str, Any]:
    definitions = [{"Name": name, "Unit": UNITS.get(name, "None")} for name in values]
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": [[DIMENSION, DATABASE_DIMENSION]], "Metrics": definitions}
            ],
        },
        DIMENSION: module_instance,
        DATABASE_DIMENSION: database,
        **values,
    }
