"""A fleet simulation: the unchanged rds_snapshot_dr function against a simulated AWS, on simulated time.

    from simulation import play, play_configuration
    figures, verdicts = play("copy-failures", databases=100, days=30)
    figures, verdicts = play_configuration(7)  # configuration 7 of the configuration sweep (simulation/sweep.py)

See docs/simulation.md for the model, what it leaves out, and how the figures are computed.
"""

from __future__ import annotations

from typing import Any


def play(
    name: str,
    databases: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    fleet_settings: str | None = None,
    copy_waiting_on_demand: bool = True,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Run one scenario: (its figures, the violations per invariant). Picklable, for process pools.
    `fleet_settings`: see `Scenario.sized`; `copy_waiting_on_demand` False: the copy-waiting schedule always
    runs (the baseline its switch is measured against)."""
    from dataclasses import replace

    from . import fleet, invariants
    from .figures import figures
    from .scenarios import SCENARIOS

    scenario = SCENARIOS[name].sized(databases, days, seed, fleet_settings)
    if not copy_waiting_on_demand:
        scenario = replace(scenario, copy_waiting_on_demand=False)
    run = fleet.run(scenario)
    return figures(run), invariants.check(run)


def play_configuration(number: int, databases: int = 8, days: int = 8) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Run configuration `number` of the configuration sweep: (its figures, with the configuration, and the
    violations per invariant). Picklable, for process pools."""
    from . import fleet, invariants
    from .figures import figures
    from .sweep import configuration

    scenario = configuration(number, databases, days)
    run = fleet.run(scenario)
    return {**figures(run), "configuration": scenario.description}, invariants.check(run)
