"""Another module instance in the same account: a scripted neighbour that shares the copy slots.

AWS counts cross-region copies in flight per destination region and account (20 instance and 5 cluster
snapshot copies, AWS-FACTS), whoever starts them. A platform team rolls the module out more than once per
account, giving each instance a share of those slots (`copy_concurrency_limit`); an instance that goes over
its share takes slots another instance counts on, and that instance's copies are refused. The neighbour is
such an instance, kept to its share by construction: its own databases (prefix "nb", its own owner tag, never
selected by the simulated module), a backup round at the same hour as the module's (the worst case for the
slots), and copies started whenever it has fewer in flight than its share, the rest of the slots after the
module's. Every copy AWS refuses it for the limit is recorded: with both instances within their shares there
are none, so a refusal is the module going over its share.

It calls the same simulated RDS API (its requests draw on the account's token bucket too) at kernel times,
outside any invocation, and prunes its own snapshots so the quota holds (its sources once copied and a day
old, its copies after two days, the newest kept).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .kernel import Kernel, to_datetime
from .rds import COPIES_IN_FLIGHT, INSTANCE, Database, Rds, Snap
from .scenarios import DAY, HOUR
from .wire import ApiError

PREFIX = "nb"
OWNER = {"rds-snapshot-dr:owner": "neighbour"}
TICK_S = 300.0  # its copy-waiting schedule: rate(5 minutes)


class Neighbour:
    def __init__(
        self,
        kernel: Kernel,
        rds: Rds,
        source: str,
        destination: str,
        key: str,
        databases: int,
        share: dict[str, int],
        backup_hour: float,
        days: int,
        size_gb: Callable[[int], float],
    ) -> None:
        self.kernel, self.rds = kernel, rds
        self.source, self.destination, self.key = source, destination, key
        self.share = share
        self.refused: list[tuple[float, str, int]] = []  # (when, kind, the account's copies of the kind in flight)
        self.copies_started = 0
        region = rds.regions[source]
        self.databases = []
        for i in range(databases):
            db = Database(INSTANCE, f"nb-db-{i:04d}", size_gb(i), -30 * DAY, dict(OWNER))
            region.databases[INSTANCE][db.ident] = db
            self.databases.append(db)
        day = 0
        while day < days:
            kernel.at(day * DAY + backup_hour * HOUR, self._backup)
            day += 1
        t = TICK_S
        while t < days * DAY:
            kernel.at(t, self._tick)
            t += TICK_S

    def in_flight(self, kind: str) -> int:
        return sum(1 for s in self._own(self.destination, kind) if s.copying)

    def snapshots_needed(self) -> int:
        """What it holds per region at most: a source until copied plus a day, copies for two days."""
        return 3 * len(self.databases)

    def _own(self, region: str, kind: str) -> list[Snap]:
        return [s for s in self.rds.regions[region].snapshots[kind].values() if s.maker == "neighbour"]

    def _call(self, region: str, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        caller, self.rds.caller = self.rds.caller, "neighbour"
        try:
            return self.rds.call(region, operation, params)[0]
        except ApiError as error:
            if error.code == "SnapshotQuotaExceeded" and "at a time" in error.message:
                self.refused.append((self.kernel.now, INSTANCE, self.rds.regions[region].copies_in_flight[INSTANCE]))
            return None  # throttled or refused: the next tick tries again
        finally:
            self.rds.caller = caller

    def _backup(self) -> None:
        stamp = to_datetime(self.kernel.now).strftime("%Y%m%d-%H%M")
        for db in self.databases:
            self._call(
                self.source,
                "CreateDBSnapshot",
                {
                    "DBInstanceIdentifier": db.ident,
                    "DBSnapshotIdentifier": f"{PREFIX}-{db.ident}-{stamp}",
                    "Tags": [{"Key": k, "Value": v} for k, v in OWNER.items()],
                },
            )

    def _tick(self) -> None:
        kind = INSTANCE
        copies = {s.ident: s for s in self._own(self.destination, kind)}
        for failed in [s for s in copies.values() if s.status == "failed"]:
            self._call(self.destination, "DeleteDBSnapshot", {"DBSnapshotIdentifier": failed.ident})
        room = min(self.share[kind], COPIES_IN_FLIGHT[kind]) - self.in_flight(kind)
        waiting = sorted(
            (s for s in self._own(self.source, kind) if s.status == "available" and s.ident not in copies),
            key=lambda s: s.data_time,
            reverse=True,
        )
        for snap in waiting[: max(0, room)]:
            started = self._call(
                self.destination,
                "CopyDBSnapshot",
                {
                    "SourceDBSnapshotIdentifier": snap.arn,
                    "TargetDBSnapshotIdentifier": snap.ident,
                    "KmsKeyId": self.key,
                    "CopyTags": True,
                    "SourceRegion": self.source,
                },
            )
            self.copies_started += started is not None
        self._prune()

    def _prune(self) -> None:
        now = self.kernel.now
        copies = self._own(self.destination, INSTANCE)
        available = {s.ident for s in copies if s.status == "available"}
        for snap in self._own(self.source, INSTANCE):
            if snap.ident in available and now - snap.data_time > DAY:
                self._call(self.source, "DeleteDBSnapshot", {"DBSnapshotIdentifier": snap.ident})
        newest: dict[str, float] = {}
        for snap in copies:
            if snap.status == "available":
                newest[snap.db] = max(newest.get(snap.db, snap.data_time), snap.data_time)
        for snap in copies:
            if snap.status == "available" and now - snap.data_time > 2 * DAY and snap.data_time < newest[snap.db]:
                self._call(self.destination, "DeleteDBSnapshot", {"DBSnapshotIdentifier": snap.ident})
