"""One table of actions (jobs.actions) behind both entry points: the handler and the command line.

The handler dispatches what the table says the function runs, the command line offers exactly the
table's commands (and restore, its own), with the table's help, and --dry-run/--wait only where an
action changes something. An action added to the table alone is reachable from both.
"""

from __future__ import annotations

import argparse
import io
import itertools
from datetime import UTC, datetime

import pytest

from rds_snapshot_dr import handler
from rds_snapshot_dr.cli import main as cli
from rds_snapshot_dr.jobs import actions
from rds_snapshot_dr.jobs.actions import ACTIONS, COMMANDS, FUNCTION_ACTIONS, Action
from rds_snapshot_dr.jobs.engine import Engine, Report
from rds_snapshot_dr.rules.events import ActionRequest, InvalidEventError

NOW = datetime(2026, 11, 25, 14, 0, 30, tzinfo=UTC)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (group,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


def helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    (group,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {choice.dest: choice.help or "" for choice in group._choices_actions}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for a in parser._actions for flag in a.option_strings}


def test_the_command_line_offers_the_tables_commands_and_restore():
    parser = cli.build_parser()
    assert list(subcommands(parser)) == [*COMMANDS, "restore"]
    assert {name: helps(parser)[name] for name in COMMANDS} == {a.name: a.summary for a in COMMANDS.values()}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_dry_run_and_wait_only_where_an_action_changes_something(name):
    flags = options(subcommands(cli.build_parser())[name])
    assert ({"--dry-run", "--wait"} <= flags) is COMMANDS[name].changes
    assert ("--dry-run" in flags) is COMMANDS[name].changes


def test_every_action_runs_somewhere_and_names_are_unique():
    assert len({a.name for a in ACTIONS}) == len(ACTIONS)
    assert all(a.function is not None or a.command is not None for a in ACTIONS)
    assert set(FUNCTION_ACTIONS) | set(COMMANDS) == {a.name for a in ACTIONS}


def test_the_function_refuses_what_only_the_command_line_runs(env):
    with pytest.raises(InvalidEventError, match="unknown action 'copy'"):
        handler.lambda_handler({"action": "copy"}, None)


def test_the_command_lines_reconcile_leaves_the_drill_to_the_function():
    assert COMMANDS["reconcile"].command is Engine.reconcile
    assert FUNCTION_ACTIONS["reconcile"].function is not Engine.reconcile


def test_an_action_added_to_the_table_alone_is_reachable_from_both_entry_points(env, monkeypatch):
    ran: list[tuple[str, tuple[str, ...] | None]] = []

    def tally(engine: Engine, request: ActionRequest) -> Report:
        ran.append((request.action, request.targets))
        return Report(request.action)

    added = Action("tally", "count the targets", function=tally, command=tally, targeted=True, changes=False)
    monkeypatch.setitem(actions.FUNCTION_ACTIONS, "tally", added)
    monkeypatch.setitem(actions.COMMANDS, "tally", added)
    monkeypatch.setattr(handler, "TARGETED_ACTIONS", actions.TARGETED_ACTIONS | {"tally"})

    assert handler.lambda_handler({"action": "tally", "targets": ["orders-db"]}, None)["action"] == "tally"
    out = io.StringIO()
    code = cli.main(["tally", "--targets", "orders-db"], clock=itertools.count().__next__, out=out, now=lambda: NOW)
    assert code == 0
    assert "tally: nothing to do." in out.getvalue()
    assert ran == [("tally", ("orders-db",)), ("tally", ("orders-db",))]
