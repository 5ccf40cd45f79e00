"""The copy-waiting schedule runs only while copies wait: the function switches it off when none do, and the
backup run and reconcile switch it on again (COPY_WAITING_SCHEDULE_ARN). moto keeps the schedule's state, so
these tests read it back; the calls the switch makes are judged by the authorization stage."""

from __future__ import annotations

import os
from typing import Any

import pytest
from dr_testing import (
    COPY_WAITING_GROUP,
    COPY_WAITING_NAME,
    DESTINATION_REGION,
    SOURCE_REGION,
    alter_response,
    copy_waiting_state,
    load_event,
    make_cluster,
    make_copy_waiting_schedule,
    make_instance,
)

from rds_snapshot_dr import handler
from rds_snapshot_dr.core.settings import SettingsError, load_settings
from rds_snapshot_dr.handler import lambda_handler
from rds_snapshot_dr.rules.model import Kind

GROUP, NAME = COPY_WAITING_GROUP, COPY_WAITING_NAME


@pytest.fixture
def schedule(aws: str, env: Any) -> Any:
    """The module's copy-waiting schedule as Terraform creates it (ENABLED), and the function told of it."""
    client, arn = make_copy_waiting_schedule()
    env(COPY_WAITING_SCHEDULE_ARN=arn)
    return client


def _state(client: Any) -> str:
    return copy_waiting_state(client)


def _set(client: Any, state: str) -> None:
    current = client.get_schedule(Name=NAME, GroupName=GROUP)
    client.update_schedule(
        Name=NAME,
        GroupName=GROUP,
        State=state,
        ScheduleExpression=current["ScheduleExpression"],
        FlexibleTimeWindow=current["FlexibleTimeWindow"],
        Target=current["Target"],
    )


def _without_state(schedule: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schedule.items() if k not in ("State", "LastModificationDate", "ResponseMetadata")}


@pytest.mark.usefixtures("default_quotas")
def test_off_when_nothing_waits_and_nothing_else_changes(schedule, lambda_context):
    before = schedule.get_schedule(Name=NAME, GroupName=GROUP)
    result = lambda_handler({"action": "copy-waiting"}, lambda_context)
    after = schedule.get_schedule(Name=NAME, GroupName=GROUP)
    assert after["State"] == "DISABLED"
    # UpdateSchedule resets every field it is not given: the switch hands each one back.
    assert _without_state(after) == _without_state(before)
    assert not [o for o in result["outcomes"] if o["outcome"] == "failed"]


@pytest.mark.usefixtures("default_quotas")
def test_backup_switches_it_on_and_it_stays_on_while_a_copy_waits(schedule, source, env, lambda_context):
    env(COPY_CONCURRENCY_LIMIT="1", DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    _set(schedule, "DISABLED")

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    assert _state(schedule) == "ENABLED"

    # moto's snapshot-created events are not delivered: copy-waiting starts the copies, one slot at a time.
    first = lambda_handler({"action": "copy-waiting"}, lambda_context)
    assert [o["outcome"] for o in first["outcomes"] if o["operation"] == "copy"] == ["started"]
    assert _state(schedule) == "ENABLED"  # the second copy still waits
    second = lambda_handler({"action": "copy-waiting"}, lambda_context)
    assert [o["outcome"] for o in second["outcomes"] if o["operation"] == "copy"] == ["started"]
    assert _state(schedule) == "DISABLED"  # nothing waits any more


@pytest.mark.usefixtures("default_quotas")
def test_reconcile_switches_it_on_when_cluster_copies_wait(schedule, source, env, lambda_context):
    """RDS announces no finished cluster snapshot copy: a cluster copy that waits needs copy-waiting."""
    env(COPY_CONCURRENCY_LIMIT="1", DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="payments,ledger")
    make_cluster(source, "payments")
    make_cluster(source, "ledger")
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    _set(schedule, "DISABLED")

    first = lambda_handler({"action": "reconcile"}, lambda_context)
    assert [o["outcome"] for o in first["outcomes"] if o["operation"] == "copy"] == ["started", "deferred"]
    assert _state(schedule) == "ENABLED"

    _set(schedule, "DISABLED")
    lambda_handler({"action": "reconcile"}, lambda_context)  # starts the last copy: nothing waits after it
    lambda_handler({"action": "reconcile"}, lambda_context)
    assert _state(schedule) == "DISABLED"


@pytest.mark.usefixtures("default_quotas")
def test_instance_copies_behind_busy_slots_leave_it_to_the_copy_finished_events(schedule, source, env, lambda_context):
    """Instance copies that wait while every slot of the share is busy need no schedule: each copy-finished
    event starts as many as the share has free (the event after a lost one too). Reconcile does not switch it
    on for them, and copy-waiting switches itself off."""
    env(COPY_CONCURRENCY_LIMIT="1", DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    _set(schedule, "DISABLED")

    # moto ends a copy at once; here the first one is still copying, so the share is busy.
    def copying(parsed: dict[str, Any]) -> None:
        for snap in parsed.get("DBSnapshots", []):
            snap["Status"] = "copying"

    alter_response(DESTINATION_REGION, "DescribeDBSnapshots", copying)
    first = lambda_handler({"action": "reconcile"}, lambda_context)
    assert [o["outcome"] for o in first["outcomes"] if o["operation"] == "copy"] == ["started", "deferred"]
    assert _state(schedule) == "DISABLED"

    _set(schedule, "ENABLED")
    waiting = lambda_handler({"action": "copy-waiting"}, lambda_context)
    assert [o for o in waiting["outcomes"] if o["operation"] == "copy"] == []  # no slot free
    assert _state(schedule) == "DISABLED"


@pytest.mark.usefixtures("default_quotas")
def test_a_refused_switch_is_reported_once_and_not_retried(schedule, source, env, lambda_context):
    """A schedule the function may not switch (here: one that is not there) fails the run's report, with the
    fix, and raises nothing: a retry cannot help, and Lambda's retries would only fill the dead-letter queue."""
    env(
        COPY_WAITING_SCHEDULE_ARN=f"arn:aws:scheduler:{SOURCE_REGION}:123456789012:schedule/{GROUP}/gone",
        DB_CLUSTER_IDENTIFIERS="",
    )
    make_instance(source, "orders-db")
    result = lambda_handler(load_event("scheduled-backup.json"), lambda_context)  # raises nothing
    [failed] = [o for o in result["outcomes"] if o["outcome"] == "failed"]
    assert failed["operation"] == "schedule"
    assert "could not be enabled" in failed["reason"]
    assert "scheduler:UpdateSchedule" in failed["fix"]
    assert [o["outcome"] for o in result["outcomes"] if o["operation"] == "snapshot"] == ["started"]
    assert _state(schedule) == "ENABLED"  # the module's schedule itself is untouched


def test_a_malformed_schedule_arn_is_refused(env):
    env(COPY_WAITING_SCHEDULE_ARN="arn:aws:events:eu-west-1:123456789012:rule/copy-waiting")
    with pytest.raises(SettingsError, match="COPY_WAITING_SCHEDULE_ARN: must be empty or an EventBridge Scheduler"):
        load_settings(os.environ)


@pytest.mark.usefixtures("default_quotas", "schedule")
def test_each_execution_environment_keeps_its_own_waiting_candidates(source, env, lambda_context):
    """The candidates a listing found stay with the execution environment that listed them (the handler's
    `ExecutionEnvironment`), never in a process global another environment would read."""
    env(COPY_CONCURRENCY_LIMIT="1", DB_INSTANCE_IDENTIFIERS="orders-db,billing-db", DB_CLUSTER_IDENTIFIERS="")
    make_instance(source, "orders-db")
    make_instance(source, "billing-db")
    listed, other = handler.ExecutionEnvironment(), handler.ExecutionEnvironment()

    handler.handle(load_event("scheduled-backup.json"), lambda_context, listed)
    handler.handle({"action": "copy-waiting"}, lambda_context, listed)

    waiting, _watched = listed.waiting.get(Kind.INSTANCE) or ([], [])
    assert [snap.target for snap in waiting] == ["billing-db"]  # one slot: the second copy waits
    assert other.waiting.get(Kind.INSTANCE) is None
    assert handler.ENVIRONMENT.waiting.get(Kind.INSTANCE) is None
