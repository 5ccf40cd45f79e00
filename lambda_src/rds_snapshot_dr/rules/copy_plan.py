"""Which copies to start now and which to defer: copy slots (the account limits per destination
region), the order of the backlog, superseded sources, and what copy-waiting refills.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.rules import naming, option_groups, selection
from rds_snapshot_dr.rules.copy_state import (
    CopyState,
    copy_attempts_left,
    copy_state,
    is_copy_in_flight,
    is_owned_available,
)
from rds_snapshot_dr.rules.model import (
    ACCOUNT_CLUSTER_COPY_LIMIT,
    ACCOUNT_COPY_LIMIT,
    COPY_SLOT_TAG,
    FUTURE_STAMP_TOLERANCE,
    Database,
    Kind,
    Operation,
    Outcome,
    Result,
    Snapshot,
    stamp_of,
)
from rds_snapshot_dr.rules.naming import snapshot_name, sort_time


@dataclass(frozen=True)
class CopyPlan:
    start: list[Snapshot]
    defer: list[Snapshot]
    in_flight: int  # all cross-region copies in progress in the destination region, anyone's
    failed: list[tuple[Snapshot, Snapshot]] = field(default_factory=list)  # (source, its failed copy)
    foreign: list[Snapshot] = field(default_factory=list)  # sources whose name a foreign snapshot holds
    exhausted: list[Snapshot] = field(default_factory=list)  # sources with no copy attempt left
    # sources RDS would copy only with an option group the mapping does not name: (source, its option group)
    unmapped: list[tuple[Snapshot, str]] = field(default_factory=list)
    # sources that will never be copied (`superseded_sources`), each with the newer copy that supersedes it
    superseded: list[tuple[Snapshot, Snapshot]] = field(default_factory=list)


# How long after its round's scheduled time a reserved copy slot is held for a snapshot still being made: the
# hour in which the backup run itself may start late (ROUND_GRACE: Scheduler's retries), and an hour for the
# snapshot (an incremental one takes minutes). A snapshot slower than that lets its slot go to a copy that
# waits (copy-waiting, a finished copy, reconcile), and its own snapshot-created event no longer starts its
# copy: a slow snapshot does not keep a slot idle for hours.
COPY_SLOT_HOLD = timedelta(hours=2)


def holds_copy_slot(snapshot: Snapshot, now: datetime) -> bool:
    """Whether the backup run reserved a copy slot for this source snapshot (COPY_SLOT_TAG) and it still holds:
    its stamp is at most COPY_SLOT_HOLD old."""
    if not snapshot.tags.get(COPY_SLOT_TAG):
        return False
    stamp = stamp_of(snapshot.identifier)
    return stamp is not None and now - COPY_SLOT_HOLD <= stamp <= now + FUTURE_STAMP_TOLERANCE


def reserved_copy_slots(settings: Settings, source: Iterable[Snapshot], now: datetime) -> dict[Kind, int]:
    """Per kind, the copy slots held for owned source snapshots still being made: the backup run reserved
    them (COPY_SLOT_TAG), and each one's snapshot-created event will start its copy. The paths that count the
    copies in flight leave them free, so the event's copy never takes the instance over its share. A holder
    that is available and has no copy yet is a waiting copy like any other (it goes first: `slot_first`)."""
    reserved = dict.fromkeys(Kind, 0)
    for snap in source:
        if snap.status == "creating" and holds_copy_slot(snap, now) and naming.is_owned(settings, snap):
            reserved[snap.kind] += 1
    return reserved


def slot_first(snapshot: Snapshot) -> int:
    """The leading sort key of the copy order: a snapshot the backup run reserved a copy slot for goes first (0)."""
    return 0 if snapshot.tags.get(COPY_SLOT_TAG) else 1


def copy_room(
    settings: Settings,
    own_in_flight: Sequence[Snapshot],
    in_flight: Sequence[Snapshot],
    reserved: Mapping[Kind, int] | None = None,
) -> dict[Kind, int]:
    """How many more copies of each kind this instance may start: its share (COPY_CONCURRENCY_LIMIT, per kind)
    less its own copies of that kind in progress, within what the account has left of AWS's limit for the
    kind (20 DB snapshot and, apart, 5 DB cluster snapshot copies in progress per destination region).

    Per kind, because AWS counts the kinds apart: one share over both would let a backlog of instance copies
    hold every slot of the share while cluster slots, which instances cannot use, stand idle (the fleet
    simulation found Aurora clusters never copied that way when their snapshot events were lost). Another
    module instance's long copies must not hold this one back below its share; only the AWS limits may.
    `reserved` (`reserved_copy_slots`) counts as copies of this instance in progress.
    """
    aws_limit = {Kind.INSTANCE: ACCOUNT_COPY_LIMIT, Kind.CLUSTER: ACCOUNT_CLUSTER_COPY_LIMIT}
    held = reserved or {}
    return {
        kind: min(
            settings.copy_concurrency_limit - sum(1 for snap in own_in_flight if snap.kind is kind) - held.get(kind, 0),
            limit - sum(1 for snap in in_flight if snap.kind is kind) - held.get(kind, 0),
        )
        for kind, limit in aws_limit.items()
    }


def copy_priority(snap: Snapshot, rank: int, recovery_point: datetime | None) -> tuple[int, datetime, float, int, str]:
    """The order in which copies start when not all may start at once (a sort key: smallest first).

    `rank` is the snapshot's place among its database's owned, available source snapshots, newest first
    (0: the newest): every database's newest snapshot goes before any database's older one. Then the
    database whose newest copy of ours (`recovery_point`, available or in flight: None when it has none or it
    is not known) is the oldest goes first; reconcile reads it from its listing, copy-waiting from
    `recovery_points_from_previous`. When the copy limit cannot take a whole backup round (say 900 instance
    copies a day through 5 slots), the databases left over wait once, then go first in the next round,
    instead of waiting every round. Then the newest snapshot first. Among equals (one round's snapshots) the
    order is a hash of the name, which carries the round's stamp, so it changes each round rather than
    favouring the same names (and it is the same in every invocation).
    """
    return (
        rank,
        sort_time(recovery_point),
        -sort_time(snap.data_time).timestamp(),
        name_order(snap.identifier),
        snap.identifier,
    )


def name_order(name: str) -> int:
    """A stable order hashed from a snapshot name, which carries its round's stamp: among one round's snapshots
    it changes every round instead of favouring the same names (and is the same in every invocation)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest())


def newest_first_rank(settings: Settings, source: Iterable[Snapshot]) -> dict[tuple[Kind, str], int]:
    """Each owned, available source snapshot's place among its database's, newest first (0: the newest),
    keyed by (kind, identifier)."""
    by_database: dict[tuple[Kind, str], list[Snapshot]] = {}
    for snap in source:
        if is_owned_available(settings, snap):
            by_database.setdefault((snap.kind, snap.target), []).append(snap)
    rank: dict[tuple[Kind, str], int] = {}
    for snaps in by_database.values():
        snaps.sort(key=lambda s: (sort_time(s.data_time), s.identifier), reverse=True)
        rank.update({(snap.kind, snap.identifier): place for place, snap in enumerate(snaps)})
    return rank


def superseded_sources(
    settings: Settings, source: Iterable[Snapshot], destination: Iterable[Snapshot], now: datetime
) -> dict[tuple[Kind, str], Snapshot]:
    """The owned, available source snapshots that will never be copied, each with the copy that supersedes it.

    A source snapshot without a copy (none was ever made, or it was deleted by hand) whose data is already
    older than destination_retention_days, while the destination holds a newer available copy of ours of the
    same database generation: its copy would be an expired snapshot behind a newer one, pruned at once, so
    it is not made. Such a source no longer waits for its copy before retention deletes it: it would wait
    forever, held against the source region's manual snapshot quota (source_retention_days never exceeds
    destination_retention_days, so it is past the source retention too). A source whose copy attempts are
    exhausted is not among them: it stays, reported, until someone acts. Keyed by (kind, identifier).
    """
    cutoff = now - timedelta(days=settings.destination_retention_days)
    newest: dict[tuple[Kind, str, str], Snapshot] = {}
    names: set[tuple[Kind, str]] = set()
    for snap in destination:
        names.add((snap.kind, snap.identifier))
        if copy_state(settings, snap) is not CopyState.AVAILABLE or snap.data_time is None:
            continue
        held = newest.get(snap.generation)
        if held is None or sort_time(snap.data_time) > sort_time(held.data_time):
            newest[snap.generation] = snap
    found: dict[tuple[Kind, str], Snapshot] = {}
    for snap in source:
        if not is_owned_available(settings, snap) or (snap.kind, snap.identifier) in names:
            continue
        if not copy_attempts_left(settings, snap):
            continue  # its copies all failed: kept, and reported on every reconcile until someone acts
        taken = sort_time(snap.data_time)
        newer = newest.get(snap.generation) or newest.get((snap.kind, snap.target, ""))
        if taken < cutoff and newer is not None and sort_time(newer.data_time) > taken:
            found[(snap.kind, snap.identifier)] = newer
    return found


def superseded_reason(settings: Settings, newer: Snapshot) -> str:
    return (
        f"never copied: older than retention.destination_days={settings.destination_retention_days} while "
        f"{newer.region} holds a newer copy ({newer.identifier}), so its copy would be pruned at once"
    )


SUPERSEDED_FIX = (
    "Nothing to do for this snapshot. If it happens often, copies are failing or refused for days (see the "
    "copy outcomes and the RecoveryPointAgeSeconds alarm)."
)


def plan_copies(
    settings: Settings,
    source: Iterable[Snapshot],
    destination: Iterable[Snapshot],
    wanted_targets: set[str] | None = None,
    now: datetime | None = None,
) -> CopyPlan:
    """What to do about each owned, available source snapshot, from its destination copy's state.

    No copy: start it, up to the limit, and defer the rest; once copy_max_attempts copies have failed,
    report it instead. A copy that ended failed: report, remove and (within the attempts) retry it.
    A foreign snapshot with our name: report it. In flight or available: nothing to do.

    The limit is, per kind, this instance's COPY_CONCURRENCY_LIMIT minus its own copies of that kind in
    progress, and never more than the account has left of the copies AWS allows in progress per destination
    region: 20 instance snapshots and, counted on their own, 5 cluster snapshots (`copy_room`).
    In `copy_priority` order: each database's newest snapshot before any older one, and among those the
    databases with the oldest DR copy first, so a limit that holds copies back delays each database in turn
    rather than the same ones every day. With `now`, a source that will never be copied (`superseded_sources`)
    is reported as such, not started: its copy would only be pruned again. Exhausted attempts are reported
    first, whatever the source's age: a source whose copies all failed stays loud.
    """
    destination = list(destination)
    source_list = list(source)
    by_name = {(snap.kind, snap.identifier): snap for snap in destination}
    in_flight = [snap for snap in destination if is_copy_in_flight(settings, snap)]
    copied_up_to: dict[tuple[Kind, str], datetime] = {}  # available or in flight: the copy order's recovery point
    for snap in destination:
        state = copy_state(settings, snap)
        if state not in (CopyState.AVAILABLE, CopyState.IN_FLIGHT) or snap.data_time is None:
            continue
        key = (snap.kind, snap.target)
        copied_up_to[key] = max(snap.data_time, copied_up_to.get(key, snap.data_time))
    superseded = superseded_sources(settings, source_list, destination, now) if now is not None else {}
    missing: list[Snapshot] = []
    failed: list[tuple[Snapshot, Snapshot]] = []
    foreign: list[Snapshot] = []
    exhausted: list[Snapshot] = []
    unmapped: list[tuple[Snapshot, str]] = []
    never: list[tuple[Snapshot, Snapshot]] = []
    for snap in source_list:
        if not is_owned_available(settings, snap):
            continue
        if wanted_targets is not None and snap.target not in wanted_targets:
            continue
        copy = by_name.get((snap.kind, snap.identifier))
        state = copy_state(settings, copy)
        if state is CopyState.ABSENT:
            missing_group = option_groups.for_copy(settings, snap).missing
            if not copy_attempts_left(settings, snap):
                exhausted.append(snap)
            elif missing_group is not None:  # reported, holds no slot, keeps no schedule on
                unmapped.append((snap, missing_group))
            elif (snap.kind, snap.identifier) in superseded:
                never.append((snap, superseded[(snap.kind, snap.identifier)]))
            else:
                missing.append(snap)
        elif state is CopyState.FAILED and copy is not None:
            failed.append((snap, copy))
        elif state is CopyState.FOREIGN:
            foreign.append(snap)
    rank = newest_first_rank(settings, source_list)
    missing.sort(
        key=lambda s: (
            slot_first(s),
            copy_priority(s, rank.get((s.kind, s.identifier), 0), copied_up_to.get((s.kind, s.target))),
        )
    )
    room = copy_room(
        settings,
        [snap for snap in in_flight if naming.is_owned(settings, snap)],
        in_flight,
        reserved_copy_slots(settings, source_list, now) if now is not None else None,
    )
    start: list[Snapshot] = []
    defer: list[Snapshot] = []
    for snap in missing:
        if room[snap.kind] > 0:
            start.append(snap)
            room[snap.kind] -= 1
        else:
            defer.append(snap)
    return CopyPlan(
        start=start,
        defer=defer,
        in_flight=len(in_flight),
        failed=failed,
        foreign=foreign,
        exhausted=exhausted,
        unmapped=unmapped,
        superseded=never,
    )


def waiting_copy_candidates(settings: Settings, source: Iterable[Snapshot]) -> list[Snapshot]:
    """The snapshots that may wait for a copy slot: each database's newest owned, available source snapshot
    with copy attempts left (and, with a non-default option group, a mapping), in `copy_priority` order as far
    as the source tells it (newest first). Older ones without a copy are reconcile's business."""
    newest: dict[tuple[Kind, str], Snapshot] = {}
    for snap in source:
        if not (is_owned_available(settings, snap) and copy_attempts_left(settings, snap)):
            continue
        if option_groups.for_copy(settings, snap).missing is not None:
            continue  # no copy can start until a person maps its option group: reconcile reports it
        key = (snap.kind, snap.target)
        if key not in newest or sort_time(snap.data_time) > sort_time(newest[key].data_time):
            newest[key] = snap
    return sorted(newest.values(), key=lambda s: copy_priority(s, 0, None))


def snapshots_being_made(settings: Settings, source: Iterable[Snapshot]) -> int:
    """Owned source snapshots still being made: each one's copy waits for it, so the copy-waiting schedule stays
    on until they are available (a lost snapshot-created event, or a snapshot without a reserved copy slot,
    leaves its copy to copy-waiting)."""
    return sum(1 for snap in source if snap.status == "creating" and naming.is_owned(settings, snap))


def copy_waiting_reason(waiting: Mapping[Kind, int], being_made: int, slot_was_free: bool = False) -> str:
    """Why the copy-waiting schedule should run ("" when it need not).

    - Snapshots of ours are being made: their copies may have to wait (no reserved slot, or a lost
      snapshot-created event).
    - Cluster snapshot copies wait: RDS announces no finished cluster copy, so nothing else fills a freed
      cluster slot before reconcile.
    - Instance snapshot copies wait and a slot was free (`slot_was_free`: this run could start one): the
      copy-finished events did not keep the share busy, so keep looking.

    Instance copies that wait while every slot is busy need no schedule: each copy-finished event starts as
    many as the share has free (`plan_refill`), so the event after one RDS did not deliver fills that slot
    too; reconcile fills what is left when no event comes at all. `waiting`: the copies that wait, per kind.
    """
    parts = []
    if being_made:
        parts.append(f"{being_made} snapshot{' is' if being_made == 1 else 's are'} being made")
    clusters, instances = waiting.get(Kind.CLUSTER, 0), waiting.get(Kind.INSTANCE, 0)
    if clusters:
        parts.append(
            f"{clusters} cluster snapshot cop{'y waits' if clusters == 1 else 'ies wait'} for a slot "
            "(RDS announces no finished cluster copy)"
        )
    if instances and slot_was_free:
        parts.append(
            f"{instances} instance snapshot cop{'y waits' if instances == 1 else 'ies wait'} and a slot was free"
        )
    return " and ".join(parts)


def previous_snapshots(
    settings: Settings, source: Iterable[Snapshot], candidates: Iterable[Snapshot]
) -> dict[tuple[Kind, str], Snapshot]:
    """For each candidate's database, keyed by (kind, database): its newest owned, available source snapshot
    older than the candidate. Whether that one has a copy tells whether the database's recovery point is the
    previous round's, without listing the destination."""
    wanted = {(snap.kind, snap.target): sort_time(snap.data_time) for snap in candidates}
    previous: dict[tuple[Kind, str], Snapshot] = {}
    for snap in source:
        key = (snap.kind, snap.target)
        if key not in wanted or not is_owned_available(settings, snap):
            continue
        when = sort_time(snap.data_time)
        if when < wanted[key] and (key not in previous or when > sort_time(previous[key].data_time)):
            previous[key] = snap
    return previous


def recovery_points_from_previous(
    settings: Settings,
    previous: Mapping[tuple[Kind, str], Snapshot],
    found: Iterable[Snapshot],
    known_copied: Iterable[tuple[Kind, str]] = (),
) -> dict[tuple[Kind, str], datetime | None]:
    """Each database's recovery point as copy-waiting can know it: its previous snapshot's time when a copy of
    that snapshot (`found`: a lookup of the previous snapshots' names; `known_copied`: (kind, name) already
    known to have an available copy) is ours and available or on its way; else None (older, or none), which
    `copy_priority` puts first."""
    copied = set(known_copied) | {
        (snap.kind, snap.identifier)
        for snap in found
        if copy_state(settings, snap) in (CopyState.AVAILABLE, CopyState.IN_FLIGHT)
    }
    return {key: snap.data_time if (snap.kind, snap.identifier) in copied else None for key, snap in previous.items()}


@dataclass(frozen=True)
class WaitingCopies:
    """What the copy-waiting action starts, and the copies that wait for a slot, in the order they start."""

    start: list[Snapshot]
    queue: list[Snapshot]  # candidates with nothing under their name in the destination, in the order they start
    own_in_flight: int  # this instance's copies of the candidates in progress


def plan_waiting_copies(
    settings: Settings,
    candidates: Sequence[Snapshot],
    found: Iterable[Snapshot],
    recovery_points: Mapping[tuple[Kind, str], datetime | None] | None = None,
    reserved: Mapping[Kind, int] | None = None,
) -> WaitingCopies:
    """The waiting copies to start now: `candidates` are `waiting_copy_candidates` (both kinds), `found` what a
    lookup of their names in the destination returned. With `recovery_points` (by (kind, database), from
    `recovery_points_from_previous`), in `copy_priority` order; else in the candidates' order.

    The room is `copy_room`, per kind, from this instance's copies in progress that `found` holds (copy-waiting
    looks up the candidates' names and those of the older owned snapshots not known to be copied). Other module
    instances' copies are not counted: RDS refuses a copy past its limit, and that refusal stops the rest. A
    candidate whose name is taken (in flight, available, failed or foreign) is not waiting: reconcile handles
    failed and foreign ones.
    """
    taken = {(snap.kind, snap.identifier) for snap in found}
    own_in_flight = [snap for snap in found if is_copy_in_flight(settings, snap) and naming.is_owned(settings, snap)]
    room = copy_room(settings, own_in_flight, own_in_flight, reserved)
    waiting = [snap for snap in candidates if (snap.kind, snap.identifier) not in taken]
    if recovery_points is not None:
        waiting.sort(key=lambda s: (slot_first(s), copy_priority(s, 0, recovery_points.get((s.kind, s.target)))))
    else:
        waiting.sort(key=slot_first)  # stable: the candidates' order otherwise
    start: list[Snapshot] = []
    for snap in waiting:
        if room[snap.kind] > 0:
            start.append(snap)
            room[snap.kind] -= 1
    return WaitingCopies(start=start, queue=waiting, own_in_flight=len(own_in_flight))


@dataclass(frozen=True)
class Refill:
    """What a copy-finished event may start, from one lookup of the watched and waiting names."""

    start: list[Snapshot]  # the first waiting ones, as many as the share has free
    waiting: list[Snapshot]  # the looked-up queue names with nothing under them in the destination, in order
    watch: list[Snapshot]  # source snapshots whose copy is still in flight, or whose reserved slot still holds
    done: set[str]  # names now taken in the destination and not in flight: no longer waiting or watched
    room: int  # the free slots of the kind (may be 0: a duplicate event, or reserved slots)


def plan_refill(
    settings: Settings,
    kind: Kind,
    queue: Sequence[Snapshot],
    watch: Sequence[Snapshot],
    found: Iterable[Snapshot],
    now: datetime,
) -> Refill:
    """The copies a copy-finished event starts: as many as the share of `kind` has free, not one per event.

    `queue` is the waiting copies in start order, `watch` the source snapshots whose copy the execution
    environment last saw in flight or that were still being made at the listing (another invocation may copy
    them: their copies hold slots too), and `found` what one lookup of all their names returned in the
    destination. The room is `copy_room` from the copies found in flight and the slots the backup run reserved
    (`holds_copy_slot`) for snapshots with no copy yet: an event
    delivered twice finds its slot refilled (room 0, nothing starts), and the event after a lost one finds two
    slots free and fills both.
    """
    by_name = {snap.identifier: snap for snap in found if snap.kind is kind}
    own_in_flight = [
        snap for snap in by_name.values() if is_copy_in_flight(settings, snap) and naming.is_owned(settings, snap)
    ]
    in_flight = {snap.identifier for snap in own_in_flight}
    reserved = dict.fromkeys(Kind, 0)
    still: dict[str, Snapshot] = {}
    watched = {snap.identifier for snap in watch}
    for snap in list(watch) + list(queue):
        name = snap.identifier
        if name in still:
            continue
        if name in in_flight:
            still[name] = snap
        elif name not in by_name and name in watched and snap.status == "creating":
            # still being made when listed, and no copy yet: watched until its copy starts (by any invocation)
            still[name] = snap
            if holds_copy_slot(snap, now):
                reserved[kind] += 1
    waiting = [snap for snap in queue if snap.identifier not in by_name]
    room = copy_room(settings, own_in_flight, own_in_flight, reserved)[kind]
    done = {name for name in by_name if name not in in_flight}
    return Refill(start=waiting[: max(0, room)], waiting=waiting, watch=list(still.values()), done=done, room=room)


def copy_slots_for_round(
    settings: Settings,
    targets: Sequence[Database],
    scheduled: datetime,
    previous: Iterable[Snapshot] | None,
    backlog: Sequence[Snapshot] = (),
) -> set[tuple[Kind, str]]:
    """The targets, as (kind, identifier), whose new snapshot gets a copy slot reserved (COPY_SLOT_TAG), so its
    snapshot-created event may start its copy at once: as many of each kind as the instance's share has free.

    `previous` is what the destination holds under the names of the targets' snapshots of the previous
    scheduled round (None: that round is not known, e.g. a rate() schedule: then no slot is reserved, and the
    copies start from copy-waiting, a finished copy or reconcile, which count the copies in flight). Its copies
    still in flight hold the share now. With a `backlog` (`copy_backlog`) no slot is reserved: the copies of the
    round queue behind it on the paths that count the copies in flight (a reconcile or a finished copy starting
    a backlog copy at the round's time could not see the slots reserved a moment later). The slots go first to
    the databases whose previous copy is not available, then in an order hashed from the new name, as
    `copy_priority` orders one round; a database that cannot be snapshotted now takes none.
    """
    if previous is None or backlog:
        return set()
    previous = list(previous)
    own = [snap for snap in previous if is_copy_in_flight(settings, snap) and naming.is_owned(settings, snap)]
    room = copy_room(settings, own, own)
    copied = {(snap.kind, snap.target) for snap in previous if copy_state(settings, snap) is CopyState.AVAILABLE}

    def order(db: Database) -> tuple[bool, int, str]:
        name = snapshot_name(settings.snapshot_prefix, db.identifier, scheduled)
        return (
            (db.kind, db.identifier) in copied,
            name_order(name),
            name,
        )

    slots: set[tuple[Kind, str]] = set()
    for db in sorted(targets, key=order):
        if room[db.kind] > 0 and selection.can_snapshot(db):
            slots.add((db.kind, db.identifier))
            room[db.kind] -= 1
    return slots


def copy_backlog(settings: Settings, older: Iterable[Snapshot], found: Iterable[Snapshot]) -> list[Snapshot]:
    """Owned source snapshots older than the previous round (`older`) whose copy is still to come: in flight, or
    none under their name in the destination (`found`: a lookup of their names) with copy attempts left. An
    older snapshot with an available copy, or out of attempts, is no backlog."""
    by_name = {(snap.kind, snap.identifier): snap for snap in found}
    backlog = []
    for snap in older:
        copy = by_name.get((snap.kind, snap.identifier))
        if copy is None:
            if copy_attempts_left(settings, snap):
                backlog.append(snap)
        elif is_copy_in_flight(settings, copy):
            backlog.append(snap)
    return backlog


def may_copy_more(outcome: Outcome) -> bool:
    """Whether to go on starting copies after this copy outcome: not once RDS refused one for the limit."""
    return not (outcome.operation == Operation.COPY and outcome.outcome == Result.DEFERRED)


def freed_room(outcomes: Iterable[Outcome]) -> bool:
    """Whether a quota prune freed room: at least one snapshot was deleted."""
    return any(o.operation == Operation.DELETE and o.outcome == Result.DELETED for o in outcomes)


@dataclass(frozen=True)
class StartedCopies:
    """What copy-waiting's starts leave (`after_starting`), as (kind, name) of source snapshots."""

    holding: set[tuple[str, str]]  # a copy started, by this run or ("exists") by another a moment ago: watched
    dropped: set[tuple[str, str]]  # no longer a candidate: refused for good, skipped, or failed


def after_starting(outcomes: Iterable[Outcome]) -> StartedCopies:
    """From the copy outcomes of the starts: the copies that now hold a slot, and the candidates that no longer
    wait. A copy deferred at the copy limit (`may_copy_more` false) stays a candidate."""
    copies = [o for o in outcomes if o.operation == Operation.COPY]
    holding = {(o.kind, o.snapshot) for o in copies if o.outcome in (Result.STARTED, Result.EXISTS)}
    dropped = {(o.kind, o.snapshot) for o in copies if (o.kind, o.snapshot) not in holding and may_copy_more(o)}
    return StartedCopies(holding, dropped)


def deferred_by_kind(outcomes: Iterable[Outcome]) -> Counter[Kind]:
    """How many copies of each kind wait for a slot: those deferred among the outcomes of a run's copies."""
    return Counter(Kind(o.kind) for o in outcomes if o.operation == Operation.COPY and o.outcome == Result.DEFERRED)
