"""Capacity: how many manual snapshots each database keeps per region at the settings, against the
Service Quotas RDS counts them under.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rds_snapshot_dr.core import quotas
from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules.model import Database, Kind

# The Service Quotas entries RDS counts manual snapshots against, per region (core/quotas.json, which
# capacity.tf reads too): (AccountQuotaName, title, Service Quotas code) by kind.
SNAPSHOT_QUOTAS = {
    Kind(kind): (quota.account_quota_name, quota.title, quota.service_quotas_code)
    for kind, quota in quotas.SNAPSHOT_QUOTAS.items()
}
# AccountQuotaName -> the kind of snapshot it counts
QUOTA_KIND = {name: Kind(kind) for name, kind in quotas.QUOTA_KINDS.items()}


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


class QuotaVerdict(StrEnum):
    """A quota check's result; the values are preflight's statuses."""

    FITS = "pass"
    NEAR_ALARM = "warn"  # fits, at or above the quota alarm's percent
    NO_ROOM = "fail"  # does not fit


def headroom_verdict(used: int, maximum: int, one_backup: int, alarm_percent: float) -> QuotaVerdict:
    """Today's quota: room for one more backup of every target, and below the quota alarm."""
    free = maximum - used
    if free <= 0 or free < one_backup:
        return QuotaVerdict.NO_ROOM
    if maximum and 100.0 * used / maximum >= alarm_percent:
        return QuotaVerdict.NEAR_ALARM
    return QuotaVerdict.FITS


def steady_state_verdict(wanted: int, maximum: int, alarm_percent: float) -> QuotaVerdict:
    """The steady state (`wanted`: what others use plus what this instance holds) against the quota."""
    if wanted > maximum:
        return QuotaVerdict.NO_ROOM
    if 100.0 * wanted / maximum >= alarm_percent:
        return QuotaVerdict.NEAR_ALARM
    return QuotaVerdict.FITS
