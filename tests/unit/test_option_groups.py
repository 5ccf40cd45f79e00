"""Option groups: a copy of a DB snapshot with a non-default option group gets the mapped group of the
destination region (OptionGroupName), or is refused plainly, naming the group to map, before RDS would.

The stand-in (in-process here too) reports each snapshot's option group and refuses, as RDS does, a
cross-region copy of one with a non-default group that names none.
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testing import DESTINATION_REGION, instance_snapshots, load_event, owned_tags

from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules import option_groups
from rds_snapshot_dr.rules.model import Database, Kind, Snapshot

pytestmark = pytest.mark.usefixtures("aws")

SNAPSHOT = "dr-orders-db-20261125-1400"
MAPPING = '{"orders-tde": "orders-tde-dr"}'


@pytest.mark.parametrize(
    ("kind", "group", "expected"),
    [
        (Kind.INSTANCE, None, option_groups.OptionGroupChoice()),
        (Kind.INSTANCE, "default:oracle-ee-19", option_groups.OptionGroupChoice()),
        (Kind.INSTANCE, "orders-tde", option_groups.OptionGroupChoice(name="orders-tde-dr")),
        (Kind.INSTANCE, "ledger-nne", option_groups.OptionGroupChoice(missing="ledger-nne")),
        (Kind.CLUSTER, "orders-tde", option_groups.OptionGroupChoice()),  # cluster snapshots take none
    ],
)
def test_the_option_group_a_copy_gets(env, kind, group, expected):
    from rds_snapshot_dr import handler

    env(OPTION_GROUP_MAPPING=MAPPING)
    snap = Snapshot(kind, SNAPSHOT, "arn", "us-east-1", "available", "manual", None, option_group=group)
    assert option_groups.for_copy(handler.current_settings(), snap) == expected


def make_oracle(source: Any, group: str) -> None:
    source.create_option_group(
        OptionGroupName=group, EngineName="oracle-ee", MajorEngineVersion="19", OptionGroupDescription="TDE"
    )
    source.create_db_instance(
        DBInstanceIdentifier="orders-db",
        Engine="oracle-ee",
        LicenseModel="bring-your-own-license",
        DBInstanceClass="db.m5.large",
        AllocatedStorage=40,
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
        OptionGroupName=group,
    )
    source.create_db_snapshot(
        DBSnapshotIdentifier=SNAPSHOT, DBInstanceIdentifier="orders-db", Tags=owned_tags("orders-db")
    )


def test_a_snapshot_with_a_mapped_option_group_is_copied_with_the_destination_group(
    source, destination, lambda_context, env
):
    env(OPTION_GROUP_MAPPING=MAPPING)
    make_oracle(source, "orders-tde")

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "started"
    assert instance_snapshots(destination)[SNAPSHOT]["OptionGroupName"] == "orders-tde-dr"


def test_an_unmapped_option_group_is_refused_naming_the_group_without_a_retry(source, destination, lambda_context, env):
    env(OPTION_GROUP_MAPPING='{"other-group": "other-group-dr"}')
    make_oracle(source, "orders-tde")

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)  # raises nothing

    [outcome] = result["outcomes"]
    assert outcome["outcome"] == "failed"
    assert "orders-tde" in outcome["reason"]
    assert DESTINATION_REGION in outcome["reason"]
    assert 'option_group_mapping = { "orders-tde" = ' in outcome["fix"]
    assert instance_snapshots(destination) == {}


def test_the_stand_in_refuses_a_cross_region_copy_without_the_option_group_as_rds_does(source, destination):
    make_oracle(source, "orders-tde")
    arn = source.describe_db_snapshots(DBSnapshotIdentifier=SNAPSHOT)["DBSnapshots"][0]["DBSnapshotArn"]
    assert source.describe_db_snapshots(DBSnapshotIdentifier=SNAPSHOT)["DBSnapshots"][0]["OptionGroupName"] == (
        "orders-tde"
    )

    with pytest.raises(destination.exceptions.ClientError, match="OptionGroupName"):
        destination.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="hand-copy")


@pytest.mark.usefixtures("default_quotas")
@pytest.mark.parametrize(("mapping", "fails"), [("{}", True), (MAPPING, False)])
def test_preflight_fails_a_database_whose_option_group_is_not_mapped(source, lambda_context, env, mapping, fails):
    env(OPTION_GROUP_MAPPING=mapping, DB_CLUSTER_IDENTIFIERS="")
    make_oracle(source, "orders-tde")

    checks = {c["check"]: c for c in lambda_handler({"action": "preflight"}, lambda_context)["checks"]}

    if fails:
        check = checks["option group orders-db"]
        assert check["status"] == "fail"
        assert "orders-tde" in check["detail"]
        assert "option_group_mapping" in check["fix"]
    else:
        assert "option group orders-db" not in checks


def test_a_database_reports_its_option_group(source):
    from rds_snapshot_dr.gateway.aws import database_from_instance

    make_oracle(source, "orders-tde")
    [item] = source.describe_db_instances()["DBInstances"]
    assert database_from_instance(item).option_group == "orders-tde"
    assert Database(Kind.INSTANCE, "x", "available").option_group is None


def test_a_mapping_that_is_not_a_json_object_of_names_is_named_with_an_example(env):
    from rds_snapshot_dr import handler
    from rds_snapshot_dr.core.settings import SettingsError

    env(OPTION_GROUP_MAPPING='["orders-tde"]')
    with pytest.raises(SettingsError, match=r'OPTION_GROUP_MAPPING: must be a JSON object .*"orders-tde-dr"'):
        handler.current_settings()


def owned_snapshot(group: str | None) -> Snapshot:
    from dr_testing import OWNER, OWNER_KEY

    from rds_snapshot_dr.rules.model import SOURCE_TAG

    return Snapshot(
        Kind.INSTANCE,
        SNAPSHOT,
        f"arn:aws:rds:us-east-1:123456789012:snapshot:{SNAPSHOT}",
        "us-east-1",
        "available",
        "manual",
        None,
        {OWNER_KEY: OWNER, SOURCE_TAG: "orders-db"},
        option_group=group,
    )


@pytest.mark.parametrize(("mapping", "waits"), [("{}", False), (MAPPING, True)])
def test_an_unmapped_snapshot_holds_no_slot_and_keeps_no_schedule_on(env, mapping, waits):
    from rds_snapshot_dr import handler
    from rds_snapshot_dr.rules import copy_plan

    env(OPTION_GROUP_MAPPING=mapping)
    settings = handler.current_settings()
    snap = owned_snapshot("orders-tde")

    plan = copy_plan.plan_copies(settings, [snap], [], None)
    assert (plan.start == [snap]) is waits
    assert plan.unmapped == ([] if waits else [(snap, "orders-tde")])
    assert (copy_plan.waiting_copy_candidates(settings, [snap]) == [snap]) is waits


@pytest.mark.usefixtures("default_quotas")
def test_reconcile_reports_an_unmapped_snapshot_once_without_a_retry(source, destination, lambda_context, env):
    env(OPTION_GROUP_MAPPING="{}", DB_CLUSTER_IDENTIFIERS="")
    make_oracle(source, "orders-tde")

    result = lambda_handler({"action": "reconcile"}, lambda_context)  # raises nothing

    copies = [o for o in result["outcomes"] if o["operation"] == "copy"]
    assert [(o["snapshot"], o["outcome"]) for o in copies] == [(SNAPSHOT, "failed")]
    assert "orders-tde" in copies[0]["reason"]
    assert instance_snapshots(destination) == {}


@pytest.mark.usefixtures("default_quotas")
@pytest.mark.parametrize(
    ("engine", "version", "license_model"),
    [("oracle-ee", "19", "bring-your-own-license"), ("sqlserver-ee", "15.00", "license-included")],
)
def test_a_tde_database_is_copied_with_the_mapped_group_and_the_drill_restores_it_with_that_group(
    source, destination, lambda_context, env, monkeypatch, engine, version, license_model
):
    """Backup, the snapshot's copy and the drill, through the handler, for an Oracle and a SQL Server database
    whose option group (its TDE option) is not a default one."""
    import json
    from datetime import UTC, datetime

    from rds_snapshot_dr import handler

    drill = {
        "databases": [],
        "instance_class": "db.m5.large",
        "db_subnet_group_name": None,
        "vpc_security_group_ids": [],
        "max_lifetime_minutes": 240,
        "overdue_days": 7,
        "state_parameter": "/rds-snapshot-dr/orders/drill",
    }
    env(OPTION_GROUP_MAPPING=MAPPING, DB_CLUSTER_IDENTIFIERS="", DRILL_SETTINGS=json.dumps(drill))
    for client, name in ((source, "orders-tde"), (destination, "orders-tde-dr")):
        client.create_option_group(
            OptionGroupName=name, EngineName=engine, MajorEngineVersion=version, OptionGroupDescription="TDE"
        )
    source.create_db_instance(
        DBInstanceIdentifier="orders-db",
        Engine=engine,
        LicenseModel=license_model,
        DBInstanceClass="db.m5.large",
        AllocatedStorage=100,
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
        OptionGroupName="orders-tde",
    )

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    copied = lambda_handler({"action": "reconcile"}, lambda_context)  # copies what has no copy yet
    monkeypatch.setattr(handler, "utcnow", lambda: datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    drilled = lambda_handler({"action": "drill"}, lambda_context)

    assert [(o["snapshot"], o["outcome"]) for o in copied["outcomes"] if o["operation"] == "copy"] == [
        (SNAPSHOT, "started")
    ]
    assert instance_snapshots(destination)[SNAPSHOT]["OptionGroupName"] == "orders-tde-dr"
    [started] = [o for o in drilled["outcomes"] if o["operation"] == "drill"]
    assert started["outcome"] == "started"
    [restored] = destination.describe_db_instances(DBInstanceIdentifier="drill-orders-202611251500")["DBInstances"]
    assert [m["OptionGroupName"] for m in restored["OptionGroupMemberships"]] == ["orders-tde-dr"]
    assert restored["Engine"] == engine
