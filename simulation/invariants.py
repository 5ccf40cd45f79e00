"""The invariants every scenario must keep, as plain named predicates over a `Run`.

Each returns a list of violations (empty: it holds), each a short sentence naming what broke, so the
tests assert `== []` and the benchmark prints them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from .fleet import QUOTA_THRESHOLD, RPO_THRESHOLD_H, Run
from .kernel import to_datetime

_LIMIT = 5  # violations listed per invariant (the count is in the figures)


def _when(t: float) -> str:
    return to_datetime(t).strftime("%m-%d %H:%M")


def newest_copy_never_deleted(run: Run) -> list[str]:
    """The newest available DR copy of every database generation is never deleted, and a generation that had
    a DR copy still has one at the end (a database deleted and created again under its identifier is two
    generations, told apart by their resource id)."""
    found = [
        f"{_when(d.time)} {d.by or 'someone'} deleted {d.snap.ident}, the newest DR copy of {d.snap.db}"
        for d in run.deletions
        if d.newest_copy
    ]
    found += [
        f"{db} ({resource}) had a DR copy and ends with none"
        for kind, db, resource in sorted(run.ever_copied)
        if not run.final_copies.get((kind, db, resource))
    ]
    return found


def no_source_deleted_before_copy(run: Run) -> list[str]:
    return [
        f"{_when(d.time)} {d.by} deleted source {d.snap.ident} before its copy was available"
        for d in run.deletions
        if d.source_before_copy
    ]


def nothing_foreign_deleted(run: Run) -> list[str]:
    return [
        f"{_when(d.time)} {d.by} deleted {d.snap.ident} ({d.snap.maker}, not the module's)"
        for d in run.deletions
        if d.snap.maker != "module"
    ]


def unsurfaced_failures(run: Run) -> list[str]:
    """Injected failures no invocation reported (a failed outcome naming the snapshot or its database,
    with TargetFailures > 0 in the same invocation's metrics) within one reconcile interval plus the
    function's timeout."""
    window = run.scenario.reconcile_s + run.scenario.lambda_config.timeout_s
    reported: dict[str, list[float]] = defaultdict(list)
    for inv in run.invocations:
        if inv.failed and inv.emf.get("TargetFailures", 0) > 0:
            for _operation, target, snapshot in inv.failed:
                for name in (snapshot, target):
                    if name:
                        reported[name].append(inv.end)
    missing = []
    for t, copy in run.injected_failures:
        times = reported.get(copy.ident, []) + reported.get(copy.db, [])
        if not any(t <= end <= t + window for end in times):
            missing.append(f"{_when(t)} copy {copy.ident} failed and was not reported within {window / 3600:.1f} h")
    return missing


def rpo_within_bound(run: Run) -> list[str]:
    """Recovery-point age within backup interval + snapshot + copy time + reconcile interval (and the
    fleet's copy drain time), outside injected outages and database downtime; after a snapshot RDS could not
    take, one reconcile interval and a snapshot's time more (reconcile retakes it) until the next round."""
    worst: dict[str, tuple[float, float]] = {}
    for t, db, age, exempt in run.rpo_samples:
        if exempt or age <= run.rpo_bound_s[db]:
            continue
        if db not in worst or age > worst[db][1]:
            worst[db] = (t, age)
    return [
        f"{_when(t)} {db} recovery point {age / 3600:.1f} h old (bound {run.rpo_bound_s[db] / 3600:.1f} h)"
        for db, (t, age) in sorted(worst.items())
    ]


def _periods(run: Run, metric: str, truth_key: str, threshold: float, missing_breaches: bool, band: float) -> list[str]:
    """Evaluate a CloudWatch alarm (Maximum over one period, GreaterThanThreshold, one evaluation period)
    over the EMF datapoints of the reconcile runs, against what was true at each run's start."""
    period_s = run.scenario.reconcile_s  # the alarm's period follows the reconcile schedule (alarms.tf)
    by_period: dict[int, list[tuple[float | None, float]]] = defaultdict(list)
    measured: set[int] = set()  # periods in which a reconcile run finished without an error
    for inv in run.invocations:
        if inv.trigger != "reconcile" or not inv.truth:
            continue
        period = int(inv.end // period_s)
        if not inv.error:
            measured.add(period)
        if truth_key in inv.truth:
            by_period[period].append((inv.emf.get(metric), inv.truth[truth_key]))
    wrong = []
    for period in range(2, int(run.days * 86400 // period_s)):
        points = by_period.get(period, [])
        values = [v for v, _ in points if v is not None]
        fires = max(values) > threshold if values else missing_breaches
        truths = [t for _, t in points]
        if not truths:
            continue  # no run in this period: the alarm fires on missing data, as it should for silence
        if not values and period not in measured:
            continue  # every run failed (an RDS outage): nothing measured, and missing data is an alarm by design
        truth = max(truths)
        if abs(truth - threshold) < band:
            continue
        should = truth > threshold
        if fires != should:
            state = "fired" if fires else "stayed quiet"
            wrong.append(
                f"{_when(period * period_s)} the {metric} alarm {state}: metric "
                f"{max(values) if values else 'missing'}, truth {truth:.0f} (threshold {threshold:.0f})"
            )
    return wrong


def rpo_alarm_correct(run: Run) -> list[str]:
    return _periods(run, "RecoveryPointAgeSeconds", "rpo_s", RPO_THRESHOLD_H * 3600, True, 600.0)


def quota_alarm_correct(run: Run) -> list[str]:
    return _periods(run, "ManualSnapshotQuotaUsedPercent", "quota_percent", QUOTA_THRESHOLD, False, 1.0)


def copies_within_share(run: Run) -> list[str]:
    """The module never has more copies of a kind in flight than its share (COPY_CONCURRENCY_LIMIT, within AWS's
    20 instance / 5 cluster copies): another module instance in the account counts on the rest, and (where the
    scenario has one, `neighbour_databases`) AWS never refuses that instance a copy within its share."""
    return [
        f"{_when(t)} {by or 'someone'} started a {kind} copy: {in_flight} in flight, share {share}"
        for t, kind, in_flight, share, by in run.share_breaches
    ] + [
        f"{_when(t)} AWS refused the other module instance a {kind} copy within its share: {in_flight} in flight"
        for t, kind, in_flight in run.neighbour_refused
    ]


def uncopyable_refused(run: Run) -> list[str]:
    """A Multi-AZ DB cluster the settings select (RDS copies none of its snapshots) is never snapshotted, is
    reported failed exactly once by every backup and reconcile run that finished, and fails no invocation
    (Lambda would retry it into the dead-letter queue)."""
    wrong = [
        f"{_when(t)} the function called {operation} for the Multi-AZ DB cluster {cluster}"
        for t, operation, cluster in run.uncopyable_touched
    ]
    for inv in run.invocations:
        if inv.trigger not in ("backup", "reconcile") or not run.uncopyable:
            continue
        targets = [target for _operation, target, _snapshot in inv.failed]
        if inv.error:
            refused = sorted({t for t in targets if t in run.uncopyable})
            if inv.error == "TargetFailuresError" and refused and all(t in run.uncopyable for t in targets):
                wrong.append(f"{_when(inv.end)} a {inv.trigger} run failed for {', '.join(refused)} alone")
            continue
        for cluster in run.uncopyable:
            if targets.count(cluster) != 1:
                wrong.append(
                    f"{_when(inv.end)} a {inv.trigger} run reported {cluster} failed {targets.count(cluster)} times"
                )
    return wrong


def model_complete(run: Run) -> list[str]:
    """Every RDS operation the function called is modelled (else the run measured a stub)."""
    return [f"the function called {op}, which the simulation does not model" for op in sorted(run.unsupported)]


INVARIANTS: dict[str, Callable[[Run], list[str]]] = {
    "newest_copy_never_deleted": newest_copy_never_deleted,
    "no_source_deleted_before_copy": no_source_deleted_before_copy,
    "nothing_foreign_deleted": nothing_foreign_deleted,
    "every_failure_surfaced": unsurfaced_failures,
    "rpo_within_bound": rpo_within_bound,
    "rpo_alarm_correct": rpo_alarm_correct,
    "quota_alarm_correct": quota_alarm_correct,
    "copies_within_share": copies_within_share,
    "uncopyable_refused": uncopyable_refused,
    "model_complete": model_complete,
}


def check(run: Run) -> dict[str, list[str]]:
    """Violations per invariant name (all names present; an empty list means it held)."""
    verdicts = {}
    for name, predicate in INVARIANTS.items():
        found = predicate(run)
        verdicts[name] = found[:_LIMIT] + ([f"... and {len(found) - _LIMIT} more"] if len(found) > _LIMIT else [])
    return verdicts
