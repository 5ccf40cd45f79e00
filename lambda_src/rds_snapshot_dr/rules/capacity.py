"""Capacity: how many manual snapshots each database keeps per region at the settings, against the
Service Quotas RDS counts them under.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules.model import Database, Kind

# The Service Quotas entries RDS counts manual snapshots against, per region (RDS User Guide, "Quotas and
# constraints for Amazon RDS", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html:
# "Manual DB instance snapshots" and "Manual DB cluster snapshots", 100 each by default, adjustable; the
# page links each to its Service Quotas code). Keyed by DescribeAccountAttributes' AccountQuotaName.
SNAPSHOT_QUOTAS = {
    Kind.INSTANCE: ("ManualSnapshots", "Manual DB instance snapshots", "L-272F1212"),
    Kind.CLUSTER: ("ManualClusterSnapshots", "Manual DB cluster snapshots", "L-9B510759"),
}


@dataclass(frozen=True)
class SnapshotCapacity:
    """The most manual snapshots of one kind this module instance holds in one region, in steady state."""

    region: str
    role: str  # source | destination
    kind: Kind
    targets: int
    per_target: int  # max(snapshots inside the retention window, keep_last) + 1
    in_flight: int  # copies in flight on top (a backlog's copies, held source snapshots)
    quota_name: str  # the DescribeAccountAttributes AccountQuotaName
    quota_title: str  # the Service Quotas name
    quota_code: str

    @property
    def total(self) -> int:
        return self.targets * self.per_target + self.in_flight


def snapshots_per_target(per_day: float | None, retention_days: int, keep_last: int) -> int:
    """The most snapshots of one database in one region: those inside the retention window or kept by
    keep-last, plus one (the expired one a prune has not reached yet, or the new one being taken while
    keep-last still holds the newest available one)."""
    window = 1 if per_day is None else math.ceil(per_day * retention_days - 1e-9)
    return max(window, keep_last) + 1


def snapshot_capacity(settings: Settings, targets: Iterable[Database], per_day: float | None) -> list[SnapshotCapacity]:
    """Steady-state manual snapshots per region and kind: targets x per-target + copies in flight.

    `per_day` comes from the backup schedule (`snapshots_per_day`). Copies in flight add up to
    COPY_CONCURRENCY_LIMIT (at most one per target) in both regions: in the destination the copies
    themselves, in the source the snapshots held until their copy is available.
    """
    counts = dict.fromkeys(Kind, 0)
    for db in targets:
        counts[db.kind] += 1
    result = []
    for role, region, days in (
        ("source", settings.source_region, settings.source_retention_days),
        ("destination", settings.destination_region, settings.destination_retention_days),
    ):
        for kind in Kind:
            name, title, code = SNAPSHOT_QUOTAS[kind]
            result.append(
                SnapshotCapacity(
                    region=region,
                    role=role,
                    kind=kind,
                    targets=counts[kind],
                    per_target=snapshots_per_target(per_day, days, settings.keep_last),
                    in_flight=min(settings.copy_concurrency_limit, counts[kind]),
                    quota_name=name,
                    quota_title=title,
                    quota_code=code,
                )
            )
    return result


def quota_to_request(needed: int, warn_percent: float) -> int:
    """The quota value to ask for so `needed` snapshots stay below the quota alarm's `warn_percent`,
    rounded up to a multiple of 10."""
    value = math.floor(needed * 100.0 / warn_percent) + 1
    return max(10, -(-value // 10) * 10)
