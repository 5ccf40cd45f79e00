"""Decisions of restore and drill: which copy, which parameters from where, who is next, what may be deleted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from dr_testing import BASE_ENV, OWNER, OWNER_KEY

from rds_snapshot_dr.core.settings import Regional, load_settings
from rds_snapshot_dr.rules import naming, restore, schedule
from rds_snapshot_dr.rules.model import SOURCE_TAG, Kind, Snapshot
from rds_snapshot_dr.rules.restore import DrillRecord

SETTINGS = load_settings(BASE_ENV)
T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def copy(name: str, taken: datetime, db: str = "orders-db", status: str = "available", owner: str = OWNER) -> Snapshot:
    return Snapshot(
        Kind.INSTANCE,
        name,
        f"arn:aws:rds:us-west-2:123456789012:snapshot:{name}",
        "us-west-2",
        status,
        "manual",
        taken,
        {OWNER_KEY: owner, SOURCE_TAG: db},
        copied_from="us-east-1",
    )


COPIES = [
    copy("dr-orders-db-20261123-1400", T0 - timedelta(days=2)),
    copy("dr-orders-db-20261124-1400", T0 - timedelta(days=1)),
    copy("dr-orders-db-20261125-1400", T0, status="copying"),
    copy("dr-orders-db-20261125-1500", T0 + timedelta(hours=1), owner="someone-else"),
]


def test_newest_available_owned_copy_is_chosen():
    assert restore.choose_copy(SETTINGS, COPIES, "orders-db").identifier == "dr-orders-db-20261124-1400"


def test_copy_chosen_by_time_is_the_newest_not_newer_than_it():
    chosen = restore.choose_copy(SETTINGS, COPIES, "orders-db", at=T0 - timedelta(days=1, minutes=1))

    assert chosen.identifier == "dr-orders-db-20261123-1400"


def test_copy_chosen_by_name_must_be_available_and_owned():
    assert restore.choose_copy(SETTINGS, COPIES, "orders-db", name="dr-orders-db-20261125-1400") is None
    assert restore.choose_copy(SETTINGS, COPIES, "orders-db", name="dr-orders-db-20261125-1500") is None
    assert restore.choose_copy(SETTINGS, COPIES, "ledger-db") is None


def test_portable_settings_prefer_the_source_then_the_copy_then_the_backup_tag():
    tags = {restore.PORTABLE_TAG: "class=db.r6g.large multi-az=true deletion-protection=true"}
    snapshot = {"Engine": "postgres", "EngineVersion": "16.4", "Port": 5432}

    region_down = restore.portable_settings(None, snapshot, tags)
    region_up = restore.portable_settings({"DBInstanceClass": "db.r7g.large", "Port": 6432}, snapshot, tags)

    assert region_down["DBInstanceClass"] == ("db.r6g.large", restore.FROM_TAG)
    assert region_down["MultiAZ"] == (True, restore.FROM_TAG)
    assert region_down["Port"] == (5432, restore.FROM_SNAPSHOT)
    assert region_up["DBInstanceClass"] == ("db.r7g.large", restore.FROM_SOURCE)
    assert region_up["Port"] == (6432, restore.FROM_SOURCE)
    assert region_up["Engine"] == ("postgres", restore.FROM_SNAPSHOT)


def test_portable_tag_round_trips_and_fits_rds_tag_values():
    value = naming.portable_tag_value("db.r6g.large", False, True)

    assert value == "class=db.r6g.large multi-az=false deletion-protection=true"
    assert restore.parse_portable_tag(value) == {
        "DBInstanceClass": "db.r6g.large",
        "MultiAZ": False,
        "DeletionProtection": True,
    }
    assert restore.parse_portable_tag("garbage class= =x") == {}


def test_instance_plan_takes_regional_settings_and_flags_override_each():
    portable = restore.portable_settings({"DBInstanceClass": "db.r6g.large", "MultiAZ": True}, {"Port": 5432}, {})
    plan = restore.plan_restore(
        COPIES[1],
        "orders-db",
        portable,
        {"team": "orders", "aws:cloudformation:stack-name": "x", "rds-snapshot-dr:source": "orders-db"},
        Regional(db_subnet_group_name="dr-private", vpc_security_group_ids=("sg-1",)),
        overrides={"MultiAZ": False},
        regional_flags=Regional(vpc_security_group_ids=("sg-2",)),
    )
    params = {p.name: (p.value, p.origin) for p in plan.params}

    assert params["DBSnapshotIdentifier"] == ("dr-orders-db-20261124-1400", restore.FROM_SNAPSHOT)
    assert params["DBInstanceClass"] == ("db.r6g.large", restore.FROM_SOURCE)
    assert params["MultiAZ"] == (False, restore.FROM_FLAG)
    assert params["DBSubnetGroupName"] == ("dr-private", restore.FROM_SETTINGS)
    assert params["VpcSecurityGroupIds"] == (["sg-2"], restore.FROM_FLAG)
    assert params["Tags"][0] == [{"Key": "team", "Value": "orders"}]
    assert "(EngineVersion)" not in plan.api_params()
    assert "DBParameterGroupName" not in params  # none set: RDS's default


def test_cluster_plan_has_the_writer_with_the_source_class():
    cluster_copy = Snapshot(
        Kind.CLUSTER, "dr-payments-20261125-1400", "", "us-west-2", "available", "manual", T0, copied_from="us-east-1"
    )
    portable = restore.portable_settings({"DBInstanceClass": "db.r6g.large"}, {"Engine": "aurora-postgresql"}, {})

    plan = restore.plan_restore(cluster_copy, "payments", portable, {}, Regional())

    assert plan.api_params()["Engine"] == "aurora-postgresql"
    assert plan.api_params(plan.writer) == {
        "DBInstanceIdentifier": "payments-w",
        "DBClusterIdentifier": "payments",
        "Engine": "aurora-postgresql",
        "DBInstanceClass": "db.r6g.large",
        "PubliclyAccessible": False,
        "Tags": [],
    }
    assert restore.missing_for_restore(plan) == []


def test_a_plan_without_an_instance_class_says_so():
    plan = restore.plan_restore(COPIES[1], "orders-db", restore.portable_settings(None, {}, {}), {}, Regional())

    assert restore.missing_for_restore(plan) == ["DBInstanceClass"]


def test_rotation_takes_never_drilled_first_then_the_oldest_success():
    records = {"a-db": DrillRecord(T0 - timedelta(days=1)), "b-db": DrillRecord(T0 - timedelta(days=3))}

    assert restore.rotation_order(["a-db", "b-db", "c-db"], records) == ["c-db", "b-db", "a-db"]
    assert restore.next_in_rotation(["a-db", "b-db"], records) == "b-db"
    assert restore.next_in_rotation(["a-db", "b-db"], records, allowed=["a-db"]) == "a-db"
    assert restore.next_in_rotation([], records) is None


def test_drill_database_needs_both_the_prefix_and_the_tag():
    name = restore.drill_identifier(SETTINGS, T0)

    assert name == f"drill-{OWNER}-202611251400"
    assert restore.is_drill_database(SETTINGS, name, {restore.DRILL_TAG: OWNER})
    assert not restore.is_drill_database(SETTINGS, name, {})
    assert not restore.is_drill_database(SETTINGS, name, {restore.DRILL_TAG: "another-instance"})
    assert not restore.is_drill_database(SETTINGS, "orders-db", {restore.DRILL_TAG: OWNER})


def test_drill_database_has_exactly_a_name_the_drill_gives():
    """Issue 19, finding 6: a prefix is not a name. drill-<name>-<YYYYMMDDHHMM> (instance and cluster) and
    its Aurora writer drill-<name>-<YYYYMMDDHHMM>-w, as the role's IAM patterns have them; a person's
    drill-<name>-reporting is not a drill database, whatever its tags."""
    drill = {restore.DRILL_TAG: OWNER}
    name = restore.drill_identifier(SETTINGS, T0)

    assert restore.is_drill_database(SETTINGS, name, drill, Kind.CLUSTER)
    assert restore.is_drill_database(SETTINGS, restore.writer_identifier(name), drill, Kind.INSTANCE)
    assert not restore.is_drill_database(SETTINGS, restore.writer_identifier(name), drill, Kind.CLUSTER)
    for lookalike in (
        f"drill-{OWNER}-reporting",
        f"drill-{OWNER}-202611251400-reader",
        f"drill-{OWNER}-2026112514000",
        f"drill-{OWNER}-20261125140",
        f"drill-{OWNER}-reporting-202611251400",  # the drill database of a module instance "orders-reporting"
        f"drill-{OWNER}-2026112514xx",
    ):
        assert not restore.is_drill_database(SETTINGS, lookalike, drill), lookalike


def test_longest_drill_identifier_fits_rds_63_characters():
    settings = load_settings({**BASE_ENV, "OWNER_TAG_VALUE": "x" * 32})
    name = restore.drill_identifier(settings, T0)

    assert len(restore.writer_identifier(name)) <= 63


def test_overdue_counts_from_the_last_success_or_from_when_the_drill_was_enabled():
    records = {"a-db": DrillRecord(T0 - timedelta(days=8)), "b-db": DrillRecord(T0 - timedelta(days=2))}
    week = timedelta(days=7)

    assert restore.overdue_databases(["a-db", "b-db", "c-db"], records, T0, week, T0 - timedelta(days=1)) == ["a-db"]
    assert restore.overdue_databases(["a-db", "b-db", "c-db"], records, T0, week, T0 - timedelta(days=9)) == [
        "a-db",
        "c-db",
    ]


def test_past_lifetime():
    assert restore.past_lifetime(T0, T0 + timedelta(minutes=241), timedelta(minutes=240))
    assert not restore.past_lifetime(T0, T0 + timedelta(minutes=240), timedelta(minutes=240))


def test_drill_settings_are_checked_at_cold_start_with_the_variable_named():
    import json

    import pytest

    from rds_snapshot_dr.core.settings import SettingsError

    bad = {"max_lifetime_minutes": 5, "overdue_days": 0, "state_parameter": "x", "instance_class": "r6g"}
    with pytest.raises(SettingsError) as error:
        load_settings({**BASE_ENV, "DRILL_SETTINGS": json.dumps(bad)})

    message = str(error.value)
    assert "DRILL_SETTINGS: max_lifetime_minutes must be a whole number of at least 30" in message
    assert "DRILL_SETTINGS: overdue_days must be a whole number of at least 1" in message
    assert "DRILL_SETTINGS: state_parameter must be an SSM parameter name" in message
    assert "DRILL_SETTINGS: instance_class must be a DB instance class" in message


def test_drill_takes_the_restore_network_unless_it_has_its_own():
    drill = {"max_lifetime_minutes": 240, "overdue_days": 7, "state_parameter": "/x"}
    env = {**BASE_ENV, "RESTORE_SETTINGS": '{"db_subnet_group_name": "dr-private"}'}

    import json

    assert (
        load_settings({**env, "DRILL_SETTINGS": json.dumps(drill)}).drill.regional.db_subnet_group_name == "dr-private"
    )
    own = {**drill, "db_subnet_group_name": "drill-net"}
    assert load_settings({**env, "DRILL_SETTINGS": json.dumps(own)}).drill.regional.db_subnet_group_name == "drill-net"
    assert load_settings(BASE_ENV).drill is None


def test_rotation_orders_by_the_latest_attempt_so_a_failing_database_does_not_starve_the_rest():
    records = {
        # Always fails: its last success is old, but it was tried an hour ago.
        "broken-db": DrillRecord(None, None, T0 - timedelta(hours=1)),
        "a-db": DrillRecord(T0 - timedelta(days=2)),
        "b-db": DrillRecord(T0 - timedelta(days=5), 600.0, T0 - timedelta(days=1)),
    }

    assert restore.rotation_order(["a-db", "b-db", "broken-db", "new-db"], records) == [
        "new-db",
        "a-db",
        "b-db",
        "broken-db",
    ]


def test_engine_and_version_come_from_the_dr_copy_not_the_upgraded_source():
    source = {"Engine": "postgres", "EngineVersion": "17.2", "DBInstanceClass": "db.r7g.large", "StorageType": "gp3"}
    older_copy = {"Engine": "postgres", "EngineVersion": "16.4", "StorageType": "io1", "Iops": 3000}

    portable = restore.portable_settings(source, older_copy, {})
    cluster_copy = Snapshot(
        Kind.CLUSTER, "dr-payments-20261101-1400", "", "us-west-2", "available", "manual", T0, copied_from="us-east-1"
    )
    cluster_plan = restore.plan_restore(
        cluster_copy,
        "payments",
        restore.portable_settings(
            {"Engine": "aurora-postgresql", "EngineVersion": "16.6", "DBInstanceClass": "db.r6g.large"},
            {"Engine": "aurora-postgresql", "EngineVersion": "15.8"},
            {},
        ),
        {},
        Regional(),
    )

    assert portable["EngineVersion"] == ("16.4", restore.FROM_SNAPSHOT)
    assert portable["StorageType"] == ("io1", restore.FROM_SNAPSHOT)
    assert portable["DBInstanceClass"] == ("db.r7g.large", restore.FROM_SOURCE)
    assert cluster_plan.api_params()["EngineVersion"] == "15.8"


def test_provisioned_storage_is_restored_with_the_copys_iops_and_throughput():
    gp3 = {"Engine": "postgres", "StorageType": "gp3", "Iops": 12000, "StorageThroughput": 500}
    io2 = {"Engine": "postgres", "StorageType": "io2", "Iops": 20000, "StorageThroughput": 0}
    gp2 = {"Engine": "postgres", "StorageType": "gp2"}

    def api(attributes: dict) -> dict:
        portable = restore.portable_settings({"DBInstanceClass": "db.r6g.large"}, attributes, {})
        return restore.plan_restore(COPIES[1], "orders-db", portable, {}, Regional()).api_params()

    assert {k: api(gp3)[k] for k in ("StorageType", "Iops", "StorageThroughput")} == {
        "StorageType": "gp3",
        "Iops": 12000,
        "StorageThroughput": 500,
    }
    assert (api(io2)["StorageType"], api(io2)["Iops"]) == ("io2", 20000)
    assert "Iops" not in api(gp2)
    assert "StorageThroughput" not in api(gp2)


def test_drill_state_keeps_only_records_of_databases_still_in_the_pool():
    copies = [*COPIES, copy("dr-ledger-db-20261125-1400", T0, db="ledger-db", status="copying")]
    records = {db: DrillRecord(T0) for db in ("orders-db", "ledger-db", "retired-db")}

    assert restore.drill_pool(SETTINGS, copies) == {"orders-db", "ledger-db"}
    assert set(restore.prune_records(records, restore.drill_pool(SETTINGS, copies))) == {"orders-db", "ledger-db"}
    assert set(restore.prune_records(records, restore.drill_pool(SETTINGS, copies, ["ledger-db"]))) == {"ledger-db"}


def test_drill_state_fits_a_standard_parameter_up_to_about_70_databases_and_fails_clearly_past_8_kb():
    from rds_snapshot_dr.gateway.restore import state_to_json

    def size(databases: int, name_length: int) -> int:
        records = {
            f"{n:03d}".rjust(name_length, "d"): DrillRecord(T0, 1234.5, T0 + timedelta(days=7))
            for n in range(databases)
        }
        return len(state_to_json(restore.DrillState(T0, records)).encode())

    assert size(70, 20) <= restore.STATE_STANDARD_LIMIT
    assert size(150, 20) <= restore.STATE_ADVANCED_LIMIT
    assert restore.state_size_problem(size(150, 20), 150) is None
    reason, fix = restore.state_size_problem(size(160, 20), 160)
    assert "160 databases" in reason
    assert "restore_drill.databases" in fix


def test_rotation_coverage_counts_one_database_per_drill():
    weekly = schedule.snapshots_per_day("cron(0 3 ? * SUN *)")

    assert restore.rotation_coverage_problem(5, weekly, 35) is None
    assert "one drill every 7 days covers only 5" in restore.rotation_coverage_problem(6, weekly, 35)
    assert restore.rotation_coverage_problem(35, schedule.snapshots_per_day("cron(0 3 * * ? *)"), 35) is None
    assert restore.rotation_coverage_problem(50, None, 35) is None


DRILL_START = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
FAILED = restore.DrillStep.FAILED


@pytest.mark.parametrize(
    ("kind", "status", "members", "minutes", "step", "why"),
    [
        (Kind.INSTANCE, "creating", [], 30, restore.DrillStep.RESTORING, ""),
        (Kind.INSTANCE, "available", [], 30, restore.DrillStep.AVAILABLE, ""),
        (Kind.CLUSTER, "available", [], 30, restore.DrillStep.NEEDS_WRITER, ""),
        (Kind.CLUSTER, "available", ["creating"], 30, restore.DrillStep.RESTORING, ""),
        (Kind.CLUSTER, "available", ["available"], 30, restore.DrillStep.AVAILABLE, ""),
        (Kind.CLUSTER, "available", ["incompatible-network"], 30, FAILED, "status incompatible-network"),
        (Kind.INSTANCE, "creating", [], 181, FAILED, "still creating after 180 minutes (maximum lifetime)"),
    ],
)
def test_drill_verdict(kind, status, members, minutes, step, why):
    now = DRILL_START + timedelta(minutes=minutes)
    verdict = restore.drill_verdict(kind, status, members, DRILL_START, now, 180)
    assert (verdict.step, verdict.why) == (step, why)
    if step is restore.DrillStep.AVAILABLE:
        assert verdict.seconds == minutes * 60


def test_a_drill_without_a_readable_start_is_past_its_lifetime():
    now = DRILL_START
    for tags in ({}, {restore.DRILL_STARTED_TAG: "yesterday"}):
        started = restore.drill_started(tags, now, 180)
        assert restore.drill_verdict(Kind.INSTANCE, "creating", [], started, now, 180).step is restore.DrillStep.FAILED
    tagged = {restore.DRILL_STARTED_TAG: "2026-11-25T02:00:00Z"}
    assert restore.drill_started(tagged, now, 180) == DRILL_START - timedelta(hours=1)


@pytest.mark.parametrize(
    ("copy_group", "flag", "setting", "expected"),
    [
        # a copy made with option_group_mapping carries the DR region's group: the restore takes it
        ("orders-tde-dr", None, "dr-default-og", ("orders-tde-dr", restore.FROM_SNAPSHOT)),
        ("orders-tde-dr", "hand-picked", "dr-default-og", ("hand-picked", restore.FROM_FLAG)),
        # a copy with RDS's default group: the restore settings, else RDS's default
        ("default:oracle-ee-19", None, "dr-default-og", ("dr-default-og", restore.FROM_SETTINGS)),
        ("default:oracle-ee-19", None, None, None),
        (None, None, None, None),
    ],
)
def test_the_restore_takes_the_option_group_the_copy_carries_unless_told_otherwise(copy_group, flag, setting, expected):
    snapshot = replace(COPIES[1], option_group=copy_group)
    plan = restore.plan_restore(
        snapshot,
        "orders-db",
        restore.portable_settings(None, {}, {}),
        {},
        Regional(option_group_name=setting),
        regional_flags=Regional(option_group_name=flag),
    )
    params = {p.name: (p.value, p.origin) for p in plan.params}
    assert params.get("OptionGroupName") == expected
