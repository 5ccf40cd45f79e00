"""The module and the function agree: apply examples/complete on the stand-in, run a full cycle the
way AWS would (scheduler backup -> RDS "snapshot created" events -> reconcile), then check AWS state,
a second plan, and destroy.

examples/complete uses every feature at once: two instances and an Aurora cluster by name, one more
instance by tag, an existing destination key (the module adds a grant) and an existing alarm topic,
its own schedules, retention and keep-last. The estate also holds an instance nobody selected, a
foreign snapshot, an impostor with the instance's name prefix but no ownership tag, and owned
snapshots from earlier runs, past retention. (scripts/demo applies examples/basic: the module
creates the key and the topic there.)
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from stand_in import (
    ACCOUNT_ID,
    KNOWN_EMULATOR_GAPS,
    REPO,
    Aws,
    Cycle,
    DeployedFunction,
    Estate,
    MotoServer,
    SeededHistory,
    Terraform,
    created_snapshots,
    databases,
    delivered,
    expected_targets,
    leftovers,
    manual_snapshots,
    planned_known_gaps,
    rule_patterns,
    run_cycle,
    schedule_inputs,
    seed_estate,
    seed_history,
    snapshot_created_event,
    unexpected_plan_changes,
)

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "examples" / "complete"
SCHEDULED = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
STAMP = SCHEDULED.strftime("%Y%m%d-%H%M")


@dataclass
class Deployment:
    aws: Aws
    estate: Estate
    terraform: Terraform
    outputs: dict
    function: DeployedFunction
    history: SeededHistory
    cycle: Cycle
    automated_before: set[str]
    destroyed: bool = False

    @property
    def env(self) -> dict[str, str]:
        return self.function.environment

    def owned_identifier(self, database: str) -> str:
        return f"{self.env['SNAPSHOT_PREFIX']}-{database}-{STAMP}"


def _automated(aws: Aws, region: str) -> set[str]:
    rds = aws.client("rds", region)
    return {s["DBSnapshotIdentifier"] for s in rds.describe_db_snapshots(SnapshotType="automated")["DBSnapshots"]} | {
        s["DBClusterSnapshotIdentifier"]
        for s in rds.describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
    }


@pytest.fixture(scope="module")
def deployment(moto_server: MotoServer, aws: Aws, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    estate = Estate()
    seed_estate(aws, estate)
    automated_before = _automated(aws, estate.source_region)
    workdir = tmp_path_factory.mktemp("fixture")
    terraform = Terraform(EXAMPLE, workdir, moto_server.endpoint, estate.variables(), workdir.parent / "terraform.log")
    terraform.init()
    deployment: Deployment | None = None
    try:
        terraform.apply()
        outputs = terraform.outputs()
        function = DeployedFunction.read(aws, estate.source_region, outputs["lambda_function_name"])
        history = seed_history(aws, estate, function)
        # Unpaced: the rate budget's pacing is proven on a fake clock (tests/unit/test_rate_budget.py) and in
        # the fleet simulation; here it would only sleep (4 requests/s split over 3 reserved invocations).
        cycle = run_cycle(aws, function, SCHEDULED, progress=lambda _text: None, paced=False)
        deployment = Deployment(aws, estate, terraform, outputs, function, history, cycle, automated_before)
        yield deployment
    finally:
        if deployment is None or not deployment.destroyed:
            terraform.destroy()


def test_every_invocation_succeeds(deployment: Deployment) -> None:
    assert deployment.cycle.errors == []


def test_settings_select_the_named_and_tagged_databases_only(deployment: Deployment) -> None:
    assert expected_targets(deployment.aws, deployment.env) == {
        "payments-db": "instance",
        "ledger-db": "instance",
        "cards-db": "instance",
        "settlement-aurora": "cluster",
    }


def test_backup_snapshots_every_target_under_the_scheduled_time(deployment: Deployment) -> None:
    made = created_snapshots(deployment.cycle.invocations["backup"])

    assert sorted(made) == sorted(
        (kind, deployment.owned_identifier(db)) for db, kind in expected_targets(deployment.aws, deployment.env).items()
    )


def test_deployed_rule_delivers_each_new_snapshot_event_and_each_starts_a_copy(deployment: Deployment) -> None:
    cycle = deployment.cycle
    copies = [
        o
        for run in cycle.invocations["snapshot-created"]
        for o in (run.result or {}).get("outcomes", [])
        if o["operation"] == "copy" and o["outcome"] == "started"
    ]

    assert cycle.undelivered_events == []
    assert len(cycle.invocations["snapshot-created"]) == len(created_snapshots(cycle.invocations["backup"]))
    assert sorted(o["snapshot"] for o in copies) == sorted(
        s for _kind, s in created_snapshots(cycle.invocations["backup"])
    )


def test_deployed_copy_waiting_schedule_finds_nothing_waiting_after_the_events(deployment: Deployment) -> None:
    [run] = deployment.cycle.invocations["copy-waiting"]

    assert not run.error
    assert run.result is not None
    assert run.result["action"] == "copy-waiting"
    # every copy was started by its snapshot-created event, so nothing waits and nothing starts twice
    assert run.result["outcomes"] == []
    # ... and the run switched its own schedule off (the backup run switches it on again); Terraform leaves
    # the schedule's state to the function (the second plan shows no change)
    arn = deployment.function.environment["COPY_WAITING_SCHEDULE_ARN"]
    group, name = arn.split(":schedule/", 1)[1].split("/", 1)
    scheduler = deployment.aws.client("scheduler", deployment.estate.source_region)
    assert scheduler.get_schedule(Name=name, GroupName=group)["State"] == "DISABLED"


def test_deployed_rule_ignores_snapshots_the_instance_does_not_name(deployment: Deployment) -> None:
    patterns = rule_patterns(deployment.aws, deployment.function)
    region = deployment.estate.source_region

    assert not delivered(
        patterns, snapshot_created_event("instance", deployment.estate.foreign_snapshot, region, SCHEDULED)
    )
    assert not delivered(
        patterns, snapshot_created_event("instance", "rds:orders-db-2026-11-25-03-00", region, SCHEDULED)
    )


def test_schedule_input_carries_the_literal_scheduled_time_placeholder(deployment: Deployment) -> None:
    # Scheduler substitutes only the literal text; jsonencode() would have escaped "<" and ">".
    assert "<aws.scheduler.scheduled-time>" in schedule_inputs(deployment.aws, deployment.function)["backup"]


def test_copies_exist_encrypted_with_the_destination_key_and_owned(deployment: Deployment) -> None:
    env = deployment.env
    destination = manual_snapshots(deployment.aws, deployment.estate.destination_region)
    extra_tags = json.loads(env["SNAPSHOT_TAGS"])

    assert extra_tags, "examples/complete sets snapshot_tags"
    for database, kind in expected_targets(deployment.aws, env).items():
        copy = destination.get(deployment.owned_identifier(database))
        assert copy is not None, f"no copy of {database} in {deployment.estate.destination_region}"
        assert copy["status"] == "available"
        assert copy["encrypted"] is True
        assert copy["kms_key_id"] == env["DESTINATION_KMS_KEY_ARN"]
        assert copy["tags"][env["OWNER_TAG_KEY"]] == env["OWNER_TAG_VALUE"]
        assert copy["tags"]["rds-snapshot-dr:source"] == database
        assert copy["tags"]["rds-snapshot-dr:source-type"] == kind
        assert extra_tags.items() <= copy["tags"].items()


def test_existing_destination_key_gets_no_grant_its_policy_decides(deployment: Deployment) -> None:
    """Issue 19, finding 4: the module creates nothing on an existing key; examples/complete's key policy
    delegates to IAM, and the output names what a key that does not would need."""
    key_arn = deployment.env["DESTINATION_KMS_KEY_ARN"]
    kms = deployment.aws.client("kms", deployment.estate.destination_region)
    grants = kms.list_grants(KeyId=key_arn)["Grants"]
    role = deployment.outputs["lambda_role_arn"]

    assert key_arn.split(":")[3] == deployment.estate.destination_region
    assert role not in {grant["GranteePrincipal"] for grant in grants}
    policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    assert any(
        statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"} and statement["Action"] == "kms:*"
        for statement in policy["Statement"]
    )
    statements = json.loads(deployment.outputs["kms_key_policy_statements"])["Statement"]
    assert {s["Sid"] for s in statements} == {
        "AllowFunctionRolesThroughRds",
        "AllowFunctionRolesReadKey",
        "AllowFunctionRolesGrantsForRds",
    }
    assert all(s["Principal"] == {"AWS": [role]} for s in statements)


def test_expired_owned_snapshots_are_pruned_beyond_keep_last(deployment: Deployment) -> None:
    estate, history = deployment.estate, deployment.history
    source = manual_snapshots(deployment.aws, estate.source_region)
    destination = manual_snapshots(deployment.aws, estate.destination_region)

    assert int(deployment.env["KEEP_LAST"]) >= 2, "examples/complete keeps more than one"
    assert history.expired not in source
    assert history.expired not in destination
    for identifier in history.kept:
        assert identifier in source
        assert identifier in destination


def test_foreign_and_impostor_snapshots_are_untouched(deployment: Deployment) -> None:
    estate, history = deployment.estate, deployment.history
    source = manual_snapshots(deployment.aws, estate.source_region)
    destination = manual_snapshots(deployment.aws, estate.destination_region)

    for identifier in (estate.foreign_snapshot, history.impostor):
        assert identifier in source, f"{identifier} was deleted"
        assert source[identifier]["tags"]["team"] == "data"
        assert deployment.env["OWNER_TAG_KEY"] not in source[identifier]["tags"]
        assert identifier not in destination, f"{identifier} was copied"


def test_unselected_instance_and_automated_snapshots_are_untouched(deployment: Deployment) -> None:
    estate = deployment.estate
    snapshots = {
        **manual_snapshots(deployment.aws, estate.source_region),
        **manual_snapshots(deployment.aws, estate.destination_region),
    }

    unselected = set(databases(deployment.aws, estate.source_region)) - set(
        expected_targets(deployment.aws, deployment.env)
    )

    assert unselected == {"orders-db", "analytics-scratch"}
    assert [s for s, snap in snapshots.items() if snap["database"] in unselected and s != estate.foreign_snapshot] == []
    assert databases(deployment.aws, estate.source_region)["analytics-scratch"]["tags"] == {
        "team": "platform",
        "dr-tier": "silver",
    }
    assert _automated(deployment.aws, estate.source_region) == deployment.automated_before


def _emf_time(invocation: Any) -> datetime:
    """When the invocation printed its metrics (the EMF line's Timestamp, by the function's own clock)."""
    for line in invocation.output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            return datetime.fromtimestamp(json.loads(line)["_aws"]["Timestamp"] / 1000, UTC)
    raise AssertionError("the invocation printed no EMF line")


def test_reconcile_reports_a_fresh_recovery_point_and_quota_use(deployment: Deployment) -> None:
    reconcile = deployment.cycle.invocations["reconcile"][-1]
    metrics = reconcile.result["metrics"]
    # The newest copy is this cycle's, stamped with SCHEDULED: its age is the time from SCHEDULED to the
    # reconcile run (by the function's clock), whatever the hour the cycle runs in. The seeded copies are
    # 40 days old and would read far older.
    since_scheduled = (_emf_time(reconcile) - SCHEDULED).total_seconds()

    assert metrics["TargetFailures"] == 0
    assert 0 <= metrics["RecoveryPointAgeSeconds"] <= since_scheduled
    assert 0 < metrics["ManualSnapshotQuotaUsedPercent"] < 100


# --- restore drill and the restore command ---------------------------------------------------------
#
# Gaps of the stand-in (moto), named so nobody reads more into these tests than they prove:
# - a restored database is "available" at once: the time to restore measured here is the time between
#   the drill invocation and the next reconcile, not how long RDS takes to restore;
# - moto enforces no IAM: that the role may delete only databases tagged rds-snapshot-dr:drill = <name>
#   is proven at plan (tests/drill.tftest.hcl) and the code's own name-and-tag check in unit tests;
# - moto delivers no RDS events: the drill is finished by reconcile, which is the module's route anyway;
# - moto lists no orderable DB instance options for postgres or mysql: the restore command says it could
#   not confirm the instance class instead of checking it.


def _drill_outcomes(deployment: Deployment, stage: str) -> list[dict]:
    runs = deployment.cycle.invocations.get(stage, [])
    return [o for run in runs for o in (run.result or {}).get("outcomes", []) if o["operation"] == "drill"]


def _new_drill_database(deployment: Deployment) -> tuple[str, dict]:
    cycle = deployment.cycle
    new = {key: value for key, value in cycle.drill_during.items() if key not in cycle.drill_before}
    assert len(new) == 1, f"the drill must create exactly one database, created {sorted(new)}"
    return next(iter(new.items()))


def test_drill_restores_one_database_from_its_newest_dr_copy(deployment: Deployment) -> None:
    env = deployment.env
    [started] = _drill_outcomes(deployment, "drill")
    key, restored = _new_drill_database(deployment)
    database = started["target"]

    assert started["outcome"] == "started"
    assert database in expected_targets(deployment.aws, env)
    assert started["snapshot"] == deployment.owned_identifier(database)
    assert f"{deployment.estate.destination_region} snapshot:{started['snapshot']}" in deployment.cycle.drill_before
    assert key.startswith(f"{deployment.estate.destination_region} db:drill-{env['OWNER_TAG_VALUE']}-")
    assert restored["tags"]["rds-snapshot-dr:drill"] == env["OWNER_TAG_VALUE"]
    assert restored["tags"]["rds-snapshot-dr:drill-source"] == database
    assert restored["tags"]["rds-snapshot-dr:drill-snapshot"] == started["snapshot"]
    assert restored["class"] == json.loads(env["DRILL_SETTINGS"])["instance_class"]


def test_reconcile_measures_the_drill_and_deletes_its_database(deployment: Deployment) -> None:
    [started] = _drill_outcomes(deployment, "drill")
    [measured] = _drill_outcomes(deployment, "drill-reconcile")
    key, _restored = _new_drill_database(deployment)
    metrics = deployment.cycle.invocations["drill-reconcile"][-1].result["metrics"]
    ssm = deployment.aws.client("ssm", deployment.estate.source_region)
    state = json.loads(
        ssm.get_parameter(Name=json.loads(deployment.env["DRILL_SETTINGS"])["state_parameter"])["Parameter"]["Value"]
    )

    assert (measured["target"], measured["outcome"]) == (started["target"], "measured")
    assert metrics["DrillsSucceeded"] == 1
    assert metrics["DrillDatabasesDeleted"] == 1
    assert metrics["DrillOverdueDatabases"] == 0
    # Each record is [last success, time to restore in seconds, last failure], times as Unix seconds.
    success, rto_seconds, _failure = state["records"][started["target"]]
    assert success is not None
    assert rto_seconds >= 0
    assert key not in deployment.cycle.drill_after


def test_drill_deletes_nothing_else_and_never_touches_a_snapshot(deployment: Deployment) -> None:
    cycle = deployment.cycle

    assert cycle.drill_after == cycle.drill_before


def test_restore_command_with_the_deployed_settings_restores_the_newest_copy(deployment: Deployment) -> None:
    from stand_in import run_restore_command

    database = "ledger-db"
    code, out, _seconds = run_restore_command(
        deployment.aws,
        deployment.function,
        "--database",
        database,
        "--identifier",
        "ledger-dr",
        "--wait",
        "--poll-seconds",
        "1",
    )
    assert code == 0, out
    rds = deployment.aws.client("rds", deployment.estate.destination_region)
    [restored] = rds.describe_db_instances(DBInstanceIdentifier="ledger-dr")["DBInstances"]
    assert f"from DR copy {deployment.owned_identifier(database)}" in out.splitlines()[0]
    assert restored["DBInstanceClass"] == "db.t4g.medium"  # the source's class, carried over
    assert f"endpoint: {restored['Endpoint']['Address']}" in out


def test_the_fleet_simulation_delivers_events_as_the_deployed_rules_do(deployment: Deployment) -> None:
    """The simulation's event rules (simulation/services.py RULES) are a copy of the module's: judged against the
    deployed rules on every kind of RDS snapshot event, so a rule change cannot leave the model behind."""
    from simulation.services import RULES, matches, rds_event

    aws, estate, prefix = deployment.aws, deployment.estate, deployment.env["SNAPSHOT_PREFIX"]
    to_function = rule_patterns(aws, deployment.function)
    source_bus = f"arn:aws:events:{estate.source_region}:{ACCOUNT_ID}:event-bus/default"
    events = aws.client("events", estate.destination_region)
    forwarding = [
        events.describe_rule(Name=name)["EventPattern"]
        for name in events.list_rule_names_by_target(TargetArn=source_bus)["RuleNames"]
    ]
    assert to_function
    assert forwarding
    kinds = [
        ("RDS DB Snapshot Event", event_id)
        for event_id in ("RDS-EVENT-0042", "RDS-EVENT-0059", "RDS-EVENT-0060", "RDS-EVENT-0061", "RDS-EVENT-0041")
    ] + [
        ("RDS DB Cluster Snapshot Event", event_id)
        for event_id in ("RDS-EVENT-0075", "RDS-EVENT-0076", "RDS-EVENT-0168")
    ]
    judged = 0
    for region, role in ((estate.source_region, "source"), (estate.destination_region, "destination")):
        for detail_type, event_id in kinds:
            for ident in (f"{prefix}-orders-db-20261125-1400", f"other-{prefix}-orders-db-20261125-1400"):
                resource = "cluster-snapshot" if "Cluster" in detail_type else "snapshot"
                arn = f"arn:aws:rds:{region}:{ACCOUNT_ID}:{resource}:{ident}"
                event = rds_event(region, detail_type, event_id, "", ident, arn, 0.0)
                simulated = any(matches(rule, event, prefix) for rule in RULES[role])
                if role == "source":
                    deployed = delivered(to_function, event)
                else:  # forwarded to the source region's bus, where a rule invokes the function
                    deployed = delivered(forwarding, event) and delivered(to_function, event)
                assert simulated == deployed, f"{region} {detail_type} {event_id} {ident}: simulated {simulated}"
                judged += 1
    assert judged == 2 * 8 * 2


def test_second_plan_shows_no_change_but_the_known_emulator_gaps(deployment: Deployment) -> None:
    exit_code, plan = deployment.terraform.plan()

    assert unexpected_plan_changes(plan) == []
    if exit_code == 0 or not planned_known_gaps(plan):
        warnings.warn(
            f"the plan shows none of the known emulator gaps {sorted(KNOWN_EMULATOR_GAPS)}: the allow-list may shrink",
            stacklevel=1,
        )


def test_destroy_leaves_nothing_behind_but_the_recovery_points(deployment: Deployment) -> None:
    estate = deployment.estate
    deployment.terraform.destroy()
    deployment.destroyed = True

    assert deployment.terraform.state_resources() == []
    assert leftovers(deployment.aws, [estate.source_region, estate.destination_region], {estate.storage_key_arn}) == []
    # Removing the module must not remove the disaster-recovery copies it made.
    destination = manual_snapshots(deployment.aws, estate.destination_region)
    for database in expected_targets(deployment.aws, deployment.env):
        assert deployment.owned_identifier(database) in destination
