#!/usr/bin/env python3
"""Fleet simulation benchmark: the unchanged function against a simulated AWS over simulated months.

Plays each scenario of `simulation.scenarios` (seeded, repeatable) and prints, per scenario, its
figures and the invariants that broke. Every figure is computed from what happened in the run.

    python3 benchmarks/simulate.py --quick                         # every scenario, 10 databases, 20 days
    python3 benchmarks/simulate.py --databases 10,100,1000 --days 30 --json
    python3 benchmarks/simulate.py --scenario copy-failures --databases 100 --seed 7
    python3 benchmarks/simulate.py --scenario events-lost --databases 1000 --settings defaults
    python3 benchmarks/simulate.py --sweep 40 --jobs 2             # 40 random valid configurations

A fleet of more instances than the module's default 5 copy slots carry (165, the sizing table of
docs/sizing.md) runs with the settings for a large fleet unless `--settings defaults` says otherwise;
each result names its settings.

Exit status: 0 when every invariant held in every run, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "lambda_src"), str(ROOT)]

from simulation import play, play_configuration  # noqa: E402
from simulation.scenarios import DEFAULT_SLOTS_CARRY_INSTANCES, QUICK, SCENARIOS  # noqa: E402

TABLE = (
    "recovery_points_lost",
    "foreign_deleted",
    "failures_injected",
    "failures_surfaced",
    "worst_rpo_hours",
    "worst_rpo_hours_judged",
    "p50_copy_start_seconds",
    "api_calls_per_database_day",
    "calls_per_database_day_by_action",
    "calls_per_database_day_by_operation",
    "peak_rds_calls_per_second",
    "throttling_errors",
    "quota_exceeded_errors",
    "incremental_copy_ratio",
    "lambda_seconds_per_database_day",
    "dead_letters",
    "event_calls_per_event_max",
    "copy_event_calls_per_event_max",
    "copy_event_calls_per_event_mean",
    "copy_waiting_calls_max",
    "copy_waiting_runs",
    "copy_waiting_runs_idle",
    "copy_waiting_ticks",
    "copy_waiting_seconds_p50",
    "backup_round_seconds",
    "backup_round_bound_seconds",
    "copy_slot_utilisation",
    "copies_started_above_share",
    "min_account_bucket_tokens",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default: all")
    parser.add_argument("--databases", default=None, help="comma-separated fleet sizes (default 10,100,1000)")
    parser.add_argument("--days", type=int, default=None, help="simulated days (default 30)")
    parser.add_argument("--seed", type=int, default=None, help="the scenarios' seed (default: each scenario's own)")
    parser.add_argument(
        "--quick", action="store_true", help=f"every scenario at {QUICK['databases']} databases, {QUICK['days']} days"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line per run")
    parser.add_argument(
        "--markdown", metavar="FILE", help="instead of running: a Markdown table of the --json lines in FILE"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, in separate processes (default 1)")
    parser.add_argument(
        "--settings",
        choices=("sized", "defaults", "large-fleet"),
        default="sized",
        help="the module's settings: its defaults, the README's settings for a large fleet, or sized (default): "
        f"the defaults up to {DEFAULT_SLOTS_CARRY_INSTANCES} instances (what the default 5 copy slots carry, "
        "README sizing table), the settings for a large fleet above",
    )
    parser.add_argument(
        "--copy-waiting",
        choices=("on-demand", "always"),
        default="on-demand",
        help="on-demand (default, the module's way): the function switches the copy-waiting schedule on while "
        "copies wait and off when none do; always: it runs at every tick (the baseline)",
    )
    parser.add_argument(
        "--sweep",
        type=int,
        metavar="N",
        help="instead of the scenarios: the configuration sweep's first N configurations (random valid settings, "
        "simulation/sweep.py), from number --seed (default 0), at --databases (default 8) for --days (default 8)",
    )
    args = parser.parse_args(argv)
    if args.sweep:
        first = args.seed or 0
        size = int(args.databases) if args.databases else 8
        swept = [(number, size, args.days or 8) for number in range(first, first + args.sweep)]
        return _played(_swept, swept, args.jobs, args.json, _print_swept)
    if args.markdown:
        lines = Path(args.markdown).read_text().splitlines()
        print(markdown_table([json.loads(line) for line in lines if line.strip()]))
        return 0

    names = args.scenario or list(SCENARIOS)
    if args.quick:
        sizes = [int(x) for x in args.databases.split(",")] if args.databases else [QUICK["databases"]]
        days = args.days or QUICK["days"]
    else:
        sizes = [int(x) for x in (args.databases or "10,100,1000").split(",")]
        days = args.days or 30

    on_demand = args.copy_waiting == "on-demand"
    runs = [(name, size, days, args.seed, args.settings, on_demand) for size in sizes for name in names]
    return _played(_one, runs, args.jobs, args.json, print_table)


def _played(play_one: Callable[[Any], dict[str, Any]], runs: list[Any], jobs: int, as_json: bool, show: Any) -> int:
    """Play the runs in `jobs` processes, printing each result (a JSON line, or `show`): 0 when every invariant
    held in every run, 1 otherwise."""
    all_held = True
    with multiprocessing.get_context("spawn").Pool(max(1, jobs)) as pool:
        for result in pool.imap(play_one, runs):
            all_held &= not result["invariants_broken"]
            if as_json:
                print(json.dumps(result), flush=True)
            else:
                show(result)
    return 0 if all_held else 1


def _print_swept(result: dict[str, Any]) -> None:
    broken = result["invariants_broken"]
    verdict = "broken: " + "; ".join(f"{k}: {v[0]}" for k, v in broken.items()) if broken else "all held"
    print(f"{result['scenario']}: {result['configuration']}: {verdict}", flush=True)


def _one(run: tuple[str, int, int, int | None, str, bool]) -> dict[str, Any]:
    name, size, days, seed, settings, on_demand = run
    began = time.monotonic()
    result, verdicts = play(name, size, days, seed, settings, on_demand)
    result["copy_waiting"] = "on-demand" if on_demand else "always"
    result["invariants_broken"] = {k: v for k, v in verdicts.items() if v}
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    return result


def _swept(run: tuple[int, int, int]) -> dict[str, Any]:
    number, size, days = run
    began = time.monotonic()
    result, verdicts = play_configuration(number, size, days)
    result["invariants_broken"] = {k: v for k, v in verdicts.items() if v}
    result["wall_seconds"] = round(time.monotonic() - began, 1)
    return result


# The columns of the fleet simulation's table (docs/reliability.md): (heading, figure).
COLUMNS = (
    ("scenario", "scenario"),
    ("DBs", "databases"),
    ("days", "days"),
    ("settings", "settings"),
    ("lost", "recovery_points_lost"),
    ("foreign deleted", "foreign_deleted"),
    ("failures injected", "failures_injected"),
    ("surfaced", "failures_surfaced"),
    ("worst RPO h", "worst_rpo_hours"),
    ("worst judged RPO h", "worst_rpo_hours_judged"),
    ("p50 copy start s", "p50_copy_start_seconds"),
    ("calls / DB-day", "api_calls_per_database_day"),
    ("peak calls/s", "peak_rds_calls_per_second"),
    ("throttled", "throttling_errors"),
    ("quota exceeded", "quota_exceeded_errors"),
    ("incremental", "incremental_copy_ratio"),
    ("Lambda s / DB-day", "lambda_seconds_per_database_day"),
    ("dead letters", "dead_letters"),
    ("calls / created event max", "event_calls_per_event_max"),
    ("calls / copy event max", "copy_event_calls_per_event_max"),
    ("calls / copy event mean", "copy_event_calls_per_event_mean"),
    ("calls / copy-waiting run max", "copy_waiting_calls_max"),
    ("backup round s", "backup_round_seconds"),
    ("bound s", "backup_round_bound_seconds"),
    ("deferred by the round", "backup_round_deferred_max"),
    ("slot use", "copy_slot_utilisation"),
    ("above share", "copies_started_above_share"),
    ("min bucket", "min_account_bucket_tokens"),
)


def markdown_table(results: list[dict[str, Any]]) -> str:
    rows = ["| " + " | ".join(heading for heading, _ in COLUMNS) + " | invariants |"]
    rows.append("|" + "---|" * (len(COLUMNS) + 1))
    for result in results:
        # Lines written before results named their settings: every scenario then ran with its own, which are
        # the defaults but for large-fleet's.
        result = {"settings": "large-fleet" if result["scenario"] == "large-fleet" else "defaults", **result}
        cells = ["-" if result.get(key) is None else str(result[key]) for _, key in COLUMNS]
        broken = result.get("invariants_broken") or {}
        cells.append("broken: " + ", ".join(sorted(broken)) if broken else "all held")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\n== {result['scenario']}: {result['databases']} databases, {result['days']} days, "
        f"{result.get('settings', 'defaults')} settings "
        f"(seed {result['seed']}, {result['wall_seconds']} s)"
    )
    for key in TABLE:
        value = result.get(key)
        if isinstance(value, dict):  # a breakdown: one indented line per part
            print(f"  {key}")
            for part, figure in value.items():
                print(f"    {part:<32} {figure}")
        else:
            print(f"  {key:<34} {value}")
    broken = result["invariants_broken"]
    if not broken:
        print("  invariants: all held")
    for name, found in broken.items():
        print(f"  BROKEN {name}:")
        for line in found:
            print(f"    - {line}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
