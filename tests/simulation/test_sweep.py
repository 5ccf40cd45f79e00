"""The configuration sweep: random valid settings, every invariant checked (simulation/sweep.py).

A short sweep runs here; `benchmarks/simulate.py --sweep N` runs a longer one. What a sweep finds becomes a
named scenario (`copy-attempts-exhausted` came from configuration 6).
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, timedelta
from typing import Any

import pytest

from rds_snapshot_dr.core.settings import load_settings
from rds_snapshot_dr.rules import schedule
from simulation import fleet, invariants, play_configuration
from simulation.sweep import COPY_MAX_ATTEMPTS, RECONCILE_MINUTES, configuration

# Configurations of this stage: among them a 15-minute and a 6-hour reconcile, two rounds a day, copy-waiting
# off, a copy limit of 2 and copy_max_attempts of 1 (configuration 6).
STAGE = (0, 1, 2, 3, 6, 7)


@pytest.fixture(scope="module")
def swept() -> dict[int, tuple[dict[str, Any], dict[str, list[str]]]]:
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return dict(zip(STAGE, pool.map(play_configuration, STAGE), strict=True))


@pytest.mark.parametrize("number", STAGE)
def test_every_invariant_holds_in_the_configuration(swept, number):
    result, verdicts = swept[number]
    assert {name: found for name, found in verdicts.items() if found} == {}, result["configuration"]


def test_the_stage_covers_the_schedules_and_limits_it_names():
    drawn = [configuration(number) for number in STAGE]
    assert {s.reconcile_s for s in drawn} >= {15 * 60.0, 6 * 3600.0}
    assert any(len(s.backup_hours) == 2 for s in drawn)
    assert any(s.copy_waiting_s is None for s in drawn)
    assert any(dict(s.settings)["COPY_MAX_ATTEMPTS"] == "1" for s in drawn)


@pytest.mark.parametrize("number", range(200))
def test_every_drawn_configuration_is_one_the_module_accepts(number):
    """Within the variables' validations, as the function's own settings check reads them."""
    scenario = configuration(number)
    settings = load_settings({**fleet.Simulation(scenario).environment})
    assert 1 <= settings.source_retention_days <= settings.destination_retention_days
    assert settings.keep_last >= 1
    assert 1 <= settings.copy_concurrency_limit <= 20
    assert COPY_MAX_ATTEMPTS[0] <= settings.copy_max_attempts <= COPY_MAX_ATTEMPTS[1]
    assert scenario.reconcile_s / 60 in RECONCILE_MINUTES
    assert scenario.reconcile_s <= 86400  # the recovery-point alarm's period follows it: one day at most
    # the schedule the simulation fires is the one the function is told of
    due = schedule.latest_scheduled_time(
        settings.backup_schedule_expression, UTC, fleet.to_datetime(86400.0), timedelta(days=1)
    )
    assert due is not None
    assert due.hour in scenario.backup_hours


def test_a_sweep_finding_fails_the_invariant_without_its_allowance(monkeypatch):
    """The allowance the sweep's finding added (a round whose copy attempts ran out waits for the next round) is
    what holds configuration 6: without it, its recovery point breaks the bound."""
    monkeypatch.setattr(fleet.Simulation, "_copy_ended", _without_exhaustion(fleet.Simulation._copy_ended))
    run = fleet.run(configuration(6))
    assert invariants.check(run)["rpo_within_bound"]


def _without_exhaustion(original: Any) -> Any:
    def copy_ended(self: fleet.Simulation, copy: Any, now: float) -> None:
        original(self, copy, now)
        self.copies_exhausted.clear()

    return copy_ended
