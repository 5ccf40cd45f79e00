"""The function never sleeps and never waits on a waiter: every invocation starts work and returns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from dr_testing import load_event, make_cluster, make_instance

import rds_snapshot_dr
from rds_snapshot_dr.handler import lambda_handler

PACKAGE = Path(rds_snapshot_dr.__file__).parent
FORBIDDEN = {"sleep", "get_waiter", "wait"}
# cli/main.py is the workstation command line, never on the function's path (the handler does not import
# it, see test_cli.py): its --wait follows snapshots to "available" and has to pause between checks.
# clock.py holds the one pause of the function: pacing API calls within the rate budget, never a wait
# on AWS state (a simulation replaces it with its own clock).
EXEMPT = {"cli/main.py", "clock.py"}


def package_sources() -> list[Path]:
    """Every module of the package (its subpackages included) but the exempt ones, by path within it."""
    paths = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).as_posix() not in EXEMPT)
    assert len(paths) > 30, paths  # the walk reaches the subpackages, or this check would prove nothing
    return paths


def test_package_source_never_calls_sleep_or_waiters():
    offenders = []
    for path in package_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Name):
                name = node.id
            if name in FORBIDDEN:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {name}")
    assert offenders == []


def test_only_the_rate_budget_pauses():
    """The clock's pause is for pacing API calls only: nothing but aws.RateBudget may call it."""
    callers = []
    for path in package_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "pause":
                callers.append(path.relative_to(PACKAGE).as_posix())
    assert callers == ["gateway/aws.py"]


@pytest.mark.usefixtures("default_quotas")
def test_a_full_cycle_never_sleeps(source, lambda_context, monkeypatch):
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}s")

    monkeypatch.setattr("time.sleep", no_sleep)
    make_instance(source, "orders-db")
    make_cluster(source, "payments")

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)
    lambda_handler(load_event("manual-cluster-snapshot-created.json"), lambda_context)
    lambda_handler({"action": "reconcile"}, lambda_context)
