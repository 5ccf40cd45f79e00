"""The restore drill on moto: start one restore of the newest DR copy, then measure it and delete it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from dr_testing import (
    DESTINATION_REGION,
    OWNER,
    SOURCE_REGION,
    alter_response,
    engine_client,
    inject_error,
    make_cluster,
    make_instance,
    owned_tags,
)

from rds_snapshot_dr import handler
from rds_snapshot_dr.core.metrics import DRILL_PUBLISHED, PUBLISHED
from rds_snapshot_dr.gateway.aws import RdsGateway
from rds_snapshot_dr.gateway.restore import state_from_json
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.jobs.actions import FUNCTION_ACTIONS
from rds_snapshot_dr.jobs.engine import Engine, Report
from rds_snapshot_dr.rules.errors import TargetFailuresError
from rds_snapshot_dr.rules.events import ActionRequest, parse_event
from rds_snapshot_dr.rules.restore import DRILL_SNAPSHOT_TAG, DRILL_SOURCE_TAG, DRILL_TAG

pytestmark = pytest.mark.usefixtures("default_quotas")

STATE = "/rds-snapshot-dr/orders/drill"
DRILL = {
    "databases": [],
    "instance_class": "db.t3.micro",
    "db_subnet_group_name": None,
    "vpc_security_group_ids": [],
    "max_lifetime_minutes": 240,
    "overdue_days": 7,
    "state_parameter": STATE,
}


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> datetime:
    monkeypatch.setattr(handler, "utcnow", lambda: when)
    return when


def run(action: str, when: datetime) -> Report:
    """One invocation of `action` through the handler's table, returning its report even when a target failed."""
    settings = handler.current_settings()
    engine = Engine(settings, RdsGateway.from_settings(settings), now=when, remaining_ms=lambda: 900_000)
    request = parse_event({"action": action}, actions=FUNCTION_ACTIONS.keys(), now=when)
    assert isinstance(request, ActionRequest)
    runner = FUNCTION_ACTIONS[action].function
    assert runner is not None
    return runner(engine, request)  # type: ignore[return-value]


def copy_of(source: Any, destination: Any, db: str, name: str, kind: str = "instance") -> str:
    if kind == "instance":
        arn = source.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db))[
            "DBSnapshot"
        ]["DBSnapshotArn"]
        destination.copy_db_snapshot(
            SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name, CopyTags=True, SourceRegion=SOURCE_REGION
        )
    else:
        arn = source.create_db_cluster_snapshot(
            DBClusterIdentifier=db, DBClusterSnapshotIdentifier=name, Tags=owned_tags(db, "cluster")
        )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
        destination.copy_db_cluster_snapshot(
            SourceDBClusterSnapshotIdentifier=arn,
            TargetDBClusterSnapshotIdentifier=name,
            CopyTags=True,
            SourceRegion=SOURCE_REGION,
            KmsKeyId=handler.current_settings().destination_kms_key_arn,
        )
    return name


def drill_databases(destination: Any) -> dict[str, dict[str, str]]:
    found = {}
    for item in destination.describe_db_instances()["DBInstances"]:
        found[item["DBInstanceIdentifier"]] = {t["Key"]: t["Value"] for t in item.get("TagList", [])}
    for item in destination.describe_db_clusters()["DBClusters"]:
        found[item["DBClusterIdentifier"]] = {t["Key"]: t["Value"] for t in item.get("TagList", [])}
    return found


@pytest.fixture
def drill_on(env: Any) -> None:
    env(DRILL_SETTINGS=json.dumps(DRILL), DB_CLUSTER_IDENTIFIERS="")


@pytest.mark.usefixtures("drill_on")
def test_drill_restores_the_newest_copy_then_reconcile_measures_and_deletes_it(
    source, destination, lambda_context, monkeypatch, capsys
):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261124-1400")
    newest = copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    start = at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    started = lambda_handler({"action": "drill"}, lambda_context)

    [outcome] = [o for o in started["outcomes"] if o["operation"] == "drill"]
    assert outcome["outcome"] == "started"
    assert outcome["snapshot"] == newest
    restored = destination.describe_db_instances(DBInstanceIdentifier=f"drill-{OWNER}-202611251500")["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in restored["TagList"]}
    assert tags[DRILL_TAG] == OWNER
    assert tags[DRILL_SOURCE_TAG] == "orders-db"
    assert tags[DRILL_SNAPSHOT_TAG] == newest
    assert restored["DBInstanceClass"] == "db.t3.micro"

    at(monkeypatch, start + timedelta(minutes=20))
    finished = lambda_handler({"action": "reconcile"}, lambda_context)

    [measured] = [o for o in finished["outcomes"] if o["operation"] == "drill"]
    assert measured["outcome"] == "measured"
    assert measured["target"] == "orders-db"
    assert finished["metrics"]["DrillsSucceeded"] == 1
    assert finished["metrics"]["DrillOverdueDatabases"] == 0
    assert f"drill-{OWNER}-202611251500" not in drill_databases(destination)
    # The drill never touches the copies it restores from.
    names = {s["DBSnapshotIdentifier"] for s in destination.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]}
    assert newest in names
    state = state_from_json(
        boto3.client("ssm", region_name=SOURCE_REGION).get_parameter(Name=STATE)["Parameter"]["Value"]
    )
    assert state.records["orders-db"].last_rto_seconds == 1200
    # Every drill metric printed is one the dashboard may show, and the time to restore is per module
    # instance with the database as a log field (no metric per database).
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted = {
        (metric["Name"], tuple(dimensions))
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimensions in directive["Dimensions"]
        for metric in directive["Metrics"]
    }
    assert emitted & DRILL_PUBLISHED == DRILL_PUBLISHED - {("DrillFailures", ("ModuleInstance",))}
    assert emitted <= PUBLISHED
    [restore_line] = [d for d in documents if "DrillRestoreSeconds" in d]
    assert restore_line["Database"] == "orders-db"
    assert restore_line["DrillRestoreSeconds"] == 1200.0


@pytest.mark.usefixtures("drill_on")
def test_drill_restores_a_cluster_with_its_writer_and_deletes_both(
    source, destination, lambda_context, monkeypatch, env
):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="payments")
    make_cluster(source, "payments")
    copy_of(source, destination, "payments", "dr-payments-20261125-1400", kind="cluster")
    start = at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    lambda_handler({"action": "drill"}, lambda_context)

    cluster = destination.describe_db_clusters(DBClusterIdentifier=f"drill-{OWNER}-202611251500")["DBClusters"][0]
    assert [m["DBInstanceIdentifier"] for m in cluster["DBClusterMembers"]] == [f"drill-{OWNER}-202611251500-w"]

    at(monkeypatch, start + timedelta(minutes=30))
    finished = lambda_handler({"action": "reconcile"}, lambda_context)

    assert [o["outcome"] for o in finished["outcomes"] if o["operation"] == "drill"] == ["measured"]
    assert drill_databases(destination) == {}


@pytest.mark.usefixtures("drill_on")
def test_only_one_drill_is_in_flight(source, destination, lambda_context, monkeypatch):
    make_instance(source, "orders-db")
    make_instance(source, "ledger-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    copy_of(source, destination, "ledger-db", "dr-ledger-db-20261125-1400")
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    lambda_handler({"action": "drill"}, lambda_context)
    # moto makes a restored instance available at once; show the first drill still restoring.

    def restoring(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBInstances", []):
            item["DBInstanceStatus"] = "creating"

    alter_response(DESTINATION_REGION, "DescribeDBInstances", restoring)
    at(monkeypatch, datetime(2026, 11, 25, 16, 0, tzinfo=UTC))

    second = lambda_handler({"action": "drill"}, lambda_context)

    assert [o["outcome"] for o in second["outcomes"]] == ["skipped"]
    assert len(drill_databases(destination)) == 1


@pytest.mark.usefixtures("drill_on")
def test_drill_past_its_lifetime_is_deleted_and_reported_failed(source, destination, lambda_context, monkeypatch):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    start = at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    lambda_handler({"action": "drill"}, lambda_context)

    def stuck(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBInstances", []):
            item["DBInstanceStatus"] = "creating"

    alter_response(DESTINATION_REGION, "DescribeDBInstances", stuck)
    at(monkeypatch, start + timedelta(minutes=241))

    with pytest.raises(TargetFailuresError, match="maximum lifetime"):
        lambda_handler({"action": "reconcile"}, lambda_context)

    assert drill_databases(destination) == {}


@pytest.mark.usefixtures("drill_on")
def test_drill_never_deletes_a_database_without_its_tag_even_with_the_prefix(
    source, destination, lambda_context, monkeypatch
):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    make_instance(destination, f"drill-{OWNER}-202601010000")  # the prefix, but no drill tag: a real database
    make_instance(destination, "orders-db-dr", tags={DRILL_TAG: OWNER})  # the tag, but not the prefix
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    lambda_handler({"action": "drill"}, lambda_context)
    at(monkeypatch, datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    lambda_handler({"action": "reconcile"}, lambda_context)

    remaining = drill_databases(destination)
    assert f"drill-{OWNER}-202601010000" in remaining
    assert "orders-db-dr" in remaining
    assert f"drill-{OWNER}-202611251500" not in remaining


@pytest.mark.usefixtures("drill_on")
def test_drill_never_deletes_a_look_alike_that_carries_its_tag(source, destination, lambda_context, monkeypatch):
    """Issue 19, finding 6: drill-<name>-reporting is a person's database even with the drill tag on it."""
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    make_instance(destination, f"drill-{OWNER}-reporting", tags={DRILL_TAG: OWNER})
    make_instance(destination, f"drill-{OWNER}-202601010000-reader", tags={DRILL_TAG: OWNER})
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    started = lambda_handler({"action": "drill"}, lambda_context)
    at(monkeypatch, datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    finished = lambda_handler({"action": "reconcile"}, lambda_context)

    assert [o["outcome"] for o in started["outcomes"] if o["operation"] == "drill"] == ["started"]
    assert [o["outcome"] for o in finished["outcomes"] if o["operation"] == "drill"] == ["measured"]
    assert set(drill_databases(destination)) == {f"drill-{OWNER}-reporting", f"drill-{OWNER}-202601010000-reader"}


def _created_instances(region: str) -> list[dict[str, Any]]:
    """The parameters of every request that creates a DB instance in `region`, as the function sends them."""
    seen: list[dict[str, Any]] = []
    events = engine_client(region).meta.events
    for operation in ("RestoreDBInstanceFromDBSnapshot", "CreateDBInstance"):
        events.register(f"provide-client-params.rds.{operation}", lambda params, **_: seen.append(dict(params)))
    return seen


@pytest.mark.usefixtures("drill_on")
def test_every_instance_the_drill_creates_is_explicitly_not_publicly_accessible(
    source, destination, lambda_context, monkeypatch, env
):
    """Issue 19, finding 7: the role may create a drill instance only with rds:PubliclyAccessible = false, a
    condition that never matches when the request leaves the key out (and RDS would then default a restore
    without a subnet group to public). So every instance the drill creates says PubliclyAccessible=False:
    the restored instance, the Aurora writer at the start, and the writer reconcile creates later."""
    env(DB_CLUSTER_IDENTIFIERS="payments")
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    copy_of(source, destination, "payments", "dr-payments-20261125-1400", kind="cluster")
    created = _created_instances(DESTINATION_REGION)
    start = at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    lambda_handler({"action": "drill"}, lambda_context)  # one database per run: orders-db (an instance) first
    at(monkeypatch, start + timedelta(hours=1))
    lambda_handler({"action": "reconcile"}, lambda_context)
    # The cluster's writer refused while the cluster is creating: reconcile creates it once it is available.
    inject_error(DESTINATION_REGION, "CreateDBInstance", "InvalidDBClusterStateFault", times=1)
    at(monkeypatch, start + timedelta(hours=2))
    lambda_handler({"action": "drill"}, lambda_context)
    at(monkeypatch, start + timedelta(hours=3))
    lambda_handler({"action": "reconcile"}, lambda_context)

    names = [p["DBInstanceIdentifier"] for p in created]
    assert names == [
        f"drill-{OWNER}-202611251500",
        f"drill-{OWNER}-202611251700-w",  # refused (injected)
        f"drill-{OWNER}-202611251700-w",  # created by reconcile
    ]
    assert [p.get("PubliclyAccessible", "absent") for p in created] == [False, False, False]


def test_drill_action_when_the_drill_is_off_says_so(aws, lambda_context):
    result = lambda_handler({"action": "drill"}, lambda_context)

    assert result["outcomes"][0]["outcome"] == "skipped"
    assert "off" in result["outcomes"][0]["reason"]


@pytest.mark.usefixtures("drill_on")
def test_drill_state_forgets_databases_no_longer_drilled_and_lets_parameter_store_choose_the_tier(
    source, destination, lambda_context, monkeypatch
):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    ssm = boto3.client("ssm", region_name=SOURCE_REGION)
    # The earlier format, with 60 databases that have left the fleet: 6.9 KB, past a standard parameter.
    old = {
        "enabled_since": "2026-01-01T00:00:00Z",
        "records": {
            f"retired-database-{n:03d}": {
                "success": "2026-10-01T03:00:00Z",
                "rto_seconds": 612.345,
                "failure": "2026-10-08T03:00:00Z",
            }
            for n in range(60)
        },
    }
    ssm.put_parameter(Name=STATE, Value=json.dumps(old), Type="String", Tier="Advanced")
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    lambda_handler({"action": "drill"}, lambda_context)

    value = ssm.get_parameter(Name=STATE)["Parameter"]["Value"]
    state = state_from_json(value)
    assert set(state.records) == set()  # orders-db's drill is still in flight; the retired ones are gone
    assert state.enabled_since == datetime(2026, 1, 1, tzinfo=UTC)
    assert len(value) < 100
    [parameter] = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [STATE]}])["Parameters"]
    assert parameter["Tier"] == "Intelligent-Tiering"


def test_drill_warns_when_the_rotation_cannot_cover_the_fleet_within_overdue_days(
    env, source, destination, lambda_context, monkeypatch
):
    env(DRILL_SETTINGS=json.dumps({**DRILL, "schedule_expression": "cron(0 3 ? * SUN *)", "overdue_days": 14}))
    for db in ("orders-db", "ledger-db", "billing-db"):
        make_instance(source, db)
        copy_of(source, destination, db, f"dr-{db}-20261125-1400")
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    result = lambda_handler({"action": "drill"}, lambda_context)

    [warning] = [o for o in result["outcomes"] if o["outcome"] == "warning"]
    assert "3 databases" in warning["reason"]
    assert "covers only 2" in warning["reason"]
    assert "schedule_expression" in warning["fix"]
    assert [o["outcome"] for o in result["outcomes"] if o["outcome"] != "warning"] == ["started"]


# --- the drill cannot see its own databases ------------------------------------------------------------

LISTING_FAILURES = [
    pytest.param("DescribeDBInstances", "AccessDenied", id="instances-access-denied"),
    pytest.param("DescribeDBClusters", "AccessDenied", id="clusters-access-denied"),
    pytest.param("DescribeDBInstances", "InternalFailure", id="instances-any-error"),
]


@pytest.mark.usefixtures("drill_on")
@pytest.mark.parametrize(("operation", "code"), LISTING_FAILURES)
def test_a_drill_that_cannot_list_its_databases_starts_no_restore_and_fails(source, destination, operation, code):
    """Not knowing what is in flight is not "nothing in flight": each run would restore another full copy."""
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    start = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert [o.outcome for o in run("drill", start).outcomes] == ["started"]
    inject_error(DESTINATION_REGION, operation, code)

    report = run("drill", start + timedelta(hours=1))

    assert list(drill_databases(destination)) == [f"drill-{OWNER}-202611251500"]  # no second restore
    assert [o.outcome for o in report.outcomes] == ["failed"]
    [failure] = report.outcomes
    assert "could not list" in failure.reason
    assert f"rds:{operation} in {DESTINATION_REGION}" in failure.reason
    assert "no drill is started" in failure.reason
    if code == "AccessDenied":
        assert "Allow rds:DescribeDBInstances and rds:DescribeDBClusters" in failure.fix
        assert f"function's role in {DESTINATION_REGION}" in failure.fix
    assert report.failed  # the handler raises TargetFailuresError, as for any other failure
    assert report.metrics.counts["TargetFailures"] == 1
    assert report.metrics.counts.get("DrillsStarted", 0) == 0


@pytest.mark.usefixtures("drill_on")
def test_the_run_fails_when_the_drill_cannot_list_its_databases(source, destination, lambda_context, monkeypatch):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    inject_error(DESTINATION_REGION, "DescribeDBInstances", "AccessDenied")
    at(monkeypatch, datetime(2026, 11, 25, 15, 0, tzinfo=UTC))

    with pytest.raises(TargetFailuresError, match=f"could not list .* in {DESTINATION_REGION}"):
        lambda_handler({"action": "drill"}, lambda_context)

    assert drill_databases(destination) == {}


@pytest.mark.usefixtures("drill_on")
def test_reconcile_that_cannot_list_the_drill_databases_fails_and_forgets_nothing(source, destination):
    """A failed listing is not "every drill database is gone": the drill is measured once it can be seen."""
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    start = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    run("drill", start)
    inject_error(DESTINATION_REGION, "DescribeDBClusters", "AccessDenied", times=1)

    blind = run("reconcile", start + timedelta(minutes=20))

    [failure] = [o for o in blind.outcomes if o.operation == "drill"]
    assert failure.outcome == "failed"
    assert "could not list" in failure.reason
    assert f"rds:DescribeDBClusters in {DESTINATION_REGION}" in failure.reason
    assert "Allow rds:DescribeDBInstances and rds:DescribeDBClusters" in failure.fix
    assert f"function's role in {DESTINATION_REGION}" in failure.fix
    assert blind.failed
    assert f"drill-{OWNER}-202611251500" in drill_databases(destination)
    assert blind.metrics.counts.get("DrillsSucceeded", 0) == 0
    assert "orders-db" not in stored_state().records

    seen = run("reconcile", start + timedelta(minutes=40))

    assert [o.outcome for o in seen.outcomes if o.operation == "drill"] == ["measured"]
    assert drill_databases(destination) == {}
    assert stored_state().records["orders-db"].last_rto_seconds == 2400


# --- the drill's state, as anyone with ssm:PutParameter may have written it -----------------------------

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
FUTURE = int(datetime(2027, 11, 25, 15, 0, tzinfo=UTC).timestamp())
# One malformed state of each part the function reads (the whole document, enabled_since, records, one
# record), through the handler for both actions that read the state. Every way each part can be malformed
# is tabled against the parser itself, without AWS, in test_drill_state.py.
BAD_STATES = [
    pytest.param("{not json", "not JSON", id="not-json"),
    pytest.param('{"enabled_since": "last tuesday"}', "enabled_since", id="since-not-a-time"),
    pytest.param('{"records": [1]}', "records", id="records-not-an-object"),
    pytest.param(f'{{"records": {{"orders-db": [{FUTURE}, 600, null]}}}}', "later than now", id="record-in-future"),
]


def stored_state() -> Any:
    return state_from_json(
        boto3.client("ssm", region_name=SOURCE_REGION).get_parameter(Name=STATE)["Parameter"]["Value"]
    )


def write_state(value: str) -> None:
    boto3.client("ssm", region_name=SOURCE_REGION).put_parameter(Name=STATE, Value=value, Type="String")


@pytest.mark.usefixtures("drill_on")
@pytest.mark.parametrize("action", ["reconcile", "drill"])
@pytest.mark.parametrize(("value", "named"), BAD_STATES)
def test_a_malformed_drill_state_is_reported_once_and_started_over(
    source, destination, lambda_context, monkeypatch, action, value, named
):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    write_state(value)
    at(monkeypatch, NOW)

    result = lambda_handler({"action": action}, lambda_context)  # raises nothing

    [warning] = [o for o in result["outcomes"] if o["outcome"] == "warning"]
    assert warning["operation"] == "drill"
    assert STATE in warning["reason"]
    assert named in warning["reason"]
    assert "ssm:PutParameter" in warning["fix"]
    state = stored_state()
    assert "orders-db" not in state.records  # the bad record is dropped (and no drill has finished yet)
    assert state.enabled_since == NOW  # none of these states has a usable enabled_since: started over
    # Reported once: the state as written back is clean.
    at(monkeypatch, NOW + timedelta(minutes=1))
    again = lambda_handler({"action": "reconcile"}, lambda_context)
    assert [o for o in again["outcomes"] if o["outcome"] == "warning"] == []


@pytest.mark.usefixtures("drill_on")
def test_a_future_enabled_since_cannot_hold_off_the_overdue_count(source, destination, lambda_context, monkeypatch):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    write_state(json.dumps({"enabled_since": FUTURE, "records": {}}))
    at(monkeypatch, NOW)

    first = lambda_handler({"action": "reconcile"}, lambda_context)

    [warning] = [o for o in first["outcomes"] if o["outcome"] == "warning"]
    assert "enabled_since" in warning["reason"]
    assert "later than now" in warning["reason"]
    assert first["metrics"]["DrillOverdueDatabases"] == 0  # the drill counts as enabled now, not in a year
    assert stored_state().enabled_since == NOW

    at(monkeypatch, NOW + timedelta(days=8))  # overdue_days = 7, and no drill has run
    later = lambda_handler({"action": "reconcile"}, lambda_context)

    assert later["metrics"]["DrillOverdueDatabases"] == 1


@pytest.mark.usefixtures("drill_on")
def test_a_success_recorded_in_the_future_does_not_count_as_a_drill(source, destination, lambda_context, monkeypatch):
    make_instance(source, "orders-db")
    copy_of(source, destination, "orders-db", "dr-orders-db-20261125-1400")
    long_ago = int((NOW - timedelta(days=30)).timestamp())
    write_state(json.dumps({"enabled_since": long_ago, "records": {"orders-db": [FUTURE, 600, None]}}))
    at(monkeypatch, NOW)

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    assert result["metrics"]["DrillOverdueDatabases"] == 1
    assert stored_state().enabled_since == NOW - timedelta(days=30)  # only the untrusted record is dropped
