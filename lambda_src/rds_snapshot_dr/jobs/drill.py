"""The restore drill: restore the newest DR copy of the next database in rotation, and later measure and delete it.

`start` (action "drill") begins one restore and returns; `finish` (run by every reconcile and every drill)
finds drill databases that became available, records their time to restore, and deletes them, and deletes
as failed any drill past its maximum lifetime. It never waits, never touches a snapshot, and deletes only a
database that carries this module instance's drill tag AND a name the drill gives (restore.is_drill_database).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from rds_snapshot_dr.core.logs import log_decision
from rds_snapshot_dr.core.settings import DrillSettings, Settings
from rds_snapshot_dr.gateway.restore import RestoredDatabase, RestoreGateway, state_to_json
from rds_snapshot_dr.jobs.engine import Engine, Report
from rds_snapshot_dr.rules import restore
from rds_snapshot_dr.rules.errors import ACCESS_DENIED, NOT_READY, AwsError
from rds_snapshot_dr.rules.events import ActionRequest
from rds_snapshot_dr.rules.model import Kind, Operation, Outcome, Result, Snapshot
from rds_snapshot_dr.rules.restore import DrillRecord, DrillState, DrillStep
from rds_snapshot_dr.rules.schedule import snapshots_per_day

READY = "available"
# Problems of a stored state named in its one warning (the rest are counted): the state holds up to ~200 records.
STATE_PROBLEMS_SHOWN = 5
GONE = frozenset({"deleting"})


class Drill:
    """One module instance's restore drill over the RDS gateway and the restore gateway."""

    def __init__(self, settings: Settings, drill: DrillSettings, gateway: RestoreGateway, now: datetime) -> None:
        self.settings = settings
        self.drill = drill
        self.aws = gateway
        self.now = now

    @classmethod
    def for_engine(cls, engine: Engine) -> Drill | None:
        if engine.settings.drill is None:
            return None
        gateway = RestoreGateway.from_settings(engine.settings, engine.aws)
        return cls(engine.settings, engine.settings.drill, gateway, engine.now)

    # --- start ---------------------------------------------------------------------------------

    def start(self, report: Report) -> None:
        """Finish what is done, then start one restore unless a drill is still in flight (or may be)."""
        state = self._load(report)
        in_flight = self._finish(report, state)
        if in_flight is None:
            # Unknown is not "none in flight": a restore now could join one still restoring, and on every run
            # that cannot list the DR region another full copy of production would be restored. The
            # failure is already reported by _finish.
            self._save(report, state)
            return
        if in_flight:
            report.record(
                Outcome(
                    in_flight[0].tags.get(restore.DRILL_SOURCE_TAG, ""),
                    str(in_flight[0].kind),
                    Operation.DRILL,
                    Result.SKIPPED,
                    in_flight[0].identifier,
                    "a drill is still in flight (at most one per module instance); reconcile finishes it",
                )
            )
            self._save(report, state)
            return
        copies = self._copies(report)
        if copies is None:
            return
        state.records = restore.prune_records(
            state.records, restore.drill_pool(self.settings, copies, self.drill.databases)
        )
        candidates = restore.databases_with_copies(self.settings, copies)
        rotation = [db for db in candidates if not self.drill.databases or db in self.drill.databases]
        self._check_coverage(report, rotation)
        database = restore.next_in_rotation(list(candidates), state.records, self.drill.databases)
        if database is None:
            report.record(
                Outcome(
                    "*",
                    "",
                    Operation.DRILL,
                    Result.SKIPPED,
                    reason=f"no database has an available DR copy in {self.aws.destination_region} yet",
                    fix="Nothing to do: the drill starts once the first copy is available.",
                )
            )
            self._save(report, state)
            return
        self._start_one(report, database, candidates[database], copies)
        self._save(report, state)

    def _check_coverage(self, report: Report, candidates: list[str]) -> None:
        """Warn when one database per run cannot drill the whole rotation within overdue_days."""
        try:
            per_day = snapshots_per_day(self.drill.schedule_expression) if self.drill.schedule_expression else None
        except ValueError:
            per_day = None
        problem = restore.rotation_coverage_problem(len(candidates), per_day, self.drill.overdue_days)
        if problem:
            report.record(
                Outcome(
                    "*",
                    "",
                    Operation.DRILL,
                    Result.WARNING,
                    reason=problem,
                    fix="Run the drill more often (restore_drill.schedule_expression, e.g. daily), raise "
                    "restore_drill.overdue_days, or drill fewer databases (restore_drill.databases).",
                )
            )

    def _load(self, report: Report) -> DrillState:
        """The stored state, minus anything in it that cannot be trusted (reported once, here).

        Any principal allowed ssm:PutParameter on the parameter can write it: a value this function would not
        have written is dropped and the drill starts over for it (enabled_since = now, the record forgotten),
        and the state saved at the end of the run no longer has it. A warning, not a failure: the drill
        still works, and failing would only have Lambda retry a run that reads the same value.
        """
        parameter = self.drill.state_parameter
        state, problems = self.aws.load_state(parameter, self.now)
        if problems:
            shown = "; ".join(problems[:STATE_PROBLEMS_SHOWN])
            more = len(problems) - STATE_PROBLEMS_SHOWN
            report.record(
                Outcome(
                    "*",
                    "",
                    Operation.DRILL,
                    Result.WARNING,
                    reason=f"drill state {parameter} (SSM, {self.aws.source_region}) not used as stored: {shown}"
                    + (f"; and {more} more" if more > 0 else ""),
                    fix=f"Nothing to repair: this run writes the state back without it. Only this function "
                    f"writes {parameter}: find who else did (CloudTrail, ssm:PutParameter) and take that "
                    "permission away.",
                )
            )
        if state.enabled_since is None:
            state.enabled_since = self.now
        return state

    def _save(self, report: Report, state: DrillState) -> None:
        """Store the state, or say why it cannot be stored (PutParameter would refuse it on every run)."""
        problem = restore.state_size_problem(len(state_to_json(state).encode()), len(state.records))
        if problem:
            report.record(Outcome("*", "", Operation.DRILL, Result.FAILED, reason=problem[0], fix=problem[1]))
            return
        self.aws.save_state(self.drill.state_parameter, state)

    def _copies(self, report: Report) -> list[Snapshot] | None:
        copies: list[Snapshot] = []
        for kind in (Kind.INSTANCE, Kind.CLUSTER):
            try:
                copies.extend(self.aws.rds.list_manual_snapshots(self.aws.destination_region, kind))
            except AwsError as error:
                report.record(
                    Outcome("*", str(kind), Operation.DRILL, Result.FAILED, reason=str(error), fix=_fix(error))
                )
                return None
        return copies

    def _start_one(self, report: Report, database: str, kind: Kind, copies: list[Snapshot]) -> None:
        copy = restore.choose_copy(self.settings, copies, database)
        assert copy is not None  # databases_with_copies only names databases with an available copy
        identifier = restore.drill_identifier(self.settings, self.now)
        try:
            # The drill restores exactly as a restore with the source region down would: settings from the
            # DR copy and its portable tag, never from the source database.
            portable = restore.portable_settings(None, self.aws.copy_attributes(kind, copy.identifier), copy.tags)
        except AwsError as error:
            report.record(
                Outcome(database, str(kind), Operation.DRILL, Result.FAILED, copy.identifier, str(error), _fix(error))
            )
            return
        overrides: dict[str, object] = {"MultiAZ": False, "DeletionProtection": False}
        if self.drill.instance_class:
            overrides["DBInstanceClass"] = self.drill.instance_class
        plan = restore.plan_restore(
            copy,
            identifier,
            portable,
            {},
            self.drill.regional,
            overrides=overrides,
            override_origin=restore.FROM_DRILL,
            regional_origin=restore.FROM_DRILL,
            extra_tags=restore.drill_tags(self.settings, copy, self.now),
        )
        missing = restore.missing_for_restore(plan)
        if missing:
            report.record(
                Outcome(
                    database,
                    str(kind),
                    Operation.DRILL,
                    Result.FAILED,
                    copy.identifier,
                    f"the DR copy does not say {', '.join(missing)}",
                    "Set restore_drill.instance_class.",
                )
            )
            return
        try:
            self.aws.restore(plan)
        except AwsError as error:
            report.record(
                Outcome(database, str(kind), Operation.DRILL, Result.FAILED, copy.identifier, str(error), _fix(error))
            )
            return
        report.metrics.add("DrillsStarted")
        writer = ""
        if plan.kind is Kind.CLUSTER:
            writer = self._create_writer(report, plan)
        report.record(
            Outcome(
                database,
                str(kind),
                Operation.DRILL,
                Result.STARTED,
                copy.identifier,
                f"restoring {identifier}{writer} in {self.aws.destination_region} from {copy.identifier}",
            )
        )

    def _create_writer(self, report: Report, plan: restore.RestorePlan) -> str:
        try:
            self.aws.create_writer(plan)
        except AwsError as error:
            if error.code in NOT_READY:
                return " (writer: created by reconcile once the cluster is available)"
            raise
        return f" with writer {restore.writer_identifier(plan.identifier)}"

    # --- finish --------------------------------------------------------------------------------

    def finish(self, report: Report) -> None:
        """Reconcile's part: measure and delete finished drills, expire old ones, publish the overdue count.

        When the drill databases cannot be listed (_finish returns None, reported as a failure), nothing is
        measured, deleted or forgotten: the records and the overdue count stand as they were, and the next
        reconcile that can list them finishes those drills.
        """
        state = self._load(report)
        self._finish(report, state)
        copies = self._copies(report)
        if copies is not None:
            state.records = restore.prune_records(
                state.records, restore.drill_pool(self.settings, copies, self.drill.databases)
            )
            candidates = [
                db
                for db in restore.databases_with_copies(self.settings, copies)
                if not self.drill.databases or db in self.drill.databases
            ]
            overdue = restore.overdue_databases(
                candidates, state.records, self.now, timedelta(days=self.drill.overdue_days), state.enabled_since
            )
            report.metrics.set("DrillOverdueDatabases", len(overdue))
            if overdue:
                log_decision(
                    logging.WARNING,
                    "no successful restore drill within the overdue period",
                    action=report.action,
                    operation=Operation.DRILL,
                    outcome=Result.OVERDUE,
                    reason=", ".join(overdue),
                )
        self._save(report, state)

    def _finish(self, report: Report, state: DrillState) -> list[RestoredDatabase] | None:
        """Handle every drill database of this instance; return those still in flight, or None (a reported
        failure) when the DR region's databases cannot be listed, which says nothing of what is in flight."""
        try:
            everything = self.aws.destination_databases()
        except AwsError as error:
            region = self.aws.destination_region
            report.record(
                Outcome(
                    "*",
                    "",
                    Operation.DRILL,
                    Result.FAILED,
                    reason=f"could not list the DB instances and clusters in {region}, so this module instance's "
                    f"drill databases are unknown ({error}); no drill is started, measured or deleted until "
                    "they can be listed",
                    fix=_listing_fix(error),
                )
            )
            return None
        instances = {d.identifier: d for d in everything if d.kind is Kind.INSTANCE}
        drills = [
            d
            for d in everything
            if restore.is_drill_database(self.settings, d.identifier, d.tags, d.kind)
            and not (d.kind is Kind.INSTANCE and d.cluster_identifier)
        ]
        in_flight: list[RestoredDatabase] = []
        for db in drills:
            if db.status in GONE:
                continue
            members = [instances[m] for m in db.members if m in instances]
            if self._step(report, state, db, members):
                in_flight.append(db)
        return in_flight

    def _step(self, report: Report, state: DrillState, db: RestoredDatabase, members: list[RestoredDatabase]) -> bool:
        """One drill database: act on `restore.drill_verdict`; True while it is still restoring."""
        source = db.tags.get(restore.DRILL_SOURCE_TAG, db.identifier)
        snapshot = db.tags.get(restore.DRILL_SNAPSHOT_TAG, "")
        verdict = restore.drill_verdict(
            db.kind,
            db.status,
            [m.status for m in members],
            restore.drill_started(db.tags, self.now, self.drill.max_lifetime_minutes),
            self.now,
            self.drill.max_lifetime_minutes,
        )
        if verdict.step is DrillStep.NEEDS_WRITER:
            self._writer_for(report, db)
            return True
        if verdict.step is DrillStep.AVAILABLE:
            seconds = verdict.seconds
            if self._delete(report, db, members, source, snapshot):
                record = state.records.get(source, DrillRecord())
                state.records[source] = DrillRecord(self.now, seconds, record.last_failure)
                report.metrics.add("DrillsSucceeded")
                report.metrics.restore_seconds[source] = seconds
                report.record(
                    Outcome(
                        source,
                        str(db.kind),
                        Operation.DRILL,
                        Result.MEASURED,
                        snapshot,
                        f"{db.identifier} available {seconds:.0f}s after the restore started; deleted",
                    )
                )
            return False
        if verdict.step is DrillStep.FAILED:
            self._delete(report, db, members, source, snapshot)
            record = state.records.get(source, DrillRecord())
            state.records[source] = DrillRecord(record.last_success, record.last_rto_seconds, self.now)
            report.metrics.add("DrillFailures")
            report.record(
                Outcome(
                    source,
                    str(db.kind),
                    Operation.DRILL,
                    Result.FAILED,
                    snapshot,
                    f"restore drill {db.identifier} failed: {verdict.why}; deleted",
                    "Restore the same copy by hand (rds-snapshot-dr restore --dry-run) to see why; check "
                    "the DR region's subnet group, security groups and the destination key.",
                )
            )
            return False
        return True

    def _writer_for(self, report: Report, db: RestoredDatabase) -> None:
        """An available drill cluster without its writer (CreateDBInstance was refused while it was creating)."""
        portable: dict[str, tuple[object, str]] = {"Engine": (db.engine, restore.FROM_SNAPSHOT)}
        if self.drill.instance_class:
            portable["DBInstanceClass"] = (self.drill.instance_class, restore.FROM_DRILL)
        tags = {k: v for k, v in db.tags.items() if k.startswith("rds-snapshot-dr:")}
        stub = Snapshot(Kind.CLUSTER, tags.get(restore.DRILL_SNAPSHOT_TAG, ""), "", "", READY, "manual", None)
        plan = restore.plan_restore(stub, db.identifier, portable, {}, self.drill.regional, extra_tags=tags)
        try:
            self.aws.create_writer(plan)
        except AwsError as error:
            log_decision(logging.WARNING, "drill writer not created yet", action=report.action, reason=str(error))

    def _delete(
        self, report: Report, db: RestoredDatabase, members: list[RestoredDatabase], source: str, snapshot: str
    ) -> bool:
        """Delete a drill database (a cluster: its instances first). Checks name and tag again before each call."""
        try:
            for member in members:
                if restore.is_drill_database(self.settings, member.identifier, member.tags, member.kind):
                    self.aws.delete_instance(member.identifier)
            if not restore.is_drill_database(self.settings, db.identifier, db.tags, db.kind):
                return False
            if db.kind is Kind.INSTANCE:
                self.aws.delete_instance(db.identifier)
            else:
                self.aws.delete_cluster(db.identifier)
        except AwsError as error:
            report.record(
                Outcome(
                    source,
                    str(db.kind),
                    Operation.DRILL,
                    Result.FAILED,
                    snapshot,
                    f"could not delete drill database {db.identifier}: {error}",
                    _fix(error),
                )
            )
            return False
        report.metrics.add("DrillDatabasesDeleted")
        return True


def _fix(error: AwsError) -> str:
    if error.code in {"AccessDenied", "AccessDeniedException"}:
        return f"Allow {error.action} to the function's role in {error.region} (restore_drill adds it)."
    return "See the reason; the next drill or reconcile tries again."


def _listing_fix(error: AwsError) -> str:
    """The fix when the drill cannot list the DR region's databases: both actions are needed, in that region."""
    if error.code in ACCESS_DENIED:
        return (
            f"Allow rds:DescribeDBInstances and rds:DescribeDBClusters (resources db:* and cluster:*) to the "
            f"function's role in {error.region}, and check SCPs and permission boundaries; the drill starts "
            "nothing until it can see its own databases."
        )
    return "See the reason; the next drill or reconcile lists them again, and starts no drill until it can."


# --- the handler's actions ------------------------------------------------------------------------


def drill(engine: Engine, request: ActionRequest) -> Report:
    """Action "drill": start a restore drill of the next database in rotation (or say why not) and return."""
    report = Report("drill")
    runner = Drill.for_engine(engine)
    if runner is None:
        report.record(
            Outcome(
                "*", "", Operation.DRILL, Result.SKIPPED, reason="the restore drill is off", fix="Set restore_drill."
            )
        )
        return report
    try:
        runner.start(report)
    except AwsError as error:
        report.record(Outcome("*", "", Operation.DRILL, Result.FAILED, reason=str(error), fix=_fix(error)))
    return report


def reconcile(engine: Engine, request: ActionRequest) -> Report:
    """Action "reconcile": the engine's reconcile, then finish the restore drills."""
    report = engine.reconcile(request)
    runner = Drill.for_engine(engine)
    if runner is not None:
        try:
            runner.finish(report)
        except AwsError as error:
            report.record(Outcome("*", "", Operation.DRILL, Result.FAILED, reason=str(error), fix=_fix(error)))
    return report
