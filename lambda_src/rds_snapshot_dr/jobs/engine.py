"""The snapshot engine: backup, copy on the snapshot-created event, and reconcile.

It strings together the rules (pure, `rules`) and AWS calls (`gateway`), turns each expected error into a
target outcome, and never sleeps or waits: each invocation starts work and returns.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rds_snapshot_dr.core.logs import log_decision
from rds_snapshot_dr.core.metrics import QUOTA_KINDS, QuotaUse, RecoveryPoint
from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.gateway.aws import KeyGateway, RdsGateway, ScheduleGateway
from rds_snapshot_dr.jobs.copier import Copier, WaitingCandidates
from rds_snapshot_dr.jobs.pruner import Pruner
from rds_snapshot_dr.jobs.worker import BOTH_KINDS, TIME_BUDGET_REASON, Report, Worker, join_reason
from rds_snapshot_dr.rules import copy_plan, copy_state, model, naming, recovery_point, rounds, schedule
from rds_snapshot_dr.rules import selection as selection_rules
from rds_snapshot_dr.rules.errors import ALREADY_EXISTS, QUOTA, AwsError
from rds_snapshot_dr.rules.events import ActionRequest, CopyFinished, IgnoredEvent, SnapshotCreated
from rds_snapshot_dr.rules.model import Database, Kind, Operation, Outcome, Result, Snapshot
from rds_snapshot_dr.rules.recovery_point import KeyState
from rds_snapshot_dr.rules.selection import TargetSelection

__all__ = ["TIME_BUDGET_REASON", "Engine", "Report"]

RETAKE_FIX = (
    "Usually transient. When the database is available again, reconcile retakes the snapshot of the latest "
    "full backup round; to take it now invoke the function with "
    '{{"action": "backup", "targets": ["{target}"]}}.'
)


@functools.lru_cache(maxsize=8)
def schedule_zone(name: str) -> tzinfo | None:
    """The backup schedule's time zone, or None (logged) where this runtime has no rules for it: reconcile
    then finds missed rounds from the round tags alone."""
    if name.upper() in ("UTC", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        log_decision(
            logging.WARNING,
            "backup schedule time zone unknown",
            operation=Operation.SNAPSHOT,
            outcome=Result.SKIPPED,
            reason=f"no time zone rules for {name!r} ({error}); a backup round that left no snapshot at all "
            "is retaken only once the next round has run",
            fix="Report it: the function's runtime should carry the IANA time zone database.",
        )
        return None


class Engine(Worker):
    """Backup, reconcile and the events, orchestrated over one gateway: copying and pruning are collaborators."""

    def __init__(
        self,
        settings: Settings,
        gateway: RdsGateway,
        *,
        now: datetime,
        remaining_ms: Callable[[], int],
        copy_waiting_schedule: ScheduleGateway | None = None,
        destination_key: KeyGateway | None = None,
        waiting: WaitingCandidates | None = None,
    ) -> None:
        """`waiting`: the execution environment's waiting-copy candidates, kept across warm invocations (the
        handler's); None = a new, empty one (the command line, one run)."""
        super().__init__(settings, gateway, now=now, remaining_ms=remaining_ms)
        self.pruner = Pruner(settings, gateway, now=now, remaining_ms=remaining_ms)
        self.copier = Copier(
            settings,
            gateway,
            now=now,
            remaining_ms=remaining_ms,
            pruner=self.pruner,
            waiting=waiting if waiting is not None else WaitingCandidates(),
        )
        self.copier.copy_waiting_schedule = self.copy_waiting_schedule = copy_waiting_schedule
        self.copier.destination_key = destination_key  # None: its state is not read (copies under it all count)

    # --- helpers ---------------------------------------------------------------------------------

    def _discover(self, report: Report, requested: Iterable[str] | None) -> TargetSelection | None:
        try:
            instances = self.aws.list_instances()
            clusters = self.aws.list_clusters()
        except AwsError as error:
            self._fail(report, error, target="*", kind="", operation=Operation.DISCOVER)
            return None
        selection = selection_rules.targets(
            self.settings, instances, clusters, list(requested) if requested is not None else None
        )
        for problem in selection.problems:
            report.record(problem)
        for refused in selection.refused:  # AWS offers no copy: a retry cannot change it
            report.record(refused, lasting=True)
        return selection

    # --- backup ----------------------------------------------------------------------------------

    def backup(self, request: ActionRequest) -> Report:
        """Start one manual snapshot per target whose state allows it, named from the scheduled time.

        A backup of all targets (no `targets` subset) is a full backup round: its snapshots carry the
        round's stamp, so reconcile can retake the ones the round missed.
        """
        report = Report("backup")
        selection = self._discover(report, request.targets)
        if selection is None:
            return report
        backup_round = model.round_stamp(request.scheduled_time) if request.targets is None else None
        slots = self._reserve_copy_slots(selection.targets, request.scheduled_time)
        self._snapshot_all(report, selection.targets, request.scheduled_time, backup_round, copy_slots=slots)
        started = report.metrics.counts["SnapshotsStarted"]
        if started:
            self._switch_copy_waiting(report, True, copy_plan.copy_waiting_reason({}, started))
        return report

    def _reserve_copy_slots(self, databases: list[Database], scheduled: datetime) -> set[tuple[Kind, str]]:
        """The databases whose new snapshot may start its copy from its own snapshot-created event
        (`copy_plan.copy_slots_for_round`). Calls: one destination lookup per 100 databases of a kind, by the
        names of the previous scheduled round, the source listing of each kind and one destination lookup per 100
        owned source snapshots older than that round (whose copies, when still to come, are a backlog: then no slot
        is reserved); none when that round is not known (a rate() schedule)."""
        settings = self.settings
        previous_time = schedule.latest_scheduled_time(
            settings.backup_schedule_expression,
            schedule_zone(settings.backup_schedule_timezone),
            scheduled - timedelta(minutes=1),
            timedelta(days=8),  # a weekly schedule's previous round too; older rounds' copies are long done
        )
        previous: list[Snapshot] | None = None
        backlog: list[Snapshot] = []
        if previous_time is not None:
            try:
                previous = self._round_copies(databases, previous_time)
                # A backlog of more than a round (after an outage): owned snapshots older than the previous round
                # whose copy is still to come (sources are deleted once copied and past source retention).
                older = [
                    snap
                    for kind in BOTH_KINDS
                    for snap in self.aws.list_manual_snapshots(self.aws.source_region, kind)
                    if copy_state.is_owned_available(settings, snap)
                    and (stamp := model.stamp_of(snap.identifier)) is not None
                    and stamp < previous_time
                ]
                backlog = copy_plan.copy_backlog(settings, older, self._find(self.aws.destination_region, older))
            except AwsError as error:
                previous = None
                reason = f"the previous round's copies could not be read: {error}"
            else:
                reason = ""
        else:
            reason = "the backup schedule's previous round is not known (a rate() schedule)"
        if backlog:
            reason = (
                f"{len(backlog)} older snapshots still wait for their copy (a backlog): no slot is reserved, and "
                "this round's copies start from the paths that count the copies in flight"
            )
        slots = copy_plan.copy_slots_for_round(settings, databases, scheduled, previous, backlog)
        log_decision(
            logging.INFO,
            "copy slots reserved for the snapshot-created events",
            action="backup",
            operation=Operation.COPY,
            outcome=Result.RESERVED,
            reason=reason or f"{len(slots)} of {len(databases)} databases",
        )
        return slots

    def _round_copies(self, databases: list[Database], round_time: datetime) -> list[Snapshot]:
        """What the destination holds under the names of the databases' snapshots of one round: one lookup per
        100 databases of a kind."""
        found: list[Snapshot] = []
        for kind in BOTH_KINDS:
            names = [
                naming.snapshot_name(self.settings.snapshot_prefix, db.identifier, round_time)
                for db in databases
                if db.kind is kind
            ]
            if names:
                found.extend(self.aws.find_snapshots(self.aws.destination_region, kind, names))
        return found

    def _snapshot_all(
        self,
        report: Report,
        databases: list[Database],
        scheduled: datetime,
        backup_round: str | None,
        note: str = "",
        started: str = "",
        copy_slots: set[tuple[Kind, str]] | None = None,
    ) -> None:
        """Start the snapshot of each database in turn; defer the rest when the time budget runs out.

        `note` prefixes the reason of every outcome (what this snapshot is for), `started` the one of a start.
        The snapshots of `copy_slots` databases carry the reserved copy slot (`model.COPY_SLOT_TAG`).
        """
        pruned_for_quota: set[Kind] = set()
        copy_slots = copy_slots or set()
        for position, db in enumerate(databases):
            if self.out_of_time():
                for rest in databases[position:]:
                    name = naming.snapshot_name(self.settings.snapshot_prefix, rest.identifier, scheduled)
                    report.record(
                        Outcome(
                            rest.identifier,
                            rest.kind,
                            Operation.SNAPSHOT,
                            Result.DEFERRED,
                            name,
                            join_reason(note, TIME_BUDGET_REASON),
                        )
                    )
                break
            self._snapshot(
                report,
                db,
                scheduled,
                pruned_for_quota,
                backup_round=backup_round,
                note=note,
                started=started,
                copy_slot=(db.kind, db.identifier) in copy_slots,
            )

    def _snapshot(
        self,
        report: Report,
        db: Database,
        scheduled: datetime,
        pruned_for_quota: set[Kind],
        *,
        backup_round: str | None = None,
        note: str = "",
        started: str = "",
        copy_slot: bool = False,
    ) -> None:
        name = naming.snapshot_name(self.settings.snapshot_prefix, db.identifier, scheduled)
        if not selection_rules.can_snapshot(db):
            report.record(
                Outcome(
                    db.identifier,
                    db.kind,
                    Operation.SNAPSHOT,
                    Result.SKIPPED,
                    name,
                    join_reason(
                        note, f"{db.kind} status is {db.status!r}; RDS takes a snapshot only when it is available"
                    ),
                    RETAKE_FIX.format(target=db.identifier),
                )
            )
            return
        limit = model.MAX_SNAPSHOT_ID_LENGTH[db.kind]
        if len(name) > limit:
            report.record(
                Outcome(
                    db.identifier,
                    db.kind,
                    Operation.SNAPSHOT,
                    Result.FAILED,
                    name,
                    join_reason(
                        note,
                        f"snapshot identifier is {len(name)} characters; RDS allows {limit} for a {db.kind} snapshot",
                    ),
                    "Shorten snapshot_prefix.",
                )
            )
            return
        tags = naming.snapshot_tags(self.settings, db, backup_round, copy_slot)
        after = ""
        try:
            self.aws.create_snapshot(db, name, tags)
        except AwsError as error:
            if error.code in ALREADY_EXISTS:
                self._already_exists(
                    report, db.kind, db.identifier, name, self.aws.source_region, Operation.SNAPSHOT, note
                )
                return
            if not (
                error.code == QUOTA
                and self.pruner.pruned_for_quota(
                    report, db.kind, db.identifier, Operation.SNAPSHOT, error, pruned_for_quota
                )
            ):
                self._fail(
                    report,
                    error,
                    target=db.identifier,
                    kind=db.kind,
                    operation=Operation.SNAPSHOT,
                    snapshot=name,
                    note=note,
                )
                return
            try:
                self.aws.create_snapshot(db, name, tags)
            except AwsError as retry_error:
                self._fail(
                    report,
                    retry_error,
                    target=db.identifier,
                    kind=db.kind,
                    operation=Operation.SNAPSHOT,
                    snapshot=name,
                    note=note,
                )
                return
            after = "started after pruning"
        report.record(
            Outcome(db.identifier, db.kind, Operation.SNAPSHOT, Result.STARTED, name, join_reason(note, started, after))
        )

    # --- events ----------------------------------------------------------------------------------

    def copy_created(self, event: SnapshotCreated, *, by_hand: bool = False) -> Report:
        """Start the cross-region copy of one of our snapshots the moment RDS says it exists (if the backup run
        reserved a copy slot for it, or `by_hand`)."""
        return self.copier.copy_created(event, by_hand=by_hand)

    def copy_finished(self, event: CopyFinished) -> Report:
        """A cross-region copy ended in the destination: start the next waiting copy."""
        return self.copier.copy_finished(event)

    # --- reconcile -------------------------------------------------------------------------------

    def reconcile(self, request: ActionRequest) -> Report:
        """Copy what has no copy yet, prune expired snapshots, retake what the latest backup round missed,
        publish recovery point age and quota use."""
        report = Report("reconcile")
        selection, wanted, source, destination = self._survey(report, request)
        key = self._unusable_key(report, destination) if destination is not None else None
        copies: list[Outcome] = []
        if source is not None and destination is not None:
            # Prune first: it frees quota for the copies, and its listing is still current.
            deleted: list[Snapshot] = []
            self.pruner.prune(
                report,
                wanted,
                kinds=BOTH_KINDS,
                source=source,
                destination=destination,
                deleted=deleted,
                unusable_key=key,
            )
            # Kept in the listing: its round tag still names the round its target is retaken in.
            self.pruner.remove_failed(report, source, wanted)
            # By ARN: a source and its copy share their name, and pruning a source must not hide its copy.
            gone = {snap.arn for snap in deleted}
            source = [s for s in source if s.arn not in gone]
            destination = [s for s in destination if s.arn not in gone]
            copies = self.copier.copy_missing(report, source, destination, wanted)
        if source is not None and selection is not None:
            self._retake_missed_round(report, selection.targets, source)
        if source is not None:
            # Deferred copies wait for a slot: reconcile filled every free one, so instance copies go on from
            # the copy-finished events, cluster copies need copy-waiting (`copy_plan.copy_waiting_reason`).
            waiting = copy_plan.deferred_by_kind(copies)
            started = report.metrics.counts["SnapshotsStarted"]
            reason = copy_plan.copy_waiting_reason(
                waiting, copy_plan.snapshots_being_made(self.settings, source) + started
            )
            if reason:
                self._switch_copy_waiting(report, True, reason)

        if destination is not None and selection is not None:
            restorable = recovery_point.restorable_copies(destination, key)
            ages = recovery_point.recovery_point_age(self.settings, selection.targets, restorable, self.now)
            if ages:
                report.metrics.set("RecoveryPointAgeSeconds", round(max(ages.values()), 3))
            report.metrics.recovery_points = [
                RecoveryPoint(db.identifier, db.kind.value, ages[db.identifier])
                for db in selection.targets
                if db.identifier in ages
            ]
        self._quota(report)
        return report

    def _unusable_key(self, report: Report, destination: list[Snapshot]) -> KeyState | None:
        """The destination key when KMS will not use it (reported as a lasting failure), else None. One DescribeKey
        per reconcile. A key that cannot be read is reported and its copies still count: the function cannot
        tell, and the copy refusals (KMSKeyNotAccessibleFault) say the rest."""
        try:
            key = self.copier.read_key()
        except AwsError as error:
            arn = self.settings.destination_kms_key_arn
            report.record(
                Outcome(
                    "*",
                    "",
                    Operation.KEY,
                    Result.FAILED,
                    "",
                    f"the state of the destination KMS key {arn} could not be read: {error}",
                    f"Allow the function's role kms:DescribeKey on {arn}, in its IAM policy (the module's does) and in "
                    "the key policy.",
                ),
                lasting=True,
            )
            return None
        if key is None or key.usable:
            return None
        under = len(destination) - len(recovery_point.restorable_copies(destination, key))
        report.record(recovery_point.unusable_key_outcome(self.settings, key, under), lasting=True)
        return key

    def copy_missing(self, request: ActionRequest) -> Report:
        """Only the copy step of reconcile: start the copies of owned available snapshots that have none."""
        report = Report("copy")
        _selection, wanted, source, destination = self._survey(report, request)
        if source is not None and destination is not None:
            self.copier.copy_missing(report, source, destination, wanted)
        return report

    def copy_waiting(self, _request: ActionRequest) -> Report:
        """Start the copies that wait for a free slot (the copy-waiting schedule, every few minutes)."""
        report = Report("copy-waiting")
        self.copier.copy_waiting(report)
        return report

    def _survey(
        self, report: Report, request: ActionRequest
    ) -> tuple[TargetSelection | None, set[str] | None, list[Snapshot] | None, list[Snapshot] | None]:
        """Targets, the identifiers a `targets` subset limits the run to (None: all), and the owned-or-not
        manual snapshots of both kinds in each region (None where listing failed)."""
        selection = self._discover(report, request.targets)
        wanted = None
        if request.targets is not None:
            wanted = {db.identifier for db in selection.targets} if selection else set()
        source = self._list(report, self.aws.source_region, BOTH_KINDS)
        destination = self._list(report, self.aws.destination_region, BOTH_KINDS)
        return selection, wanted, source, destination

    def _retake_missed_round(self, report: Report, databases: list[Database], source: list[Snapshot]) -> None:
        """Take, under the round's own name and tags, the snapshots the latest full backup round missed.

        Uses the source listing reconcile already has (no extra call) and the backup's own create path.
        """
        due = schedule.latest_scheduled_time(
            self.settings.backup_schedule_expression,
            schedule_zone(self.settings.backup_schedule_timezone),
            self.now - rounds.ROUND_GRACE,
            timedelta(days=self.settings.source_retention_days),
        )
        missed = rounds.missed_in_latest_round(self.settings, databases, source, self.now, due)
        if missed is None or not missed.missing:
            return
        note = f"missed in backup round {missed.stamp}"
        self._snapshot_all(
            report, missed.missing, missed.scheduled_time, missed.stamp, note, started="retaken by reconcile"
        )

    def _quota(self, report: Report) -> None:
        quotas: list[tuple[str, int, int]] = []
        for region in (self.aws.source_region, self.aws.destination_region):
            try:
                found = self.aws.manual_snapshot_quotas(region)
            except AwsError as error:
                log_decision(
                    logging.WARNING,
                    "manual snapshot quota unknown",
                    action=report.action,
                    operation=Operation.QUOTA,
                    outcome=Result.SKIPPED,
                    reason=str(error),
                    fix=f"Allow rds:DescribeAccountAttributes to the function's role ({region}).",
                )
                continue
            quotas.extend(found)
            report.metrics.quotas.extend(
                QuotaUse(region, QUOTA_KINDS[name], used, maximum)
                for name, used, maximum in found
                if name in QUOTA_KINDS
            )
        percent = recovery_point.quota_used_percent(quotas)
        if percent is not None:
            report.metrics.set("ManualSnapshotQuotaUsedPercent", percent)

    def ignore(self, event: IgnoredEvent) -> Report:
        log_decision(logging.DEBUG, "event ignored", action="event", outcome=Result.IGNORED, reason=event.reason)
        return Report("ignore")
