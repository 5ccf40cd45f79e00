"""Every action of the engine, in one table that both entry points read.

The Lambda handler dispatches an invocation's `"action"` through `FUNCTION_ACTIONS`; the command line
builds its subcommands, their help and their flags from `COMMANDS` and runs what the entry names. Adding
an action, or changing what one accepts, is one entry here. (The command line's `restore` is not an
action of the engine: it restores through the restore gateway and has its own module, `cli.restore`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rds_snapshot_dr.jobs import drill, preflight
from rds_snapshot_dr.jobs.engine import Engine, Report
from rds_snapshot_dr.jobs.preflight import PreflightReport
from rds_snapshot_dr.rules.events import ActionRequest

Runner = Callable[[Engine, ActionRequest], Report | PreflightReport]


@dataclass(frozen=True)
class Action:
    name: str
    summary: str
    """One line: the command line's --help for the subcommand, and the docs' table."""
    function: Runner | None
    """What an invocation of the function with {"action": name} runs; None: the command line's only."""
    command: Runner | None
    """What `rds-snapshot-dr name` runs; None: the function's only."""
    targeted: bool
    """Takes a `targets` subset. An invocation naming targets for another action is refused, not run
    over every target (the command line's --targets is refused the same way)."""
    changes: bool = True
    """Starts, copies or deletes something: the command line offers --dry-run and --wait."""
    report_only: bool = False
    """Failed outcomes do not fail the invocation: the next run follows within minutes, so Lambda's
    retries and the dead-letter queue would only repeat them; the TargetFailures metric reports them."""


ACTIONS: tuple[Action, ...] = (
    Action(
        "backup",
        "start one snapshot per target",
        function=Engine.backup,
        command=Engine.backup,
        targeted=True,
    ),
    Action(
        "copy",
        "copy owned available snapshots that have no copy yet (or --snapshot)",
        function=None,  # the function copies on each snapshot's event, on copy-waiting and on reconcile
        command=Engine.copy_missing,
        targeted=True,
    ),
    Action(
        "reconcile",
        "copy what has no copy, prune, measure",
        # The function's reconcile also finishes restore drills; the command line's leaves them to the
        # function, whose schedule started them (a --dry-run could not preview a drill's deletions).
        function=drill.reconcile,
        command=Engine.reconcile,
        targeted=True,
    ),
    Action(
        "copy-waiting",
        "fill free copy slots between reconciles",
        function=Engine.copy_waiting,
        command=None,
        targeted=False,
        report_only=True,  # about 300 runs a day: a lasting fault would fill the dead-letter queue
    ),
    Action(
        "preflight",
        "run the troubleshooting checklist (reads only: no --dry-run or --wait)",
        function=preflight.run,
        command=preflight.run,
        targeted=True,
        changes=False,
    ),
    Action(
        "drill",
        "restore one database from its newest DR copy and measure it (finished by reconcile)",
        function=drill.drill,
        command=None,
        targeted=False,
    ),
)

FUNCTION_ACTIONS: dict[str, Action] = {a.name: a for a in ACTIONS if a.function is not None}
COMMANDS: dict[str, Action] = {a.name: a for a in ACTIONS if a.command is not None}
TARGETED_ACTIONS = frozenset(a.name for a in ACTIONS if a.targeted)
REPORT_ONLY_ACTIONS = frozenset(a.name for a in ACTIONS if a.report_only)
