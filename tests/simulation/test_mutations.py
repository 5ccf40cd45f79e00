"""Every invariant of the fleet simulation can fail: each test breaks one rule of the engine on purpose and
shows the invariant that guards it failing in a scenario of this stage.

An invariant that holds whatever the engine does proves nothing; these tests are what lets a green
`test_scenarios.py` mean something. Each mutation is the smallest change that removes one rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rds_snapshot_dr.gateway.aws import RdsGateway
from rds_snapshot_dr.rules import (
    copy_plan,
    copy_state,
    model,
    naming,
    recovery_point,
    retention,
    rounds,
    schedule,
    selection,
)
from simulation import fleet, invariants
from simulation.scenarios import SCENARIOS, Scenario

DAY, HOUR = 86400.0, 3600.0
# DR copies kept 3 days instead of 14: what retention does shows within a week of simulated time
SHORT_RETENTION = (("DESTINATION_RETENTION_DAYS", "3"),)


def short(name: str, **changes: Any) -> Scenario:
    scenario = SCENARIOS[name]
    return replace(scenario, settings=scenario.settings + SHORT_RETENTION, **changes)


def broken(scenario: str | Scenario, days: int, databases: int = 10) -> dict[str, list[str]]:
    """The violations per invariant of one scenario, run in this process (so a monkeypatch reaches the engine)."""
    chosen = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    return invariants.check(fleet.run(chosen.sized(databases, days)))


def test_copies_within_share_fails_when_the_event_path_ignores_the_reserved_slots(monkeypatch):
    monkeypatch.setattr(copy_plan, "holds_copy_slot", lambda snapshot, now: True)

    assert broken("steady-state", days=2)["copies_within_share"]


def test_no_source_deleted_before_copy_fails_without_the_rule(monkeypatch):
    # copies stall for 60 hours from the second round on: its sources pass the 2-day retention uncopied
    outage = replace(SCENARIOS["copy-outage"], copy_outages=((1 * DAY + 3 * HOUR, 60.0),))
    assert broken(outage, days=4)["no_source_deleted_before_copy"] == []  # the engine as it is holds

    monkeypatch.setattr(retention, "_copy_not_available", lambda copies, snap: "")

    assert broken(outage, days=4)["no_source_deleted_before_copy"]


def test_newest_copy_never_deleted_fails_without_keep_last(monkeypatch):
    original = retention.expired_snapshots

    def without_keep_last(settings: Any, *args: Any, **kwargs: Any) -> retention.PruneDecision:
        return original(replace(settings, keep_last=0), *args, **kwargs)

    monkeypatch.setattr(retention, "expired_snapshots", without_keep_last)

    assert broken(short("database-deleted", deleted=((1.0, 0),)), days=6)["newest_copy_never_deleted"]


def test_nothing_foreign_deleted_fails_when_the_prefix_alone_makes_a_snapshot_ours(monkeypatch):
    # the fleet holds snapshots with our prefix and no ownership tag (another tool's), a month old
    monkeypatch.setattr(
        naming,
        "is_owned",
        lambda settings, snap: snap.snapshot_type == "manual" and naming.has_our_prefix(settings, snap.identifier),
    )

    assert broken("steady-state", days=2)["nothing_foreign_deleted"]


def test_every_failure_surfaced_fails_when_a_failed_copy_is_not_reported(monkeypatch):
    original = copy_state.failed_copy_outcome

    def quiet(*args: Any, **kwargs: Any) -> model.Outcome:
        return replace(original(*args, **kwargs), outcome="skipped")

    monkeypatch.setattr(copy_state, "failed_copy_outcome", quiet)

    assert broken("copy-failures", days=6)["every_failure_surfaced"]


def test_rpo_within_bound_fails_when_nothing_is_snapshotted(monkeypatch):
    monkeypatch.setattr(selection, "can_snapshot", lambda db: False)

    assert broken("steady-state", days=4)["rpo_within_bound"]


def test_rpo_alarm_correct_fails_when_the_recovery_point_always_reads_zero(monkeypatch):
    def always_new(settings: Any, databases: Any, destination: Any, now: Any) -> dict[str, float]:
        return {db.identifier: 0.0 for db in databases}

    monkeypatch.setattr(recovery_point, "recovery_point_age", always_new)
    monkeypatch.setattr(selection, "can_snapshot", lambda db: False)  # so the truth passes the threshold

    assert broken("steady-state", days=4)["rpo_alarm_correct"]


def test_quota_alarm_correct_fails_when_the_quota_use_always_reads_zero(monkeypatch):
    monkeypatch.setattr(recovery_point, "quota_used_percent", lambda quotas: 0.0)

    assert broken("quota-near-wall", days=16)["quota_alarm_correct"]


def test_model_complete_fails_when_the_function_calls_what_the_model_lacks(monkeypatch):
    original: Callable[..., Any] = RdsGateway.list_instances

    def with_an_extra_call(self: RdsGateway) -> Any:
        self._clients[self.source_region].describe_db_engine_versions(Engine="postgres")
        return original(self)

    monkeypatch.setattr(RdsGateway, "list_instances", with_an_extra_call)

    assert broken("steady-state", days=1)["model_complete"]


def test_every_invariant_has_its_mutation_test():
    """A new invariant needs a test here named `test_<invariant>_fails_...`."""
    tested = {name.split("_fails_")[0].removeprefix("test_") for name in globals() if "_fails_" in name}
    assert set(invariants.INVARIANTS) <= tested


# --- the rules issue 20's defects added, in the scenario that changes databases under the function -------


def test_rpo_alarm_correct_fails_when_a_look_alike_counts_as_our_copy(monkeypatch):
    monkeypatch.setattr(naming, "copied_from_our_source", lambda settings, snap: True)

    assert broken("databases-change", days=10)["rpo_alarm_correct"]


def test_newest_copy_never_deleted_fails_when_a_recreated_database_counts_as_its_predecessor(monkeypatch):
    monkeypatch.setattr(model.Snapshot, "generation", property(lambda snap: (snap.kind, snap.target, "")))

    assert broken(short("databases-change", recreated=(1.0,)), days=6)["newest_copy_never_deleted"]


def test_rpo_within_bound_fails_when_a_round_that_left_no_snapshot_waits_for_the_next(monkeypatch):
    # issue 20, defect 4: reconcile found missed rounds only from the round tags of existing snapshots
    monkeypatch.setattr(schedule, "latest_scheduled_time", lambda *args, **kwargs: None)

    assert broken("source-api-outage", days=8)["rpo_within_bound"]


def test_rpo_within_bound_fails_when_a_failed_snapshot_holds_its_round(monkeypatch):
    """A snapshot that ended failed holds no data; counted as its round's snapshot, nothing retakes the round."""
    frequent = replace(SCENARIOS["snapshots-fail"], snapshot_failure_rate=0.2)
    assert broken(frequent, days=4)["rpo_within_bound"] == []  # the engine as it is holds

    monkeypatch.setattr(rounds, "SNAPSHOT_FAILED_STATES", frozenset())

    assert broken(frequent, days=4)["rpo_within_bound"]


def test_copies_within_share_fails_when_a_copy_finished_event_starts_a_copy_per_delivery(monkeypatch):
    """Each delivery of a copy-finished event used to start a copy: a duplicate went over the share."""
    original = copy_plan.plan_refill

    def one_per_event(*args: Any, **kwargs: Any) -> copy_plan.Refill:
        refill = original(*args, **kwargs)
        return replace(refill, start=refill.waiting[:1], room=1)

    monkeypatch.setattr(copy_plan, "plan_refill", one_per_event)

    assert broken("events-disordered", days=4)["copies_within_share"]


def test_a_disabled_key_fills_the_dead_letter_queue_when_its_failure_is_raised(monkeypatch):
    """The rule the kms-key-disabled scenario's test relies on: a lasting failure is reported, not raised."""
    from rds_snapshot_dr.jobs import worker

    monkeypatch.setattr(worker, "LASTING_CODES", frozenset())

    run = fleet.run(SCENARIOS["kms-key-disabled"].sized(10, 7))
    assert run.dead_letters > 0


# --- a destination key KMS will not use: the copies under it cannot be restored ------------------------------


def test_rpo_alarm_correct_fails_when_copies_under_a_key_pending_deletion_count(monkeypatch):
    """Counted, the copies under the key keep the alarm quiet while nothing could be restored, and their sources
    (the only restorable data) pass their retention and are deleted."""
    monkeypatch.setattr(recovery_point, "restorable_copies", lambda snapshots, key: list(snapshots))

    verdicts = broken("kms-key-pending-deletion", days=8)

    assert verdicts["rpo_alarm_correct"]
    assert verdicts["no_source_deleted_before_copy"]


def test_copies_within_share_fails_when_an_instance_over_its_share_takes_another_instances_slots(monkeypatch):
    """Two module instances in one account: the event path ignoring the reserved slots takes the module over its
    share, and AWS refuses the other instance copies within its own."""
    monkeypatch.setattr(copy_plan, "holds_copy_slot", lambda snapshot, now: True)

    run = fleet.run(SCENARIOS["two-module-instances"].sized(10, 4))

    assert run.neighbour_refused
    assert any("refused the other module instance" in line for line in invariants.copies_within_share(run))


def refusals(days: int) -> list[str]:
    """Every violation of uncopyable_refused in the multi-az-clusters scenario (untruncated)."""
    return invariants.uncopyable_refused(fleet.run(SCENARIOS["multi-az-clusters"].sized(10, days)))


def test_uncopyable_refused_fails_when_the_engine_backs_up_a_multi_az_db_cluster(monkeypatch):
    assert refusals(days=2) == []  # the engine as it is holds

    monkeypatch.setattr(selection, "copy_refusal", lambda db: None)

    found = refusals(days=2)
    assert any("CreateDBClusterSnapshot for the Multi-AZ DB cluster maz-00" in line for line in found)
    assert any("reported maz-01 failed 0 times" in line for line in found)


def test_uncopyable_refused_fails_when_the_refusal_fails_the_invocation(monkeypatch):
    from rds_snapshot_dr.jobs import worker

    record = worker.Report.record

    def not_lasting(self, outcome, message="", lasting=False):  # the refusal as a retryable failure
        return record(self, outcome, message, lasting=lasting and "Multi-AZ" not in outcome.reason)

    monkeypatch.setattr(worker.Report, "record", not_lasting)

    assert any("run failed for maz-00, maz-01 alone" in line for line in refusals(days=2))
