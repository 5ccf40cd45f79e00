"""Pruning: delete expired snapshots this module instance owns, under the data-safety rules of `rules.retention`."""

from __future__ import annotations

import logging

from rds_snapshot_dr.core.logs import log_decision
from rds_snapshot_dr.jobs.worker import TIME_BUDGET_REASON, Report, Worker
from rds_snapshot_dr.rules import copy_plan, recovery_point, retention, rounds
from rds_snapshot_dr.rules.errors import AwsError
from rds_snapshot_dr.rules.model import Kind, Operation, Outcome, Result, Snapshot
from rds_snapshot_dr.rules.recovery_point import KeyState


class Pruner(Worker):
    def prune(
        self,
        report: Report,
        wanted: set[str] | None,
        *,
        kinds: tuple[Kind, ...],
        source: list[Snapshot] | None = None,
        destination: list[Snapshot] | None = None,
        deleted: list[Snapshot] | None = None,
        unusable_key: KeyState | None = None,
    ) -> list[Outcome]:
        """Delete expired owned snapshots in both regions under the data-safety rules of `rules.retention`.

        Returns the outcomes of the deletions (deleted, failed, deferred), all also recorded in the report.
        `deleted`, when given, receives each snapshot deleted: an outcome names a snapshot without its
        region, and a source and its copy share their name. `unusable_key`, when given, is the destination key
        KMS will not use: a copy under it is no copy (`recovery_point.restorable_copies`), so its source is kept.
        """
        done: list[Outcome] = []
        if source is None:
            source = self._list(report, self.aws.source_region, kinds)
        if destination is None:
            destination = self._list(report, self.aws.destination_region, kinds)
        if source is None or destination is None:
            return done
        source = [s for s in source if s.kind in kinds]
        destination = [s for s in destination if s.kind in kinds]
        plans = (
            retention.expired_snapshots(
                self.settings,
                source,
                retention_days=self.settings.source_retention_days,
                now=self.now,
                destination_copies=recovery_point.restorable_copies(destination, unusable_key),
                wanted_targets=wanted,
            ),
            retention.expired_snapshots(
                self.settings,
                destination,
                retention_days=self.settings.destination_retention_days,
                now=self.now,
                wanted_targets=wanted,
            ),
        )
        for plan in plans:
            for (kind, name), why in plan.superseded.items():
                log_decision(
                    logging.WARNING,
                    "source snapshot deleted without a copy",
                    action=report.action,
                    kind=str(kind),
                    operation=Operation.DELETE,
                    outcome=Result.SUPERSEDED,
                    snapshot=name,
                    reason=why,
                    region=self.aws.source_region,
                )
            for snap, rule in plan.protected:
                log_decision(
                    logging.INFO,
                    "expired snapshot kept",
                    action=report.action,
                    target=snap.target,
                    kind=str(snap.kind),
                    operation=Operation.DELETE,
                    outcome=Result.KEPT,
                    snapshot=snap.identifier,
                    reason=rule,
                    region=snap.region,
                )
            for snap in plan.delete:
                if self.out_of_time():
                    outcome = Outcome(
                        snap.target, snap.kind, Operation.DELETE, Result.DEFERRED, snap.identifier, TIME_BUDGET_REASON
                    )
                    report.record(outcome)
                    done.append(outcome)
                    continue
                superseded = plan.superseded.get((snap.kind, snap.identifier))
                outcome = self.delete(
                    report,
                    snap,
                    f"older than the retention in {snap.region}" + (f"; {superseded}" if superseded else ""),
                    copy_plan.SUPERSEDED_FIX if superseded else "",
                )
                if outcome.outcome == Result.DELETED and deleted is not None:
                    deleted.append(snap)
                done.append(outcome)
        return done

    def delete(self, report: Report, snap: Snapshot, reason: str, fix: str = "") -> Outcome:
        """Delete one snapshot and record what happened: `deleted` with `reason`, or the failure."""
        try:
            self.aws.delete_snapshot(snap)
        except AwsError as error:
            return self._fail(
                report, error, target=snap.target, kind=snap.kind, operation=Operation.DELETE, snapshot=snap.identifier
            )
        outcome = Outcome(snap.target, snap.kind, Operation.DELETE, Result.DELETED, snap.identifier, reason, fix)
        report.record(outcome)
        return outcome

    def remove_failed(self, report: Report, source: list[Snapshot], wanted: set[str] | None) -> None:
        """Delete our source snapshots that ended `failed`: they hold no data, and their name is the one the round
        is retaken under (`rounds.missed_in_latest_round` counts a failed snapshot as missing). Each is
        reported, and logged as a warning (RDS could not take it)."""
        for snap in rounds.failed_snapshots(self.settings, source, wanted):
            if self.out_of_time():
                return
            outcome = self.delete(
                report,
                snap,
                "RDS could not take the snapshot (status failed): it holds no data; its round is taken again",
                "Nothing to do unless it happens again; then read the database's RDS events in the source region.",
            )
            if outcome.outcome == Result.DELETED:
                log_decision(
                    logging.WARNING,
                    "a snapshot of ours ended failed",
                    action=report.action,
                    target=snap.target,
                    kind=str(snap.kind),
                    snapshot=snap.identifier,
                    outcome=Result.WARNING,
                )

    def pruned_for_quota(
        self,
        report: Report,
        kind: Kind,
        target: str,
        operation: Operation,
        error: AwsError,
        pruned_for_quota: set[Kind],
    ) -> bool:
        """On SnapshotQuotaExceeded (backup in the source, a copy into the destination), prune expired
        snapshots of that kind in both regions once per run; True if that freed room for one retry."""
        if kind in pruned_for_quota:
            return False
        pruned_for_quota.add(kind)
        log_decision(
            logging.WARNING,
            "snapshot quota reached; pruning expired snapshots before one retry",
            action=report.action,
            target=target,
            kind=str(kind),
            operation=operation,
            reason=error.message,
        )
        return copy_plan.freed_room(self.prune(report, None, kinds=(kind,)))
