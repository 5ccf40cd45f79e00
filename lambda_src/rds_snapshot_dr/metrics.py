"""CloudWatch metrics in the embedded metric format (EMF): one JSON line on stdout per invocation."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

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


@dataclass
class Metrics:
    """Counters of one invocation, plus the gauges reconcile measures."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    gauges: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, value: int = 1) -> None:
        self.counts[name] += value

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


def print_emf(
    metrics: Metrics, namespace: str, module_instance: str, timestamp_ms: int, stream: TextIO | None = None
) -> None:
    """Print the EMF document as one line; the Lambda log agent turns it into metrics."""
    document = emf_document(metrics, namespace, module_instance, timestamp_ms)
    print(json.dumps(document, separators=(",", ":")), file=stream or sys.stdout, flush=True)
