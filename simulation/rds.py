"""A model of Amazon RDS in two regions: databases, snapshots, copies, quotas, throttling, latency.

Each AWS behaviour is modelled in one place, with the AWS page it follows named beside it. Numbers
that are not AWS's (how long a snapshot or a copy takes, a call's latency) are the scenario's
assumptions and live in `Timing`.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .kernel import Kernel, to_datetime
from .wire import ApiError, _Raw

ACCOUNT = "123456789012"
INSTANCE, CLUSTER = "instance", "cluster"

# RDS User Guide, "Request throttling for the Amazon RDS API": per account and region, a token bucket
# of 300 requests in a burst and 12 per second sustained, shared by every caller; ThrottlingException.
BUCKET_BURST = 300.0
BUCKET_RATE = 12.0
# RDS User Guide, "Quotas and constraints for Amazon RDS": manual DB instance snapshots 100 and manual
# DB cluster snapshots 100 per region by default (adjustable in Service Quotas).
DEFAULT_MANUAL_SNAPSHOT_QUOTA = 100
# RDS User Guide, "Copying a DB snapshot", Limitations: up to 20 snapshot copy requests in progress to
# one destination region per account. Aurora User Guide, "Copying a DB cluster snapshot", Limitations:
# 5 (see AWS-FACTS of the project docs). Over the limit RDS answers SnapshotQuotaExceeded.
COPIES_IN_FLIGHT = {INSTANCE: 20, CLUSTER: 5}
# RDS API Reference, DescribeDBSnapshots / DescribeDBClusterSnapshots: MaxRecords 20-100, default 100.
MAX_RECORDS = (20, 100)

# RDS User Guide, "Amazon RDS event categories and event messages": snapshot events, and the end of a
# cross-region DB snapshot copy, emitted in the destination region. The DB cluster snapshot events list
# no copy events, so a cluster copy ends silently.
EVENTS = {
    (INSTANCE, "created"): ("RDS DB Snapshot Event", "RDS-EVENT-0042", "Manual snapshot created"),
    (CLUSTER, "creating"): ("RDS DB Cluster Snapshot Event", "RDS-EVENT-0074", "Creating manual cluster snapshot"),
    (CLUSTER, "created"): ("RDS DB Cluster Snapshot Event", "RDS-EVENT-0075", "Manual cluster snapshot created"),
    (INSTANCE, "copy-completed"): ("RDS DB Snapshot Event", "RDS-EVENT-0060", "Finished copy of snapshot"),
    (INSTANCE, "copy-failed"): ("RDS DB Snapshot Event", "RDS-EVENT-0061", "Canceled snapshot copy request"),
}

_ERR = {
    INSTANCE: {
        "exists": "DBSnapshotAlreadyExists",
        "not_found": "DBSnapshotNotFound",
        "state": "InvalidDBSnapshotState",
        "db_not_found": "DBInstanceNotFound",
        "db_state": "InvalidDBInstanceState",
    },
    CLUSTER: {
        "exists": "DBClusterSnapshotAlreadyExistsFault",
        "not_found": "DBClusterSnapshotNotFoundFault",
        "state": "InvalidDBClusterSnapshotStateFault",
        "db_not_found": "DBClusterNotFoundFault",
        "db_state": "InvalidDBClusterStateFault",
    },
}


@dataclass
class Timing:
    """The scenario's assumptions about durations (not AWS figures)."""

    snapshot_base_s: float = 120.0  # a manual snapshot: fixed part ...
    snapshot_per_gb_s: float = 1.0  # ... plus this per GB of the database
    copy_base_s: float = 600.0  # a cross-region copy: fixed part ...
    full_copy_per_gb_s: float = 4.0  # ... plus this per GB for a full copy
    changed_fraction: float = 0.05  # an incremental copy moves this share of the data
    describe_latency_s: float = 0.12
    mutate_latency_s: float = 0.25
    per_item_latency_s: float = 0.0015  # a listing page answers slower the more it returns

    def snapshot_seconds(self, size_gb: float) -> float:
        return self.snapshot_base_s + self.snapshot_per_gb_s * size_gb

    def copy_seconds(self, size_gb: float, incremental: bool) -> float:
        # RDS User Guide, "Incremental snapshot copying": incremental only when the previous copy of the
        # same source is still in the destination and the same KMS key is used; else a full copy.
        moved = size_gb * (self.changed_fraction if incremental else 1.0)
        return self.copy_base_s + self.full_copy_per_gb_s * moved


@dataclass(eq=False)
class Database:
    kind: str
    ident: str
    size_gb: float
    created: float
    tags: dict[str, str]
    status: str = "available"
    cluster: str | None = None  # an Aurora member instance's cluster
    deleted_at: float | None = None
    # DescribeDB*'s Engine; None: postgres for an instance, aurora-postgresql for a cluster. A cluster of engine
    # postgres or mysql is a Multi-AZ DB cluster, whose snapshots RDS does not copy.
    engine: str | None = None

    @functools.cached_property
    def resource_id(self) -> str:
        """DbiResourceId / DbClusterResourceId: this database's own, never the next one's of the same name."""
        prefix = "db" if self.kind == INSTANCE else "cluster"
        return f"{prefix}-{self.ident[:16].upper()}-{int(self.created * 1000) & 0xFFFFFFFF:08X}"


@dataclass(eq=False)
class Snap:
    kind: str
    ident: str
    region: str
    db: str
    status: str
    stype: str  # manual | automated
    tags: dict[str, str]
    data_time: float  # truth: when the data was taken (the source's start)
    maker: str  # truth: module | neighbour | foreign | automated | person
    size_gb: float
    created: float | None = None  # SnapshotCreateTime (absent while creating / copying)
    original: float | None = None  # OriginalSnapshotCreateTime (instance copies only)
    source_arn: str | None = None
    source_region: str | None = None
    kms: str | None = None
    encrypted: bool = True
    progress: int = 0
    requested: float = 0.0  # when it was asked for
    available_at: float | None = None
    incremental: bool = False
    deleted: bool = False
    resource_id: str | None = None  # the database's (a copy: its source's database's)
    _item: _Raw | None = field(default=None, repr=False)

    @property
    def arn(self) -> str:
        kind = "snapshot" if self.kind == INSTANCE else "cluster-snapshot"
        return f"arn:aws:rds:{self.region}:{ACCOUNT}:{kind}:{self.ident}"

    @property
    def copying(self) -> bool:
        return self.source_region is not None and self.status in ("pending", "copying")


class Bucket:
    """The account's RDS API token bucket in one region (see BUCKET_BURST), with other tools drawing a
    steady background rate from it (an approximation: their draw is continuous, never throttled)."""

    def __init__(self, background_rate: float) -> None:
        self.tokens = BUCKET_BURST
        self.t = 0.0
        self.net_rate = BUCKET_RATE - background_rate
        self.lowest = BUCKET_BURST

    def take(self, now: float) -> bool:
        self.tokens = min(BUCKET_BURST, max(0.0, self.tokens + self.net_rate * (now - self.t)))
        self.t = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        self.lowest = min(self.lowest, self.tokens)
        return True


class Region:
    def __init__(self, name: str, quota: dict[str, int], background_rate: float) -> None:
        self.name = name
        self.databases: dict[str, dict[str, Database]] = {INSTANCE: {}, CLUSTER: {}}
        self.snapshots: dict[str, dict[str, Snap]] = {INSTANCE: {}, CLUSTER: {}}
        self.quota = quota
        self.bucket = Bucket(background_rate)
        self.copies_in_flight = {INSTANCE: 0, CLUSTER: 0}
        self.generation = 0  # changes whenever a snapshot is added or removed (listing caches)
        self._listing: dict[Any, tuple[int, list[str], list[Snap]]] = {}
        # kept by Rds.add and Rds.remove, the only ways in and out of `snapshots`
        self._manual = {INSTANCE: 0, CLUSTER: 0}
        self.by_database: dict[tuple[str, str], dict[str, Snap]] = defaultdict(dict)  # (kind, db) -> its snapshots

    def manual_count(self, kind: str) -> int:
        return self._manual[kind]


class Rds:
    """Both regions, answering the RDS API the function calls, and moving snapshots and copies along."""

    def __init__(
        self,
        kernel: Kernel,
        rng: random.Random,
        source: str,
        destination: str,
        *,
        timing: Timing,
        quota: dict[str, int],
        background_rate: float,
        copy_failure_rate: float,
        emit: Callable[[str, str, str, str, Snap], None],
    ) -> None:
        self.kernel = kernel
        self.rng = rng
        self.source, self.destination = source, destination
        self.regions = {name: Region(name, dict(quota), background_rate) for name in (source, destination)}
        self.timing = timing
        self.copy_failure_rate = copy_failure_rate
        self.emit = emit
        self.outages: list[tuple[float, float]] = []  # destination copy outages: copies make no progress
        # RDS API outages: (region, begin, end); every request to that region's endpoint answers 500
        self.api_outages: list[tuple[str, float, float]] = []
        # throttling outages, as api_outages: every request answers ThrottlingException
        self.throttle_outages: list[tuple[str, float, float]] = []
        self.snapshot_failure_rate = 0.0
        # (begin, end): the destination key is disabled, and RDS refuses new copies under it
        self.kms_outages: list[tuple[float, float]] = []
        # (begin, end): the destination key is scheduled for deletion, then the deletion is cancelled and the key
        # enabled again (CancelKeyDeletion leaves a key Disabled until EnableKey: KMS Developer Guide, "Cancel key
        # deletion", https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-cancelling-key-deletion.html);
        # RDS refuses new copies under it meanwhile
        self.kms_pending: list[tuple[float, float]] = []
        # (database, from, hours): its next snapshot created from that time stays creating that long
        self.stuck: list[tuple[str, float, float]] = []
        self._copy_queue: dict[tuple[str, str, str], deque[Snap]] = defaultdict(deque)
        # observers (the harness's records); each gets (snap, now)
        # who the API's requests come from: the simulated module, or another instance of it in the account (the
        # neighbour, simulation/neighbour.py); what they create is theirs (Snap.maker)
        self.caller = "module"
        self.on_delete: list[Callable[[Snap, float], None]] = []
        self.on_copy_end: list[Callable[[Snap, float], None]] = []
        self.on_available: list[Callable[[Snap, float], None]] = []
        self.on_copy_start: list[Callable[[Snap, float], None]] = []
        self.on_snapshot_failed: list[Callable[[Snap, float], None]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.unsupported: set[str] = set()

    # --- the API ---------------------------------------------------------------------------------

    def key_state(self, now: float) -> str:
        """The destination KMS key's KeyState at `now` (KMS Developer Guide, "Key states of AWS KMS keys"): only an
        Enabled key encrypts a new copy or decrypts one for a restore."""
        if any(begin <= now < end for begin, end in self.kms_pending):
            return "PendingDeletion"
        if any(begin <= now < end for begin, end in self.kms_outages):
            return "Disabled"
        return "Enabled"

    def call(self, region_name: str, operation: str, params: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """Answer one request at the kernel's time: (result, latency). Raises ApiError."""
        region = self.regions[region_name]
        now = self.kernel.now
        if any(name == region_name and begin <= now < end for name, begin, end in self.api_outages):
            self.counts["api_outage"] += 1
            raise ApiError("InternalFailure", "The request processing has failed because of an unknown error", 500)
        if any(name == region_name and begin <= now < end for name, begin, end in self.throttle_outages):
            self.counts["throttled"] += 1
            raise ApiError("ThrottlingException", "Rate exceeded")
        if not region.bucket.take(now):
            self.counts["throttled"] += 1
            raise ApiError("ThrottlingException", "Rate exceeded")
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            self.unsupported.add(operation)
            raise ApiError("InvalidAction", f"{operation} is not modelled by the simulation")
        return handler(region, params, now)

    # paging: RDS API Reference, Describe* (MaxRecords 20-100, Marker)
    def _page(self, region: Region, key: Any, build: Callable[[], list[Any]], params: dict[str, Any]) -> Any:
        max_records = params.get("MaxRecords", 100)
        if not MAX_RECORDS[0] <= max_records <= MAX_RECORDS[1]:
            raise ApiError("InvalidParameterValue", f"MaxRecords must be between {MAX_RECORDS[0]} and 100")
        cached = region._listing.get(key)
        if cached is None or cached[0] != region.generation:
            items = sorted(build(), key=lambda x: x[0])
            cached = (region.generation, [i for i, _ in items], [o for _, o in items])
            region._listing[key] = cached
        _, ids, objects = cached
        start = bisect.bisect_right(ids, params["Marker"]) if params.get("Marker") else 0
        page = objects[start : start + max_records]
        marker = ids[start + max_records - 1] if start + max_records < len(ids) else None
        return page, marker

    def _latency(self, items: int = 0, mutate: bool = False) -> float:
        t = self.timing
        return (t.mutate_latency_s if mutate else t.describe_latency_s) + t.per_item_latency_s * items

    def _describe_snapshots(self, kind: str, region: Region, params: dict[str, Any], now: float) -> Any:
        id_param = "DBSnapshotIdentifier" if kind == INSTANCE else "DBClusterSnapshotIdentifier"
        db_param = "DBInstanceIdentifier" if kind == INSTANCE else "DBClusterIdentifier"
        list_key = "DBSnapshots" if kind == INSTANCE else "DBClusterSnapshots"
        filters = {f["Name"]: set(f["Values"]) for f in params.get("Filters", [])}
        ident = params.get(id_param) or None
        wanted_ids = {ident} if ident else filters.get("db-snapshot-id") or filters.get("db-cluster-snapshot-id")
        dbs = (
            {params[db_param]}
            if params.get(db_param)
            else filters.get("db-instance-id") or filters.get("db-cluster-id")
        )
        stype = params.get("SnapshotType")
        types = {stype} if stype else filters.get("snapshot-type") or {"manual", "automated"}
        if ident is not None:
            snap = region.snapshots[kind].get(ident)
            if snap is None:
                raise ApiError(_ERR[kind]["not_found"], f"{ident} not found", 404)
            found = [snap] if snap.stype in types else []
            return {list_key: [self._item(s) for s in found]}, self._latency(len(found))
        key = (kind, frozenset(wanted_ids or ()), frozenset(dbs or ()), frozenset(types))

        def build() -> list[tuple[str, Snap]]:
            every = region.snapshots[kind]
            if wanted_ids:
                pool: Any = (every[i] for i in wanted_ids if i in every)
            elif dbs:
                pool = (s for db in dbs for s in region.by_database.get((kind, db), {}).values())
            else:
                pool = every.values()
            return [
                (s.ident, s)
                for s in pool
                if s.stype in types and (not wanted_ids or s.ident in wanted_ids) and (not dbs or s.db in dbs)
            ]

        page, marker = self._page(region, key, build, params)
        result: dict[str, Any] = {list_key: [self._item(s) for s in page]}
        if marker:
            result["Marker"] = marker
        return result, self._latency(len(page))

    def _op_DescribeDBSnapshots(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._describe_snapshots(INSTANCE, region, params, now)

    def _op_DescribeDBClusterSnapshots(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._describe_snapshots(CLUSTER, region, params, now)

    def _describe_databases(self, kind: str, region: Region, params: dict[str, Any]) -> Any:
        list_key = "DBInstances" if kind == INSTANCE else "DBClusters"
        id_param = "DBInstanceIdentifier" if kind == INSTANCE else "DBClusterIdentifier"
        live = {i: d for i, d in region.databases[kind].items() if d.deleted_at is None}
        if params.get(id_param):
            db = live.get(params[id_param])
            if db is None:
                raise ApiError(_ERR[kind]["db_not_found"], f"{params[id_param]} not found", 404)
            return {list_key: [self._db_item(db)]}, self._latency(1)
        key = (kind, "databases", region.generation)
        # databases change rarely: the listing is rebuilt on every call (cheap at fleet sizes)
        items = sorted(live.items())
        region._listing[key] = (region.generation, [i for i, _ in items], [d for _, d in items])
        page, marker = self._page(region, key, lambda: items, params)
        result: dict[str, Any] = {list_key: [self._db_item(d) for d in page]}
        if marker:
            result["Marker"] = marker
        return result, self._latency(len(page))

    def _op_DescribeDBInstances(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._describe_databases(INSTANCE, region, params)

    def _op_DescribeDBClusters(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._describe_databases(CLUSTER, region, params)

    # RDS User Guide, "Quotas and constraints for Amazon RDS"; API Reference, DescribeAccountAttributes.
    def _op_DescribeAccountAttributes(self, region: Region, params: dict[str, Any], now: float) -> Any:
        quotas = [
            {
                "AccountQuotaName": "ManualSnapshots",
                "Used": region.manual_count(INSTANCE),
                "Max": region.quota[INSTANCE],
            },
            {
                "AccountQuotaName": "ManualClusterSnapshots",
                "Used": region.manual_count(CLUSTER),
                "Max": region.quota[CLUSTER],
            },
            {"AccountQuotaName": "DBInstances", "Used": len(region.databases[INSTANCE]), "Max": 40},
            {"AccountQuotaName": "DBClusters", "Used": len(region.databases[CLUSTER]), "Max": 40},
        ]
        return {"AccountQuotas": quotas}, self._latency()

    def _op_ListTagsForResource(self, region: Region, params: dict[str, Any], now: float) -> Any:
        snap = self._by_arn(region, params["ResourceName"])
        return {"TagList": [{"Key": k, "Value": v} for k, v in snap.tags.items()]}, self._latency()

    def _op_AddTagsToResource(self, region: Region, params: dict[str, Any], now: float) -> Any:
        snap = self._by_arn(region, params["ResourceName"])
        snap.tags.update({t["Key"]: t.get("Value", "") for t in params.get("Tags", [])})
        snap._item = None
        return {}, self._latency(mutate=True)

    def _by_arn(self, region: Region, arn: str) -> Snap:
        ident = arn.rsplit(":", 1)[-1]
        kind = CLUSTER if ":cluster-snapshot:" in arn else INSTANCE
        snap = region.snapshots[kind].get(ident)
        if snap is None:
            raise ApiError(_ERR[kind]["not_found"], f"{arn} not found", 404)
        return snap

    # --- creating a snapshot ------------------------------------------------------------------------

    def _check_quota(self, region: Region, kind: str) -> None:
        # RDS User Guide, "Quotas and constraints": a manual snapshot over the quota is refused.
        if region.manual_count(kind) >= region.quota[kind]:
            self.counts["quota_exceeded"] += 1
            raise ApiError(
                "SnapshotQuotaExceeded", "Request would result in user exceeding the allowed number of DB snapshots."
            )

    def _create(self, kind: str, region: Region, params: dict[str, Any], now: float) -> Any:
        db_param = "DBInstanceIdentifier" if kind == INSTANCE else "DBClusterIdentifier"
        id_param = "DBSnapshotIdentifier" if kind == INSTANCE else "DBClusterSnapshotIdentifier"
        db = region.databases[kind].get(params[db_param])
        if db is None or db.deleted_at is not None:
            raise ApiError(_ERR[kind]["db_not_found"], f"{params[db_param]} not found", 404)
        if db.status != "available":
            raise ApiError(_ERR[kind]["db_state"], f"{db.ident} is {db.status}; a snapshot needs it available")
        ident = params[id_param]
        if ident in region.snapshots[kind]:
            raise ApiError(_ERR[kind]["exists"], f"{ident} already exists")
        self._check_quota(region, kind)
        tags = {t["Key"]: t.get("Value", "") for t in params.get("Tags", [])}
        snap = Snap(kind, ident, region.name, db.ident, "creating", "manual", tags, now, self.caller, db.size_gb)
        snap.requested, snap.resource_id = now, db.resource_id
        self.add(region, snap)
        if kind == CLUSTER:
            self.emit(region.name, *EVENTS[(CLUSTER, "creating")], snap)
        seconds = self.timing.snapshot_seconds(db.size_gb)
        for index, (ident_db, begin, hours) in enumerate(self.stuck):
            if ident_db == db.ident and now >= begin:
                seconds = max(seconds, hours * 3600.0)
                del self.stuck[index]
                break
        if self.snapshot_failure_rate and self.rng.random() < self.snapshot_failure_rate:
            self.kernel.at(now + seconds, lambda: self._failed(snap))
        else:
            self.kernel.at(now + seconds, lambda: self._created(snap))
        return {("DBSnapshot" if kind == INSTANCE else "DBClusterSnapshot"): self._item(snap)}, self._latency(
            mutate=True
        )

    def _failed(self, snap: Snap) -> None:
        """A snapshot that ended `failed`: it holds no data (RDS User Guide, DB snapshot status "failed")."""
        if snap.deleted:
            return
        snap.status, snap.progress = "failed", 0
        snap._item = None
        self.counts["snapshots_failed"] += 1
        region = self.regions[snap.region]
        region.generation += 1
        for observer in self.on_snapshot_failed:
            observer(snap, self.kernel.now)

    def _created(self, snap: Snap) -> None:
        if snap.deleted:
            return
        snap.status, snap.created, snap.progress, snap.available_at = "available", snap.data_time, 100, self.kernel.now
        snap._item = None
        for observer in self.on_available:
            observer(snap, self.kernel.now)
        if snap.stype == "manual":
            self.emit(snap.region, *EVENTS[(snap.kind, "created")], snap)

    def _op_CreateDBSnapshot(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._create(INSTANCE, region, params, now)

    def _op_CreateDBClusterSnapshot(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._create(CLUSTER, region, params, now)

    # --- copying a snapshot across regions ------------------------------------------------------------

    def _copy(self, kind: str, region: Region, params: dict[str, Any], now: float) -> Any:
        prefix = "SourceDBSnapshotIdentifier" if kind == INSTANCE else "SourceDBClusterSnapshotIdentifier"
        target_param = "TargetDBSnapshotIdentifier" if kind == INSTANCE else "TargetDBClusterSnapshotIdentifier"
        source_arn = params[prefix]
        source_region = self.regions[source_arn.split(":")[3]]
        source = self._by_arn(source_region, source_arn)
        if source.status != "available":
            raise ApiError(_ERR[kind]["state"], f"{source.ident} is {source.status}; a copy needs it available")
        target = params[target_param]
        if target in region.snapshots[kind]:
            raise ApiError(_ERR[kind]["exists"], f"{target} already exists")
        # RDS User Guide, "Limitations of Multi-AZ DB clusters": copying a snapshot of a Multi-AZ DB cluster is not
        # supported (the error code is the simulation's: AWS documents the limit, not the code).
        database = source_region.databases[kind].get(source.db)
        if kind == CLUSTER and database is not None and database.engine in ("postgres", "mysql"):
            raise ApiError("InvalidParameterCombination", f"{source.ident} is a Multi-AZ DB cluster snapshot: no copy")
        # Aurora User Guide, "Copying a DB cluster snapshot": an unencrypted cluster snapshot cannot be
        # encrypted by the copy (a KmsKeyId is refused).
        if kind == CLUSTER and not source.encrypted and params.get("KmsKeyId"):
            raise ApiError("InvalidParameterCombination", "cannot encrypt an unencrypted cluster snapshot on copy")
        # RDS API Reference, CopyDBSnapshot / CopyDBClusterSnapshot errors: KMSKeyNotAccessibleFault, "An error
        # occurred accessing an AWS KMS key" (a disabled key, one pending deletion, or a key policy refusing it)
        state = self.key_state(now)
        if params.get("KmsKeyId") and state != "Enabled":
            self.counts["kms_refused"] += 1
            raise ApiError("KMSKeyNotAccessibleFault", f"The specified KMS key {params['KmsKeyId']} is {state}.")
        if region.copies_in_flight[kind] >= COPIES_IN_FLIGHT[kind]:
            self.counts["copy_limit_refused"] += 1
            raise ApiError(
                "SnapshotQuotaExceeded",
                f"Cannot copy more than {COPIES_IN_FLIGHT[kind]} snapshots across regions to {region.name} at a time.",
            )
        self._check_quota(region, kind)
        tags = dict(source.tags) if params.get("CopyTags") else {}
        tags.update({t["Key"]: t.get("Value", "") for t in params.get("Tags", [])})
        copy = Snap(
            kind,
            target,
            region.name,
            source.db,
            "pending",
            "manual",
            tags,
            source.data_time,
            self.caller,
            source.size_gb,
        )
        copy.source_arn, copy.source_region, copy.requested = source_arn, source_region.name, now
        copy.resource_id = source.resource_id
        copy.kms = params.get("KmsKeyId") or (None if not source.encrypted else source.kms)
        copy.encrypted = bool(copy.kms) or source.encrypted
        if kind == INSTANCE:
            # API Reference, DBSnapshot: a copy carries its source's OriginalSnapshotCreateTime; DBClusterSnapshot
            # has no such field (a cluster copy is dated by the copy).
            copy.original = source.data_time
        self.add(region, copy)
        region.copies_in_flight[kind] += 1
        for observer in self.on_copy_start:
            observer(copy, now)
        # RDS User Guide, "Copying a DB snapshot": copies of the same source database queue and start one
        # after another.
        queue = self._copy_queue[(region.name, kind, copy.db)]
        queue.append(copy)
        if len(queue) == 1:
            self._start_copy(copy)
        return {("DBSnapshot" if kind == INSTANCE else "DBClusterSnapshot"): self._item(copy)}, self._latency(
            mutate=True
        )

    def _start_copy(self, copy: Snap) -> None:
        region = self.regions[copy.region]
        now = self.kernel.now
        prior = [
            s
            for s in region.by_database[(copy.kind, copy.db)].values()
            if s is not copy and s.status == "available" and s.source_region and s.kms == copy.kms
        ]
        copy.incremental = bool(prior)
        copy.status, copy._item = "copying", None
        finish = self._progress_until(now, self.timing.copy_seconds(copy.size_gb, copy.incremental))
        self.kernel.at(finish, lambda: self._copy_done(copy))

    def _progress_until(self, start: float, work: float) -> float:
        """When `work` seconds of copying started at `start` end, with no progress during outages."""
        t, remaining = start, work
        for begin, end in sorted(self.outages):
            if end <= t:
                continue
            if t < begin:
                step = min(remaining, begin - t)
                t += step
                remaining -= step
                if remaining <= 0:
                    return t
            t = max(t, end)
        return t + remaining

    def _copy_done(self, copy: Snap) -> None:
        region = self.regions[copy.region]
        now = self.kernel.now
        queue = self._copy_queue[(region.name, copy.kind, copy.db)]
        if queue and queue[0] is copy:
            queue.popleft()
            if queue:
                self._start_copy(queue[0])
        if copy.deleted:  # cancelled by deleting it while copying
            return
        region.copies_in_flight[copy.kind] -= 1
        source = self.regions[copy.source_region].snapshots[copy.kind].get(copy.source_arn.rsplit(":", 1)[-1])
        # RDS User Guide, "Copying a DB snapshot": deleting the source before the copy is available may
        # fail the copy (modelled: it does).
        source_gone = source is None or source.deleted or source.arn != copy.source_arn
        if source_gone or self.rng.random() < self.copy_failure_rate:
            copy.status, copy._item = "failed", None
            copy.progress = self.rng.randint(1, 99)
            for observer in self.on_copy_end:
                observer(copy, now)
            if (copy.kind, "copy-failed") in EVENTS:
                self.emit(region.name, *EVENTS[(copy.kind, "copy-failed")], copy)
            return
        copy.status, copy.progress, copy.available_at, copy._item = "available", 100, now, None
        copy.created = copy.requested  # SnapshotCreateTime of a copy: when the copy was made
        for observer in self.on_copy_end:
            observer(copy, now)
        for observer in self.on_available:
            observer(copy, now)
        if (copy.kind, "copy-completed") in EVENTS:
            self.emit(region.name, *EVENTS[(copy.kind, "copy-completed")], copy)

    def _op_CopyDBSnapshot(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._copy(INSTANCE, region, params, now)

    def _op_CopyDBClusterSnapshot(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._copy(CLUSTER, region, params, now)

    # --- deleting ----------------------------------------------------------------------------------------

    def _delete(self, kind: str, region: Region, params: dict[str, Any], now: float) -> Any:
        id_param = "DBSnapshotIdentifier" if kind == INSTANCE else "DBClusterSnapshotIdentifier"
        snap = region.snapshots[kind].get(params[id_param])
        if snap is None:
            raise ApiError(_ERR[kind]["not_found"], f"{params[id_param]} not found", 404)
        if snap.stype != "manual":
            raise ApiError(_ERR[kind]["state"], "automated snapshots are deleted by RDS only")
        if snap.status == "creating":
            raise ApiError(_ERR[kind]["state"], f"{snap.ident} is being created")
        for observer in self.on_delete:
            observer(snap, now)
        if snap.copying:  # deleting a copy in progress cancels it (API Reference, CopyDBClusterSnapshot)
            region.copies_in_flight[kind] -= 1
        self.remove(region, snap)
        snap.status = "deleted"
        snap._item = None
        return {("DBSnapshot" if kind == INSTANCE else "DBClusterSnapshot"): self._item(snap)}, self._latency(
            mutate=True
        )

    def _op_DeleteDBSnapshot(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._delete(INSTANCE, region, params, now)

    def _op_DeleteDBClusterSnapshot(self, region: Region, params: dict[str, Any], now: float) -> Any:
        return self._delete(CLUSTER, region, params, now)

    # --- state and serialization ---------------------------------------------------------------------

    def add(self, region: Region, snap: Snap) -> None:
        replaced = region.snapshots[snap.kind].get(snap.ident)
        if replaced is not None:
            self._forget(region, replaced)
        region.snapshots[snap.kind][snap.ident] = snap
        region.by_database[(snap.kind, snap.db)][snap.ident] = snap
        region._manual[snap.kind] += snap.stype == "manual"
        region.generation += 1

    def remove(self, region: Region, snap: Snap) -> None:
        del region.snapshots[snap.kind][snap.ident]
        self._forget(region, snap)
        snap.deleted = True
        region.generation += 1

    @staticmethod
    def _forget(region: Region, snap: Snap) -> None:
        del region.by_database[(snap.kind, snap.db)][snap.ident]
        region._manual[snap.kind] -= snap.stype == "manual"

    def _item(self, snap: Snap) -> _Raw:
        if snap._item is not None:
            return snap._item
        tags = [{"Key": k, "Value": v} for k, v in snap.tags.items()]
        created = to_datetime(snap.created) if snap.created is not None else None
        if snap.kind == INSTANCE:
            item = _Raw(
                DBSnapshotIdentifier=snap.ident,
                DBInstanceIdentifier=snap.db,
                SnapshotCreateTime=created,
                Engine="postgres",
                AllocatedStorage=math.ceil(snap.size_gb),
                Status=snap.status,
                SnapshotType=snap.stype,
                PercentProgress=snap.progress,
                Encrypted=snap.encrypted,
                KmsKeyId=snap.kms,
                DBSnapshotArn=snap.arn,
                TagList=tags,
                SourceRegion=snap.source_region,
                SourceDBSnapshotIdentifier=snap.source_arn,
                DbiResourceId=snap.resource_id,
                OriginalSnapshotCreateTime=to_datetime(snap.original) if snap.original is not None else None,
            )
        else:
            item = _Raw(
                DBClusterSnapshotIdentifier=snap.ident,
                DBClusterIdentifier=snap.db,
                SnapshotCreateTime=created,
                Engine="aurora-postgresql",
                AllocatedStorage=math.ceil(snap.size_gb),
                Status=snap.status,
                SnapshotType=snap.stype,
                PercentProgress=snap.progress,
                StorageEncrypted=snap.encrypted,
                KmsKeyId=snap.kms,
                DBClusterSnapshotArn=snap.arn,
                SourceDBClusterSnapshotArn=snap.source_arn,
                DbClusterResourceId=snap.resource_id,
                TagList=tags,
            )
        snap._item = item
        return item

    def _db_item(self, db: Database) -> dict[str, Any]:
        tags = [{"Key": k, "Value": v} for k, v in db.tags.items()]
        if db.kind == INSTANCE:
            return {
                "DBInstanceIdentifier": db.ident,
                "DBInstanceStatus": db.status,
                "Engine": db.engine or "postgres",
                "AllocatedStorage": int(db.size_gb),
                "InstanceCreateTime": to_datetime(db.created),
                "StorageEncrypted": True,
                "DBClusterIdentifier": db.cluster,
                "DbiResourceId": db.resource_id,
                "TagList": tags,
            }
        return {
            "DBClusterIdentifier": db.ident,
            "Status": db.status,
            "Engine": db.engine or "aurora-postgresql",
            "AllocatedStorage": int(db.size_gb),
            "ClusterCreateTime": to_datetime(db.created),
            "StorageEncrypted": True,
            "DbClusterResourceId": db.resource_id,
            "TagList": tags,
        }
