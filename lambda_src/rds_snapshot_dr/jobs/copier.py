"""Copying to the destination region: on the snapshot-created event, in reconcile, and when a copy finishes."""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime

from rds_snapshot_dr import clock
from rds_snapshot_dr.core.logs import log_decision
from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.gateway.aws import LOOKUP_BATCH, KeyGateway, RdsGateway
from rds_snapshot_dr.jobs.pruner import Pruner
from rds_snapshot_dr.jobs.worker import BOTH_KINDS, TIME_BUDGET_REASON, Report, Worker, join_reason
from rds_snapshot_dr.rules import copy_plan, copy_state, model, naming, option_groups
from rds_snapshot_dr.rules.copy_plan import WaitingCopies
from rds_snapshot_dr.rules.copy_state import AfterCopyError, CopyPath, CopyState
from rds_snapshot_dr.rules.errors import AwsError
from rds_snapshot_dr.rules.events import CopyFinished, SnapshotCreated
from rds_snapshot_dr.rules.model import Kind, Operation, Outcome, Result, Snapshot
from rds_snapshot_dr.rules.recovery_point import KeyState

# How long a source listing's waiting-copy candidates may stand in for a new listing: the default interval
# of the copy-waiting schedule, which lists afresh and refreshes them.
CANDIDATES_TTL_S = 300.0


class WaitingCandidates:
    """Each kind's waiting-copy candidates (`copy_plan.waiting_copy_candidates`) from the latest source
    listing, in start order, less those since found with something under their name in the destination; and
    the watched ones (`copy_plan.plan_refill`): source snapshots whose copy was last seen in flight, or for
    which the backup run reserved a copy slot.

    Kept per execution environment, across warm invocations (like the clients and rate budgets: the handler's
    `ExecutionEnvironment` holds it and hands it to each invocation's engine), for at
    most CANDIDATES_TTL_S of wall time (a monotonic clock may stand still while Lambda freezes the
    environment between invocations): a copy-finished event then finds the copies in flight and the next
    waiting ones with one lookup by name instead of a full source listing. A stale entry costs nothing unsafe:
    the lookup shows a copy made meanwhile, and a snapshot deleted meanwhile is a copy `skipped` as gone; a
    snapshot newer than the listing is started by its own created event, by copy-waiting or by reconcile.
    """

    def __init__(self) -> None:
        self._by_kind: dict[Kind, tuple[datetime, list[Snapshot], list[Snapshot]]] = {}
        # (kind, name) of source snapshots a lookup found with an available copy of ours: final (only expiry
        # or a person deletes a copy, and reconcile, which lists the destination, copies such a one again),
        # so copy-waiting looks them up no more. Kept only for names still in the latest source listing.
        self._copied: set[tuple[Kind, str]] = set()

    def copied(self) -> set[tuple[Kind, str]]:
        return set(self._copied)

    def keep_copied(self, copied: set[tuple[Kind, str]], source: Iterable[Snapshot], kinds: set[Kind]) -> None:
        """Remember `copied` too, and forget the names of `kinds` no longer in the source listing (`source`,
        of those kinds)."""
        listed = {(snap.kind, snap.identifier) for snap in source if snap.kind in kinds}
        self._copied = {key for key in self._copied | copied if key in listed or key[0] not in kinds}

    def get(self, kind: Kind) -> tuple[list[Snapshot], list[Snapshot]] | None:
        """(waiting, watched), or None when there is no fresh entry."""
        entry = self._by_kind.get(kind)
        if entry is None or (clock.CLOCK.now() - entry[0]).total_seconds() > CANDIDATES_TTL_S:
            return None
        return list(entry[1]), list(entry[2])

    def put(self, kind: Kind, candidates: list[Snapshot], watch: list[Snapshot]) -> None:
        self._by_kind[kind] = (clock.CLOCK.now(), list(candidates), list(watch))

    def update(self, kind: Kind, candidates: list[Snapshot], watch: list[Snapshot]) -> None:
        """Replace an entry's lists, keeping the time of its listing."""
        entry = self._by_kind.get(kind)
        if entry is not None:
            self._by_kind[kind] = (entry[0], list(candidates), list(watch))

    def discard(self, kind: Kind, names: set[str]) -> None:
        entry = self._by_kind.get(kind)
        if entry is not None and names:
            self._by_kind[kind] = (
                entry[0],
                [snap for snap in entry[1] if snap.identifier not in names],
                [snap for snap in entry[2] if snap.identifier not in names],
            )

    def started(self, kind: Kind, snapshot: Snapshot) -> None:
        """Its copy started: no longer waiting, watched until it ends."""
        entry = self._by_kind.get(kind)
        if entry is not None:
            waiting = [snap for snap in entry[1] if snap.identifier != snapshot.identifier]
            watched = [snap for snap in entry[2] if snap.identifier != snapshot.identifier] + [snapshot]
            self._by_kind[kind] = (entry[0], waiting, watched)

    def clear(self) -> None:
        self._by_kind.clear()
        self._copied.clear()


class Copier(Worker):
    """Starts cross-region copies within the limits, and reports, removes and retries failed ones."""

    def __init__(
        self,
        settings: Settings,
        gateway: RdsGateway,
        *,
        now: datetime,
        remaining_ms: Callable[[], int],
        pruner: Pruner,
        waiting: WaitingCandidates,
    ) -> None:
        super().__init__(settings, gateway, now=now, remaining_ms=remaining_ms)
        self.pruner = pruner
        self.waiting = waiting
        # The destination key, read at most once per invocation (`read_key`: reconcile always, another run after
        # RDS refuses a copy for KMS): under a key KMS will not use, no copy can start, so none is tried.
        self.destination_key: KeyGateway | None = None
        self.unusable_key: KeyState | None = None
        self._key_read = False
        self._kms_refused = False

    def read_key(self) -> KeyState | None:
        """The destination key's state (one DescribeKey; None without a gateway), kept as `unusable_key`. Raises
        AwsError when DescribeKey fails; either way `_refused_for_kms` reads it no more in this invocation."""
        if self.destination_key is None:
            return None
        self._key_read = True
        key = self.destination_key.state()
        self.unusable_key = None if key.usable else key
        return key

    def _refused_for_kms(self) -> None:
        """RDS refused a copy with KMSKeyNotAccessibleFault: the destination key, the source snapshot's key or a
        key policy refusing the role. One DescribeKey per invocation, before the next copy it would try, tells
        whether it is the destination key's state; a key that cannot be read changes nothing (each copy goes on
        being tried and reported)."""
        if self._key_read:
            return
        with contextlib.suppress(AwsError):
            self.read_key()

    def copy_created(self, event: SnapshotCreated, *, by_hand: bool = False) -> Report:
        """Start the cross-region copy of one of our snapshots the moment RDS says it exists, if the backup run
        reserved a copy slot for it (`model.COPY_SLOT_TAG`); else leave it to the paths that count the
        copies in flight (copy-waiting, a finished copy, reconcile), so the event never takes this instance over
        its share (copy_concurrency_limit).

        At most 3 RDS calls, whatever the fleet: the source snapshot (ownership, status, ARN, the reserved
        slot), the one destination snapshot with its name, and the copy. Past the share, AWS's own limit may
        still refuse the copy (another instance's copies): the copy is then deferred to the next finished copy,
        copy-waiting or reconcile. `by_hand` (the command line's `copy --snapshot`): a person asked for this
        copy, so it starts without a reserved slot.
        """
        report = Report("copy")
        ident = event.snapshot_identifier
        if not naming.has_our_prefix(self.settings, ident):
            log_decision(
                logging.DEBUG, "not our snapshot (prefix)", action="copy", snapshot=ident, outcome=Result.IGNORED
            )
            return report
        try:
            source = self.aws.find_snapshot(self.aws.source_region, event.kind, ident)
        except AwsError as error:
            self._fail(report, error, target=ident, kind=event.kind, operation=Operation.COPY, snapshot=ident)
            return report
        if source is None:
            report.record(
                Outcome(ident, event.kind, Operation.COPY, Result.SKIPPED, ident, "the snapshot no longer exists")
            )
            return report
        if not naming.is_owned(self.settings, source):
            log_decision(
                logging.DEBUG, "not our snapshot (ownership tag)", action="copy", snapshot=ident, outcome=Result.IGNORED
            )
            return report
        if source.status != "available":
            report.record(
                Outcome(
                    source.target,
                    event.kind,
                    Operation.COPY,
                    Result.DEFERRED,
                    ident,
                    f"source status is {source.status!r}; reconcile copies it",
                )
            )
            return report
        if not copy_state.copy_attempts_left(self.settings, source):
            report.record(
                copy_state.exhausted_copy_outcome(self.settings, source, self.aws.destination_region), lasting=True
            )
            return report
        if not (by_hand or copy_plan.holds_copy_slot(source, self.now)):
            report.record(
                Outcome(
                    source.target,
                    event.kind,
                    Operation.COPY,
                    Result.DEFERRED,
                    ident,
                    "no copy slot was reserved for it (this instance's share of copies in flight is taken, or the "
                    "snapshot is not from a scheduled round); copy-waiting, a finished copy or reconcile starts it "
                    "within the share",
                    "Nothing to do.",
                )
            )
            return report
        region = self.aws.destination_region
        try:
            existing = self.aws.find_snapshot(region, event.kind, ident)
        except AwsError as error:
            self._fail(report, error, target=source.target, kind=event.kind, operation=Operation.COPY, snapshot=ident)
            return report
        state = copy_state.copy_state(self.settings, existing)
        if state is CopyState.FAILED:
            report.record(
                Outcome(
                    source.target,
                    event.kind,
                    Operation.COPY,
                    Result.DEFERRED,
                    ident,
                    f"its copy in {region} ended failed; reconcile reports, removes and retries it",
                )
            )
        elif state is not CopyState.ABSENT:
            report.record(
                copy_state.name_taken_outcome(
                    self.settings,
                    operation=Operation.COPY,
                    target=source.target,
                    kind=event.kind,
                    name=ident,
                    region=region,
                    existing=existing,
                    note="duplicate event" if state is not CopyState.FOREIGN else "",
                ),
                lasting=True,
            )
        else:
            self.copy(report, source, CopyPath.EVENT)
        return report

    def copy(
        self, report: Report, source: Snapshot, path: CopyPath, pruned_for_quota: set[Kind] | None = None
    ) -> Outcome:
        """Start one copy and record its outcome; what a refusal leads to is `copy_state.after_copy_error`'s.

        `pruned_for_quota`: the kinds a sweep has pruned the destination for already in this run (at most once
        per kind); an event path prunes nothing.
        """
        region = self.aws.destination_region
        option_group = option_groups.for_copy(self.settings, source)
        if option_group.missing is not None:  # RDS would refuse it: a lasting failure until a person maps one
            outcome = option_groups.unmapped_copy(self.settings, source, option_group.missing)
            report.record(outcome, lasting=True)
            return outcome
        try:
            self.aws.copy_snapshot(source, self.settings.destination_kms_key_arn, option_group.name)
        except AwsError as error:
            verdict = copy_state.after_copy_error(error, path)
            if verdict is AfterCopyError.DUPLICATE:
                outcome = Outcome(
                    source.target,
                    source.kind,
                    Operation.COPY,
                    Result.EXISTS,
                    source.identifier,
                    f"the copy was started in {region} meanwhile (duplicate event); reconcile checks it",
                )
                report.record(outcome)
                return outcome
            if verdict is AfterCopyError.CHECK_EXISTING:
                return self._already_exists(
                    report, source.kind, source.target, source.identifier, region, Operation.COPY
                )
            if verdict is AfterCopyError.DEFER_TO_RECONCILE:
                outcome = Outcome(
                    source.target,
                    source.kind,
                    Operation.COPY,
                    Result.DEFERRED,
                    source.identifier,
                    f"manual snapshot quota reached in {region}; reconcile prunes expired snapshots and retries",
                )
                report.record(outcome)
                return outcome
            if verdict is AfterCopyError.PRUNE_AND_RETRY and self.pruner.pruned_for_quota(
                report,
                source.kind,
                source.target,
                Operation.COPY,
                error,
                pruned_for_quota if pruned_for_quota is not None else set(),
            ):
                try:
                    self.aws.copy_snapshot(source, self.settings.destination_kms_key_arn, option_group.name)
                except AwsError as retry_error:
                    error = retry_error
                else:
                    return self._copy_started(report, source, "started after pruning")
            if error.code == "KMSKeyNotAccessibleFault":
                self._kms_refused = True  # `_start_copies` reads the key before its next copy
            return self._fail(
                report,
                error,
                target=source.target,
                kind=source.kind,
                operation=Operation.COPY,
                snapshot=source.identifier,
            )
        return self._copy_started(report, source)

    def _copy_started(self, report: Report, source: Snapshot, note: str = "") -> Outcome:
        region = self.aws.destination_region
        if source.copy_takes_key:
            reason = f"copy to {region} with key {self.settings.destination_kms_key_arn}"
            fix = ""
        else:
            reason = (
                f"copy to {region} UNENCRYPTED: the cluster snapshot is unencrypted and RDS "
                "cannot encrypt a cluster snapshot on copy"
            )
            fix = (
                "Encrypt the cluster (restore it from an encrypted snapshot) to have its copies under the "
                "destination key (output kms_key_arn)."
            )
        outcome = Outcome(
            source.target,
            source.kind,
            Operation.COPY,
            Result.STARTED,
            source.identifier,
            join_reason(reason, note),
            fix,
        )
        report.record(outcome)
        return outcome

    def defer(self, report: Report, snapshots: Iterable[Snapshot], reason: str) -> list[Outcome]:
        deferred = [
            Outcome(
                snap.target,
                snap.kind,
                Operation.COPY,
                Result.DEFERRED,
                snap.identifier,
                reason,
                "Nothing to do: reconcile starts the copy later.",
            )
            for snap in snapshots
        ]
        for outcome in deferred:
            report.record(outcome)
        return deferred

    def copy_missing(
        self, report: Report, source: list[Snapshot], destination: list[Snapshot], wanted: set[str] | None
    ) -> list[Outcome]:
        """Act on each owned source snapshot's copy state: report foreign names and exhausted attempts,
        report/remove failed copies, start missing copies within the limit and defer the rest. Returns the
        outcomes of the copies it started or deferred (also recorded in `report`)."""
        region = self.aws.destination_region
        plan = copy_plan.plan_copies(self.settings, source, destination, wanted, now=self.now)
        for snap in plan.foreign:
            report.record(
                copy_state.name_taken_outcome(
                    self.settings,
                    operation=Operation.COPY,
                    target=snap.target,
                    kind=snap.kind,
                    name=snap.identifier,
                    region=region,
                    existing=next(d for d in destination if (d.kind, d.identifier) == (snap.kind, snap.identifier)),
                ),
                lasting=True,
            )
        for snap in plan.exhausted:
            report.record(copy_state.exhausted_copy_outcome(self.settings, snap, region), lasting=True)
        for snap, group in plan.unmapped:
            report.record(option_groups.unmapped_copy(self.settings, snap, group), lasting=True)
        for snap, newer in plan.superseded:
            self._skip(
                report,
                snap,
                copy_plan.superseded_reason(self.settings, newer) + "; source retention deletes it",
                copy_plan.SUPERSEDED_FIX,
            )
        for snap, failed_copy in plan.failed:
            self._remove_failed_copy(report, snap, failed_copy)
        outcomes = self._start_copies(report, plan.start)
        if plan.defer:
            outcomes += self.defer(
                report,
                plan.defer,
                f"copy concurrency limit {self.settings.copy_concurrency_limit} reached "
                f"({plan.in_flight} in progress in {region})",
            )
        return outcomes

    def _start_copies(self, report: Report, snapshots: list[Snapshot]) -> list[Outcome]:
        """Start the copies in order until the time budget runs out; once RDS refuses a copy for the copy limit,
        defer the rest of that kind. Returns the copy outcome of each snapshot (also recorded in `report`)."""
        pending = list(snapshots)
        pruned_for_quota: set[Kind] = set()
        refused: set[Kind] = set()  # AWS counts each kind's copies apart: a refusal stops only that kind
        outcomes: list[Outcome] = []
        while pending:
            if self.out_of_time():
                outcomes += self.defer(report, pending, TIME_BUDGET_REASON)
                break
            snap = pending.pop(0)
            if self._kms_refused:
                self._refused_for_kms()
            if self.unusable_key is not None:
                outcomes += self._skip_for_key(report, [snap, *pending])
                break
            if snap.kind in refused:
                outcomes += self.defer(
                    report, [snap], f"RDS refused more {snap.kind} copies to {self.aws.destination_region}"
                )
                continue
            outcome = self.copy(report, snap, CopyPath.SWEEP, pruned_for_quota)
            outcomes.append(outcome)
            if not copy_plan.may_copy_more(outcome):
                refused.add(snap.kind)
        return outcomes

    def _skip_for_key(self, report: Report, snapshots: Iterable[Snapshot]) -> list[Outcome]:
        """Copies not tried: the destination key is one KMS will not use, so RDS would refuse each. Skipped, not
        deferred (no slot frees them): the first reconcile after a person enables the key starts them."""
        key = self.unusable_key
        assert key is not None
        return [
            self._skip(
                report,
                snap,
                f"the destination KMS key is {key.describe()}: RDS refuses every copy under it",
                "Nothing to do for this snapshot: the key's own outcome says what to do, and the first reconcile "
                "after the key is enabled copies it.",
            )
            for snap in snapshots
        ]

    @staticmethod
    def _skip(report: Report, snap: Snapshot, reason: str, fix: str) -> Outcome:
        """A copy not started, for good or until a person acts (not deferred: no free slot starts it)."""
        outcome = Outcome(snap.target, snap.kind, Operation.COPY, Result.SKIPPED, snap.identifier, reason, fix)
        report.record(outcome)
        return outcome

    def _remove_failed_copy(self, report: Report, source: Snapshot, failed_copy: Snapshot) -> None:
        """A copy of ours ended failed: count it on the source, delete it (it is ours), report it.

        The count goes on the source first: if the delete then fails, the next run counts the same copy
        again (the attempts run out sooner, never later); if the tag fails, the copy is left for the next run.
        """
        failures = source.copy_failures + 1
        try:
            self.aws.tag_snapshot(source, {model.COPY_FAILURES_TAG: str(failures)})
            self.aws.delete_snapshot(failed_copy)
        except AwsError as error:
            self._fail(
                report,
                error,
                target=source.target,
                kind=source.kind,
                operation=Operation.COPY,
                snapshot=source.identifier,
                note=f"its copy in {failed_copy.region} ended failed and could not be removed",
            )
            return
        report.record(copy_state.failed_copy_outcome(self.settings, source, failed_copy.region, failures))

    # --- cross-region copy finished (event from the destination region) -------------------------------

    def copy_finished(self, event: CopyFinished) -> Report:
        """A cross-region copy finished (RDS-EVENT-0060) or was canceled/failed (RDS-EVENT-0061) in the
        destination: a copy slot is free, so start the next waiting copies now rather than at reconcile.

        A failed copy is handled as reconcile does (report, count on the source, delete). Then one copy starts
        if the share has a slot free (`copy_plan.plan_refill`, counted from the copies in flight): an event
        delivered twice finds its slot refilled and starts nothing. Only one, for the slot this event freed:
        another copy's event may be handled at this moment, and both would fill its slot. When more slots are
        free, copy-waiting is switched on to look again within minutes (RDS may not have delivered an event).
        Calls: those of `_next_waiting` and the copy; never a destination listing. A refused copy is deferred,
        as on the event path.
        """
        report = Report("copy-finished")
        ident = event.snapshot_identifier
        region = self.aws.destination_region
        if (event.region and event.region != region) or not naming.has_our_prefix(self.settings, ident):
            log_decision(
                logging.DEBUG,
                "not a copy of ours into the destination region",
                action="copy-finished",
                snapshot=ident,
                region=event.region,
                outcome=Result.IGNORED,
            )
            return report
        if event.failed:
            self._copy_ended_failed(report, event)
        # Not the copy that just ended: a failed one is copied again by a later run, once its deletion is done.
        self._start_next_copies(report, event.kind, exclude=ident)
        if any(o.operation == Operation.COPY and o.outcome == Result.STARTED for o in report.outcomes):
            # A retry of this invocation would start another copy for the same freed slot, over the share:
            # its failures (a failed copy it reported, one it could not remove) are reported, not raised;
            # reconcile lists the destination and deals with what is left.
            report.keep_failures_from_retry()
        return report

    def _copy_ended_failed(self, report: Report, event: CopyFinished) -> None:
        ident = event.snapshot_identifier
        try:
            copy = self.aws.find_snapshot(self.aws.destination_region, event.kind, ident)
            if copy_state.copy_state(self.settings, copy) is not CopyState.FAILED or copy is None:
                return  # gone, retried already, or not ours: reconcile has the full picture
            source = self.aws.find_snapshot(self.aws.source_region, event.kind, ident)
        except AwsError as error:
            self._fail(report, error, target=ident, kind=event.kind, operation=Operation.COPY, snapshot=ident)
            return
        if source is None or not naming.is_owned(self.settings, source):
            return
        self._remove_failed_copy(report, source, copy)

    # --- copies waiting for a slot (scheduled every few minutes) ------------------------------------

    def copy_waiting(self, report: Report) -> None:
        """Fill the free copy slots with the copies that wait for one.

        RDS announces no finished cluster snapshot copy, and its instance copy events are best effort, so
        without this a freed slot would wait for the next reconcile. Each database's newest owned, available
        source snapshot without a copy waits; older ones are reconcile's business. Calls: the source listing
        of each kind, the lookups of `_plan_waiting`, and the copies; no target discovery, and no destination
        listing unless its manual snapshot quota refuses a copy (then `copy` prunes that kind there and
        retries once, as in reconcile). When nothing is left waiting and no snapshot of ours is being made, it
        switches its own schedule off (`_switch_copy_waiting`): the backup run and reconcile switch it on again
        when copies wait.
        """
        source = self._list(report, self.aws.source_region, BOTH_KINDS)
        if source is None:
            return
        try:
            plan, watch = self._plan_waiting(source, BOTH_KINDS)
        except AwsError as error:
            self._fail(report, error, target="*", kind="*", operation=Operation.DISCOVER)
            return
        for kind in BOTH_KINDS:  # what the copy-finished events take the next copy from, until the next run
            self.waiting.put(kind, [s for s in plan.queue if s.kind is kind], [s for s in watch if s.kind is kind])
        after = copy_plan.after_starting(self._start_copies(report, plan.start))
        started = after.holding
        for snap in plan.start:
            if (snap.kind, snap.identifier) in started:
                self.waiting.started(snap.kind, snap)
        for dropped_kind, name in sorted(after.dropped):
            self.waiting.discard(Kind(dropped_kind), {name})
        log_decision(
            logging.INFO,
            "copies waiting for a slot",
            action=report.action,
            waiting=len(plan.queue) - len(plan.start),
            in_flight=plan.own_in_flight,
        )
        waiting = Counter(snap.kind for snap in plan.queue if (snap.kind, snap.identifier) not in started)
        if self.unusable_key is not None:
            # No copy can start until a person enables the key; reconcile, which reads the key, switches this
            # schedule on again once it is.
            self._switch_copy_waiting(
                report, False, f"the destination KMS key is {self.unusable_key.describe()}: no copy can start"
            )
        elif not copy_plan.copy_waiting_reason(
            waiting, copy_plan.snapshots_being_made(self.settings, source), slot_was_free=bool(started)
        ):
            # Nothing left for this schedule: the next backup run, or a reconcile that finds copies waiting,
            # switches it on again.
            self._switch_copy_waiting(
                report,
                False,
                "no snapshot is being made, no cluster copy waits, and the instance copies that wait "
                f"({waiting[Kind.INSTANCE]}) start from the copy-finished events",
            )

    def _plan_waiting(
        self, source: list[Snapshot], kinds: Iterable[Kind], exclude: str = ""
    ) -> tuple[WaitingCopies, list[Snapshot]]:
        """The waiting copies of `kinds` (not `exclude`) in the order they start, and those to start now.

        Calls: one destination lookup per 100 candidates of a kind not already known (in this execution
        environment) to have an available copy, and one per 100 older owned snapshots not known to be copied:
        their copies in flight hold slots too (reconcile copies older snapshots), and once found available a
        name is not looked up again in this environment. Where more copies of a kind wait than its room (a kind
        with no room is left as it is), which go first matters: the previous snapshots among the older ones tell
        which databases missed the previous round, and those go first (`copy_plan.copy_priority`), so a limit
        that cannot take a whole round delays each database in turn. Also returns what a copy-finished event
        watches (`copy_plan.plan_refill`): the snapshots whose copy is in flight, and those still being made.
        """
        region = self.aws.destination_region
        wanted = set(kinds)
        copied = self.waiting.copied()
        candidates = [
            snap
            for snap in copy_plan.waiting_copy_candidates(self.settings, source)
            if snap.kind in wanted and (snap.kind, snap.identifier) not in copied and snap.identifier != exclude
        ]
        # The owned snapshots older than the candidates, not known to be copied: their copies in flight (a
        # backlog, or reconcile catching up) hold slots too, and the previous ones tell the copy order.
        chosen = {(snap.kind, snap.identifier) for snap in candidates}
        older = [
            snap
            for snap in source
            if snap.kind in wanted
            and (snap.kind, snap.identifier) not in chosen
            and (snap.kind, snap.identifier) not in copied
            and snap.identifier != exclude
            and copy_state.is_owned_available(self.settings, snap)
        ]
        found = self._find(region, candidates)
        older_found = self._find(region, older)
        found = found + older_found
        reserved = copy_plan.reserved_copy_slots(self.settings, source, self.now)
        plan = copy_plan.plan_waiting_copies(self.settings, candidates, found, reserved=reserved)
        contested = set()
        for kind in wanted:
            may_start = sum(1 for snap in plan.start if snap.kind is kind)
            if 0 < may_start < sum(1 for snap in plan.queue if snap.kind is kind):
                contested.add(kind)
        if contested:
            waiting = [snap for snap in plan.queue if snap.kind in contested]
            previous = copy_plan.previous_snapshots(self.settings, source, waiting)
            points = copy_plan.recovery_points_from_previous(self.settings, previous, older_found, copied)
            plan = copy_plan.plan_waiting_copies(self.settings, candidates, found, points, reserved)
        self.waiting.keep_copied(
            {
                (snap.kind, snap.identifier)
                for snap in found
                if copy_state.copy_state(self.settings, snap) is CopyState.AVAILABLE
            },
            source,
            wanted,
        )
        in_flight = {
            (snap.kind, snap.identifier)
            for snap in found
            if copy_state.is_copy_in_flight(self.settings, snap) and naming.is_owned(self.settings, snap)
        }
        watch = [snap for snap in candidates + older if (snap.kind, snap.identifier) in in_flight]
        # Snapshots still being made: another invocation may start their copy once they are available, and
        # those copies hold slots too (a holder of a reserved slot holds one already).
        watch += [
            snap
            for snap in source
            if snap.kind in wanted and snap.status == "creating" and naming.is_owned(self.settings, snap)
        ]
        return plan, watch

    def _still_waiting(self, kind: Kind, candidate: Snapshot) -> Snapshot | None:
        """The candidate as RDS describes it now, if it still waits for a copy; else None (and forgotten)."""
        fresh = self.aws.find_snapshot(self.aws.source_region, kind, candidate.identifier)
        if fresh is not None and copy_plan.waiting_copy_candidates(self.settings, [fresh]):
            return fresh
        self.waiting.discard(kind, {candidate.identifier})
        return None

    def _start_next_copies(self, report: Report, kind: Kind, exclude: str) -> None:
        if self.out_of_time():
            return
        try:
            waiting, listed = self._next_waiting(kind, exclude)
        except AwsError as error:
            self._fail(report, error, target="*", kind=kind, operation=Operation.DISCOVER)
            return
        if not waiting:
            log_decision(
                logging.INFO,
                "no copy waiting, or no copy slot free",
                action=report.action,
                kind=str(kind),
                outcome=Result.SKIPPED,
            )
            return
        for position, snap in enumerate(waiting):
            if self.out_of_time():
                return
            fresh = snap if listed else self._still_waiting(kind, snap)
            if fresh is None:
                continue  # gone or out of attempts since the listing: the next one takes the slot
            outcome = self.copy(report, fresh, CopyPath.EVENT)
            if outcome.outcome == Result.EXISTS:
                # another invocation started it a moment ago: its copy holds a slot, so watch it
                self.waiting.started(kind, fresh)
                continue
            if outcome.outcome == Result.STARTED:
                self.waiting.started(kind, fresh)
                if position + 1 < len(waiting):
                    # More slots are free than this event freed: another copy's event is on its way (it starts
                    # that copy itself, so this one does not), or RDS did not deliver it. Copy-waiting looks
                    # again within minutes and fills a slot still free then.
                    self._switch_copy_waiting(
                        report, True, "a copy slot is free with copies waiting (a copy-finished event may be lost)"
                    )
                return  # one copy for the one slot this event freed
            if copy_plan.may_copy_more(outcome):
                self.waiting.discard(kind, {fresh.identifier})
            else:
                return  # refused at the limit: it stays a candidate

    def _next_waiting(self, kind: Kind, exclude: str) -> tuple[list[Snapshot], bool]:
        """The waiting copies of `kind` (not `exclude`) to start now, as many as the share has free: from the
        warm environment's candidates when they are fresh enough (one lookup of the watched names and the
        first waiting ones, `copy_plan.plan_refill`; one more per 100 waiting names only when the room is
        larger than the waiting ones found), else from a new source listing (`_plan_waiting`, which orders them
        for this and the next events). True with those from a listing just made; those from the warm
        environment's candidates have their source snapshot read again before their copy starts
        (`_still_waiting`)."""
        cached = self.waiting.get(kind)
        if cached is None:
            source = self.aws.list_manual_snapshots(self.aws.source_region, kind)
            plan, watch = self._plan_waiting(source, [kind], exclude=exclude)
            self.waiting.put(kind, plan.queue, watch)
            return [snap for snap in plan.start if snap.kind is kind], True
        queue, watch = cached
        queue = [snap for snap in queue if snap.identifier != exclude]
        watch = [snap for snap in watch if snap.identifier != exclude]
        looked = max(0, LOOKUP_BATCH - len(watch))
        names = [snap.identifier for snap in watch + queue[:looked]]
        found = self.aws.find_snapshots(self.aws.destination_region, kind, names)
        refill = copy_plan.plan_refill(self.settings, kind, queue[:looked], watch, found, self.now)
        # The room is larger than the waiting ones of the first lookup (those found were taken meanwhile): look
        # further down the queue, 100 names at a time, until the room is filled.
        while len(refill.start) < refill.room and looked < len(queue):
            batch = queue[looked : looked + LOOKUP_BATCH]
            found += self.aws.find_snapshots(self.aws.destination_region, kind, [s.identifier for s in batch])
            looked += len(batch)
            refill = copy_plan.plan_refill(self.settings, kind, queue[:looked], watch, found, self.now)
        watched = {snap.identifier for snap in refill.watch}
        self.waiting.update(
            kind,
            [snap for snap in queue if snap.identifier not in refill.done and snap.identifier not in watched],
            refill.watch,
        )
        return refill.start, False
