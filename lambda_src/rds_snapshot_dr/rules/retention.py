"""Retention: which snapshots are expired, and which expired snapshots are kept and why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules import naming
from rds_snapshot_dr.rules.copy_plan import superseded_reason, superseded_sources
from rds_snapshot_dr.rules.model import Kind, Snapshot
from rds_snapshot_dr.rules.naming import future_stamp_reason, sort_time, stamped_in_future, untrusted_prune_time


@dataclass(frozen=True)
class PruneDecision:
    delete: list[Snapshot]
    protected: list[tuple[Snapshot, str]]  # expired but kept, with the rule that kept it
    # sources deleted without a copy, because none will ever be made (`superseded_sources`): with the reason
    superseded: dict[tuple[Kind, str], str] = field(default_factory=dict)


def expired_snapshots(
    settings: Settings,
    snapshots: Iterable[Snapshot],
    *,
    retention_days: int,
    now: datetime,
    destination_copies: Iterable[Snapshot] | None = None,
    wanted_targets: set[str] | None = None,
) -> PruneDecision:
    """Which owned snapshots to delete in one region, under the data-safety rules.

    - only snapshots that are ours (exact name + ownership tag, manual), never automated ones;
    - only `available` snapshots older than `retention_days`;
    - never the newest `keep_last` available snapshots of a database (so never its newest copy);
    - for source snapshots (`destination_copies` given): never before the copy is `available`, unless none
      will ever be made (`superseded_sources`): those are listed in `superseded` with the reason.

    A snapshot stamped in the future (`stamped_in_future`) is ours (name and tag), but its date is not
    trusted. It takes no keep-last place: it would push a real snapshot out of keep-last and let it be
    deleted. It may still be pruned by the rules above, dated by `untrusted_prune_time` (when RDS made it,
    at most now) instead of its stamp: never earlier than a real snapshot of that day, and not kept forever
    as its stamp would keep it. Until then it is listed in `protected` with `future_stamp_reason`, so every
    reconcile reports it by name rather than trusting it in silence.
    """
    cutoff = now - timedelta(days=retention_days)
    copies = None
    superseded: dict[tuple[Kind, str], str] = {}
    if destination_copies is not None:
        destination_copies = list(destination_copies)
        snapshots = list(snapshots)
        copies = {(c.kind, c.identifier): c for c in destination_copies if naming.is_owned(settings, c)}
        superseded = {
            key: superseded_reason(settings, newer)
            for key, newer in superseded_sources(settings, snapshots, destination_copies, now).items()
        }

    decided: dict[tuple[Kind, str], str] = {}
    by_target: dict[tuple[Kind, str, str], list[Snapshot]] = {}
    for snap in snapshots:
        if not naming.is_owned(settings, snap) or snap.status != "available":
            continue
        if wanted_targets is not None and snap.target not in wanted_targets:
            continue
        by_target.setdefault(snap.generation, []).append(snap)

    delete: list[Snapshot] = []
    protected: list[tuple[Snapshot, str]] = []
    for group in by_target.values():
        trusted = [snap for snap in group if not stamped_in_future(snap, now)]
        trusted.sort(key=lambda s: (sort_time(s.data_time), s.identifier), reverse=True)
        for position, snap in enumerate(trusted):
            if snap.data_time is None or snap.data_time >= cutoff:
                continue
            if position < settings.keep_last:
                protected.append((snap, f"one of the newest {settings.keep_last} available snapshots of {snap.target}"))
                continue
            key = (snap.kind, snap.identifier)
            waiting = _copy_not_available(copies, snap)
            if waiting and key not in superseded:
                protected.append((snap, waiting))
                continue
            if waiting:
                decided[key] = superseded[key]
            delete.append(snap)
        for snap in sorted((s for s in group if stamped_in_future(s, now)), key=lambda s: s.identifier):
            untrusted = future_stamp_reason(snap, now)
            made = untrusted_prune_time(snap, now)
            if made >= cutoff:
                expires = f"{made + timedelta(days=retention_days):%Y-%m-%d %H:%M}"
                protected.append((snap, f"{untrusted}; dated by when RDS made it, it expires {expires} UTC"))
                continue
            waiting = _copy_not_available(copies, snap)
            if waiting and (snap.kind, snap.identifier) not in superseded:
                protected.append((snap, f"{untrusted}; {waiting}"))
                continue
            if waiting:
                decided[(snap.kind, snap.identifier)] = superseded[(snap.kind, snap.identifier)]
            delete.append(snap)
    return PruneDecision(delete=delete, protected=protected, superseded=decided)


def _copy_not_available(copies: Mapping[tuple[Kind, str], Snapshot] | None, snap: Snapshot) -> str:
    """Why a source snapshot must wait for its destination copy ("" when it need not: a destination
    snapshot, `copies` None, or its copy is available)."""
    if copies is None:
        return ""
    copy = copies.get((snap.kind, snap.identifier))
    if copy is not None and copy.status == "available":
        return ""
    return f"its destination copy is not available yet ({'missing' if copy is None else copy.status})"
