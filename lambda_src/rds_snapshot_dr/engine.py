"""The snapshot engine: backup, copy on the snapshot-created event, and reconcile.

It strings together decisions (pure) and AWS calls (aws.py), turns each expected error into a
target outcome, and never sleeps or waits: each invocation starts work and returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from . import decisions
from .aws import RdsGateway
from .decisions import Database, Kind, Outcome, Snapshot, TargetSelection
from .errors import ALREADY_EXISTS, QUOTA, AwsError, classify
from .events import ActionRequest, IgnoredEvent, SnapshotCreated
from .logs import log_decision
from .metrics import QUOTA_KINDS, Metrics, QuotaUse, RecoveryPoint
from .settings import Settings

TIME_BUDGET_REASON = "time budget reserve reached; left for the next run (reconcile)"
RETAKE_FIX = (
    "Usually transient. When the database is available again, reconcile retakes the snapshot of the latest "
    "full backup round; to take it now invoke the function with "
    '{{"action": "backup", "targets": ["{target}"]}}.'
)
_LEVELS = {
    "failed": logging.ERROR,
    "deferred": logging.WARNING,
    "warning": logging.WARNING,
    "skipped": logging.INFO,
    "ignored": logging.DEBUG,
}
_BOTH_KINDS = (Kind.INSTANCE, Kind.CLUSTER)
_COUNTERS = {("snapshot", "started"): "SnapshotsStarted", ("copy", "started"): "CopiesStarted"}
_COUNTERS.update({("copy", "deferred"): "CopiesDeferred", ("delete", "deleted"): "SnapshotsDeleted"})
_COUNTERS[("copy", "failed")] = "CopiesFailed"


@dataclass
class Report:
    """Outcomes and metrics of one invocation; becomes the handler's return value."""

    action: str
    outcomes: list[Outcome] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)

    def record(self, outcome: Outcome, message: str = "") -> None:
        self.outcomes.append(outcome)
        counter = _COUNTERS.get((outcome.operation, outcome.outcome))
        if counter:
            self.metrics.add(counter)
        failed_targets = {(o.kind, o.target) for o in self.outcomes if o.failed}
        self.metrics.counts["TargetFailures"] = len(failed_targets)
        log_decision(
            _LEVELS.get(outcome.outcome, logging.INFO),
            message
            or f"{outcome.operation} {outcome.outcome}: {outcome.target}"
            + (f" ({outcome.reason})" if outcome.reason else ""),
            action=self.action,
            **asdict(outcome),
        )

    @property
    def failed(self) -> bool:
        return any(o.failed for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "outcomes": [asdict(o) for o in self.outcomes],
            "metrics": self.metrics.values(),
        }


class Engine:
    def __init__(
        self,
        settings: Settings,
        gateway: RdsGateway,
        *,
        now: datetime,
        remaining_ms: Callable[[], int],
    ) -> None:
        self.settings = settings
        self.aws = gateway
        self.now = now
        self.remaining_ms = remaining_ms

    # --- helpers ---------------------------------------------------------------------------------

    def out_of_time(self) -> bool:
        """Stop starting new work when the invocation's remaining time falls below the reserve."""
        return self.remaining_ms() < self.settings.time_budget_reserve_ms

    def _fail(
        self,
        report: Report,
        error: AwsError,
        *,
        target: str,
        kind: str,
        operation: str,
        snapshot: str = "",
        note: str = "",
    ) -> None:
        c = classify(
            error,
            operation,
            kms_key_arn=self.settings.destination_kms_key_arn if operation == "copy" else "",
            attempts=self.settings.boto_max_attempts,
        )
        outcome = {"exists": "exists", "gone": "skipped"}.get(c.outcome, c.outcome)
        report.record(Outcome(target, str(kind), operation, outcome, snapshot, _join(note, c.reason), c.fix))

    def _discover(self, report: Report, requested: Iterable[str] | None) -> TargetSelection | None:
        try:
            instances = self.aws.list_instances()
            clusters = self.aws.list_clusters()
        except AwsError as error:
            self._fail(report, error, target="*", kind="", operation="discover")
            return None
        selection = decisions.targets(
            self.settings, instances, clusters, list(requested) if requested is not None else None
        )
        for problem in selection.problems:
            report.record(problem)
        return selection

    def _list(self, report: Report, region: str, kinds: Iterable[Kind]) -> list[Snapshot] | None:
        snapshots: list[Snapshot] = []
        for kind in kinds:
            try:
                snapshots.extend(self.aws.list_manual_snapshots(region, kind))
            except AwsError as error:
                self._fail(report, error, target="*", kind=kind, operation="discover")
                return None
        return snapshots

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
        backup_round = decisions.round_stamp(request.scheduled_time) if request.targets is None else None
        self._snapshot_all(report, selection.targets, request.scheduled_time, backup_round)
        return report

    def _snapshot_all(
        self,
        report: Report,
        databases: list[Database],
        scheduled: datetime,
        backup_round: str | None,
        note: str = "",
        started: str = "",
    ) -> None:
        """Start the snapshot of each database in turn; defer the rest when the time budget runs out.

        `note` prefixes the reason of every outcome (what this snapshot is for), `started` the one of a start.
        """
        pruned_for_quota: set[Kind] = set()
        for position, db in enumerate(databases):
            if self.out_of_time():
                for rest in databases[position:]:
                    name = decisions.snapshot_name(self.settings.snapshot_prefix, rest.identifier, scheduled)
                    report.record(
                        Outcome(
                            rest.identifier, rest.kind, "snapshot", "deferred", name, _join(note, TIME_BUDGET_REASON)
                        )
                    )
                break
            self._snapshot(
                report, db, scheduled, pruned_for_quota, backup_round=backup_round, note=note, started=started
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
    ) -> None:
        name = decisions.snapshot_name(self.settings.snapshot_prefix, db.identifier, scheduled)
        if not decisions.can_snapshot(db):
            report.record(
                Outcome(
                    db.identifier,
                    db.kind,
                    "snapshot",
                    "skipped",
                    name,
                    _join(note, f"{db.kind} status is {db.status!r}; RDS takes a snapshot only when it is available"),
                    RETAKE_FIX.format(target=db.identifier),
                )
            )
            return
        limit = decisions.MAX_SNAPSHOT_ID_LENGTH[db.kind]
        if len(name) > limit:
            report.record(
                Outcome(
                    db.identifier,
                    db.kind,
                    "snapshot",
                    "failed",
                    name,
                    _join(
                        note,
                        f"snapshot identifier is {len(name)} characters; RDS allows {limit} for a {db.kind} snapshot",
                    ),
                    "Shorten snapshot_prefix.",
                )
            )
            return
        tags = decisions.snapshot_tags(self.settings, db, backup_round)
        after = ""
        try:
            self.aws.create_snapshot(db, name, tags)
        except AwsError as error:
            if error.code in ALREADY_EXISTS:
                self._already_exists(report, db.kind, db.identifier, name, self.aws.source_region, "snapshot", note)
                return
            if not (error.code == QUOTA and self._pruned_for_quota(report, db, error, pruned_for_quota)):
                self._fail(
                    report, error, target=db.identifier, kind=db.kind, operation="snapshot", snapshot=name, note=note
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
                    operation="snapshot",
                    snapshot=name,
                    note=note,
                )
                return
            after = "started after pruning"
        report.record(Outcome(db.identifier, db.kind, "snapshot", "started", name, _join(note, started, after)))

    def _pruned_for_quota(self, report: Report, db: Database, error: AwsError, pruned_for_quota: set[Kind]) -> bool:
        """On SnapshotQuotaExceeded, prune expired snapshots of that kind once per run; True if any went."""
        if db.kind in pruned_for_quota:
            return False
        pruned_for_quota.add(db.kind)
        log_decision(
            logging.WARNING,
            "snapshot quota reached; pruning expired snapshots before one retry",
            action=report.action,
            target=db.identifier,
            kind=str(db.kind),
            operation="snapshot",
            reason=error.message,
        )
        before = report.metrics.counts["SnapshotsDeleted"]
        self._prune(report, None, kinds=(db.kind,))
        return report.metrics.counts["SnapshotsDeleted"] > before

    def _already_exists(
        self, report: Report, kind: Kind, target: str, name: str, region: str, operation: str, note: str = ""
    ) -> None:
        """A snapshot with our name exists: success if it is ours (a retried event), failure if not."""
        try:
            existing = self.aws.find_snapshot(region, kind, name)
        except AwsError as error:
            self._fail(report, error, target=target, kind=kind, operation=operation, snapshot=name, note=note)
            return
        if existing is not None and decisions.is_owned(self.settings, existing):
            report.record(
                Outcome(
                    target,
                    kind,
                    operation,
                    "exists",
                    name,
                    _join(note, f"already exists in {region} (retried or duplicate event)"),
                )
            )
            return
        report.record(
            Outcome(
                target,
                kind,
                operation,
                "failed",
                name,
                _join(
                    note,
                    f"a snapshot named {name} exists in {region} but does not carry this module instance's "
                    "ownership tag",
                ),
                "Another tool or module instance uses the same name. Give each module instance its own "
                "snapshot_prefix, or rename/delete the foreign snapshot.",
            )
        )

    # --- snapshot created event ------------------------------------------------------------------

    def copy_created(self, event: SnapshotCreated) -> Report:
        """Start the cross-region copy of one of our snapshots the moment RDS says it exists."""
        report = Report("copy")
        ident = event.snapshot_identifier
        if not decisions.has_our_prefix(self.settings, ident):
            log_decision(logging.DEBUG, "not our snapshot (prefix)", action="copy", snapshot=ident, outcome="ignored")
            return report
        try:
            source = self.aws.find_snapshot(self.aws.source_region, event.kind, ident)
        except AwsError as error:
            self._fail(report, error, target=ident, kind=event.kind, operation="copy", snapshot=ident)
            return report
        if source is None:
            report.record(Outcome(ident, event.kind, "copy", "skipped", ident, "the snapshot no longer exists"))
            return report
        if not decisions.is_owned(self.settings, source):
            log_decision(
                logging.DEBUG, "not our snapshot (ownership tag)", action="copy", snapshot=ident, outcome="ignored"
            )
            return report
        if source.status != "available":
            report.record(
                Outcome(
                    source.target,
                    event.kind,
                    "copy",
                    "deferred",
                    ident,
                    f"source status is {source.status!r}; reconcile copies it",
                )
            )
            return report
        destination = self._list(report, self.aws.destination_region, _BOTH_KINDS)
        if destination is None:
            return report
        if any(s.kind is event.kind and s.identifier == ident for s in destination):
            report.record(
                Outcome(source.target, event.kind, "copy", "exists", ident, "the copy already exists (duplicate event)")
            )
            return report
        plan = decisions.plan_copies(self.settings, [source], destination)
        if not plan.start:
            self._defer(report, plan.defer, f"{plan.in_flight} copies in progress in {self.aws.destination_region}")
            return report
        self._copy(report, source)
        return report

    def _copy(self, report: Report, source: Snapshot) -> bool:
        """Start one copy. Returns False when the copy limit refused it (the caller defers the rest)."""
        try:
            self.aws.copy_snapshot(source, self.settings.destination_kms_key_arn)
        except AwsError as error:
            if error.code in ALREADY_EXISTS:
                self._already_exists(
                    report, source.kind, source.target, source.identifier, self.aws.destination_region, "copy"
                )
                return True
            self._fail(
                report, error, target=source.target, kind=source.kind, operation="copy", snapshot=source.identifier
            )
            return report.outcomes[-1].outcome != "deferred"
        if source.copy_takes_key:
            reason = f"copy to {self.aws.destination_region} with key {self.settings.destination_kms_key_arn}"
            fix = ""
        else:
            reason = (
                f"copy to {self.aws.destination_region} UNENCRYPTED: the cluster snapshot is unencrypted and RDS "
                "cannot encrypt a cluster snapshot on copy"
            )
            fix = (
                "Encrypt the cluster (restore it from an encrypted snapshot) to have its copies under "
                "destination_kms_key_arn."
            )
        report.record(Outcome(source.target, source.kind, "copy", "started", source.identifier, reason, fix))
        return True

    def _defer(self, report: Report, snapshots: Iterable[Snapshot], reason: str) -> None:
        for snap in snapshots:
            report.record(
                Outcome(
                    snap.target,
                    snap.kind,
                    "copy",
                    "deferred",
                    snap.identifier,
                    reason,
                    "Nothing to do: reconcile starts the copy later.",
                )
            )

    # --- reconcile -------------------------------------------------------------------------------

    def reconcile(self, request: ActionRequest) -> Report:
        """Copy what has no copy yet, prune expired snapshots, retake what the latest backup round missed,
        publish recovery point age and quota use."""
        report = Report("reconcile")
        selection, wanted, source, destination = self._survey(report, request)
        if source is not None and destination is not None:
            self._copy_missing(report, source, destination, wanted)
            self._prune(report, wanted, kinds=_BOTH_KINDS, source=source, destination=destination)
        if source is not None and selection is not None:
            self._retake_missed_round(report, selection.targets, source)

        if destination is not None and selection is not None:
            ages = decisions.recovery_point_age(self.settings, selection.targets, destination, self.now)
            if ages:
                report.metrics.set("RecoveryPointAgeSeconds", round(max(ages.values()), 3))
            report.metrics.recovery_points = [
                RecoveryPoint(db.identifier, db.kind.value, ages[db.identifier])
                for db in selection.targets
                if db.identifier in ages
            ]
        self._quota(report)
        return report

    def copy_missing(self, request: ActionRequest) -> Report:
        """Only the copy step of reconcile: start the copies of owned available snapshots that have none."""
        report = Report("copy")
        _selection, wanted, source, destination = self._survey(report, request)
        if source is not None and destination is not None:
            self._copy_missing(report, source, destination, wanted)
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
        source = self._list(report, self.aws.source_region, _BOTH_KINDS)
        destination = self._list(report, self.aws.destination_region, _BOTH_KINDS)
        return selection, wanted, source, destination

    def _copy_missing(
        self, report: Report, source: list[Snapshot], destination: list[Snapshot], wanted: set[str] | None
    ) -> None:
        plan = decisions.plan_copies(self.settings, source, destination, wanted)
        pending = list(plan.start)
        while pending:
            if self.out_of_time():
                self._defer(report, pending, TIME_BUDGET_REASON)
                break
            snap = pending.pop(0)
            if not self._copy(report, snap):
                self._defer(report, pending, f"RDS refused more copies to {self.aws.destination_region}")
                break
        if plan.defer:
            self._defer(
                report,
                plan.defer,
                f"copy concurrency limit {self.settings.copy_concurrency_limit} reached "
                f"({plan.in_flight} in progress in {self.aws.destination_region})",
            )

    def _retake_missed_round(self, report: Report, databases: list[Database], source: list[Snapshot]) -> None:
        """Take, under the round's own name and tags, the snapshots the latest full backup round missed.

        Uses the source listing reconcile already has (no extra call) and the backup's own create path.
        """
        missed = decisions.missed_in_latest_round(self.settings, databases, source, self.now)
        if missed is None or not missed.missing:
            return
        note = f"missed in backup round {missed.stamp}"
        self._snapshot_all(
            report, missed.missing, missed.scheduled_time, missed.stamp, note, started="retaken by reconcile"
        )

    def _prune(
        self,
        report: Report,
        wanted: set[str] | None,
        *,
        kinds: tuple[Kind, ...],
        source: list[Snapshot] | None = None,
        destination: list[Snapshot] | None = None,
    ) -> None:
        """Delete expired owned snapshots in both regions under the data-safety rules of decisions."""
        if source is None:
            source = self._list(report, self.aws.source_region, kinds)
        if destination is None:
            destination = self._list(report, self.aws.destination_region, kinds)
        if source is None or destination is None:
            return
        source = [s for s in source if s.kind in kinds]
        destination = [s for s in destination if s.kind in kinds]
        plans = (
            decisions.expired_snapshots(
                self.settings,
                source,
                retention_days=self.settings.source_retention_days,
                now=self.now,
                destination_copies=destination,
                wanted_targets=wanted,
            ),
            decisions.expired_snapshots(
                self.settings,
                destination,
                retention_days=self.settings.destination_retention_days,
                now=self.now,
                wanted_targets=wanted,
            ),
        )
        for plan in plans:
            for snap, rule in plan.protected:
                log_decision(
                    logging.INFO,
                    "expired snapshot kept",
                    action=report.action,
                    target=snap.target,
                    kind=str(snap.kind),
                    operation="delete",
                    outcome="kept",
                    snapshot=snap.identifier,
                    reason=rule,
                    region=snap.region,
                )
            for snap in plan.delete:
                if self.out_of_time():
                    report.record(
                        Outcome(snap.target, snap.kind, "delete", "deferred", snap.identifier, TIME_BUDGET_REASON)
                    )
                    continue
                try:
                    self.aws.delete_snapshot(snap)
                except AwsError as error:
                    self._fail(
                        report, error, target=snap.target, kind=snap.kind, operation="delete", snapshot=snap.identifier
                    )
                    continue
                report.record(
                    Outcome(
                        snap.target,
                        snap.kind,
                        "delete",
                        "deleted",
                        snap.identifier,
                        f"older than the retention in {snap.region}",
                    )
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
                    operation="quota",
                    outcome="skipped",
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
        percent = decisions.quota_used_percent(quotas)
        if percent is not None:
            report.metrics.set("ManualSnapshotQuotaUsedPercent", percent)

    # --- other events ----------------------------------------------------------------------------

    def ignore(self, event: IgnoredEvent) -> Report:
        log_decision(logging.DEBUG, "event ignored", action="event", outcome="ignored", reason=event.reason)
        return Report("ignore")


def _join(*parts: str) -> str:
    """A reason from its non-empty parts, e.g. the context (a reconcile retaking a missed round) and what happened."""
    return "; ".join(part for part in parts if part)
