"""Play one scenario: a fleet, the simulated AWS, and the unchanged function invoked as AWS would.

`run(scenario)` returns a `Run`: everything that happened, which `figures.py` turns into numbers and
`invariants.py` into verdicts.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import random
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rds_snapshot_dr.core.module_defaults import MODULE_DEFAULTS

from .kernel import Kernel, SimClock, Task, TaskLocal, to_datetime
from .neighbour import Neighbour
from .rds import ACCOUNT, CLUSTER, INSTANCE, Database, Rds, Snap, Timing
from .scenarios import DAY, HOUR, Scenario
from .services import EventBus, Invocation, LambdaService, rds_event
from .wire import ApiError, Wire

SOURCE, DESTINATION = "us-east-1", "us-west-2"
KMS_KEY = f"arn:aws:kms:{DESTINATION}:123456789012:key/00000000-0000-0000-0000-00000000c0de"
PREFIX = "dr"
OWNER_KEY, OWNER_VALUE = "rds-snapshot-dr:owner", "fleet"
SELECTION = {"dr-backup": "true"}
RPO_THRESHOLD_H = 30.0  # the module's default rpo_alarm_threshold
QUOTA_THRESHOLD = 80.0  # the module's default snapshot_quota_alarm_threshold

# The module's copy-waiting schedule (schedule.tf), which the function switches on and off
COPY_WAITING_GROUP = "fleet-rds-snapshot-dr"
COPY_WAITING_NAME = f"{COPY_WAITING_GROUP}-copy-waiting"
COPY_WAITING_ARN = f"arn:aws:scheduler:{SOURCE}:{ACCOUNT}:schedule/{COPY_WAITING_GROUP}/{COPY_WAITING_NAME}"

# The module's defaults for the function's environment (rds_snapshot_dr.core.module_defaults, checked against
# main.tf and variables.tf), with the simulation's regions, key, prefix and selection tags.
BASE_ENVIRONMENT = {
    **MODULE_DEFAULTS,
    "SOURCE_REGION": SOURCE,
    "DESTINATION_REGION": DESTINATION,
    "DESTINATION_KMS_KEY_ARN": KMS_KEY,
    "SNAPSHOT_PREFIX": PREFIX,
    "OWNER_TAG_KEY": OWNER_KEY,
    "OWNER_TAG_VALUE": OWNER_VALUE,
    "SELECTION_TAGS": json.dumps(SELECTION),
    "COPY_WAITING_SCHEDULE_ARN": COPY_WAITING_ARN,  # the module's default: a copy-waiting schedule it switches
    # WARNING, not the module's INFO: the harness reads failed and deferred outcomes only, and the
    # simulation runs faster without a log line per kept snapshot.
    "LOG_LEVEL": "WARNING",
}

_lock = threading.Lock()  # one simulation per process at a time: the function has one clock and one factory


@dataclass
class Deletion:
    time: float
    snap: Snap
    by: str  # the invocation trigger, or "" outside an invocation
    newest_copy: bool = False  # the newest available DR copy of its database
    source_before_copy: bool = False  # a source whose copy was not available, or under a key KMS would not use


@dataclass
class Run:
    scenario: Scenario
    days: float
    databases: list[Database]
    timing: Timing
    settings: Any
    invocations: list[Invocation]
    dead_letters: int
    deletions: list[Deletion]
    injected_failures: list[tuple[float, Snap]]  # (when, the copy that ended failed)
    copy_start_delays: list[float]
    copies_completed: int
    copies_incremental: int
    copies_failed_other: int
    rpo_samples: list[tuple[float, str, float, bool]]  # (time, database, age seconds, exempt)
    rpo_bound_s: dict[str, float]
    outages: list[tuple[float, float]]
    slot_busy_s: float
    slot_available_s: float
    peak_calls_per_second: int
    min_bucket_tokens: float
    counts: dict[str, int]
    events: dict[str, int]
    ever_copied: set[tuple[str, str, str]]  # (kind, database, resource id): per database generation
    final_copies: dict[tuple[str, str, str], int]  # available DR copies per database generation at the end
    unsupported: set[str]
    backup_rounds: list[tuple[float, float, int, int]]  # (start, end, calls, deferred)
    rate_budget: float | None
    errors: dict[str, int] = field(default_factory=dict)
    # every copy start that left the module's copies of its kind in flight above its share:
    # (time, kind, in flight after the start, share, the invocation's trigger)
    share_breaches: list[tuple[float, str, int, int, str]] = field(default_factory=list)
    # every copy AWS refused another module instance in the account (the neighbour) for the copy limit while it
    # was within its share: (time, kind, the account's copies of the kind in flight)
    neighbour_refused: list[tuple[float, str, int]] = field(default_factory=list)
    neighbour_copies_started: int = 0
    peak_copies_in_flight: dict[str, int] = field(default_factory=dict)
    # the copy-waiting schedule: its ticks (runs it would start if always on), and the times the function switched it
    copy_waiting_ticks: int = 0
    copy_waiting_switches: int = 0
    # with check_wire: the successful answers also parsed from their XML by botocore, and those whose direct
    # form differed
    wire_compared: int = 0
    wire_mismatches: list[str] = field(default_factory=list)
    # Multi-AZ DB clusters the settings select (not in `databases`: nothing can protect them), and every
    # snapshot the function asked RDS to make of one: (time, operation, cluster)
    uncopyable: list[str] = field(default_factory=list)
    uncopyable_touched: list[tuple[float, str, str]] = field(default_factory=list)


def _is_invocation_emf(document: dict[str, Any]) -> bool:
    """The one EMF line per invocation: metrics by ModuleInstance alone, not a per-database drill line."""
    directives = document.get("_aws", {}).get("CloudWatchMetrics", [])
    return bool(directives) and directives[0].get("Dimensions") == [["ModuleInstance"]] and "Database" not in document


class _Capture(io.TextIOBase):
    """sys.stdout while a simulation runs: the JSON lines of an invocation are its own (the invocation's EMF
    line goes to its record; the quota, drill and recovery-point lines are dropped), the rest goes through."""

    def __init__(self, kernel: Kernel, real: Any, records: dict[int, Invocation]) -> None:
        self.kernel, self.real, self.records = kernel, real, records
        self._after_json = False

    def write(self, text: str) -> int:
        task = self.kernel.current
        if task is not None and id(task) in self.records:
            if text.startswith("{"):
                document = json.loads(text)
                if _is_invocation_emf(document):
                    self.records[id(task)].emf = document
                self._after_json = True
                return len(text)
            if text == "\n" and self._after_json:
                self._after_json = False
                return 1
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()


class _Outcomes(logging.Handler):
    """The function's decision log lines: failed and deferred outcomes, per invocation."""

    def __init__(self, kernel: Kernel, records: dict[int, Invocation]) -> None:
        super().__init__(logging.WARNING)
        self.kernel, self.records = kernel, records

    def emit(self, record: logging.LogRecord) -> None:
        task = self.kernel.current
        invocation = self.records.get(id(task)) if task is not None else None
        if invocation is None:
            return
        outcome = getattr(record, "outcome", "")
        if outcome:
            invocation.outcomes[outcome] = invocation.outcomes.get(outcome, 0) + 1
        if outcome == "failed":
            invocation.failed.append(
                (getattr(record, "operation", ""), getattr(record, "target", ""), getattr(record, "snapshot", ""))
            )


class Context:
    """The Lambda context object the handler gets; its remaining time comes from the simulated clock."""

    def __init__(self, kernel: Kernel, deadline: float) -> None:
        self.kernel, self.deadline = kernel, deadline
        self.function_name = "rds-snapshot-dr-fleet"
        self.aws_request_id = "sim"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - self.kernel.now) * 1000))


def steady_state_snapshots(settings: Any, per_kind: int, rounds_per_day: int = 1) -> int:
    """Manual snapshots the fleet holds per region and kind at steady state (destination, the larger):
    one a day for the retention, plus keep-last and the copies in flight."""
    return per_kind * (int(settings["DESTINATION_RETENTION_DAYS"]) * rounds_per_day + int(settings["KEEP_LAST"]) + 2)


class Simulation:
    def __init__(self, scenario: Scenario, check_wire: bool = False) -> None:
        """`check_wire`: every successful answer also goes through AWS's XML and botocore's own parser, and
        the run records where the two differ (`Run.wire_mismatches`; slower, same figures)."""
        self.scenario = scenario
        self.check_wire = check_wire
        self.rng = random.Random(scenario.seed)
        self.kernel = Kernel()
        self.timing = Timing()
        self.environment = {
            **BASE_ENVIRONMENT,
            "RDS_API_CONCURRENT_INVOCATIONS": str(max(1, scenario.lambda_config.reserved_concurrency)),
            # main.tf: "" without the schedule; here also when it always runs (the baseline)
            "COPY_WAITING_SCHEDULE_ARN": COPY_WAITING_ARN
            if scenario.copy_waiting_s and scenario.copy_waiting_on_demand
            else "",
            "BACKUP_SCHEDULE_EXPRESSION": scenario.backup_expression,
            **dict(scenario.settings),
        }
        # the key the copies are made under (the settings'), whose state the simulated KMS answers
        self.destination_key = self.environment["DESTINATION_KMS_KEY_ARN"]
        self.backup_interval_s = scenario.backup_interval_s  # read per database and sample: computed once
        self.copy_waiting_state = "ENABLED"  # as Terraform creates it
        self.copy_waiting_ticks = 0
        self.copy_waiting_switches = 0
        n_clusters = max(1, round(scenario.databases * scenario.aurora_share)) if scenario.aurora_share else 0
        n_instances = scenario.databases - n_clusters
        # Databases the settings name are in the fleet whatever its size (the rest are selected by tag).
        n_instances = max(n_instances, len(self._named(INSTANCE)))
        n_clusters = max(n_clusters, len(self._named(CLUSTER)))
        headroom = scenario.quota_headroom
        quota = {
            kind: (
                math.ceil(steady_state_snapshots(self.environment, count, len(scenario.backup_hours)) * headroom + 8)
                if headroom is not None
                else 100
            )
            for kind, count in ((INSTANCE, n_instances), (CLUSTER, n_clusters))
        }
        if scenario.neighbour_databases:  # the neighbour's instance snapshots count against the same quota
            quota[INSTANCE] += 3 * scenario.neighbour_databases
        self.rds = Rds(
            self.kernel,
            random.Random(self.rng.random()),
            SOURCE,
            DESTINATION,
            timing=self.timing,
            quota=quota,
            background_rate=scenario.background_rate,
            copy_failure_rate=scenario.copy_failure_rate,
            emit=self._emit,
        )
        self.rds.outages = [(start, start + hours * HOUR) for start, hours in scenario.copy_outages]
        roles = {"source": SOURCE, "destination": DESTINATION}
        self.rds.api_outages = [
            (roles[role], start, start + hours * HOUR) for role, start, hours in scenario.api_outages
        ]
        self.rds.throttle_outages = [
            (roles[role], start, start + hours * HOUR) for role, start, hours in scenario.throttle_outages
        ]
        self.rds.snapshot_failure_rate = scenario.snapshot_failure_rate
        self.rds.kms_outages = [(start, start + hours * HOUR) for start, hours in scenario.kms_outages]
        self.rds.kms_pending = [(start, start + hours * HOUR) for start, hours in scenario.kms_pending_deletion]
        self.bus = EventBus(
            self.kernel,
            random.Random(self.rng.random()),
            scenario.delivery,
            {"source": SOURCE, "destination": DESTINATION},
            PREFIX,
            self._invoke,
        )
        self.records: dict[int, Invocation] = {}
        self.lambda_ = LambdaService(self.kernel, scenario.lambda_config, self._run, self._started, self._finished)
        self.databases: list[Database] = []
        self.uncopyable: list[str] = []
        self.uncopyable_touched: list[tuple[float, str, str]] = []
        self.unavailable_until: dict[str, float] = {}
        self.snapshot_failed_at: dict[str, float] = {}  # database -> when RDS last failed a snapshot of it
        # database -> the rounds whose copy failed for the last of COPY_MAX_ATTEMPTS times since its newest DR
        # copy, as (when, the round's data time): such a round never reaches DR (by the settings), so the
        # recovery point waits a backup interval more for each
        self.copies_exhausted: dict[str, list[tuple[float, float]]] = {}
        self.copy_failures: dict[tuple[str, str], int] = defaultdict(int)  # (kind, source snapshot) -> failed copies
        self.renamed_from: dict[str, str] = {}  # a renamed database's name -> the name it had
        self._fleet(n_instances, n_clusters)
        # records
        self.deletions: list[Deletion] = []
        self.injected: list[tuple[float, Snap]] = []
        self.failed_other = 0
        self.copy_start_delays: list[float] = []
        self.copies_completed = 0
        self.copies_incremental = 0
        self.dr_copies: dict[tuple[str, str], dict[str, Snap]] = defaultdict(dict)
        self.ever_copied: set[tuple[str, str, str]] = set()
        self.sabotaged: dict[str, float] = {}  # database -> when a person's act began to hold its RPO back
        self.rpo_samples: list[tuple[float, str, float, bool]] = []
        self.waiting: dict[str, set[str]] = {INSTANCE: set(), CLUSTER: set()}
        self._slot_t = 0.0
        self._slot_state: dict[str, tuple[int, int]] = {}
        self.slot_busy = 0.0
        self.slot_available = 0.0
        self.calls_per_second: dict[tuple[str, int], int] = defaultdict(int)
        self.peak = 0
        self.backup_rounds: list[tuple[float, float, int, int]] = []
        self.share_breaches: list[tuple[float, str, int, int, str]] = []
        self.peak_in_flight = {INSTANCE: 0, CLUSTER: 0}
        self.rds.on_delete.append(self._deleted)
        self.rds.on_available.append(self._available)
        self.rds.on_copy_start.append(self._copy_started)
        self.rds.on_copy_end.append(self._copy_ended)
        self.rds.on_snapshot_failed.append(lambda snap, now: self.snapshot_failed_at.__setitem__(snap.db, now))
        self.rpo_bound_s = self._rpo_bounds()
        self.neighbour: Neighbour | None = None
        if scenario.neighbour_databases:
            slots = self._module_slots()
            sizes = random.Random(self.rng.random())
            self.neighbour = Neighbour(
                self.kernel,
                self.rds,
                SOURCE,
                DESTINATION,
                self.destination_key,
                scenario.neighbour_databases,
                {INSTANCE: 20 - slots[INSTANCE], CLUSTER: 5 - slots[CLUSTER]},
                scenario.backup_hours[0],
                scenario.days,
                lambda _i: min(4000.0, max(5.0, sizes.lognormvariate(math.log(60), 1.0))),
            )

    # --- the fleet ---------------------------------------------------------------------------------

    def _named(self, kind: str) -> list[str]:
        """The databases of `kind` the function's settings name (DB_INSTANCE_IDENTIFIERS, DB_CLUSTER_IDENTIFIERS)."""
        names = self.environment["DB_INSTANCE_IDENTIFIERS" if kind == INSTANCE else "DB_CLUSTER_IDENTIFIERS"]
        return [name for name in names.split(",") if name]

    def _fleet(self, n_instances: int, n_clusters: int) -> None:
        """The fleet the function's settings select: the databases they name first, then databases carrying
        the selection tags (SELECTION_TAGS), or none when they select by name only."""
        rng = self.rng
        source = self.rds.regions[SOURCE]
        created = -21 * HOUR  # a day before the first backup
        selection = json.loads(self.environment["SELECTION_TAGS"] or "{}")
        named = {INSTANCE: self._named(INSTANCE), CLUSTER: self._named(CLUSTER)}
        for i in range(n_instances + n_clusters):
            kind = CLUSTER if i >= n_instances else INSTANCE
            position = i - n_instances if kind == CLUSTER else i
            if position < len(named[kind]):
                ident, tags = named[kind][position], {}
            else:
                ident, tags = f"{'aurora' if kind == CLUSTER else 'db'}-{i:04d}", dict(selection)
            size = min(4000.0, max(5.0, rng.lognormvariate(math.log(60), 1.0)))
            db = Database(kind, ident, size, created, tags)
            source.databases[kind][ident] = db
            self.databases.append(db)
            if kind == CLUSTER:  # its writer instance: listed by DescribeDBInstances, backed up through the cluster
                member = Database(INSTANCE, f"{ident}-writer", size, created, {}, cluster=ident)
                source.databases[INSTANCE][member.ident] = member
        for i in range(self.scenario.multi_az_clusters):
            maz = Database(CLUSTER, f"maz-{i:02d}", 100.0, created, dict(selection), engine="postgres")
            source.databases[CLUSTER][maz.ident] = maz
            self.uncopyable.append(maz.ident)
        # Snapshots the function must never touch (issue: foreign, automated, a person's suffixed copy).
        for region in self.rds.regions.values():
            for i, db in enumerate(self.databases[: max(2, len(self.databases) // 10)]):
                region_is_source = region.name == SOURCE
                if region_is_source:
                    auto = Snap(
                        db.kind,
                        f"rds:{db.ident}-2026-01-04-03-10",
                        region.name,
                        db.ident,
                        "available",
                        "automated",
                        {},
                        -HOUR * 21,
                        "automated",
                        db.size_gb,
                        created=-HOUR * 21,
                    )
                    self.rds.add(region, auto)
                # our prefix, no ownership tag (someone else's tool, same naming)
                foreign = Snap(
                    db.kind,
                    f"{PREFIX}-{db.ident}-20251201-0300",
                    region.name,
                    db.ident,
                    "available",
                    "manual",
                    {"team": "dba"},
                    -30 * DAY,
                    "foreign",
                    db.size_gb,
                    created=-30 * DAY,
                )
                self.rds.add(region, foreign)
                if i == 0:  # another module instance's snapshot
                    other = Snap(
                        db.kind,
                        f"other-{db.ident}-20251201-0300",
                        region.name,
                        db.ident,
                        "available",
                        "manual",
                        {OWNER_KEY: "other"},
                        -30 * DAY,
                        "foreign",
                        db.size_gb,
                        created=-30 * DAY,
                    )
                    self.rds.add(region, other)
        # a person's legal-hold copy of one of our copies, tags copied, made on the second day
        self.kernel.at(1 * DAY + 6 * HOUR, self._legal_hold_copy)
        # lifecycle: modifying, stopped, deleted
        s = self.scenario
        for db in self.databases:
            day = 0
            while day < s.days:
                if rng.random() < s.modifying_per_day:
                    start = day * DAY + rng.uniform(0, DAY)
                    self.kernel.at(start, lambda db=db: self._set_status(db, "modifying", HOUR))
                if db.kind == INSTANCE and rng.random() < s.stopped_per_day:
                    start = day * DAY + rng.uniform(0, DAY)
                    self.kernel.at(start, lambda db=db: self._set_status(db, "stopped", rng.uniform(1, 3) * DAY))
                day += 1
        for day, count in s.deleted:
            count = count or max(1, len(self.databases) // 100)
            victims = [db for db in self.databases if db.kind == INSTANCE][:count]
            if any(db.kind == CLUSTER for db in self.databases):
                victims.append(next(db for db in self.databases if db.kind == CLUSTER))
            for db in victims:
                self.kernel.at(day * DAY + 7 * HOUR, lambda db=db: self._delete_database(db))
        instances = [db for db in self.databases if db.kind == INSTANCE]
        changing = [instances[i % len(instances)] for i in range(5)] if instances else []
        for day in s.recreated:
            self.kernel.at(day * DAY + 12 * HOUR, lambda db=changing[0]: self._recreate_database(db))
        for day in s.copy_deleted_by_hand:
            self.kernel.at(day * DAY + 12 * HOUR, lambda db=changing[1]: self._delete_copy_by_hand(db))
        for day in s.look_alike:
            self.kernel.at(day * DAY + 2 * HOUR, lambda db=changing[2]: self._place_look_alike(db))
        for day in s.renamed:
            self.kernel.at(day * DAY + 12 * HOUR, lambda db=changing[3]: self._rename_database(db))
        for day, days in s.untagged:
            db = changing[4]
            self.kernel.at(day * DAY + 12 * HOUR, lambda db=db: self._select(db, False))
            self.kernel.at((day + days) * DAY + 12 * HOUR, lambda db=db: self._select(db, True))
            # not a target meanwhile (its owner's choice): judged again one bound after it is selected again
            self.unavailable_until[db.ident] = (day + days) * DAY + 12 * HOUR
        for day, hours in s.snapshot_stuck:
            if changing:
                db = changing[0]
                self.rds.stuck.append((db.ident, day * DAY, hours))
                # RDS cannot finish the snapshot sooner, and takes no other of the instance meanwhile: its
                # recovery point is judged by the alarm (rpo_alarm_correct), not by the bound, until the
                # snapshot is available and copied
                self.unavailable_until[db.ident] = (day + 1) * DAY + hours * HOUR

    def _set_status(self, db: Database, status: str, seconds: float) -> None:
        if db.deleted_at is not None or db.status != "available":
            return
        db.status = status
        self.unavailable_until[db.ident] = self.kernel.now + seconds

        def back() -> None:
            if db.deleted_at is None:
                db.status = "available"

        self.kernel.at(self.kernel.now + seconds, back)

    def _delete_database(self, db: Database) -> None:
        db.deleted_at = self.kernel.now
        db.status = "deleting"
        self.rds.regions[SOURCE].generation += 1

    def _recreate_database(self, old: Database) -> None:
        """Delete the database and create a new one under its identifier: a new generation (resource id)."""
        self._delete_database(old)
        new = Database(old.kind, old.ident, old.size_gb, self.kernel.now, dict(old.tags), cluster=old.cluster)
        self.rds.regions[SOURCE].databases[old.kind][old.ident] = new
        self.databases.append(new)

    def _rename_database(self, db: Database) -> None:
        """ModifyDBInstance with NewDBInstanceIdentifier: the same database (resource id) under a new name; its
        snapshots and copies keep the name they were taken under."""
        region = self.rds.regions[SOURCE]
        old, new = db.ident, f"{db.ident}-renamed"
        del region.databases[db.kind][old]
        db.ident = new
        region.databases[db.kind][new] = db
        region.generation += 1
        self.renamed_from[new] = old
        for table in (
            self.rpo_bound_s,
            self.unavailable_until,
            self.sabotaged,
            self.snapshot_failed_at,
            self.copies_exhausted,
        ):
            if old in table:
                table[new] = table[old]

    def _select(self, db: Database, selected: bool) -> None:
        """Put the selection tags on the database, or take them off (a person's change to its tags)."""
        if selected:
            db.tags.update(SELECTION)
        else:
            for key in SELECTION:
                db.tags.pop(key, None)
        self.rds.regions[SOURCE].generation += 1

    def _delete_copy_by_hand(self, db: Database) -> None:
        """A person deletes the database's newest DR copy (outside the function, so no Deletion is recorded)."""
        region = self.rds.regions[DESTINATION]
        copies = [
            s
            for s in self.dr_copies[(db.kind, db.ident)].values()
            if s.status == "available" and s.resource_id == db.resource_id
        ]
        if not copies:
            return
        newest = max(copies, key=lambda s: s.data_time)
        self._slots()
        self.rds.remove(region, newest)
        self.dr_copies[(db.kind, db.ident)].pop(newest.ident, None)
        source = self.rds.regions[SOURCE].snapshots[db.kind].get(newest.ident)
        if source is not None and source.status == "available":
            self.waiting[db.kind].add(newest.ident)
        self._note_slots()
        self.sabotaged[db.ident] = self.kernel.now

    def _place_look_alike(self, db: Database) -> None:
        """A person copies an older source snapshot of the database into the DR region under the name the next
        round gives the database, with its tags: our exact name and owner tag, but not that round's data."""
        source = self.rds.regions[SOURCE]
        ours = [s for s in source.snapshots[db.kind].values() if s.maker == "module" and s.db == db.ident]
        available = [s for s in ours if s.status == "available"]
        if not available:
            return
        older = min(available, key=lambda s: s.data_time)
        next_round = (self.kernel.now // DAY) * DAY + self.scenario.backup_hours[0] * HOUR
        name = f"{PREFIX}-{db.ident}-{to_datetime(next_round):%Y%m%d-%H%M}"
        region = self.rds.regions[DESTINATION]
        look_alike = Snap(
            db.kind,
            name,
            region.name,
            db.ident,
            "available",
            "manual",
            dict(older.tags),
            older.data_time,
            "person",
            older.size_gb,
            created=self.kernel.now,
            original=older.data_time,
            source_arn=older.arn,
            source_region=source.name,
            kms=older.kms,
            resource_id=older.resource_id,
        )
        self.rds.add(region, look_alike)
        # the function must report the name it cannot use (outcome failed, within a reconcile), and the RPO of
        # the database is held back until the round after
        self.injected.append((next_round, look_alike))
        self.sabotaged[db.ident] = next_round

    def _legal_hold_copy(self) -> None:
        region = self.rds.regions[DESTINATION]
        ours = [s for s in region.snapshots[INSTANCE].values() if s.maker == "module" and s.status == "available"]
        if not ours:
            return
        original = min(ours, key=lambda s: s.ident)
        copy = Snap(
            INSTANCE,
            f"{original.ident}-legal-hold",
            region.name,
            original.db,
            "available",
            "manual",
            dict(original.tags),
            original.data_time,
            "person",
            original.size_gb,
            created=self.kernel.now,
            original=original.data_time,
            kms=original.kms,
        )
        self.rds.add(region, copy)

    # --- RPO truth ---------------------------------------------------------------------------------

    def _rpo_bounds(self) -> dict[str, float]:
        """Per database: backup interval + its snapshot time + its copy time + reconcile interval, plus
        the time the copy slots of its kind need for one round of the fleet's copies of that kind (the
        fleet's copy throughput bounds the RPO: databases x copy time / slots; the function's share and
        AWS's limits are per kind). A freed instance slot is refilled by the copy-finished event; a freed
        cluster slot (no such event) waits up to one run of the copy-waiting schedule (or, without it, one
        reconcile), so each cluster copy counts that wait too."""
        slots = self._module_slots()
        refill = {INSTANCE: 0.0, CLUSTER: self.scenario.copy_waiting_s or self.scenario.reconcile_s}
        drain = {
            kind: sum(
                self.timing.copy_seconds(db.size_gb, True) + refill[kind] for db in self.databases if db.kind == kind
            )
            / slots[kind]
            for kind in slots
        }
        return {
            db.ident: self.backup_interval_s
            + self.scenario.reconcile_s
            + self.timing.snapshot_seconds(db.size_gb)
            + self.timing.copy_seconds(db.size_gb, False)
            + drain[db.kind]
            for db in self.databases
        }

    def _restorable(self, copy: Snap) -> bool:
        """An available copy RDS could restore now: not one under the destination key while KMS will not use it."""
        return copy.status == "available" and (
            copy.kms != self.destination_key or self.rds.key_state(self.kernel.now) == "Enabled"
        )

    def _newest_copy(self, db: Database) -> float | None:
        """The data time of the newest DR copy the module made of this database generation that RDS could restore."""
        names = [db.ident] + ([self.renamed_from[db.ident]] if db.ident in self.renamed_from else [])
        times = [
            s.data_time
            for name in names
            for s in self.dr_copies[(db.kind, name)].values()
            if s.resource_id == db.resource_id and self._restorable(s)
        ]
        return max(times) if times else None

    def _sample_rpo(self) -> None:
        now = self.kernel.now
        interval = self.backup_interval_s
        for db in self.databases:
            if db.deleted_at is not None:
                continue
            newest = self._newest_copy(db)
            age = now - (newest if newest is not None else db.created)
            exempt = self._exempt(db, now)
            # a snapshot of it that RDS could not take: reconcile retakes it within one interval, so the bound
            # grows by that interval (and the new snapshot's time) until the next round's copy
            failed_at = self.snapshot_failed_at.get(db.ident)
            if failed_at is not None and now <= failed_at + interval + self.rpo_bound_s[db.ident]:
                exempt = exempt or age <= self.rpo_bound_s[db.ident] + self.scenario.reconcile_s + (
                    self.timing.snapshot_seconds(db.size_gb)
                )
            # a round whose copy failed COPY_MAX_ATTEMPTS times is not copied again: the next round's copy is the
            # recovery point, one backup interval later for each such round in a row
            given_up = self.copies_exhausted.get(db.ident)
            if given_up and now <= given_up[-1][0] + interval + self.rpo_bound_s[db.ident]:
                exempt = exempt or age <= self.rpo_bound_s[db.ident] + len(given_up) * interval
            self.rpo_samples.append((now, db.ident, age, exempt))
        self.kernel.at(now + HOUR, self._sample_rpo)

    def _exempt(self, db: Database, now: float) -> bool:
        bound = self.rpo_bound_s[db.ident]
        if now < bound:  # before the first copy could exist
            return True
        if db.status != "available" or now < self.unavailable_until.get(db.ident, -1e18) + bound:
            return True
        # a person's act holds it back: a look-alike holds its name (no bound until the next round's copy),
        # a deleted DR copy until one reconcile (plus the copy's own time) has copied it again
        if db.ident in self.sabotaged and now >= self.sabotaged[db.ident] and now <= self.sabotaged[db.ident] + bound:
            return True
        # within an injected outage, or until one reconcile (plus the copy's own time) after it ended
        outages = (
            self.rds.outages
            + self.rds.kms_outages
            + self.rds.kms_pending
            + [(begin, end) for _region, begin, end in self.rds.api_outages + self.rds.throttle_outages]
        )
        return any(begin <= now <= end + bound - self.backup_interval_s for begin, end in outages)

    def truth_rpo(self) -> float:
        """What the recovery-point alarm should see now: the oldest recovery point of a live database the module
        is told to protect (named, or carrying the selection tags: one whose tags a person took off is not)."""
        now = self.kernel.now
        ages = []
        named = {kind: set(self._named(kind)) for kind in (INSTANCE, CLUSTER)}
        for db in self.databases:
            if db.deleted_at is not None:
                continue
            if db.ident not in named[db.kind] and any(db.tags.get(k) != v for k, v in SELECTION.items()):
                continue
            newest = self._newest_copy(db)
            ages.append(now - (newest if newest is not None else db.created))
        return max(ages) if ages else 0.0

    # --- observers -----------------------------------------------------------------------------------

    def _slots(self) -> None:
        """Add the interval since the last call, with the copies in flight and waiting that held during it.

        The model changes its copies in flight before it tells an observer, so the state that held is the one
        recorded at the previous call, not the current one (reading the current one counted a copy's whole
        run as idle once it ended). Each observer calls this first, and records the new state at its end."""
        now = self.kernel.now
        dt = now - self._slot_t
        self._slot_t = now
        # While copies of a kind wait, the slots they could use: the module's share (COPY_CONCURRENCY_LIMIT,
        # per kind as the function counts it) within AWS's 20 instance / 5 cluster copies per destination
        # region, but no more than there are copies waiting or in flight. Busy: the module's copies in
        # flight within that share.
        if dt > 0:
            for kind, limit in self._module_slots().items():
                in_flight, waiting = self._slot_state.get(kind, (0, 0))
                if waiting:
                    busy = min(limit, in_flight)
                    self.slot_busy += busy * dt
                    self.slot_available += min(limit, busy + waiting) * dt
        self._note_slots()

    def _note_slots(self) -> None:
        self._slot_state = {
            kind: (self._module_in_flight(kind), len(self.waiting[kind])) for kind in (INSTANCE, CLUSTER)
        }

    def _module_in_flight(self, kind: str) -> int:
        """The module's copies of `kind` in flight: the account's, less the neighbour's."""
        in_flight = self.rds.regions[DESTINATION].copies_in_flight[kind]
        return in_flight - (self.neighbour.in_flight(kind) if self.neighbour is not None else 0)

    def _module_slots(self) -> dict[str, int]:
        """Cross-region copies the module may have in flight, per kind: its share (COPY_CONCURRENCY_LIMIT,
        per kind) within AWS's 20 instance and 5 cluster copies."""
        share = int(self.environment["COPY_CONCURRENCY_LIMIT"])
        return {INSTANCE: min(20, share), CLUSTER: min(5, share)}

    def _available(self, snap: Snap, now: float) -> None:
        self._slots()
        if snap.maker != "module":
            return
        if snap.region == SOURCE:
            # waiting for its copy, unless a snapshot that is not the module's holds its name in the DR region
            # (a person's look-alike): the function keeps that source and reports it, and never copies it
            held = self.rds.regions[DESTINATION].snapshots[snap.kind].get(snap.ident)
            if held is None or held.maker == "module":
                self.waiting[snap.kind].add(snap.ident)
            self._note_slots()
        else:
            self.ever_copied.add((snap.kind, snap.db, snap.resource_id or ""))
            given_up = self.copies_exhausted.get(snap.db)
            if given_up and snap.data_time > max(data_time for _when, data_time in given_up):
                del self.copies_exhausted[snap.db]  # a later round reached DR

    def _copy_started(self, copy: Snap, now: float) -> None:
        self._slots()
        if copy.maker != "module":
            return
        source = self.rds.regions[SOURCE].snapshots[copy.kind].get(copy.source_arn.rsplit(":", 1)[-1])
        if source is not None and source.available_at is not None:
            self.copy_start_delays.append(now - source.available_at)
        self.waiting[copy.kind].discard(copy.ident)
        self._note_slots()
        self.dr_copies[(copy.kind, copy.db)][copy.ident] = copy
        # Uncapped: the module's copies of the kind in flight, against its share.
        in_flight = self._module_in_flight(copy.kind)
        self.peak_in_flight[copy.kind] = max(self.peak_in_flight[copy.kind], in_flight)
        share = self._module_slots()[copy.kind]
        if in_flight > share:
            task = self.kernel.current
            invocation = self.records.get(id(task)) if task is not None else None
            self.share_breaches.append((now, copy.kind, in_flight, share, invocation.trigger if invocation else ""))

    def _copy_ended(self, copy: Snap, now: float) -> None:
        self._slots()
        if copy.maker != "module":
            return
        if copy.status == "failed":
            source = self.rds.regions[SOURCE].snapshots[copy.kind].get(copy.source_arn.rsplit(":", 1)[-1])
            if source is not None and not source.deleted:
                self.injected.append((now, copy))
                self.copy_failures[(copy.kind, copy.ident)] += 1
                if self._given_up(copy):
                    self.copies_exhausted.setdefault(copy.db, []).append((now, copy.data_time))
                    self.waiting[copy.kind].discard(copy.ident)  # never copied again: no longer waiting
            else:
                self.failed_other += 1
            return
        self.copies_completed += 1
        self.copies_incremental += copy.incremental

    def _given_up(self, copy: Snap) -> bool:
        """Whether the copies of this copy's source failed COPY_MAX_ATTEMPTS times: the function copies it no more."""
        return self.copy_failures[(copy.kind, copy.ident)] >= int(self.environment["COPY_MAX_ATTEMPTS"])

    def _deleted(self, snap: Snap, now: float) -> None:
        self._slots()
        if self.rds.caller == "neighbour":  # the neighbour pruning its own
            self._note_slots()
            return
        task = self.kernel.current
        invocation = self.records.get(id(task)) if task is not None else None
        record = Deletion(now, snap, invocation.trigger if invocation else "")
        if snap.maker == "module" and snap.region == DESTINATION and snap.status == "available":
            copies = self.dr_copies[(snap.kind, snap.db)]
            newest = max(
                (s.data_time for s in copies.values() if s.status == "available" and s.resource_id == snap.resource_id),
                default=None,
            )
            record.newest_copy = newest is not None and snap.data_time >= newest
        if snap.maker == "module" and snap.region == SOURCE:
            copy = self.rds.regions[DESTINATION].snapshots[snap.kind].get(snap.ident)
            # a snapshot that ended failed holds no data: there is nothing to copy
            record.source_before_copy = snap.status != "failed" and (copy is None or not self._restorable(copy))
            self.waiting[snap.kind].discard(snap.ident)
        if snap.region == DESTINATION:
            self.dr_copies[(snap.kind, snap.db)].pop(snap.ident, None)
            source = self.rds.regions[SOURCE].snapshots[snap.kind].get(snap.ident)
            if (
                snap.maker == "module"
                and source is not None
                and source.status == "available"
                and not self._given_up(snap)
            ):
                self.waiting[snap.kind].add(snap.ident)  # its source may be copied again
        self._note_slots()
        self.deletions.append(record)

    # --- invocations --------------------------------------------------------------------------------

    def _emit(self, region: str, detail_type: str, event_id: str, message: str, snap: Snap) -> None:
        self.bus.publish(
            region, rds_event(region, detail_type, event_id, message, snap.ident, snap.arn, self.kernel.now)
        )

    def _invoke(self, payload: dict[str, Any], trigger: str) -> None:
        self.lambda_.invoke_async(payload, trigger)

    def _started(self, invocation: Invocation) -> None:
        pass

    def _finished(self, invocation: Invocation) -> None:
        if invocation.trigger == "backup" and invocation.attempt == 0:
            self.backup_rounds.append(
                (invocation.start, invocation.end, invocation.calls, invocation.outcomes.get("deferred", 0))
            )

    def _run(self, invocation: Invocation, task: Task) -> Any:
        from rds_snapshot_dr import handler

        self.records[id(task)] = invocation
        if invocation.trigger == "reconcile":
            invocation.truth = {"rpo_s": self.truth_rpo()}
        environment = task.environment.setdefault("function", handler.ExecutionEnvironment())
        return handler.handle(invocation.payload, Context(self.kernel, task.deadline), environment)

    def _backend(self, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        kernel = self.kernel
        if operation == "CreateDBClusterSnapshot" and params.get("DBClusterIdentifier") in self.uncopyable:
            self.uncopyable_touched.append((kernel.now, operation, str(params["DBClusterIdentifier"])))
        task = kernel.current
        invocation = self.records.get(id(task)) if task is not None else None
        if invocation is not None:
            invocation.calls += 1
            invocation.operations[operation] += 1
        key = (region, int(kernel.now))
        self.calls_per_second[key] += 1
        self.peak = max(self.peak, self.calls_per_second[key])
        if len(self.calls_per_second) > 4096:
            self.calls_per_second = defaultdict(int, {key: self.calls_per_second[key]})
        if invocation is not None and operation == "DescribeAccountAttributes":
            # what the quota alarm should see: the use at the moment the function reads it
            r = self.rds.regions[region]
            used = max(100.0 * r.manual_count(kind) / r.quota[kind] for kind in (INSTANCE, CLUSTER))
            invocation.truth["quota_percent"] = max(invocation.truth.get("quota_percent", 0.0), used)
        try:
            result, latency = self.rds.call(region, operation, params)
        except ApiError:
            kernel.wait(self.timing.describe_latency_s)
            raise
        kernel.wait(latency)
        return result

    def _scheduler(self, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """EventBridge Scheduler, for the one schedule the function may switch: GetSchedule and UpdateSchedule,
        which (as AWS does) takes every field again, so a switch that dropped one is refused here."""
        task = self.kernel.current
        invocation = self.records.get(id(task)) if task is not None else None
        if invocation is not None:
            invocation.scheduler_calls += 1
        if (region, params.get("GroupName"), params.get("Name")) != (SOURCE, COPY_WAITING_GROUP, COPY_WAITING_NAME):
            raise ApiError("ResourceNotFoundException", f"Schedule {params.get('Name')} does not exist.", 404)
        current = {
            "Arn": COPY_WAITING_ARN,
            "Name": COPY_WAITING_NAME,
            "GroupName": COPY_WAITING_GROUP,
            "State": self.copy_waiting_state,
            "ScheduleExpression": f"rate({round((self.scenario.copy_waiting_s or 300) / 60)} minutes)",
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": f"arn:aws:lambda:{SOURCE}:{ACCOUNT}:function:fleet-rds-snapshot-dr",
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/fleet-rds-snapshot-dr-scheduler",
                "Input": json.dumps({"action": "copy-waiting"}),
            },
        }
        self.kernel.wait(self.timing.describe_latency_s)
        if operation == "GetSchedule":
            return current
        if operation == "UpdateSchedule":
            dropped = [
                key
                for key in ("ScheduleExpression", "ScheduleExpressionTimezone", "Target")
                if params.get(key) != current[key]
            ]
            if dropped:
                raise ApiError("ValidationException", f"the update changed {', '.join(dropped)}")
            if params["State"] != self.copy_waiting_state:
                self.copy_waiting_switches += 1
            self.copy_waiting_state = params["State"]
            return {"ScheduleArn": COPY_WAITING_ARN}
        raise ApiError("ValidationException", f"{operation} is not simulated")

    def _kms(self, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """KMS, for the one key the function reads: DescribeKey answers the destination key's state."""
        self.kernel.wait(self.timing.describe_latency_s)
        if operation != "DescribeKey":
            raise ApiError("ValidationException", f"{operation} is not simulated")
        key = self.destination_key
        if region != DESTINATION or params.get("KeyId") not in (key, key.rsplit("/", 1)[-1]):
            raise ApiError("NotFoundException", f"Key '{params.get('KeyId')}' does not exist", 400)
        now = self.kernel.now
        state = self.rds.key_state(now)
        meta: dict[str, Any] = {"KeyId": key.rsplit("/", 1)[-1], "Arn": key, "KeyState": state}
        if state == "PendingDeletion":
            begin = max(b for b, e in self.rds.kms_pending if b <= now < e)
            meta["DeletionDate"] = to_datetime(
                begin + 7 * DAY
            ).timestamp()  # ScheduleKeyDeletion: PendingWindowInDays 7 to 30
        return {"KeyMetadata": meta}

    def _copy_waiting_tick(self) -> None:
        self.copy_waiting_ticks += 1
        if self.copy_waiting_state == "ENABLED":
            self._invoke({"action": "copy-waiting"}, "copy-waiting")

    def _schedule(self) -> None:
        s = self.scenario
        end = s.days * DAY
        day = 0
        while day * DAY < end:
            for hour in sorted(s.backup_hours):
                fire = day * DAY + hour * HOUR
                if fire < end:
                    stamp = to_datetime(fire).strftime("%Y-%m-%dT%H:%M:%SZ")
                    # Scheduler substitutes <aws.scheduler.scheduled-time> (Scheduler User Guide, "Context
                    # attributes")
                    self.kernel.at(
                        fire, lambda stamp=stamp: self._invoke({"action": "backup", "scheduled_time": stamp}, "backup")
                    )
            day += 1
        t = s.reconcile_s
        while t < end:
            self.kernel.at(t, lambda: self._invoke({"action": "reconcile"}, "reconcile"))
            t += s.reconcile_s
        if s.copy_waiting_s:
            t = s.copy_waiting_s
            while t < end:
                self.kernel.at(t, self._copy_waiting_tick)
                t += s.copy_waiting_s
        self.kernel.at(HOUR - 1, self._sample_rpo)  # hourly, just before the default reconcile runs

    # --- running -------------------------------------------------------------------------------------

    def run(self) -> Run:
        with _lock, self._environment() as settings:
            self._schedule()
            self.kernel.run(self.scenario.days * DAY)
            self.kernel.close()
            self._slots()
            return self._result(settings)

    @contextlib.contextmanager
    def _environment(self) -> Iterator[Any]:
        from rds_snapshot_dr import clock, handler
        from rds_snapshot_dr.core.logs import logger
        from rds_snapshot_dr.gateway import aws

        saved_env = dict(os.environ)
        os.environ.update(self.environment)
        os.environ.update(
            AWS_ACCESS_KEY_ID="simulation",
            AWS_SECRET_ACCESS_KEY="simulation",  # noqa: S106 - nothing leaves the process
            AWS_DEFAULT_REGION=SOURCE,
        )
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
            os.environ.pop(name, None)
        handler.reset()
        aws.CLIENTS._session = None
        # botocore's retry backoff draws its jitter from the process's global random (botocore.retries.standard,
        # ExponentialBackoff): seeded per run, so a run with retries is as repeatable as any other
        saved_random = random.getstate()
        random.seed(self.scenario.seed)
        wire = self.wire = Wire(
            self._backend,
            self.kernel.wait,
            json_services={"scheduler": self._scheduler, "kms": self._kms},
            local=TaskLocal(self.kernel),
            check=self.check_wire,
        )
        wire.install(aws.CLIENTS)
        saved_budgets = getattr(aws.CLIENTS, "_rds_budgets", None)

        def switch(task: Task) -> None:
            # The function's rate budgets live in its client factory, one per execution environment; all
            # simulated environments share one process, so each gets its own while it runs. (What else an
            # environment keeps, `handler.ExecutionEnvironment`, each invocation is given: `_invoke`.)
            if saved_budgets is not None:
                aws.CLIENTS._rds_budgets = task.environment["rds_budgets"]

        self.kernel.on_switch = switch
        previous_clock = clock.set_clock(SimClock(self.kernel))
        outcomes = _Outcomes(self.kernel, self.records)
        logger.addHandler(outcomes)
        propagate, logger.propagate = logger.propagate, False
        real_stdout = sys.stdout
        sys.stdout = _Capture(self.kernel, real_stdout, self.records)
        try:
            yield handler.current_settings()
        finally:
            sys.stdout = real_stdout
            logger.removeHandler(outcomes)
            logger.propagate = propagate
            clock.set_clock(previous_clock)
            wire.uninstall(aws.CLIENTS)
            if saved_budgets is not None:
                aws.CLIENTS._rds_budgets = saved_budgets
            aws.CLIENTS._session = None
            random.setstate(saved_random)
            os.environ.clear()
            os.environ.update(saved_env)
            handler.reset()

    def _result(self, settings: Any) -> Run:
        destination = self.rds.regions[DESTINATION]
        # per database generation (resource id): its available DR copies under any name (a renamed database's
        # copies keep the name they were taken under)
        generations = set(self.ever_copied) | {(db.kind, db.ident, db.resource_id) for db in self.databases}
        final = {
            (kind, name, resource): sum(
                1
                for s in destination.snapshots[kind].values()
                if s.maker == "module"
                and s.status == "available"
                and (s.resource_id == resource if resource else s.db == name)
            )
            for kind, name, resource in generations
        }
        # The rate one invocation keeps to (one invocation runs a backup round); None when the engine
        # has no rate budget setting.
        budget = getattr(settings, "rds_api_rate_per_invocation", None)
        return Run(
            scenario=self.scenario,
            days=self.scenario.days,
            databases=self.databases,
            timing=self.timing,
            settings=settings,
            invocations=self.lambda_.invocations,
            dead_letters=len(self.lambda_.dead_letters),
            deletions=self.deletions,
            injected_failures=self.injected,
            copy_start_delays=self.copy_start_delays,
            copies_completed=self.copies_completed,
            copies_incremental=self.copies_incremental,
            copies_failed_other=self.failed_other,
            rpo_samples=self.rpo_samples,
            rpo_bound_s=self.rpo_bound_s,
            outages=self.rds.outages,
            slot_busy_s=self.slot_busy,
            slot_available_s=self.slot_available,
            peak_calls_per_second=self.peak,
            min_bucket_tokens=min(r.bucket.lowest for r in self.rds.regions.values()),
            counts=dict(self.rds.counts),
            events=dict(self.bus.counts),
            ever_copied=self.ever_copied,
            final_copies=final,
            unsupported=set(self.rds.unsupported),
            backup_rounds=self.backup_rounds,
            rate_budget=budget,
            share_breaches=self.share_breaches,
            neighbour_refused=list(self.neighbour.refused) if self.neighbour is not None else [],
            neighbour_copies_started=self.neighbour.copies_started if self.neighbour is not None else 0,
            peak_copies_in_flight=dict(self.peak_in_flight),
            copy_waiting_ticks=self.copy_waiting_ticks,
            copy_waiting_switches=self.copy_waiting_switches,
            wire_compared=self.wire.compared,
            wire_mismatches=list(self.wire.mismatches),
            uncopyable=list(self.uncopyable),
            uncopyable_touched=list(self.uncopyable_touched),
        )


def run(scenario: Scenario, check_wire: bool = False) -> Run:
    return Simulation(scenario, check_wire).run()
