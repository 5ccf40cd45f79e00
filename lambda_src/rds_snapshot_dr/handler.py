"""Lambda entry point: parse the event, build clients once, run the engine, print metrics, return or raise."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rds_snapshot_dr import __version__, clock
from rds_snapshot_dr.core.logs import configure_logging, logger
from rds_snapshot_dr.core.metrics import print_emf
from rds_snapshot_dr.core.settings import Settings, load_settings
from rds_snapshot_dr.gateway.aws import CLIENTS, KeyGateway, RdsGateway, ScheduleGateway
from rds_snapshot_dr.jobs.actions import FUNCTION_ACTIONS, REPORT_ONLY_ACTIONS, TARGETED_ACTIONS
from rds_snapshot_dr.jobs.copier import WaitingCandidates
from rds_snapshot_dr.jobs.engine import Engine, Report
from rds_snapshot_dr.rules.errors import TargetFailuresError
from rds_snapshot_dr.rules.events import ActionRequest, CopyFinished, IgnoredEvent, SnapshotCreated, parse_event

_NO_DEADLINE_MS = 15 * 60 * 1000


@dataclass
class ExecutionEnvironment:
    """What one Lambda execution environment keeps across its warm invocations, besides its settings and
    its clients with their rate budgets (`gateway.aws.CLIENTS`): copy-waiting's waiting-copy candidates.
    `lambda_handler` runs with the process's one; a caller that runs several environments in one process
    (the fleet simulation) gives each its own to `handle`."""

    waiting: WaitingCandidates = field(default_factory=WaitingCandidates)

    def clear(self) -> None:
        self.waiting.clear()


ENVIRONMENT = ExecutionEnvironment()


@functools.cache
def current_settings() -> Settings:
    """Validated once per container (cold start); a bad variable fails every invocation with its name."""
    return load_settings(os.environ)


@functools.cache
def announce_cold_start() -> None:
    """Log the release once per container, so every log stream says which version ran."""
    logger.info("rds-snapshot-dr %s cold start", __version__, extra={"version": __version__})


def reset() -> None:
    """Forget cached settings, clients and waiting-copy candidates (tests, or a changed environment)."""
    current_settings.cache_clear()
    announce_cold_start.cache_clear()
    CLIENTS.clear()
    ENVIRONMENT.clear()


def utcnow() -> datetime:
    return clock.CLOCK.now()


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(event, context, ENVIRONMENT)


def handle(event: Any, context: Any, environment: ExecutionEnvironment) -> dict[str, Any]:
    """One invocation in `environment`."""
    settings = current_settings()
    configure_logging(settings.log_level)
    announce_cold_start()
    now = utcnow()
    # The actions an invocation may name, what each runs and which take targets: jobs.actions.
    request = parse_event(event, actions=FUNCTION_ACTIONS.keys(), now=now, targeted=TARGETED_ACTIONS)
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None) or (lambda: _NO_DEADLINE_MS)
    engine = Engine(
        settings,
        RdsGateway.from_settings(settings),
        now=now,
        remaining_ms=remaining_ms,
        copy_waiting_schedule=ScheduleGateway.from_settings(settings),
        destination_key=KeyGateway.from_settings(settings),
        waiting=environment.waiting,
    )

    if isinstance(request, ActionRequest):
        run = FUNCTION_ACTIONS[request.action].function
        assert run is not None  # FUNCTION_ACTIONS holds the actions the function runs
        report = run(engine, request)
    elif isinstance(request, SnapshotCreated):
        report = engine.copy_created(request)
    elif isinstance(request, CopyFinished):
        report = engine.copy_finished(request)
    else:
        assert isinstance(request, IgnoredEvent)
        report = engine.ignore(request)

    print_emf(report.metrics, settings.metrics_namespace, settings.owner_tag_value, int(utcnow().timestamp() * 1000))
    result = report.to_dict()
    # A failure a retry cannot change (Report.lasting) is reported, not raised: Lambda's two retries would
    # only repeat it into the dead-letter queue, whose alarm must keep meaning "an invocation was lost".
    # So are the failures of a report-only action (Action.report_only).
    retryable = report.retryable_failures if isinstance(report, Report) else []  # preflight fails nothing
    if retryable and not (isinstance(request, ActionRequest) and request.action in REPORT_ONLY_ACTIONS):
        failed = sorted({f"{o.target} ({o.operation}: {o.reason})" for o in retryable})
        raise TargetFailuresError(f"{len(failed)} target operation(s) failed: " + "; ".join(failed))
    return result
