"""The figures of one run, every one computed from what happened in it."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from rds_snapshot_dr.rules.events import COPY_FINISHED_EVENTS, SNAPSHOT_CREATED_EVENTS

from . import invariants
from .fleet import Run
from .services import Invocation

# The function's own event tables: (detail-type, EventID) of snapshot created / copy finished or failed.
CREATED = frozenset(event_id for _detail_type, event_id in SNAPSHOT_CREATED_EVENTS)
COPY_FINISHED = frozenset(event_id for _detail_type, event_id in COPY_FINISHED_EVENTS)


def _event_id(payload: dict[str, Any]) -> str:
    detail = payload.get("detail")
    return str(detail.get("EventID", "")) if isinstance(detail, dict) else ""


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def action_of(invocation: Invocation) -> str:
    """What an invocation ran, as the per-action figures name it: the scheduled action, or the event's kind."""
    if invocation.trigger != "event":
        return str(invocation.payload.get("action", invocation.trigger))
    event_id = _event_id(invocation.payload)
    if event_id in CREATED:
        return "event: snapshot created"
    return "event: copy finished" if event_id in COPY_FINISHED else "event: other"


def calls_by(run: Run, database_days: float) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """RDS calls per database-day by action and by operation, from every request the run's invocations made."""
    by_action: Counter[str] = Counter()
    by_operation: Counter[str] = Counter()
    for invocation in run.invocations:
        by_action[action_of(invocation)] += invocation.calls
        by_operation.update(invocation.operations)
    return (
        {name: _round(count / database_days, 2) for name, count in sorted(by_action.items())},
        {name: _round(count / database_days, 2) for name, count in by_operation.most_common()},
    )


def figures(run: Run) -> dict[str, Any]:
    n = len(run.databases)
    database_days = max(1.0, n * run.days)
    calls = sum(inv.calls for inv in run.invocations)
    lambda_seconds = sum(inv.end - inv.start for inv in run.invocations)
    lost = sum(1 for d in run.deletions if d.newest_copy) + sum(
        1 for key in run.ever_copied if not run.final_copies.get(key)
    )
    surfaced = len(run.injected_failures) - len(invariants.unsurfaced_failures(run))
    ages = [age for _t, _db, age, _exempt in run.rpo_samples]
    judged = [age for _t, _db, age, exempt in run.rpo_samples if not exempt]
    # The bound (at most 3 calls) is for the snapshot-created events; the copy-finished events
    # (RDS-EVENT-0060/0061) look for the next waiting copy, which costs more, and are counted apart.
    event_calls = [inv.calls for inv in run.invocations if inv.trigger == "event" and _event_id(inv.payload) in CREATED]
    copy_event_calls = [
        inv.calls for inv in run.invocations if inv.trigger == "event" and _event_id(inv.payload) in COPY_FINISHED
    ]
    # The copy-waiting schedule's runs: a fixed cost per run, whatever waits.
    waiting_runs = [inv for inv in run.invocations if inv.trigger == "copy-waiting"]
    # The backup round: the scheduled invocation's time and calls, and what its rate budget allows:
    # calls / budget plus one call's latency. The budget is one invocation's share of the module's
    # RDS_API_REQUESTS_PER_SECOND; without that setting (an engine before it), the account's sustained
    # rate (12 requests per second).
    budget = run.rate_budget or 12.0
    rounds = [(end - start, calls_, deferred) for start, end, calls_, deferred in run.backup_rounds]
    by_action, by_operation = calls_by(run, database_days)
    worst_round = max(rounds, default=(0.0, 0, 0))
    bound = worst_round[1] / budget + run.timing.mutate_latency_s if rounds else None
    return {
        "scenario": run.scenario.name,
        "databases": n,
        "days": run.days,
        "seed": run.scenario.seed,
        "settings": run.scenario.fleet_settings,
        "recovery_points_lost": lost,
        "foreign_deleted": sum(1 for d in run.deletions if d.snap.maker != "module"),
        "failures_injected": len(run.injected_failures),
        "failures_surfaced": surfaced,
        "worst_rpo_hours": _round(max(ages) / 3600 if ages else None, 2),
        # the samples rpo_within_bound judges: databases that stayed available, outside injected outages
        "worst_rpo_hours_judged": _round(max(judged) / 3600 if judged else None, 2),
        "p50_copy_start_seconds": _round(
            statistics.median(run.copy_start_delays) if run.copy_start_delays else None, 1
        ),
        "api_calls_per_database_day": _round(calls / database_days, 2),
        # the same calls, by what ran them and by RDS operation (docs/cost.md)
        "calls_per_database_day_by_action": by_action,
        "calls_per_database_day_by_operation": by_operation,
        "peak_rds_calls_per_second": run.peak_calls_per_second,
        "throttling_errors": run.counts.get("throttled", 0),
        "quota_exceeded_errors": run.counts.get("quota_exceeded", 0),
        "copy_limit_refusals": run.counts.get("copy_limit_refused", 0),
        "kms_refusals": run.counts.get("kms_refused", 0),
        "incremental_copy_ratio": _round(
            run.copies_incremental / run.copies_completed if run.copies_completed else None
        ),
        "lambda_seconds_per_database_day": _round(lambda_seconds / database_days, 3),
        "dead_letters": run.dead_letters,
        "event_calls_per_event_max": max(event_calls, default=0),
        "copy_event_calls_per_event_max": max(copy_event_calls, default=0),
        "copy_event_calls_per_event_mean": _round(statistics.fmean(copy_event_calls) if copy_event_calls else None, 2),
        "backup_round_seconds": _round(worst_round[0], 1) if rounds else None,
        "backup_round_bound_seconds": _round(bound, 1),
        "backup_round_deferred_max": max((d for _s, _c, d in rounds), default=0),
        "rate_budget_per_second": budget,
        "rate_budget_configured": run.rate_budget is not None,
        "copy_waiting_calls_max": max((inv.calls for inv in waiting_runs), default=0),
        # runs of the copy-waiting schedule, those that started no copy, and the schedule's ticks (the runs it
        # would start if it were never switched off); the switch's own Scheduler requests, per day
        "copy_waiting_runs": len(waiting_runs),
        "copy_waiting_runs_idle": sum(1 for inv in waiting_runs if not inv.emf.get("CopiesStarted")),
        "copy_waiting_ticks": run.copy_waiting_ticks,
        "copy_waiting_switches": run.copy_waiting_switches,
        "scheduler_calls_per_day": _round(sum(inv.scheduler_calls for inv in run.invocations) / max(1.0, run.days), 1),
        "copy_waiting_seconds_p50": _round(
            statistics.median(inv.end - inv.start for inv in waiting_runs) if waiting_runs else None, 1
        ),
        "copy_slot_utilisation": _round(run.slot_busy_s / run.slot_available_s if run.slot_available_s else None),
        "copies_started_above_share": len(run.share_breaches),
        "neighbour_copies_started": run.neighbour_copies_started,
        "neighbour_copies_refused": len(run.neighbour_refused),
        "peak_instance_copies_in_flight": run.peak_copies_in_flight.get("instance", 0),
        "peak_cluster_copies_in_flight": run.peak_copies_in_flight.get("cluster", 0),
        "min_account_bucket_tokens": _round(run.min_bucket_tokens, 1),
        "invocations": len(run.invocations),
        "invocation_errors": sum(1 for inv in run.invocations if inv.error),
        "timeouts": sum(1 for inv in run.invocations if inv.error == "Task timed out"),
        "events_lost": run.events.get("lost", 0),
        "copies_failed_other": run.copies_failed_other,
    }
