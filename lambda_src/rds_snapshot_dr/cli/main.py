"""Command line for manual runs and backfills, from a workstation with the user's own credentials.

    rds-snapshot-dr backup --function-name rds-snapshot-dr-orders --wait

Same engine and settings as the function: the settings come from the deployed function's
configuration (--function-name), or from environment variables of the same names, and any flag
overrides either. Unlike the function, the command line may wait: --wait follows each snapshot and
copy it started to `available`. It never runs inside the function (the handler does not import it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TextIO

from rds_snapshot_dr import __version__
from rds_snapshot_dr.cli import restore as restore_cli
from rds_snapshot_dr.cli.follow import Progress, until_done
from rds_snapshot_dr.core.logs import configure_logging, logger
from rds_snapshot_dr.core.module_defaults import MODULE_DEFAULTS
from rds_snapshot_dr.core.settings import Settings, SettingsError, load_settings
from rds_snapshot_dr.gateway.aws import CLIENTS, AccountGateway, KeyGateway, RdsGateway
from rds_snapshot_dr.jobs.actions import COMMANDS
from rds_snapshot_dr.jobs.engine import Engine, Report
from rds_snapshot_dr.jobs.preflight import FAIL, PreflightReport
from rds_snapshot_dr.rules import model
from rds_snapshot_dr.rules.errors import AwsError
from rds_snapshot_dr.rules.events import ActionRequest, SnapshotCreated, parse_time
from rds_snapshot_dr.rules.model import TAG_KEYS, Database, Kind, Operation, Outcome, Result, Snapshot

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
NO_DEADLINE_MS = 24 * 60 * 60 * 1000

SETTING_NAMES = (
    "SOURCE_REGION",
    "DESTINATION_REGION",
    "DESTINATION_KMS_KEY_ARN",
    "SNAPSHOT_PREFIX",
    "OWNER_TAG_KEY",
    "OWNER_TAG_VALUE",
    "DB_INSTANCE_IDENTIFIERS",
    "DB_CLUSTER_IDENTIFIERS",
    "SELECTION_TAGS",
    "SNAPSHOT_TAGS",
    "SOURCE_RETENTION_DAYS",
    "DESTINATION_RETENTION_DAYS",
    "KEEP_LAST",
    "COPY_CONCURRENCY_LIMIT",
    "COPY_MAX_ATTEMPTS",
    "SNAPSHOT_QUOTA_ALARM_THRESHOLD",
    "OPTION_GROUP_MAPPING",
    "METRICS_NAMESPACE",
    "TIME_BUDGET_RESERVE_MS",
    "BOTO_MAX_ATTEMPTS",
    "BOTO_RETRY_MODE",
    "LOG_LEVEL",
    "BACKUP_SCHEDULE_EXPRESSION",
    "BACKUP_SCHEDULE_TIMEZONE",
    "RDS_API_REQUESTS_PER_SECOND",
    "RDS_API_CONCURRENT_INVOCATIONS",
    "RESTORE_SETTINGS",
    "DRILL_SETTINGS",
)
# Set by the module, not read here: the command line never switches the function's copy-waiting schedule
# (the function's next backup or reconcile does when copies wait).
FUNCTION_ONLY_SETTINGS = ("COPY_WAITING_SCHEDULE_ARN",)
# What the module sets when every input keeps its default (module_defaults, checked against the Terraform);
# the rest (regions, key, prefix, owner) has to come from the function, the environment or a flag. Two
# differ on a workstation: no Lambda deadline to keep a reserve from, and the command prints its own table
# of outcomes, so the decision log shows warnings only unless --log-level asks for more.
DEFAULTS = {
    **MODULE_DEFAULTS,
    "OWNER_TAG_KEY": TAG_KEYS["owner"],
    "TIME_BUDGET_RESERVE_MS": "0",
    "LOG_LEVEL": "WARNING",
}
DONE_STATES = frozenset({"available"})
# A snapshot or copy in one of these states never becomes available: the states RDS ends a copy in
# (`model.COPY_FAILED_STATES`, a failed snapshot's among them), one on its way out, and "missing" (gone
# from the listing while followed).
BROKEN_STATES = model.COPY_FAILED_STATES | {"error", "deleting", "deleted", "missing"}


class CliGateway(RdsGateway):
    """The engine's gateway, recording every snapshot and copy it starts and every deletion.

    With `dry_run` the create, copy and delete calls are recorded and NOT sent: the engine makes the
    same decisions, the reads are real, nothing changes in the account.
    """

    dry_run: bool = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: list[Snapshot] = []
        self.deleted: list[Snapshot] = []

    def create_snapshot(self, db: Database, identifier: str, tags: Mapping[str, str]) -> Snapshot:
        if self.dry_run:
            snap = Snapshot(db.kind, identifier, "", self.source_region, "dry-run", "manual", None, dict(tags))
        else:
            snap = super().create_snapshot(db, identifier, tags)
        self.started.append(snap)
        return snap

    def copy_snapshot(self, source: Snapshot, kms_key_arn: str, option_group: str | None = None) -> Snapshot:
        if self.dry_run:
            snap = replace(source, region=self.destination_region, status="dry-run", arn="", copied_from=source.arn)
        else:
            snap = super().copy_snapshot(source, kms_key_arn, option_group)
        self.started.append(snap)
        return snap

    def tag_snapshot(self, snapshot: Snapshot, tags: Mapping[str, str]) -> None:
        if not self.dry_run:
            super().tag_snapshot(snapshot, tags)

    def delete_snapshot(self, snapshot: Snapshot) -> None:
        if not self.dry_run:
            super().delete_snapshot(snapshot)
        self.deleted.append(snapshot)


@dataclass
class Follower:
    """Follows started snapshots and copies to `available` with describe calls, pausing between rounds."""

    gateway: RdsGateway
    pause: Callable[[float], None]
    clock: Callable[[], float]
    out: TextIO
    poll_seconds: float
    last: dict[tuple[str, str, str], Snapshot] = field(default_factory=dict)
    pending: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, snapshots: Sequence[Snapshot]) -> None:
        for snap in snapshots:
            key = (snap.region, str(snap.kind), snap.identifier)
            self.last[key] = snap
            self.pending.add(key)

    def run(self) -> None:
        progress = Progress(self.out, self.clock, self.clock())

        def check() -> bool:
            for key in sorted(self.pending):
                region, kind, identifier = key
                try:
                    current = self.gateway.find_snapshot(region, Kind(kind), identifier)
                except AwsError as error:
                    print(f"  ! {identifier} in {region}: {error.code}, will retry", file=self.out)
                    continue
                snap = current or replace(self.last[key], status="missing")
                self.last[key] = snap
                percent = f"{snap.percent_progress:>3}%" if snap.percent_progress is not None else "    "
                progress.show(
                    key,
                    f"{snap.status} {snap.percent_progress}",
                    f"{identifier:<50} {region:<15} {snap.status:<12} {percent}",
                )
                if snap.status in DONE_STATES or snap.status in BROKEN_STATES:
                    self.pending.discard(key)
            if not self.pending:
                return True
            done = len(self.last) - len(self.pending)
            print(f"  {done}/{len(self.last)} finished; next check in {self.poll_seconds:g}s", file=self.out)
            return False

        until_done(check, self.pause, self.poll_seconds)

    @property
    def broken(self) -> list[Snapshot]:
        return [s for s in self.last.values() if s.status in BROKEN_STATES]


# --- arguments and settings ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("settings source")
    where.add_argument(
        "--function-name",
        help="read every setting from this deployed function's environment (lambda:GetFunctionConfiguration)",
    )
    where.add_argument("--region", help="region of the function (default: the AWS CLI's region)")
    where.add_argument(
        "--role-arn", help="the function's role, for preflight's permission check (default: read from the function)"
    )
    run = common.add_argument_group("run")
    run.add_argument("--targets", help="comma-separated DB instance / cluster identifiers (default: every target)")
    run.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    flags = common.add_argument_group("settings (override the function's or the environment's)")
    for name in SETTING_NAMES:
        flags.add_argument(f"--{name.lower().replace('_', '-')}", dest=f"setting_{name}", metavar="VALUE")

    # Only the subcommands that change something take these; preflight refuses them (it only reads).
    acting = argparse.ArgumentParser(add_help=False)
    change = acting.add_argument_group("changes")
    change.add_argument("--dry-run", action="store_true", help="show what would be created and deleted; change nothing")
    change.add_argument(
        "--wait",
        dest="follow",
        action="store_true",
        help="follow each started snapshot and copy to available (Ctrl-C stops and lists unfinished work)",
    )
    change.add_argument("--poll-seconds", type=float, default=30.0, help="seconds between checks with --wait")

    parser = argparse.ArgumentParser(
        prog="rds-snapshot-dr",
        description=f"Run {', '.join(COMMANDS)} or restore with the function's engine and settings.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    # One subcommand per action of the engine the command line runs (jobs.actions.COMMANDS).
    subcommands = {
        action.name: commands.add_parser(
            action.name, parents=[common, acting] if action.changes else [common], help=action.summary
        )
        for action in COMMANDS.values()
    }
    subcommands["backup"].add_argument(
        "--scheduled-time",
        help="ISO 8601 time the snapshot names derive from (default: now); repeat a run's time to resume it",
    )
    subcommands["copy"].add_argument(
        "--snapshot", help="copy this one source snapshot (instance or cluster snapshot identifier)"
    )
    restore = commands.add_parser(
        "restore",
        parents=[common, acting],
        help="restore the newest (or a chosen) DR copy of a database in the destination region",
    )
    restore_cli.add_arguments(restore)
    return parser


class UsageError(ValueError):
    """A command line that cannot run; the message names the flag or setting and the fix, on one line."""


SCHEDULED_TIME_FORMAT = "ISO 8601, UTC unless an offset is given, e.g. 2026-11-25T14:00Z"


def parse_scheduled_time(value: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError:
        raise UsageError(f"--scheduled-time {value!r} is not a time: use {SCHEDULED_TIME_FORMAT}") from None


def resolve_settings(args: argparse.Namespace, account: AccountGateway) -> tuple[Settings, str | None]:
    """Defaults < the function's variables (or the environment) < flags. Returns the settings and the role."""
    role = args.role_arn
    flags = {name: getattr(args, f"setting_{name}") for name in SETTING_NAMES}
    if args.function_name:
        if not (args.region or account.default_region()):
            raise UsageError(
                "no AWS region to find the function in: pass --region REGION (the function's region), "
                "or set AWS_REGION or a region in your AWS profile"
            )
        config = account.function_configuration(args.function_name, args.region)
        source = config.get("Environment", {}).get("Variables", {})
        role = role or config.get("Role")
    else:
        source = {name: os.environ[name] for name in SETTING_NAMES if name in os.environ}
        if not source and all(value is None for value in flags.values()):
            raise UsageError(
                "no settings: pass --function-name NAME (and --region) to read them from the deployed function, "
                "or set them as environment variables (SOURCE_REGION, DESTINATION_KMS_KEY_ARN, ...) or flags"
            )
    merged = {**DEFAULTS, **source, **{k: v for k, v in flags.items() if v is not None}}
    try:
        return load_settings(merged), role
    except SettingsError as error:
        if args.function_name:
            raise
        raise SettingsError(
            f"{error}\nRead every setting from the deployed function with --function-name NAME (and --region), "
            "or set the ones above as environment variables or flags."
        ) from None


# --- output -------------------------------------------------------------------------------------------


def _table(rows: list[list[str]], headers: list[str], out: TextIO) -> None:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def print_report(report: Report, dry_run: bool, out: TextIO) -> None:
    would = {"started": "would start", "deleted": "would delete"} if dry_run else {}
    if dry_run:
        print("DRY RUN: nothing was created, copied or deleted.", file=out)
    if not report.outcomes:
        print(f"{report.action}: nothing to do.", file=out)
        return
    rows = [
        [o.target, o.kind, o.operation, would.get(o.outcome, o.outcome), o.snapshot, o.reason] for o in report.outcomes
    ]
    _table(rows, ["TARGET", "KIND", "OPERATION", "OUTCOME", "SNAPSHOT", "REASON"], out)
    for o in report.outcomes:
        if o.failed and o.fix:
            print(f"fix for {o.target}: {o.fix}", file=out)


def print_preflight(report: PreflightReport, out: TextIO) -> None:
    _table([[c.status.upper(), c.check, c.detail] for c in report.checks], ["STATUS", "CHECK", "DETAIL"], out)
    for c in report.checks:
        if c.status != "pass" and c.fix:
            print(f"fix for {c.check}: {c.fix}", file=out)
    summary = report.to_dict()["summary"]
    print(
        f"preflight: {report.status} ({summary['pass']} pass, {summary['warn']} warn, {summary['fail']} fail)", file=out
    )


def print_final(follower: Follower, out: TextIO) -> None:
    rows = [
        [s.identifier, s.region, str(s.kind), s.status, "" if s.percent_progress is None else f"{s.percent_progress}%"]
        for s in follower.last.values()
    ]
    _table(rows, ["SNAPSHOT", "REGION", "KIND", "STATUS", "PROGRESS"], out)


def print_interrupted(gateway: CliGateway, follower: Follower | None, scheduled: datetime, out: TextIO) -> None:
    print("\nInterrupted. Work already started in AWS goes on; nothing was rolled back.", file=out)
    if follower is not None and follower.last:
        unfinished = [follower.last[key] for key in sorted(follower.pending)]
        finished = [s for key, s in follower.last.items() if key not in follower.pending]
    else:
        unfinished, finished = list(gateway.started), []
    for title, items in (("Started and not yet finished", unfinished), ("Finished", finished)):
        if items:
            print(f"{title}:", file=out)
            _table(
                [[s.identifier, s.region, str(s.kind), s.status] for s in items],
                ["SNAPSHOT", "REGION", "KIND", "LAST STATUS"],
                out,
            )
    if gateway.deleted:
        print("Deleted:", file=out)
        for snap in gateway.deleted:
            print(f"  {snap.identifier} ({snap.region})", file=out)
    if not (unfinished or finished or gateway.deleted):
        print("Nothing had been started.", file=out)
    print(
        f"Resume: run the same command with --scheduled-time {scheduled:%Y-%m-%dT%H:%MZ} (same snapshot names, so "
        "existing snapshots count as done), or let the next reconcile copy what is missing.",
        file=out,
    )


# --- main ---------------------------------------------------------------------------------------------


def _not_a_table_row(record: logging.LogRecord) -> bool:
    """Decisions (outcomes and preflight checks) carry a target and are printed in the table already."""
    return not getattr(record, "target", None)


def main(
    argv: Sequence[str] | None = None,
    *,
    pause: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    out: TextIO | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    # The engine's JSON log lines go to stderr; the function's LOG_LEVEL is not used here (--log-level is).
    # By default a decision already shown as a row of the table is not logged again: each warning once.
    configure_logging((args.setting_LOG_LEVEL or "WARNING").upper())
    if args.setting_LOG_LEVEL is None:
        logger.addFilter(_not_a_table_row)
    try:
        return _command(args, pause=pause, clock=clock, out=out, now=now)
    finally:
        logger.removeFilter(_not_a_table_row)


def _command(
    args: argparse.Namespace,
    *,
    pause: Callable[[float], None],
    clock: Callable[[], float],
    out: TextIO,
    now: Callable[[], datetime],
) -> int:
    try:
        scheduled = parse_scheduled_time(args.scheduled_time) if getattr(args, "scheduled_time", None) else now()
        settings, role = resolve_settings(args, AccountGateway(CLIENTS))
    except (SettingsError, AwsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    scheduled = scheduled.replace(second=0, microsecond=0)
    targets = tuple(t.strip().lower() for t in args.targets.split(",") if t.strip()) if args.targets else None
    request = ActionRequest(action=args.command, scheduled_time=scheduled, targets=targets, role_arn=role)

    gateway = CliGateway.from_settings(settings)
    assert isinstance(gateway, CliGateway)
    if args.command == "restore":
        try:
            return restore_cli.run(args, settings, gateway, out, pause=pause, clock=clock)
        except KeyboardInterrupt:
            print("\nInterrupted. A restore already started goes on in AWS; nothing was rolled back.", file=out)
            return EXIT_INTERRUPTED
    # Only an action that changes something offers --dry-run and --wait (Action.changes).
    dry_run, follow = getattr(args, "dry_run", False), getattr(args, "follow", False)
    gateway.dry_run = dry_run
    engine = Engine(
        settings,
        gateway,
        now=now(),
        remaining_ms=lambda: NO_DEADLINE_MS,
        destination_key=KeyGateway.from_settings(settings),
    )
    follower: Follower | None = None
    try:
        result = _run(args, engine, gateway, request)
        if isinstance(result, PreflightReport):
            if args.json:
                print(json.dumps(result.to_dict(), indent=2), file=out)
            else:
                print_preflight(result, out)
            return EXIT_FAILED if result.status == FAIL else EXIT_OK
        report = result
        if args.json:
            print(json.dumps(report.to_dict(), indent=2, default=str), file=out)
        else:
            print_report(report, dry_run, out)
        code = EXIT_FAILED if report.failed else EXIT_OK
        if follow and not dry_run and gateway.started:
            print(f"\nFollowing {len(gateway.started)} snapshot(s) to available (Ctrl-C stops):", file=out)
            follower = Follower(gateway, pause, clock, out, args.poll_seconds)
            follower.add(gateway.started)
            follower.run()
            print("", file=out)
            print_final(follower, out)
            if follower.broken:
                code = EXIT_FAILED
        return code
    except KeyboardInterrupt:
        print_interrupted(gateway, follower, scheduled, out)
        return EXIT_INTERRUPTED


def _run(
    args: argparse.Namespace, engine: Engine, gateway: CliGateway, request: ActionRequest
) -> Report | PreflightReport:
    if args.command == "copy" and args.snapshot:
        return _copy_named(engine, gateway, args.snapshot)
    run = COMMANDS[args.command].command
    assert run is not None  # COMMANDS holds the actions the command line runs
    return run(engine, request)


def _copy_named(engine: Engine, gateway: CliGateway, identifier: str) -> Report:
    for kind in (Kind.INSTANCE, Kind.CLUSTER):
        found = gateway.find_snapshot(gateway.source_region, kind, identifier)
        if found is not None:
            report = engine.copy_created(SnapshotCreated(kind, identifier, found.arn), by_hand=True)
            if not report.outcomes:
                report = Report("copy")
                report.outcomes.append(_not_ours(identifier, kind, engine.settings))
            return report
    report = Report("copy")
    report.outcomes.append(_not_ours(identifier, "", engine.settings, missing=True))
    return report


def _not_ours(identifier: str, kind: str, settings: Settings, *, missing: bool = False) -> Outcome:
    if missing:
        reason = f"no DB snapshot or DB cluster snapshot named {identifier} in {settings.source_region}"
    else:
        reason = (
            f"{identifier} is not a snapshot of this module instance (name prefix {settings.snapshot_prefix}- and "
            f"tag {settings.owner_tag_key}={settings.owner_tag_value}); not copied"
        )
    return Outcome(
        identifier,
        str(kind),
        Operation.COPY,
        Result.FAILED,
        identifier,
        reason,
        "Name a snapshot this module instance took.",
    )
