"""The scenarios, as data. Each is seeded and repeatable; `fleet.run` plays one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .services import Delivery, LambdaConfig

DAY = 86400.0
HOUR = 3600.0

# The settings for a large fleet (docs/sizing.md, "Fleet sizing and quotas"): every instance copy slot of the
# destination region, and the longest Lambda timeout.
LARGE_FLEET_SETTINGS = (("COPY_CONCURRENCY_LIMIT", "20"),)
LARGE_FLEET_TIMEOUT_S = 900.0
# The sizing table of docs/sizing.md ("Copy slots and the recovery point"): the default 5 slots copy about 165
# instances within the default 30 h RPO at 10 minutes per incremental copy, about the simulated fleet's
# mean (one round of 900 instances' incremental copies takes 31 h through 5 slots). A fleet with more
# instances needs the settings for a large fleet.
DEFAULT_SLOTS_CARRY_INSTANCES = 165


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    databases: int = 100
    days: int = 30
    seed: int = 1
    aurora_share: float = 0.10
    delivery: Delivery = field(default_factory=Delivery)
    lambda_config: LambdaConfig = field(default_factory=LambdaConfig)
    copy_failure_rate: float = 0.0
    # (start, hours) of destination-region copy outages: copies in progress make no progress
    copy_outages: tuple[tuple[float, float], ...] = ()
    # RDS API outages: (region role "source" | "destination", start in seconds, hours): every request answers 500
    api_outages: tuple[tuple[str, float, float], ...] = ()
    # RDS API throttling outages, as api_outages: every request answers ThrottlingException (HTTP 400)
    throttle_outages: tuple[tuple[str, float, float], ...] = ()
    # (start, hours) the destination KMS key is disabled: RDS refuses new copies under it (KMSKeyNotAccessibleFault)
    kms_outages: tuple[tuple[float, float], ...] = ()
    # (start, hours) the destination KMS key is pending deletion until a person cancels the deletion and enables
    # it: no copy under it can be restored (no recovery point), and RDS refuses new copies under it
    kms_pending_deletion: tuple[tuple[float, float], ...] = ()
    # per snapshot the function creates: the chance it ends `failed` instead of `available`
    snapshot_failure_rate: float = 0.0
    # (day, hours): the first instance's next snapshot from that day stays `creating` that long
    snapshot_stuck: tuple[tuple[float, float], ...] = ()
    # databases deleted: (day, how many)
    deleted: tuple[tuple[float, int], ...] = ()
    # databases that change under the function (days, at noon): the first instance deleted and created again
    # under its identifier (a new resource id); a person deleting the second instance's newest DR copy; a
    # person placing, in the DR region, a copy of an older snapshot of the third instance under the name the
    # next round gives it, with our tags (CopyTags): a look-alike the function must not take for its copy
    recreated: tuple[float, ...] = ()
    copy_deleted_by_hand: tuple[float, ...] = ()
    look_alike: tuple[float, ...] = ()
    # (days, at noon) the fourth instance renamed (ModifyDBInstance NewDBInstanceIdentifier: the same resource
    # id, its snapshots keep the old name); (day, days) the fifth instance's selection tag removed, then restored
    renamed: tuple[float, ...] = ()
    untagged: tuple[tuple[float, float], ...] = ()
    # the manual snapshot quota per region and kind, as a multiple of what the fleet needs at steady
    # state (None: AWS's default of 100)
    quota_headroom: float | None = 1.5
    # per database and day: chance of an hour of `modifying`; per instance and day: chance of a stop
    modifying_per_day: float = 0.01
    stopped_per_day: float = 0.002
    # other tools' share of the account's RDS API rate, requests per second (of the 12 sustained)
    background_rate: float = 2.0
    # the function's settings (environment variables the module sets), beyond the simulation's defaults
    settings: tuple[tuple[str, str], ...] = ()
    # seconds between runs of the copy-waiting schedule: the module's default copy_waiting_schedule_expression,
    # rate(5 minutes); None: switched off (copy_waiting_schedule_expression = null)
    copy_waiting_s: float | None = 300.0
    # the function switches the copy-waiting schedule on while copies wait and off when none do (the module's
    # way); False: it always runs (the function is not told of it), the baseline the switch is measured against
    copy_waiting_on_demand: bool = True
    # the backup schedule's whole hours of the day, UTC (schedule_expression: the module's default
    # cron(0 3 * * ? *) is (3,)), and the reconcile schedule's interval (reconcile_schedule_expression,
    # default rate(1 hour))
    backup_hours: tuple[int, ...] = (3,)
    reconcile_s: float = HOUR
    # databases of another module instance in the account (simulation/neighbour.py), which keeps its copies
    # within the slots the module leaves (20 instance copies less the module's share); 0: none
    neighbour_databases: int = 0
    # Multi-AZ DB clusters (engine postgres) carrying the selection tags, besides the fleet: RDS copies none of
    # their snapshots, so the function must refuse each once per backup and reconcile run and never snapshot it
    multi_az_clusters: int = 0

    @property
    def backup_expression(self) -> str:
        """The module's schedule_expression for `backup_hours`."""
        return f"cron(0 {','.join(str(h) for h in sorted(self.backup_hours))} * * ? *)"

    @property
    def backup_interval_s(self) -> float:
        """The longest time between two backup rounds."""
        hours = sorted(self.backup_hours)
        gaps = [b - a for a, b in zip(hours, [*hours[1:], hours[0] + 24], strict=True)]
        return max(gaps) * HOUR

    @property
    def fleet_settings(self) -> str:
        """Its label: "large-fleet" with the README's settings for a large fleet, else "defaults"."""
        return "large-fleet" if set(LARGE_FLEET_SETTINGS) <= set(self.settings) else "defaults"

    def sized(
        self,
        databases: int | None = None,
        days: int | None = None,
        seed: int | None = None,
        fleet_settings: str | None = None,
    ) -> Scenario:
        """This scenario for another fleet size, length or seed. `fleet_settings`: "defaults", "large-fleet",
        or "sized" (the module's defaults where they carry the fleet, else the settings for a large fleet, as
        the README's sizing tells a platform team). None or "defaults" adds nothing to the scenario's own
        settings (`large-fleet` keeps its settings for a large fleet)."""
        sized = replace(
            self,
            databases=databases if databases is not None else self.databases,
            days=days if days is not None else self.days,
            seed=seed if seed is not None else self.seed,
        )
        if fleet_settings == "sized":
            instances = round(sized.databases * (1 - sized.aurora_share))
            fleet_settings = "large-fleet" if instances > DEFAULT_SLOTS_CARRY_INSTANCES else "defaults"
        if fleet_settings not in (None, "defaults", "large-fleet"):
            raise ValueError(f"fleet_settings must be defaults, large-fleet or sized, not {fleet_settings!r}")
        if fleet_settings == "large-fleet" and sized.fleet_settings != "large-fleet":
            sized = replace(
                sized,
                settings=sized.settings + LARGE_FLEET_SETTINGS,
                lambda_config=replace(sized.lambda_config, timeout_s=LARGE_FLEET_TIMEOUT_S),
            )
        return sized


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "steady-state", "daily backups, hourly reconcile, no injected fault beyond databases modifying or stopped"
        ),
        Scenario(
            "large-fleet",
            "steady state with the README's settings for a large fleet: copy_concurrency_limit 20, lambda_timeout 900",
        ).sized(fleet_settings="large-fleet"),
        Scenario(
            "no-copy-waiting",
            "steady state with copy_waiting_schedule_expression = null: freed slots wait for an event or reconcile",
            copy_waiting_s=None,
        ),
        Scenario("events-lost", "10 % of the snapshot events never arrive", delivery=Delivery(lost=0.10)),
        Scenario(
            "events-disordered",
            "5 % of events arrive twice, 20 % up to 15 minutes late (so out of order)",
            delivery=Delivery(duplicated=0.05, delayed=0.20),
        ),
        Scenario(
            "copy-outage",
            "a 6-hour destination-region copy outage on day 10, from the backup on: that round's copies stall",
            copy_outages=((9 * DAY + 3.0 * HOUR, 6.0),),
        ),
        Scenario("copy-failures", "2 % of cross-region copies end failed", copy_failure_rate=0.02),
        Scenario(
            "database-deleted",
            "1 % of the databases (at least one) deleted on day 5: their copies stay, the newest forever",
            deleted=((5.0, 0),),
        ),
        Scenario(
            "source-api-outage",
            "the source region's RDS API answers 500 from the backup on day 6 for 2.5 hours: the backup run and "
            "its retries fail, so that round leaves no snapshot at all",
            api_outages=(("source", 5 * DAY + 3.0 * HOUR, 2.5),),
        ),
        Scenario(
            "source-api-throttled",
            "the source region's RDS API throttles every request from the backup on day 6 for 2.5 hours (another "
            "tool's burst): the backup run and its retries are refused, so that round leaves no snapshot at all",
            throttle_outages=(("source", 5 * DAY + 3.0 * HOUR, 2.5),),
        ),
        Scenario(
            "kms-key-disabled",
            "the destination KMS key disabled for 6 hours from the backup on day 6: RDS refuses every copy under it",
            kms_outages=((5 * DAY + 3.0 * HOUR, 6.0),),
        ),
        Scenario(
            "kms-key-pending-deletion",
            "the destination KMS key scheduled for deletion on day 6 and the deletion cancelled 30 hours later: no "
            "DR copy can be restored meanwhile, so no source snapshot may go and the recovery-point alarm fires",
            kms_pending_deletion=((5 * DAY + 12.0 * HOUR, 30.0),),
        ),
        Scenario(
            "copy-attempts-exhausted",
            "copy_max_attempts = 1 with 3 % of the copies failing (found by the configuration sweep): a round whose "
            "one copy failed is not copied again; it is reported on every reconcile, and the next round's copy is the "
            "recovery point, one backup interval later",
            copy_failure_rate=0.03,
            settings=(("COPY_MAX_ATTEMPTS", "1"),),
        ),
        Scenario(
            "two-module-instances",
            "another module instance in the account, 40 databases backed up at the same hour, keeping its copies "
            "within the 15 instance copy slots the module's share of 5 leaves: any copy AWS refuses it is the "
            "module over its share",
            neighbour_databases=40,
        ),
        Scenario(
            "snapshots-fail",
            "3 % of the snapshots the function starts end failed instead of available: they hold no data",
            snapshot_failure_rate=0.03,
        ),
        Scenario(
            "snapshot-stuck",
            "one instance's snapshot of day 6 stays creating for 30 hours: its round has a snapshot that never "
            "becomes available in time",
            snapshot_stuck=((5.0, 30.0),),
        ),
        Scenario(
            "databases-change",
            "a database deleted and created again under its identifier on day 4, a person deleting a newest DR "
            "copy on day 6, a look-alike of the next round's copy placed in the DR region on day 8, a database "
            "renamed on day 9, another's selection tag removed on day 3 and put back on day 5",
            recreated=(4.0,),
            copy_deleted_by_hand=(6.0,),
            look_alike=(8.0,),
            renamed=(9.0,),
            untagged=((3.0, 2.0),),
        ),
        Scenario(
            "quota-near-wall",
            "the manual snapshot quota at 85 % of the steady-state estimate (retention + keep-last + 2 per database)",
            quota_headroom=0.85,
        ),
        Scenario(
            "multi-az-clusters",
            "2 Multi-AZ DB clusters carry the selection tags: refused once per run, never snapshotted",
            multi_az_clusters=2,
        ),
        Scenario(
            "backlog-after-outage",
            "a 36-hour destination copy outage on day 8: the backlog of two rounds drains afterwards",
            copy_outages=((7 * DAY + 3.0 * HOUR, 36.0),),
        ),
    )
}

# What `--quick` and the test stage run: every scenario, small.
QUICK = {"databases": 10, "days": 20}
