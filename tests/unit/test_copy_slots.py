"""Copy slots and API cost: the event path's calls do not grow with the fleet, a finished copy starts the
next waiting one, and a full destination quota is pruned and retried once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from dr_testing import (
    DESTINATION_REGION,
    SOURCE_REGION,
    alter_response,
    cluster_snapshots,
    copy_waiting_state,
    engine_client,
    inject_error,
    instance_snapshots,
    load_event,
    make_cluster,
    make_copy_waiting_schedule,
    make_instance,
    owned_tags,
)

from rds_snapshot_dr.clock import FixedClock
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.jobs.copier import CANDIDATES_TTL_S

pytestmark = pytest.mark.usefixtures("default_quotas")

SNAPSHOT = "dr-orders-db-20261125-1400"  # the events under tests/events name this snapshot
FLEET = 120  # more than one page of 100, in each region


@pytest.fixture
def calls() -> Iterator[Counter[str]]:
    """Every RDS API call the engine's clients make, by region and operation."""
    counted: Counter[str] = Counter()
    handlers = []
    for region in (SOURCE_REGION, DESTINATION_REGION):

        def count(model: Any, region: str = region, **_: Any) -> None:
            counted[f"{region}:{model.name}"] += 1

        engine_client(region).meta.events.register("before-call.rds", count)
        handlers.append((region, count))
    yield counted
    for region, count in handlers:
        engine_client(region).meta.events.unregister("before-call.rds", count)


def take(source: Any, name: str, db: str = "orders-db") -> str:
    return source.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db))[
        "DBSnapshot"
    ]["DBSnapshotArn"]


def copy_over(destination: Any, arn: str, name: str) -> None:
    destination.copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=name, CopyTags=True, SourceRegion=SOURCE_REGION
    )


@pytest.fixture
def fleet(source: Any, destination: Any, env: Any) -> list[str]:
    """FLEET databases, each with yesterday's snapshot in both regions."""
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="orders-db")
    make_instance(source, "orders-db")
    names = []
    for i in range(FLEET):
        db = f"db-{i:04d}"
        make_instance(source, db)
        name = f"dr-{db}-20261124-1400"
        copy_over(destination, take(source, name, db), name)
        names.append(name)
    return names


@pytest.mark.usefixtures("fleet")
def test_snapshot_created_event_makes_at_most_three_rds_calls_whatever_the_fleet(
    source, destination, calls, lambda_context
):
    take(source, SNAPSHOT)

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "started"
    assert sum(calls.values()) == 3
    assert calls == Counter(
        {
            f"{SOURCE_REGION}:DescribeDBSnapshots": 1,
            f"{DESTINATION_REGION}:DescribeDBSnapshots": 1,
            f"{DESTINATION_REGION}:CopyDBSnapshot": 1,
        }
    )


@pytest.mark.usefixtures("fleet")
def test_a_duplicate_snapshot_created_event_makes_two_calls(source, destination, calls, lambda_context):
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)

    result = lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)

    assert result["outcomes"][0]["outcome"] == "exists"
    assert sum(calls.values()) == 2


def test_a_finished_copy_starts_the_next_waiting_copy(source, destination, env, lambda_context, calls):
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="orders-db,billing-db")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)  # the copy that just finished
    waiting = "dr-billing-db-20261125-1400"
    take(source, waiting, "billing-db")
    take(source, "dr-billing-db-20261124-1400", "billing-db")  # older: reconcile's business

    result = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    assert [(o["snapshot"], o["outcome"]) for o in result["outcomes"]] == [(waiting, "started")]
    assert set(instance_snapshots(destination)) == {SNAPSHOT, waiting}
    # the source listing once, one lookup for the waiting databases and one for the older snapshot (a copy of
    # it in flight would hold a slot), the copy: no destination listing
    assert calls == Counter(
        {
            f"{SOURCE_REGION}:DescribeDBSnapshots": 1,
            f"{DESTINATION_REGION}:DescribeDBSnapshots": 2,
            f"{DESTINATION_REGION}:CopyDBSnapshot": 1,
        }
    )


@pytest.mark.usefixtures("fleet")
def test_a_finished_copy_with_nothing_waiting_starts_nothing(source, destination, lambda_context, calls):
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)

    result = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    assert result["outcomes"] == []
    assert calls[f"{DESTINATION_REGION}:DescribeDBSnapshots"] == 2  # 121 databases: two lookups of <= 100
    assert calls[f"{DESTINATION_REGION}:CopyDBSnapshot"] == 0


def test_a_failed_copy_event_reports_removes_and_frees_the_slot_for_the_next(source, destination, env, lambda_context):
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="orders-db,billing-db")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)
    waiting = "dr-billing-db-20261125-1400"
    take(source, waiting, "billing-db")

    def failed(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            if snap["DBSnapshotIdentifier"] == SNAPSHOT:
                snap["Status"] = "failed"

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", failed)

    # reported, but the invocation does not fail: its retry would start a second copy for the one freed slot
    result = lambda_handler(load_event("cross-region-copy-failed.json"), lambda_context)

    [failed_outcome] = [o for o in result["outcomes"] if o["outcome"] == "failed"]
    assert "ended failed" in failed_outcome["reason"]
    assert result["metrics"]["TargetFailures"] == 1
    assert set(instance_snapshots(destination)) == {waiting}
    tags = {t["Key"]: t["Value"] for t in instance_snapshots(source)[SNAPSHOT]["TagList"]}
    assert tags["rds-snapshot-dr:copy-failures"] == "1"


def test_a_copy_event_from_another_region_is_ignored(destination, lambda_context):
    event = load_event("cross-region-copy-finished.json")
    event["region"] = "eu-west-1"

    result = lambda_handler(event, lambda_context)

    assert result["outcomes"] == []


def test_reconcile_prunes_the_destination_and_retries_once_on_its_quota(source, destination, env, lambda_context):
    env(DB_CLUSTER_IDENTIFIERS="", DESTINATION_RETENTION_DAYS="1", SOURCE_RETENTION_DAYS="1")
    make_instance(source, "orders-db")
    for name in ("dr-orders-db-20261101-1400", "dr-orders-db-20261102-1400"):
        copy_over(destination, take(source, name), name)
    for name in ("dr-orders-db-20261101-1400", "dr-orders-db-20261102-1400"):
        source.delete_db_snapshot(DBSnapshotIdentifier=name)
    take(source, SNAPSHOT)
    # reconcile prunes before it copies, so make that first prune find nothing to delete: the quota
    # error must then trigger a prune of its own.
    state = {"hide": True}

    def hide_old_copies(parsed: dict[str, Any]) -> None:
        if state["hide"]:
            state["hide"] = False
            parsed["DBSnapshots"] = []

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", hide_old_copies)
    inject_error(DESTINATION_REGION, "CopyDBSnapshot", "SnapshotQuotaExceeded", "Cannot create more than 100", times=1)

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    assert set(instance_snapshots(destination)) == {"dr-orders-db-20261102-1400", SNAPSHOT}
    [started] = [o for o in result["outcomes"] if o["operation"] == "copy"]
    assert (started["outcome"], "started after pruning" in started["reason"]) == ("started", True)


# --- copy-waiting: the schedule that fills free slots between reconciles ------------------------------


def take_cluster(source: Any, name: str, cluster: str = "payments") -> None:
    source.create_db_cluster_snapshot(
        DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=name, Tags=owned_tags(cluster, "cluster")
    )


def test_copy_waiting_starts_each_databases_newest_waiting_copy_of_both_kinds(
    source, destination, env, lambda_context, calls
):
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="payments")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    make_cluster(source, "payments")
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)  # has its copy: not waiting
    take(source, "dr-billing-db-20261125-1400", "billing-db")
    take(source, "dr-billing-db-20261124-1400", "billing-db")  # older: reconcile's business
    take_cluster(source, "dr-payments-20261125-1400")
    source.create_db_snapshot(DBInstanceIdentifier="billing-db", DBSnapshotIdentifier="dr-billing-db-20261126-0000")

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    started = sorted((o["kind"], o["snapshot"]) for o in result["outcomes"] if o["outcome"] == "started")
    assert started == [("cluster", "dr-payments-20261125-1400"), ("instance", "dr-billing-db-20261125-1400")]
    assert set(instance_snapshots(destination)) == {SNAPSHOT, "dr-billing-db-20261125-1400"}
    assert set(cluster_snapshots(destination)) == {"dr-payments-20261125-1400"}
    # a listing of each kind in the source, one lookup of each kind in the destination (and one of billing-db's
    # older snapshot, whose copy in flight would hold a slot), the two copies; no target discovery and no
    # destination listing
    assert calls == Counter(
        {
            f"{SOURCE_REGION}:DescribeDBSnapshots": 1,
            f"{SOURCE_REGION}:DescribeDBClusterSnapshots": 1,
            f"{DESTINATION_REGION}:DescribeDBSnapshots": 2,
            f"{DESTINATION_REGION}:DescribeDBClusterSnapshots": 1,
            f"{DESTINATION_REGION}:CopyDBSnapshot": 1,
            f"{DESTINATION_REGION}:CopyDBClusterSnapshot": 1,
        }
    )


def test_copy_waiting_keeps_within_the_limit_counting_its_copies_in_flight(source, destination, env, lambda_context):
    env(DB_CLUSTER_IDENTIFIERS="", COPY_CONCURRENCY_LIMIT="2")
    in_flight = "dr-db-0000-20261125-1400"
    make_instance(source, "db-0000")
    copy_over(destination, take(source, in_flight, "db-0000"), in_flight)
    for i in range(1, 4):
        make_instance(source, f"db-{i:04d}")
        take(source, f"dr-db-{i:04d}-20261125-1{i}00", f"db-{i:04d}")

    def copying(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            if snap["DBSnapshotIdentifier"] == in_flight:
                snap["Status"] = "copying"

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", copying)

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    # one slot left of two: the newest waiting copy starts, the others wait for the next run
    assert [(o["snapshot"], o["outcome"]) for o in result["outcomes"]] == [("dr-db-0003-20261125-1300", "started")]


def refuse_one_instance_copy_at_the_limit() -> None:
    """RDS refuses the next DB snapshot copy: another instance's copies fill the account's 20."""
    inject_error(
        DESTINATION_REGION,
        "CopyDBSnapshot",
        "SnapshotQuotaExceeded",
        "Cannot copy more than 20 snapshots across regions",
        times=1,
    )


def test_copy_waiting_stops_when_rds_refuses_a_copy_at_its_limit(source, destination, env, lambda_context):
    env(DB_CLUSTER_IDENTIFIERS="")
    for i in range(3):
        make_instance(source, f"db-{i:04d}")
        take(source, f"dr-db-{i:04d}-20261125-1{i}00", f"db-{i:04d}")
    refuse_one_instance_copy_at_the_limit()

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    # another instance's copies fill the account's 20: the first copy is refused, the rest wait
    assert [o["outcome"] for o in result["outcomes"]] == ["deferred"] * 3
    assert instance_snapshots(destination) == {}


@pytest.mark.usefixtures("fleet")
def test_copy_waiting_with_nothing_waiting_starts_nothing(destination, lambda_context, calls):
    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    assert result["outcomes"] == []
    assert calls[f"{DESTINATION_REGION}:DescribeDBSnapshots"] == 2  # 120 databases: two lookups of <= 100
    assert calls[f"{DESTINATION_REGION}:CopyDBSnapshot"] == 0


# --- the waiting-copy candidates a warm execution environment keeps between copy-finished events ------


@pytest.fixture
def later(fixed_clock: FixedClock) -> FixedClock:
    """The pinned clock, for tests that move it on (`later.advance(seconds)`)."""
    return fixed_clock


def _two_waiting(source: Any, destination: Any, env: Any) -> list[str]:
    # A share of one: the finished copy freed the only slot (moto ends every copy at once, so none is in flight)
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="orders-db,billing-db,cart-db", COPY_CONCURRENCY_LIMIT="1")
    for db in ("orders-db", "billing-db", "cart-db"):
        make_instance(source, db)
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)  # the copy that finished
    waiting = ["dr-billing-db-20261125-1400", "dr-cart-db-20261125-1300"]  # newest first
    take(source, waiting[0], "billing-db")
    take(source, waiting[1], "cart-db")
    return waiting


def test_the_next_copy_finished_event_takes_the_next_copy_without_listing_the_source_again(
    source, destination, env, lambda_context, calls, later
):
    waiting = _two_waiting(source, destination, env)

    first = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)
    calls.clear()
    second = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    assert [o["snapshot"] for o in first["outcomes"]] == [waiting[0]]
    assert [(o["snapshot"], o["outcome"]) for o in second["outcomes"]] == [(waiting[1], "started")]
    # the candidates of the first event's listing: one lookup by name, the one source snapshot read
    # again (is it still there, with copy attempts left?) and the copy; no listing
    assert calls == Counter(
        {
            f"{DESTINATION_REGION}:DescribeDBSnapshots": 1,
            f"{SOURCE_REGION}:DescribeDBSnapshots": 1,
            f"{DESTINATION_REGION}:CopyDBSnapshot": 1,
        }
    )


def _in_flight(names: set[str]) -> None:
    """moto ends a copy at once: show these destination copies (and only these, from now on) still copying."""
    client = engine_client(DESTINATION_REGION)
    copying: set[str] | None = getattr(client, "_test_copying", None)
    if copying is None:
        copying = client._test_copying = set()

        def show(parsed: dict[str, Any]) -> None:
            for snap in parsed.get("DBSnapshots", []):
                if snap["DBSnapshotIdentifier"] in copying:
                    snap["Status"] = "copying"

        alter_response(DESTINATION_REGION, "DescribeDBSnapshots", show)
    copying.clear()
    copying.update(names)


def _share_of_two_with_three_waiting(source: Any, destination: Any, env: Any) -> list[str]:
    """orders-db's copy just finished; billing-db's is in flight; cart-db, users-db and ads-db wait."""
    dbs = ("orders-db", "billing-db", "cart-db", "users-db", "ads-db")
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS=",".join(dbs), COPY_CONCURRENCY_LIMIT="2")
    for db in dbs:
        make_instance(source, db)
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)
    billing = "dr-billing-db-20261125-1400"
    copy_over(destination, take(source, billing, "billing-db"), billing)
    waiting = [f"dr-{db}-20261125-1400" for db in dbs[2:]]
    for name, db in zip(waiting, dbs[2:], strict=True):
        take(source, name, db)
    _in_flight({billing, *waiting})  # every copy this test starts stays in flight
    return waiting


@pytest.mark.parametrize("warm", [False, True], ids=["listed", "from-the-warm-candidates"])
def test_a_copy_finished_event_delivered_twice_starts_one_copy(source, destination, env, lambda_context, warm):
    """EventBridge delivers an event at least once: the second delivery finds the freed slot refilled (the
    copies in flight are counted, not one copy per event), so the share holds."""
    waiting = _share_of_two_with_three_waiting(source, destination, env)
    if warm:  # a copy-waiting run left the candidates in the environment (and found no slot free)
        _in_flight({SNAPSHOT, "dr-billing-db-20261125-1400", *waiting})
        lambda_handler({"action": "copy-waiting"}, lambda_context)
        _in_flight({"dr-billing-db-20261125-1400", *waiting})  # then orders-db's copy finished

    first = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)
    second = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    started = [o["snapshot"] for o in first["outcomes"] + second["outcomes"] if o["outcome"] == "started"]
    assert len(started) == 1  # billing-db's copy and this one: the share of 2
    assert [o for o in second["outcomes"] if o["operation"] == "copy"] == []


def test_the_event_after_a_lost_one_starts_one_copy_and_switches_copy_waiting_on(
    source, destination, env, lambda_context
):
    """billing-db's copy finished too, but its event has not come (another invocation may be handling it this
    moment, or RDS did not deliver it): the event starts one copy, for its own slot, and switches the
    copy-waiting schedule on; its next run fills the slot that is still free."""
    scheduler, arn = make_copy_waiting_schedule("DISABLED")
    env(COPY_WAITING_SCHEDULE_ARN=arn)
    waiting = _share_of_two_with_three_waiting(source, destination, env)
    _in_flight(set(waiting))  # billing-db's copy is available now

    result = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    first = [o["snapshot"] for o in result["outcomes"] if o["outcome"] == "started"]
    assert len(first) == 1
    assert copy_waiting_state(scheduler) == "ENABLED"
    run = lambda_handler({"action": "copy-waiting"}, lambda_context)
    second = [o["snapshot"] for o in run["outcomes"] if o["outcome"] == "started"]
    assert len(second) == 1
    assert set(first + second) <= set(waiting)


def test_a_candidate_out_of_copy_attempts_since_the_listing_is_not_copied(
    source, destination, env, lambda_context, later
):
    waiting = _two_waiting(source, destination, env)
    lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)
    # meanwhile another invocation counted its third failed copy on it (COPY_MAX_ATTEMPTS is 3)
    arn = instance_snapshots(source)[waiting[1]]["DBSnapshotArn"]
    source.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "rds-snapshot-dr:copy-failures", "Value": "3"}])

    result = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    assert result["outcomes"] == []
    assert waiting[1] not in instance_snapshots(destination)


def test_candidates_older_than_their_time_to_live_are_listed_again(
    source, destination, env, lambda_context, calls, later
):
    waiting = _two_waiting(source, destination, env)
    lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)
    later.advance(CANDIDATES_TTL_S + 1)
    calls.clear()

    result = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    assert [o["snapshot"] for o in result["outcomes"]] == [waiting[1]]
    assert calls[f"{SOURCE_REGION}:DescribeDBSnapshots"] == 1


def test_a_candidate_copied_meanwhile_is_passed_over_for_the_next(source, destination, env, lambda_context, later):
    waiting = _two_waiting(source, destination, env)
    make_instance(source, "users-db")
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db,cart-db,users-db")
    take(source, "dr-users-db-20261125-1200", "users-db")  # a third waiting copy, the oldest
    lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)
    # someone (reconcile, another environment) copies the next candidate after the listing
    copy_over(destination, instance_snapshots(source)[waiting[1]]["DBSnapshotArn"], waiting[1])

    result = lambda_handler(load_event("cross-region-copy-finished.json"), lambda_context)

    assert [(o["snapshot"], o["outcome"]) for o in result["outcomes"]] == [("dr-users-db-20261125-1200", "started")]


def test_a_failed_copy_waiting_run_reports_without_failing_the_invocation(source, env, lambda_context, capsys):
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    take(source, SNAPSHOT)
    inject_error(DESTINATION_REGION, "CopyDBSnapshot", "KMSKeyNotAccessibleFault", "key disabled")

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    # no exception (so no Lambda retry, no dead letter): the next run follows in minutes, and the
    # TargetFailures metric carries the failure to its alarm
    assert [(o["snapshot"], o["outcome"]) for o in result["outcomes"]] == [(SNAPSHOT, "failed")]
    assert result["metrics"]["TargetFailures"] == 1
    assert '"TargetFailures":1' in capsys.readouterr().out


@pytest.mark.parametrize("action", ["reconcile", "copy-waiting"])
def test_the_share_counts_each_kind_apart_so_instance_copies_never_hold_cluster_slots(
    source, destination, env, lambda_context, action
):
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="payments", COPY_CONCURRENCY_LIMIT="1")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    make_cluster(source, "payments")
    take(source, SNAPSHOT)
    take(source, "dr-billing-db-20261125-1400", "billing-db")
    take_cluster(source, "dr-payments-20261125-1300")  # older than both instance snapshots

    result = lambda_handler({"action": action}, lambda_context)

    started = sorted((o["kind"], o["outcome"]) for o in result["outcomes"] if o["operation"] == "copy")
    # one instance copy (the share of 1) and, on its own limit, the cluster copy; the other instance waits
    # (reconcile reports it deferred, copy-waiting leaves it for its next run)
    waits = [("instance", "deferred")] if action == "reconcile" else []
    assert started == [("cluster", "started"), *waits, ("instance", "started")]
    assert "dr-payments-20261125-1300" in cluster_snapshots(destination)
    assert len(instance_snapshots(destination)) == 1


# --- who goes first when not every waiting copy may start -----------------------------------------


def _missed_round(source: Any, destination: Any, env: Any) -> str:
    """Four databases with yesterday's and today's snapshots; yesterday's was copied for all but db-0001,
    which neither name order nor the hash of today's names puts first: the share of 1 must start it first."""
    env(DB_CLUSTER_IDENTIFIERS="", COPY_CONCURRENCY_LIMIT="1")
    make_instance(source, "orders-db")
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)  # the copy a copy-finished event announces
    for i in range(4):
        db = f"db-{i:04d}"
        make_instance(source, db)
        yesterday = f"dr-{db}-20261124-1400"
        arn = take(source, yesterday, db)
        if i != 1:
            copy_over(destination, arn, yesterday)
        take(source, f"dr-{db}-20261125-1400", db)
    return "dr-db-0001-20261125-1400"


@pytest.mark.parametrize("path", ["copy-waiting", "copy-finished"])
def test_the_database_that_missed_the_previous_round_is_copied_first(
    source, destination, env, lambda_context, calls, path
):
    behind = _missed_round(source, destination, env)
    event = {"action": "copy-waiting"} if path == "copy-waiting" else load_event("cross-region-copy-finished.json")

    result = lambda_handler(event, lambda_context)

    assert [(o["snapshot"], o["outcome"]) for o in result["outcomes"]] == [(behind, "started")]
    # the waiting copies' names, then (more wait than may start) their databases' previous snapshots' names
    assert calls[f"{DESTINATION_REGION}:DescribeDBSnapshots"] == 2


def test_older_snapshots_found_copied_are_looked_up_once_per_environment(
    source, destination, env, lambda_context, calls
):
    _missed_round(source, destination, env)
    env(COPY_CONCURRENCY_LIMIT="20")

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    assert [o["outcome"] for o in result["outcomes"]] == ["started"] * 4
    # the waiting copies' names, and the older snapshots' names (their copies in flight would hold slots)
    assert calls[f"{DESTINATION_REGION}:DescribeDBSnapshots"] == 2
    lambda_handler({"action": "copy-waiting"}, lambda_context)  # finds the 4 copies it started available
    calls.clear()
    lambda_handler({"action": "copy-waiting"}, lambda_context)
    # copies found available are not looked up again; db-0001's older snapshot has none, so it is
    assert calls[f"{DESTINATION_REGION}:DescribeDBSnapshots"] == 1


def test_reconcile_copies_first_the_database_with_the_oldest_recovery_point(source, destination, env, lambda_context):
    behind = _missed_round(source, destination, env)

    result = lambda_handler({"action": "reconcile"}, lambda_context)

    copies = [(o["snapshot"], o["outcome"]) for o in result["outcomes"] if o["operation"] == "copy"]
    assert copies[0] == (behind, "started")
    # every database's newest snapshot goes before any older one (db-0001's yesterday waits behind them)
    assert [name for name, _ in copies].index("dr-db-0001-20261124-1400") == len(copies) - 1


def test_a_refusal_at_the_instance_limit_does_not_hold_back_cluster_copies(source, destination, env, lambda_context):
    env(DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="payments")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    make_cluster(source, "payments")
    take(source, SNAPSHOT)
    take(source, "dr-billing-db-20261125-1400", "billing-db")
    take_cluster(source, "dr-payments-20261125-1300")  # older: after both instance copies
    refuse_one_instance_copy_at_the_limit()

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    outcomes = sorted((o["kind"], o["outcome"]) for o in result["outcomes"])
    # AWS counts cluster copies apart: the instance refusal defers the other instance, not the cluster
    assert outcomes == [("cluster", "started"), ("instance", "deferred"), ("instance", "deferred")]
    assert "dr-payments-20261125-1300" in cluster_snapshots(destination)


@pytest.mark.usefixtures("fleet")
def test_copies_found_available_are_not_looked_up_again_by_the_next_run(source, lambda_context, calls):
    first = lambda_handler({"action": "copy-waiting"}, lambda_context)
    take(source, SNAPSHOT)  # a new snapshot since: the one name the next run must look up
    calls.clear()

    second = lambda_handler({"action": "copy-waiting"}, lambda_context)

    assert first["outcomes"] == []
    assert [(o["snapshot"], o["outcome"]) for o in second["outcomes"]] == [(SNAPSHOT, "started")]
    # the 120 copies found available by the first run are known; one lookup for the new name, then the copy
    assert calls[f"{DESTINATION_REGION}:DescribeDBSnapshots"] == 1
    assert calls[f"{DESTINATION_REGION}:CopyDBSnapshot"] == 1


@pytest.mark.parametrize("path", ["copy-waiting", "copy-finished"])
def test_copies_of_older_snapshots_in_flight_hold_the_share(source, destination, env, lambda_context, path):
    """Reconcile copies older snapshots too (a backlog after an outage): their copies in flight hold slots, so
    the paths that look up only names count them as well."""
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", COPY_CONCURRENCY_LIMIT="1")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)  # the copy a copy-finished event announces
    older = "dr-billing-db-20261124-1400"
    copy_over(destination, take(source, older, "billing-db"), older)
    _in_flight({older})  # reconcile started it: it holds the share of 1
    take(source, "dr-billing-db-20261125-1400", "billing-db")  # waits
    event = {"action": "copy-waiting"} if path == "copy-waiting" else load_event("cross-region-copy-finished.json")

    result = lambda_handler(event, lambda_context)

    assert [o for o in result["outcomes"] if o["operation"] == "copy"] == []
    assert "dr-billing-db-20261125-1400" not in instance_snapshots(destination)


def test_a_copy_seen_in_flight_is_not_remembered_and_is_started_again_once_it_is_gone(
    source, destination, env, lambda_context
):
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    copy_over(destination, take(source, SNAPSHOT), SNAPSHOT)
    in_flight = {"on": True}

    def copying(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            if snap["DBSnapshotIdentifier"] == SNAPSHOT and in_flight["on"]:
                snap["Status"] = "copying"

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", copying)
    assert lambda_handler({"action": "copy-waiting"}, lambda_context)["outcomes"] == []
    # the copy then failed, and reconcile deleted it: the name is free again
    in_flight["on"] = False
    destination.delete_db_snapshot(DBSnapshotIdentifier=SNAPSHOT)

    result = lambda_handler({"action": "copy-waiting"}, lambda_context)

    assert [(o["snapshot"], o["outcome"]) for o in result["outcomes"]] == [(SNAPSHOT, "started")]


# --- the event path keeps to the instance's share (issue 20, defect 3) ---------------------------------

DAILY_1400 = "cron(0 14 * * ? *)"  # the round of tests/events: the previous round is 24 November, 14:00


def take_without_slot(source: Any, name: str, db: str = "orders-db") -> None:
    source.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=name, Tags=owned_tags(db, slot=False))


def test_the_created_event_of_a_snapshot_without_a_reserved_slot_starts_no_copy(source, destination, env, calls):
    env(DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    take_without_slot(source, SNAPSHOT)

    result = lambda_handler(load_event("manual-snapshot-created.json"), None)

    [outcome] = result["outcomes"]
    assert (outcome["operation"], outcome["outcome"]) == ("copy", "deferred")
    assert "no copy slot was reserved" in outcome["reason"]
    assert instance_snapshots(destination) == {}
    assert sum(calls.values()) == 1  # the source snapshot only


def test_the_backup_reserves_only_the_share_the_previous_rounds_copies_leave(source, destination, env):
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="a-db,b-db,c-db,d-db", COPY_CONCURRENCY_LIMIT="3")
    env(BACKUP_SCHEDULE_EXPRESSION=DAILY_1400)
    for db in ("a-db", "b-db", "c-db", "d-db"):
        make_instance(source, db)
    # the previous round: a-db's copy is still in flight, b-db's done, c-db and d-db have none
    for db in ("a-db", "b-db"):
        name = f"dr-{db}-20261124-1400"
        copy_over(destination, take(source, name, db), name)
    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", _copying("dr-a-db-20261124-1400"))

    lambda_handler(load_event("scheduled-backup.json"), None)

    slotted = {
        name.split("-")[1]
        for name, snap in instance_snapshots(source).items()
        if name.endswith("20261125-1400")
        and {"Key": "rds-snapshot-dr:copy-slot", "Value": "reserved"} in snap["TagList"]
    }
    # 3 - 1 in flight = 2 slots, first to the databases whose previous copy is not available (a, c, d; b has one)
    assert len(slotted) == 2
    assert "b" not in slotted


def test_with_a_backlog_the_backup_reserves_no_slot(source, destination, env):
    """An owned snapshot older than the previous round still waits for its copy (after an outage): the round's
    copies queue behind it on the paths that count the copies in flight; none starts from its created event."""
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="a-db,b-db", COPY_CONCURRENCY_LIMIT="3")
    env(BACKUP_SCHEDULE_EXPRESSION=DAILY_1400)
    for db in ("a-db", "b-db"):
        make_instance(source, db)
        name = f"dr-{db}-20261124-1400"  # the previous round, copied
        copy_over(destination, take(source, name, db), name)
    take(source, "dr-a-db-20261123-1400", "a-db")  # two rounds back, never copied: a backlog

    lambda_handler(load_event("scheduled-backup.json"), None)

    today = [snap for name, snap in instance_snapshots(source).items() if name.endswith("20261125-1400")]
    assert len(today) == 2
    assert all("rds-snapshot-dr:copy-slot" not in {tag["Key"] for tag in snap["TagList"]} for snap in today)


def test_without_a_known_previous_round_no_slot_is_reserved(source, destination, env):
    env(DB_CLUSTER_IDENTIFIERS="")  # BASE_ENV's rate(1 day): when it last fired is not known
    make_instance(source, "orders-db")

    lambda_handler(load_event("scheduled-backup.json"), None)

    [snap] = instance_snapshots(source).values()
    assert "rds-snapshot-dr:copy-slot" not in {tag["Key"] for tag in snap["TagList"]}


def test_reconcile_leaves_the_slots_reserved_for_snapshots_still_being_made(source, destination, env):
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="a-db,b-db,c-db", COPY_CONCURRENCY_LIMIT="2")
    for db in ("a-db", "b-db", "c-db"):
        make_instance(source, db)
    take(source, "dr-a-db-20261125-1400", "a-db")  # reserved, still being made (below)
    take_without_slot(source, "dr-b-db-20261125-1400", "b-db")
    take_without_slot(source, "dr-c-db-20261125-1400", "c-db")
    alter_response(SOURCE_REGION, "DescribeDBSnapshots", _creating("dr-a-db-20261125-1400"))

    result = lambda_handler({"action": "reconcile"}, None)

    # share 2, one held for a-db's own event: one copy starts, the other waits
    assert len(instance_snapshots(destination)) == 1
    assert result["metrics"]["CopiesDeferred"] == 1


def _copying(name: str) -> Any:
    def change(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            if snap["DBSnapshotIdentifier"] == name:
                snap.update(Status="copying", PercentProgress=40)

    return change


def _creating(name: str) -> Any:
    def change(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            if snap["DBSnapshotIdentifier"] == name:
                snap["Status"] = "creating"

    return change
