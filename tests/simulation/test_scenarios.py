"""Every scenario, small, against the real function: the invariants hold and nothing is lost.

The same scenarios and predicates as `benchmarks/simulate.py`, at the size of the `simulation` stage.
"""

from __future__ import annotations

import multiprocessing

import pytest

from simulation import fleet, invariants, play
from simulation.figures import figures
from simulation.scenarios import SCENARIOS

STAGE = {"databases": 10, "days": 12}
# Scenarios run past the destination retention (14 days), so DR copies are pruned: steady state, the quota
# near the wall (the copies fill it over the retention) and deleted databases. The others inject their fault
# by day 10 and are judged on it in STAGE's days.
STAGE_DAYS = {"steady-state": 16, "quota-near-wall": 16, "database-deleted": 16}

# Invariants the engine is known to break today, each with the defect it exposes (scenario "*": all).
# strict: when the engine is fixed the test fails until its entry here is removed.
KNOWN_ENGINE_DEFECTS: dict[tuple[str, str], str] = {
    # e.g. ("copy-failures", "every_failure_surfaced"): "a copy that ends failed is silent",
}
# The headline figures and the invariant each one summarises.
FIGURES = {
    "recovery_points_lost": "newest_copy_never_deleted",
    "foreign_deleted": "nothing_foreign_deleted",
    "failures_surfaced": "every_failure_surfaced",
}


def _play(name: str) -> tuple[dict, dict]:
    return play(name, **{**STAGE, "days": STAGE_DAYS.get(name, STAGE["days"])})


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[dict, dict]]:
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return dict(zip(SCENARIOS, pool.map(_play, SCENARIOS), strict=True))


def _known(scenario: str, invariant: str) -> list:
    reason = KNOWN_ENGINE_DEFECTS.get((scenario, invariant)) or KNOWN_ENGINE_DEFECTS.get(("*", invariant))
    return [pytest.mark.xfail(reason=reason, strict=True)] if reason else []


@pytest.mark.parametrize(
    ("scenario", "invariant"),
    [pytest.param(s, i, marks=_known(s, i), id=f"{s}-{i}") for s in SCENARIOS for i in invariants.INVARIANTS],
)
def test_invariant_holds(results, scenario, invariant):
    _figures, verdicts = results[scenario]
    assert verdicts[invariant] == []


@pytest.mark.parametrize(
    ("scenario", "figure"),
    [pytest.param(s, f, marks=_known(s, i), id=f"{s}-{f}") for s in SCENARIOS for f, i in FIGURES.items()],
)
def test_headline_figure(results, scenario, figure):
    result, _verdicts = results[scenario]
    expected = result["failures_injected"] if figure == "failures_surfaced" else 0
    assert result[figure] == expected


@pytest.mark.parametrize("scenario", ["steady-state", "events-lost", "events-disordered"])
def test_copy_waiting_runs_only_while_copies_wait(results, scenario):
    """The function switches the copy-waiting schedule off when nothing waits: at least 10 times fewer runs
    that start no copy than the schedule's ticks (every one of which was a run before), and no RDS call of
    the switch: Scheduler's own, a few a day."""
    result, _verdicts = results[scenario]
    assert result["copy_waiting_ticks"] > 0
    assert result["copy_waiting_runs_idle"] * 10 <= result["copy_waiting_ticks"]
    assert result["copy_waiting_switches"] > 0
    assert 0 < result["scheduler_calls_per_day"] < 60


@pytest.mark.parametrize("scenario", ["kms-key-disabled", "kms-key-pending-deletion"])
def test_an_unusable_key_is_reported_on_every_run_without_filling_the_dead_letter_queue(results, scenario):
    """RDS refuses every copy under the key: each run reports it (TargetFailures, its alarm), and no invocation
    fails for it, so Lambda's retries put nothing in the dead-letter queue. Once a run has read the key's state
    (reconcile always, another run after its first refusal) it tries no more copies: the refusals are those
    of the created events and of the first run of each other kind, not one per copy per run (over a thousand
    in the 30-hour window before)."""
    result, _verdicts = results[scenario]
    assert result["kms_refusals"] > 0
    assert result["kms_refusals"] <= 2 * STAGE["databases"]
    assert result["invocation_errors"] == 0
    assert result["dead_letters"] == 0


def test_two_module_instances_share_the_copy_slots_without_a_refusal(results):
    """The other instance kept its 15 instance copy slots busy (hundreds of copies at the module's backup hour)
    and AWS refused it none: the module stayed within its share of 5."""
    result, _verdicts = results["two-module-instances"]
    assert result["neighbour_copies_started"] >= 40 * STAGE["days"]
    assert result["neighbour_copies_refused"] == 0
    assert result["peak_instance_copies_in_flight"] <= 5


@pytest.mark.parametrize("scenario", ["steady-state", "copy-failures", "events-lost"])
def test_the_calls_per_database_day_add_up_by_action_and_by_operation(results, scenario):
    """Every RDS request of the run is counted once by what ran it and once by its operation: each breakdown
    adds up to the headline figure (up to the rounding of each part), and a steady run names its parts."""
    result, _verdicts = results[scenario]
    total = result["api_calls_per_database_day"]
    by_action, by_operation = result["calls_per_database_day_by_action"], result["calls_per_database_day_by_operation"]
    assert sum(by_action.values()) == pytest.approx(total, abs=0.01 * len(by_action))
    assert sum(by_operation.values()) == pytest.approx(total, abs=0.01 * len(by_operation))
    assert {"backup", "reconcile", "event: snapshot created"} <= set(by_action)
    assert {"CreateDBSnapshot", "CopyDBSnapshot", "DescribeDBSnapshots"} <= set(by_operation)


def test_the_copy_failure_scenario_injects_failures(results):
    assert results["copy-failures"][0]["failures_injected"] > 0


@pytest.mark.parametrize(
    ("name", "days"),
    [
        ("events-disordered", 3),
        # botocore's retry backoff draws its jitter from the process's global random (botocore.retries.standard)
        ("source-api-throttled", 7),
    ],
)
def test_a_run_is_repeatable(name, days):
    scenario = SCENARIOS[name].sized(databases=5, days=days)
    first, second = figures(fleet.run(scenario)), figures(fleet.run(scenario))
    assert first["throttling_errors"] > 0 or name != "source-api-throttled"
    assert first == second


def test_a_fleet_sized_past_the_default_copy_slots_gets_the_settings_for_a_large_fleet():
    events_lost = SCENARIOS["events-lost"]
    small, large = events_lost.sized(100, fleet_settings="sized"), events_lost.sized(1000, fleet_settings="sized")
    assert (small.fleet_settings, dict(small.settings), small.lambda_config.timeout_s) == ("defaults", {}, 300.0)
    assert (large.fleet_settings, dict(large.settings)) == ("large-fleet", {"COPY_CONCURRENCY_LIMIT": "20"})
    assert large.lambda_config.timeout_s == 900.0
    assert large.delivery == events_lost.delivery  # the scenario's own faults stay
    # the large-fleet scenario keeps its settings at any size; nothing is added twice
    assert SCENARIOS["large-fleet"].sized(10, fleet_settings="sized").settings == (("COPY_CONCURRENCY_LIMIT", "20"),)
    assert SCENARIOS["large-fleet"].sized(fleet_settings="large-fleet").settings == (("COPY_CONCURRENCY_LIMIT", "20"),)
    with pytest.raises(ValueError, match="fleet_settings"):
        events_lost.sized(fleet_settings="huge")


def test_the_benchmark_names_each_runs_settings(tmp_path, capsys):
    import importlib.util
    import json
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "simulate.py"
    run = [sys.executable, str(path), "--scenario", "steady-state", "--databases", "3", "--days", "1", "--json"]
    out = subprocess.run([*run, "--settings", "large-fleet"], capture_output=True, text=True, check=True).stdout  # noqa: S603 - our interpreter, our script
    line = json.loads(out)
    assert (line["scenario"], line["settings"]) == ("steady-state", "large-fleet")

    # a line written before results named their settings ran with the scenario's own
    spec = importlib.util.spec_from_file_location("simulate_benchmark", path)
    simulate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(simulate)
    older = {k: v for k, v in line.items() if k != "settings"}
    runs = tmp_path / "runs.json"
    runs.write_text("\n".join(json.dumps({**older, "scenario": s}) for s in ("large-fleet", "events-lost")) + "\n")
    simulate.main(["--markdown", str(runs)])
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("| scenario | DBs | days | settings |")
    assert [row.split(" | ")[3] for row in rows[2:]] == ["large-fleet", "defaults"]
