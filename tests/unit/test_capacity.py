"""The steady-state snapshot count: the schedule, the formula, and the formula against the pruning rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from dr_testing import BASE_ENV, DESTINATION_REGION, SOURCE_REGION

from rds_snapshot_dr.core.settings import load_settings
from rds_snapshot_dr.rules import capacity as capacity_rules
from rds_snapshot_dr.rules import naming, retention, schedule
from rds_snapshot_dr.rules.model import Database, Kind, Snapshot

START = datetime(2026, 1, 1, tzinfo=UTC)
OWNER_TAGS = {"rds-snapshot-dr:owner": "orders", "rds-snapshot-dr:source": "orders-db"}


@pytest.mark.parametrize(
    ("expression", "per_day"),
    [
        ("cron(0 3 * * ? *)", 1),
        ("cron(30 2,14 * * ? *)", 2),
        ("cron(0 */6 * * ? *)", 4),
        ("cron(0/15 * * * ? *)", 96),
        ("cron(0 3 ? * MON-FRI *)", 5 / 7),
        ("cron(0 3 ? * SUN *)", 1 / 7),
        ("rate(1 hour)", 24),
        ("rate(12 hours)", 2),
        ("rate(90 minutes)", 16),
        ("rate(2 days)", 0.5),
        ("at(2026-12-01T03:00:00)", None),
    ],
)
def test_snapshots_per_day_follows_the_backup_schedule(expression, per_day):
    result = schedule.snapshots_per_day(expression)
    if per_day is None:
        assert result is None
    else:
        assert result == pytest.approx(per_day)


def test_an_expression_that_is_no_schedule_is_refused():
    with pytest.raises(ValueError, match="not a rate"):
        schedule.snapshots_per_day("every day")


@pytest.mark.parametrize(
    ("per_day", "days", "keep_last", "expected"),
    [
        (1, 14, 1, 15),  # the destination at the defaults
        (1, 2, 1, 3),  # the source at the defaults
        (1, 7, 1, 8),  # the source before the default changed
        (1, 1, 1, 2),
        (1, 2, 5, 6),  # keep_last above the window
        (24, 1, 1, 25),
        (5 / 7, 7, 1, 6),
        (None, 14, 1, 2),  # one at() backup
    ],
)
def test_snapshots_per_target(per_day, days, keep_last, expected):
    assert capacity_rules.snapshots_per_target(per_day, days, keep_last) == expected


def test_capacity_counts_each_region_and_kind_with_copies_in_flight():
    settings = load_settings(
        {**BASE_ENV, "SOURCE_RETENTION_DAYS": "2", "DESTINATION_RETENTION_DAYS": "14", "COPY_CONCURRENCY_LIMIT": "5"}
    )
    targets = [Database(Kind.INSTANCE, f"db-{i}", "available") for i in range(10)]
    targets.append(Database(Kind.CLUSTER, "aurora", "available"))

    capacity = {(c.role, c.kind): c for c in capacity_rules.snapshot_capacity(settings, targets, 1.0)}

    assert capacity["source", Kind.INSTANCE].total == 10 * 3 + 5
    assert capacity["destination", Kind.INSTANCE].total == 10 * 15 + 5
    assert capacity["destination", Kind.CLUSTER].total == 15 + 1  # one copy in flight per cluster at most
    assert capacity["destination", Kind.INSTANCE].region == DESTINATION_REGION
    assert capacity["source", Kind.CLUSTER].region == SOURCE_REGION
    assert capacity["destination", Kind.INSTANCE].quota_code == "L-272F1212"
    assert capacity["destination", Kind.CLUSTER].quota_code == "L-9B510759"


def test_quota_to_request_keeps_the_steady_state_below_the_alarm():
    assert capacity_rules.quota_to_request(155, 80.0) == 200  # 155 / 0.8 = 193.75, rounded up to tens
    assert capacity_rules.quota_to_request(1, 80.0) == 10
    assert capacity_rules.quota_to_request(80, 80.0) == 110  # 80 of 100 would sit on the alarm


# --- the formula against the rules that prune ------------------------------------------------------------


def _simulate_max_held(settings, per_day: int, days: int, copy_hours: int = 3) -> tuple[int, int]:
    """Run `days` of backups for one database, hour by hour, with reconcile's pruning every hour.

    A snapshot is available one hour after its scheduled time; its copy `copy_hours` after that.
    Returns the most owned snapshots seen at once in the source and in the destination.
    """
    source: dict[str, Snapshot] = {}
    taken: dict[str, datetime] = {}
    destination: dict[str, Snapshot] = {}
    most = [0, 0]
    every = 24 // per_day
    for hour in range(days * 24):
        now = START + timedelta(hours=hour)
        if hour % every == 0:
            name = naming.snapshot_name("dr", "orders-db", now)
            taken[name] = now
            source[name] = Snapshot(
                Kind.INSTANCE, name, f"arn:{name}", SOURCE_REGION, "creating", "manual", None, OWNER_TAGS, "orders-db"
            )
        for name, snap in list(source.items()):
            if snap.status == "creating" and now >= taken[name] + timedelta(hours=1):
                source[name] = replace(snap, status="available", created=taken[name])
            if name not in destination and source[name].status == "available":
                destination[name] = replace(
                    source[name], region=DESTINATION_REGION, status="copying", copied_from=SOURCE_REGION
                )
            copy = destination.get(name)
            if copy is not None and copy.status == "copying" and now >= taken[name] + timedelta(hours=1 + copy_hours):
                destination[name] = replace(copy, status="available")
        most = [max(most[0], len(source)), max(most[1], len(destination))]
        for held, days_kept, copies in (
            (source, settings.source_retention_days, destination.values()),
            (destination, settings.destination_retention_days, None),
        ):
            decision = retention.expired_snapshots(
                settings, held.values(), retention_days=days_kept, now=now, destination_copies=copies
            )
            for snap in decision.delete:
                del held[snap.identifier]
    return most[0], most[1]


@pytest.mark.parametrize(
    ("source_days", "destination_days", "keep_last", "per_day"),
    [(2, 14, 1, 1), (1, 7, 1, 1), (7, 14, 1, 1), (1, 3, 3, 1), (1, 2, 1, 4)],
)
def test_pruning_never_holds_more_than_the_formula_says(source_days, destination_days, keep_last, per_day):
    settings = load_settings(
        {
            **BASE_ENV,
            "SOURCE_RETENTION_DAYS": str(source_days),
            "DESTINATION_RETENTION_DAYS": str(destination_days),
            "KEEP_LAST": str(keep_last),
        }
    )
    held_source, held_destination = _simulate_max_held(settings, per_day, days=40)

    assert held_source == capacity_rules.snapshots_per_target(per_day, source_days, keep_last)
    assert held_destination == capacity_rules.snapshots_per_target(per_day, destination_days, keep_last)


def test_the_short_default_source_retention_keeps_a_snapshot_until_its_copy_is_available():
    settings = load_settings({**BASE_ENV, "SOURCE_RETENTION_DAYS": "2", "KEEP_LAST": "1"})
    # exact names the module gives (<prefix>-<database>-<stamp>): only those are owned
    old_name = naming.snapshot_name("dr", "orders-db", START - timedelta(days=3))
    new_name = naming.snapshot_name("dr", "orders-db", START - timedelta(days=2, hours=1))
    old = Snapshot(
        Kind.INSTANCE, old_name, "arn:old", SOURCE_REGION, "available", "manual",
        START - timedelta(days=3), OWNER_TAGS, "orders-db",
    )  # fmt: skip
    newer = replace(old, identifier=new_name, created=START - timedelta(days=2, hours=1))
    copying = replace(old, region=DESTINATION_REGION, status="copying", copied_from=SOURCE_REGION)

    decision = retention.expired_snapshots(
        settings, [old, newer], retention_days=2, now=START, destination_copies=[copying]
    )

    assert decision.delete == []  # the newest is kept by keep_last, the older waits for its copy
    assert {snap.identifier: why for snap, why in decision.protected} == {
        new_name: "one of the newest 1 available snapshots of orders-db",
        old_name: "its destination copy is not available yet (copying)",
    }


def test_the_sizing_quota_table_is_what_the_capacity_command_prints(capsys):
    """docs/sizing.md's table is the command's output at the module's defaults, row for row (the command ran
    from nothing but its own defaults: it once stopped on a setting the module sets and it did not)."""
    import importlib.util
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("capacity", root / "benchmarks" / "capacity.py")
    capacity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(capacity)
    sizing = (root / "docs" / "sizing.md").read_text()
    (command,) = re.findall(r"Printed by `python3 benchmarks/capacity\.py ([^`]*)`", sizing)

    assert capacity.main(command.split()) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    header = "| databases | source: snapshots | source: quota to request |"
    assert header in sizing, "docs/sizing.md has no quota table"
    table = sizing[sizing.index(header) :].splitlines()
    assert table[: len(printed)] == printed


@pytest.mark.parametrize(
    ("used", "maximum", "one_backup", "alarm", "verdict"),
    [
        (10, 100, 5, 80.0, capacity_rules.QuotaVerdict.FITS),
        (80, 100, 5, 80.0, capacity_rules.QuotaVerdict.NEAR_ALARM),  # at the alarm's percent
        (80, 100, 5, 90.0, capacity_rules.QuotaVerdict.FITS),
        (96, 100, 5, 80.0, capacity_rules.QuotaVerdict.NO_ROOM),  # 4 free, one backup needs 5
        (100, 100, 0, 80.0, capacity_rules.QuotaVerdict.NO_ROOM),  # nothing free at all
    ],
)
def test_headroom_verdict(used, maximum, one_backup, alarm, verdict):
    assert capacity_rules.headroom_verdict(used, maximum, one_backup, alarm) is verdict


@pytest.mark.parametrize(
    ("wanted", "maximum", "alarm", "verdict"),
    [
        (26, 100, 80.0, capacity_rules.QuotaVerdict.FITS),
        (26, 30, 80.0, capacity_rules.QuotaVerdict.NEAR_ALARM),
        (26, 30, 90.0, capacity_rules.QuotaVerdict.FITS),
        (31, 30, 80.0, capacity_rules.QuotaVerdict.NO_ROOM),
    ],
)
def test_steady_state_verdict(wanted, maximum, alarm, verdict):
    assert capacity_rules.steady_state_verdict(wanted, maximum, alarm) is verdict
