"""What the engine's collaborators share: the report of one invocation and the helpers every step uses.

Backup, copy and prune each run over the same gateway, settings, clock reading and time budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from rds_snapshot_dr.core.logs import log_decision
from rds_snapshot_dr.core.metrics import Metrics
from rds_snapshot_dr.core.settings import Settings
from rds_snapshot_dr.gateway.aws import RdsGateway, ScheduleGateway
from rds_snapshot_dr.rules import copy_state
from rds_snapshot_dr.rules.errors import LASTING_CODES, AwsError, classify
from rds_snapshot_dr.rules.model import Kind, Operation, Outcome, Result, Snapshot

TIME_BUDGET_REASON = "time budget reserve reached; left for the next run (reconcile)"
_LEVELS = {
    "failed": logging.ERROR,
    "deferred": logging.WARNING,
    "warning": logging.WARNING,
    "skipped": logging.INFO,
    "ignored": logging.DEBUG,
}
BOTH_KINDS = (Kind.INSTANCE, Kind.CLUSTER)
_COUNTERS = {("snapshot", "started"): "SnapshotsStarted", ("copy", "started"): "CopiesStarted"}
_COUNTERS.update({("copy", "deferred"): "CopiesDeferred", ("delete", "deleted"): "SnapshotsDeleted"})
_COUNTERS[("copy", "failed")] = "CopiesFailed"  # refused, ended failed, or blocked by a foreign name


@dataclass
class Report:
    """Outcomes and metrics of one invocation; becomes the handler's return value."""

    action: str
    outcomes: list[Outcome] = field(default_factory=list)
    metrics: Metrics = field(default_factory=Metrics)
    # Failed outcomes no retry of this invocation can change (a foreign snapshot holding our name, a copy
    # that used up its attempts): reported (outcome, TargetFailures and its alarm), but they do not fail
    # the invocation, whose retries would only repeat them into the dead-letter queue.
    lasting: list[Outcome] = field(default_factory=list)

    def record(self, outcome: Outcome, message: str = "", lasting: bool = False) -> None:
        self.outcomes.append(outcome)
        if lasting and outcome.failed:
            self.lasting.append(outcome)
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

    def keep_failures_from_retry(self) -> None:
        """Make every failure so far lasting: for an invocation whose retry would repeat what it already did
        (the copy-finished event starts a copy per run: a retried run would start a second one, over the share)."""
        self.lasting.extend(self.retryable_failures)

    @property
    def failed(self) -> bool:
        return any(o.failed for o in self.outcomes)

    @property
    def retryable_failures(self) -> list[Outcome]:
        """The failed outcomes a retry of the invocation might change (all but the lasting ones)."""
        return [o for o in self.outcomes if o.failed and not any(o is kept for kept in self.lasting)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "outcomes": [asdict(o) for o in self.outcomes],
            "metrics": self.metrics.values(),
        }


class Worker:
    """Settings, gateway, the invocation's time and its time budget, and the helpers every step shares."""

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
        # The copy-waiting schedule's switch (None: no schedule to switch, or it always runs)
        self.copy_waiting_schedule: ScheduleGateway | None = None

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
        operation: Operation,
        snapshot: str = "",
        note: str = "",
    ) -> Outcome:
        c = classify(
            error,
            operation,
            kms_key_arn=self.settings.destination_kms_key_arn if operation == Operation.COPY else "",
            attempts=self.settings.boto_max_attempts,
        )
        outcome = Result.SKIPPED if c.outcome is Result.GONE else c.outcome
        recorded = Outcome(target, str(kind), operation, outcome, snapshot, join_reason(note, c.reason), c.fix)
        report.record(recorded, lasting=error.code in LASTING_CODES)
        return recorded

    def _switch_copy_waiting(self, report: Report, enabled: bool, reason: str) -> None:
        """Switch the copy-waiting schedule on (copies wait, or snapshots are being made whose copies may) or off
        (none do). Two calls to Scheduler when the state changes, one when it does not. A switch that fails is
        reported once per run, not retried (the next run that sees copies wait switches it again; until then,
        reconcile starts what waits)."""
        schedule = self.copy_waiting_schedule
        if schedule is None:
            return
        try:
            changed = schedule.set_enabled(enabled)
        except AwsError as error:
            report.record(
                Outcome(
                    "*",
                    "",
                    Operation.SCHEDULE,
                    Result.FAILED,
                    "",
                    f"the copy-waiting schedule {schedule.name} could not be {'enabled' if enabled else 'disabled'} "
                    f"({reason}): {error}",
                    f"Allow the function's role scheduler:GetSchedule and scheduler:UpdateSchedule on {schedule.arn} "
                    "and iam:PassRole on the module's scheduler role (the module's policy does; check a permissions "
                    "boundary or an SCP).",
                ),
                lasting=True,
            )
            return
        log_decision(
            logging.INFO,
            f"copy-waiting schedule {'enabled' if enabled else 'disabled'}"
            if changed
            else f"copy-waiting schedule already {'enabled' if enabled else 'disabled'}",
            action=report.action,
            operation=Operation.SCHEDULE,
            outcome=Result.STARTED if changed else "skipped",
            reason=reason,
        )

    def _list(self, report: Report, region: str, kinds: Iterable[Kind]) -> list[Snapshot] | None:
        snapshots: list[Snapshot] = []
        for kind in kinds:
            try:
                snapshots.extend(self.aws.list_manual_snapshots(region, kind))
            except AwsError as error:
                self._fail(report, error, target="*", kind=kind, operation=Operation.DISCOVER)
                return None
        return snapshots

    def _find(self, region: str, snapshots: list[Snapshot]) -> list[Snapshot]:
        """What `region` holds under these snapshots' names: one lookup per 100 names of a kind."""
        found: list[Snapshot] = []
        for kind in BOTH_KINDS:
            names = [snap.identifier for snap in snapshots if snap.kind is kind]
            if names:
                found.extend(self.aws.find_snapshots(region, kind, names))
        return found

    def _already_exists(
        self, report: Report, kind: Kind, target: str, name: str, region: str, operation: Operation, note: str = ""
    ) -> Outcome:
        """RDS says a snapshot with our name exists: success if it is ours (a retried event), failure if not."""
        try:
            existing = self.aws.find_snapshot(region, kind, name)
        except AwsError as error:
            return self._fail(report, error, target=target, kind=kind, operation=operation, snapshot=name, note=note)
        outcome = copy_state.name_taken_outcome(
            self.settings,
            operation=operation,
            target=target,
            kind=kind,
            name=name,
            region=region,
            existing=existing,
            note=note,
        )
        report.record(outcome, lasting=True)  # a foreign snapshot holding our name stays until a person acts
        return outcome


def join_reason(*parts: str) -> str:
    """A reason from its non-empty parts, e.g. the context (a reconcile retaking a missed round) and what happened."""
    return "; ".join(part for part in parts if part)
