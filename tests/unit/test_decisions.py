"""The pure rules (package `rules`), without AWS: ownership, names, retention, copy planning, recovery point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dr_testing import BASE_ENV

from rds_snapshot_dr.core.settings import load_settings
from rds_snapshot_dr.rules import copy_plan, copy_state, model, naming, recovery_point, rounds, schedule, selection
from rds_snapshot_dr.rules import retention as retention_rules
from rds_snapshot_dr.rules.copy_state import AfterCopyError, CopyPath
from rds_snapshot_dr.rules.errors import AwsError
from rds_snapshot_dr.rules.model import Database, Kind, Snapshot

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
OURS = {"rds-snapshot-dr:owner": "orders", "rds-snapshot-dr:source": "orders-db"}


@pytest.fixture
def settings():
    return load_settings({**BASE_ENV, "KEEP_LAST": "2"})


COPY = object()  # snap()'s default copied_from: what RDS reports for a copy of our source snapshot
SOURCE_REGION_NAME = "us-east-1"


def snap(
    ident: str,
    days_old: float,
    *,
    tags=OURS,
    status="available",
    kind=Kind.INSTANCE,
    region="us-east-1",
    snapshot_type="manual",
    copied_from=COPY,
    resource_id=None,
) -> Snapshot:
    return Snapshot(
        kind=kind,
        identifier=ident,
        arn=f"arn:aws:rds:{region}:123456789012:snapshot:{ident}",
        region=region,
        status=status,
        snapshot_type=snapshot_type,
        created=NOW - timedelta(days=days_old),
        tags=dict(tags),
        database_identifier="orders-db",
        # in the destination region, by default a copy of the source snapshot of the same name
        copied_from=(SOURCE_REGION_NAME if region == "us-west-2" else None) if copied_from is COPY else copied_from,
        resource_id=resource_id,
    )


def name(days_old: float, target: str = "orders-db") -> str:
    """The name the module gives a snapshot of `target` scheduled `days_old` days before NOW."""
    return naming.snapshot_name("dr", target, NOW - timedelta(days=days_old))


def test_snapshot_name_comes_from_the_scheduled_time():
    assert naming.snapshot_name("dr", "orders-db", datetime(2026, 11, 25, 14, 0, 59, tzinfo=UTC)) == (
        "dr-orders-db-20261125-1400"
    )


def test_owned_needs_exact_name_and_ownership_tag_and_manual_type(settings):
    assert naming.is_owned(settings, snap("dr-orders-db-20261124-1400", 1))
    assert not naming.is_owned(settings, snap("drx-orders-db-20261124-1400", 1))
    assert not naming.is_owned(settings, snap("dr-orders-db-20261124-1400", 1, tags={"rds-snapshot-dr:owner": "o"}))
    assert not naming.is_owned(settings, snap("dr-orders-db-20261124-1400", 1, snapshot_type="automated"))


@pytest.mark.parametrize(
    "identifier",
    [
        "dr-orders-db-20261124-1400-legal-hold",  # a person's copy of ours, tags copied
        "dr-orders-db-20261124-1400x",
        "dr-orders-db-20261124",
        "dr-orders-db-1",
        "dr-billing-db-20261124-1400",  # the name of another database than the one it belongs to
        "dr-orders-db-20261399-1400",  # not a time
        "x-dr-orders-db-20261124-1400",
    ],
)
def test_a_name_that_is_not_exactly_the_modules_is_not_owned_despite_our_tags(settings, identifier):
    assert not naming.is_owned(settings, snap(identifier, 1))


def test_a_suffixed_copy_of_ours_is_never_pruned(settings):
    hold = snap("dr-orders-db-20261001-1400-legal-hold", 50)
    ours = [snap(name(d), d) for d in (1, 2)]

    plan = retention_rules.expired_snapshots(settings, [hold, *ours], retention_days=7, now=NOW)

    assert plan.delete == []
    assert all(s is not hold for s, _ in plan.protected)


def test_owned_snapshots_are_dated_by_the_stamp_in_their_name_not_by_rds_times(settings):
    # A cluster copy made today of the snapshot scheduled 10 days ago: RDS dates the copy by its own
    # creation (cluster copies carry no OriginalSnapshotCreateTime).
    copy_ = snap(name(10, "payments"), 0, kind=Kind.CLUSTER, tags={**OURS, "rds-snapshot-dr:source": "payments"})

    assert copy_.data_time == NOW - timedelta(days=10)


def test_expired_source_snapshots_are_deleted_beyond_keep_last(settings):
    source = [snap(name(d), d) for d in (1, 8, 9, 10)]
    copies = [snap(s.identifier, 0, region="us-west-2") for s in source]

    plan = retention_rules.expired_snapshots(settings, source, retention_days=7, now=NOW, destination_copies=copies)

    assert [s.identifier for s in plan.delete] == [name(9), name(10)]
    assert [s.identifier for s, _ in plan.protected] == [name(8)]


def test_source_is_kept_until_its_copy_is_available(settings):
    source = [snap(name(d), d) for d in (1, 2, 30, 31)]
    copies = [snap(name(30), 0, status="copying", region="us-west-2")]

    plan = retention_rules.expired_snapshots(settings, source, retention_days=7, now=NOW, destination_copies=copies)

    assert plan.delete == []
    assert {s.identifier: why for s, why in plan.protected} == {
        name(30): "its destination copy is not available yet (copying)",
        name(31): "its destination copy is not available yet (missing)",
    }


def test_newest_available_copy_survives_however_old(settings):
    destination = [snap(name(900), 900, region="us-west-2"), snap(name(5), 5, status="copying")]

    plan = retention_rules.expired_snapshots(settings, destination, retention_days=1, now=NOW)

    assert plan.delete == []


def test_keep_last_counts_per_database_and_kind(settings):
    other = {**OURS, "rds-snapshot-dr:source": "billing-db"}
    snaps = [snap(name(d), d) for d in (10, 11, 12)] + [snap(name(d, "billing-db"), d, tags=other) for d in (10, 11)]

    plan = retention_rules.expired_snapshots(settings, snaps, retention_days=7, now=NOW)

    assert [s.identifier for s in plan.delete] == [name(12)]


def test_foreign_and_automated_snapshots_are_never_candidates(settings):
    snaps = [
        snap(name(100), 100, tags={"rds-snapshot-dr:owner": "other"}),
        snap("rds:orders-db-2026-01-01", 100, tags={}, snapshot_type="automated"),
        snap("orders-db-by-hand", 100, tags=OURS),
    ]

    assert retention_rules.expired_snapshots(settings, snaps, retention_days=1, now=NOW).delete == []


def test_copy_limit_counts_only_this_instances_copies_in_flight(settings):
    destination = [
        snap("someone-elses", 0, tags={}, status="copying", copied_from="eu-west-1"),
        snap(name(0.1), 0, status="pending"),
        snap(name(0.2), 0),
        snap("local-snapshot-being-taken", 0, tags={}, status="creating"),
    ]
    source = [snap(name(0.3), 0), snap(name(1), 1), snap(name(2), 2)]

    plan = copy_plan.plan_copies(load_settings({**BASE_ENV, "COPY_CONCURRENCY_LIMIT": "2"}), source, destination)

    assert plan.in_flight == 2  # anyone's cross-region copies: someone-elses and ours
    assert [s.identifier for s in plan.start] == [name(0.3)]  # our share of 2, one already in flight
    assert [s.identifier for s in plan.defer] == [name(1), name(2)]


def test_copies_never_exceed_what_the_account_has_left_of_twenty(settings):
    others = [snap(f"other-copy-{i}", 0, tags={}, status="copying", copied_from="eu-west-1") for i in range(18)]
    source = [snap(name(d), d) for d in range(1, 6)]

    plan = copy_plan.plan_copies(load_settings({**BASE_ENV, "COPY_CONCURRENCY_LIMIT": "5"}), source, others)

    assert plan.in_flight == 18
    assert [s.identifier for s in plan.start] == [name(1), name(2)]
    assert len(plan.defer) == 3


def test_recovery_point_is_the_newest_available_copy_or_the_database_age(settings):
    dbs = [
        Database(Kind.INSTANCE, "orders-db", "available", created=NOW - timedelta(days=100)),
        Database(Kind.INSTANCE, "new-db", "available", created=NOW - timedelta(hours=2)),
    ]
    destination = [snap(name(1), 1), snap(name(0.5), 0.5, status="copying")]

    ages = recovery_point.recovery_point_age(settings, dbs, destination, NOW)

    assert ages == {"orders-db": 86_400.0, "new-db": 7_200.0}


def test_quota_percent_is_the_highest_of_both_kinds():
    assert recovery_point.quota_used_percent([("ManualSnapshots", 50, 100), ("ManualClusterSnapshots", 3, 4)]) == 75.0
    assert recovery_point.quota_used_percent([]) is None


def test_can_snapshot_only_in_states_rds_accepts():
    assert selection.can_snapshot(Database(Kind.INSTANCE, "a", "storage-optimization"))
    assert not selection.can_snapshot(Database(Kind.INSTANCE, "a", "modifying"))
    assert not selection.can_snapshot(Database(Kind.CLUSTER, "a", "storage-optimization"))


# --- backup rounds: what reconcile retakes -----------------------------------------------------------

ROUND = "20261125-1400"
ORDERS = Database(Kind.INSTANCE, "orders-db", "available")
BILLING = Database(Kind.INSTANCE, "billing-db", "modifying")
PAYMENTS = Database(Kind.CLUSTER, "payments", "available")


def of_round(ident: str, target: str, stamp: str = ROUND, *, kind=Kind.INSTANCE, days_old=0.0, **extra) -> Snapshot:
    tags = {**OURS, "rds-snapshot-dr:source": target, "rds-snapshot-dr:backup-round": stamp}
    return snap(ident, days_old, tags=tags, kind=kind, **extra)


def missed(settings, databases, source, now=NOW):
    result = rounds.missed_in_latest_round(settings, databases, source, now)
    return None if result is None else (result.stamp, [db.identifier for db in result.missing])


def test_round_tag_only_on_snapshots_of_a_full_round(settings):
    assert naming.snapshot_tags(settings, ORDERS, ROUND)["rds-snapshot-dr:backup-round"] == ROUND
    assert "rds-snapshot-dr:backup-round" not in naming.snapshot_tags(settings, ORDERS)


def test_round_stamp_matches_the_snapshot_name_and_parses_back():
    when = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert model.round_stamp(when) == ROUND
    assert model.parse_round_stamp(ROUND) == when
    assert model.parse_round_stamp("2026-11-25") is None
    assert model.parse_round_stamp("20261125-1400x") is None


def test_no_round_without_a_round_tag(settings):
    assert missed(settings, [ORDERS], [snap("dr-orders-db-20261125-1400", 0)]) is None


def test_targets_without_a_snapshot_of_the_latest_round_are_missing_whatever_their_state(settings):
    source = [
        of_round("dr-orders-db-20261124-1400", "orders-db", "20261124-1400"),
        of_round("dr-orders-db-20261125-1400", "orders-db"),
    ]

    assert missed(settings, [ORDERS, BILLING, PAYMENTS], source) == (ROUND, ["billing-db", "payments"])


def test_a_complete_round_misses_nothing(settings):
    source = [
        of_round("dr-orders-db-20261125-1400", "orders-db", status="creating"),
        of_round("dr-payments-20261125-1400", "payments", kind=Kind.CLUSTER),
    ]

    assert missed(settings, [ORDERS, PAYMENTS], source) == (ROUND, [])


def test_the_exact_round_name_counts_even_without_the_round_tag(settings):
    billing = {**OURS, "rds-snapshot-dr:source": "billing-db"}
    source = [of_round("dr-orders-db-20261125-1400", "orders-db"), snap("dr-billing-db-20261125-1400", 0, tags=billing)]

    assert missed(settings, [ORDERS, BILLING], source) == (ROUND, [])


def test_a_snapshot_of_the_same_name_but_other_kind_does_not_count(settings):
    same_name_cluster = Database(Kind.CLUSTER, "orders-db", "available")
    source = [of_round("dr-orders-db-20261125-1400", "orders-db")]

    assert missed(settings, [ORDERS, same_name_cluster], source) == (ROUND, ["orders-db"])


def test_foreign_snapshots_neither_make_a_round_nor_fill_one(settings):
    foreign = {"rds-snapshot-dr:owner": "other", "rds-snapshot-dr:backup-round": "20261125-1500"}
    source = [
        of_round("dr-orders-db-20261125-1400", "orders-db"),
        snap("dr-orders-db-20261125-1500", 0, tags=foreign),
        snap("dr-billing-db-20261125-1400", 0, tags={"rds-snapshot-dr:owner": "other"}),
    ]

    assert missed(settings, [ORDERS, BILLING], source) == (ROUND, ["billing-db"])


def test_a_round_older_than_the_source_retention_is_not_retaken(settings):
    source = [of_round("dr-orders-db-20261125-1400", "orders-db")]
    retention = settings.source_retention_days

    assert missed(settings, [BILLING], source, NOW + timedelta(days=retention)) == (ROUND, ["billing-db"])
    assert missed(settings, [BILLING], source, NOW + timedelta(days=retention, minutes=1)) is None


def test_a_malformed_round_tag_is_ignored(settings):
    source = [of_round("dr-orders-db-20261125-1400", "orders-db"), of_round("dr-x-1", "x", "not-a-stamp")]

    assert missed(settings, [ORDERS, BILLING], source) == (ROUND, ["billing-db"])


# --- copies: the destination copy's state decides --------------------------------------------------


def test_copy_state_classifies_the_destination_snapshot_with_our_name(settings):
    ours = name(1)
    state = copy_state.copy_state
    assert state(settings, None) is copy_state.CopyState.ABSENT
    assert state(settings, snap(ours, 1, status="copying")) is copy_state.CopyState.IN_FLIGHT
    assert state(settings, snap(ours, 1)) is copy_state.CopyState.AVAILABLE
    assert state(settings, snap(ours, 1, status="failed")) is copy_state.CopyState.FAILED
    assert state(settings, snap(ours, 1, tags={})) is copy_state.CopyState.FOREIGN
    assert state(settings, snap(ours, 1, tags={}, status="failed")) is copy_state.CopyState.FOREIGN


def test_plan_reports_failed_foreign_and_exhausted_copies_instead_of_counting_them_present(settings):
    failed_copy = snap(name(1), 1, status="failed", region="us-west-2")
    foreign = snap(name(2), 2, tags={}, region="us-west-2")
    exhausted = snap(name(3), 3, tags={**OURS, model.COPY_FAILURES_TAG: "3"})
    source = [snap(name(1), 1), snap(name(2), 2), exhausted, snap(name(4), 4)]

    plan = copy_plan.plan_copies(settings, source, [failed_copy, foreign])

    assert [(s.identifier, c.status) for s, c in plan.failed] == [(name(1), "failed")]
    assert [s.identifier for s in plan.foreign] == [name(2)]
    assert [s.identifier for s in plan.exhausted] == [name(3)]
    assert [s.identifier for s in plan.start] == [name(4)]


def test_a_source_past_the_destination_retention_is_not_copied_again_once_a_newer_copy_exists(settings):
    source = [snap(name(20), 20), snap(name(1), 1)]
    destination = [snap(name(1), 1, region="us-west-2")]

    assert copy_plan.plan_copies(settings, source, destination, now=NOW).start == []
    assert [s.identifier for s in copy_plan.plan_copies(settings, [source[0]], [], now=NOW).start] == [name(20)]


def test_a_source_that_will_never_be_copied_is_deleted_by_source_retention_and_says_why(settings):
    # its copy was deleted by hand (or never made) and DR now holds newer copies: it would wait forever
    never = snap(name(20), 20)
    source = [never, snap(name(1), 1), snap(name(0), 0)]
    destination = [snap(name(1), 1, region="us-west-2"), snap(name(0), 0, region="us-west-2")]

    decision = retention_rules.expired_snapshots(
        settings, source, retention_days=settings.source_retention_days, now=NOW, destination_copies=destination
    )

    assert [s.identifier for s in decision.delete] == [name(20)]
    assert "never copied" in decision.superseded[(Kind.INSTANCE, name(20))]
    assert [s.identifier for s, _ in copy_plan.plan_copies(settings, source, destination, now=NOW).superseded] == [
        name(20)
    ]


def test_a_source_without_copy_inside_the_destination_retention_still_waits_for_its_copy(settings):
    waiting = snap(name(10), 10)  # past the source retention (7), inside the destination's (14)
    source = [waiting, snap(name(1), 1), snap(name(0), 0)]
    destination = [snap(name(1), 1, region="us-west-2"), snap(name(0), 0, region="us-west-2")]

    decision = retention_rules.expired_snapshots(
        settings, source, retention_days=settings.source_retention_days, now=NOW, destination_copies=destination
    )

    assert decision.delete == []
    assert [s.identifier for s in copy_plan.plan_copies(settings, source, destination, now=NOW).start] == [name(10)]


def test_a_source_whose_copies_all_failed_stays_loud_even_past_the_destination_retention(settings):
    exhausted = snap(name(20), 20, tags={**OURS, model.COPY_FAILURES_TAG: str(settings.copy_max_attempts)})
    destination = [snap(name(1), 1, region="us-west-2")]
    source = [exhausted, snap(name(1), 1)]

    plan = copy_plan.plan_copies(settings, source, destination, now=NOW)
    decision = retention_rules.expired_snapshots(
        settings, source, retention_days=settings.source_retention_days, now=NOW, destination_copies=destination
    )

    assert [s.identifier for s in plan.exhausted] == [name(20)]
    assert decision.delete == []  # kept, reported on every reconcile until someone acts


def test_a_recreated_database_does_not_push_the_old_ones_last_copy_out_of_keep_last(settings):
    # orders-db was deleted 20 days ago and created again under the same identifier
    old = [snap(name(d), d, region="us-west-2", resource_id="db-OLD") for d in (25, 22, 21)]
    new = [snap(name(d), d, region="us-west-2", resource_id="db-NEW") for d in (3, 2, 1)]

    decision = retention_rules.expired_snapshots(settings, old + new, retention_days=14, now=NOW)

    # KEEP_LAST=2 per generation: the old database's two newest copies stay, whatever the new one has
    assert [s.identifier for s in decision.delete] == [name(25)]


def test_the_recovery_point_of_a_recreated_database_is_not_its_predecessors_copy(settings):
    old_copy = snap(name(1), 1, region="us-west-2", resource_id="db-OLD")
    created = NOW - timedelta(hours=5)
    recreated = model.Database(Kind.INSTANCE, "orders-db", "available", created=created, resource_id="db-NEW")
    unknown = model.Database(Kind.INSTANCE, "orders-db", "available", created=created)

    assert recovery_point.recovery_point_age(settings, [recreated], [old_copy], NOW) == {"orders-db": 5 * 3600.0}
    # where RDS does not say whose a database is, its copies still count by name
    assert recovery_point.recovery_point_age(settings, [unknown], [old_copy], NOW) == {"orders-db": 86400.0}


def test_failed_copy_outcome_counts_down_the_attempts(settings):
    source = snap(name(1), 1)
    first = copy_state.failed_copy_outcome(settings, source, "us-west-2", 1)
    last = copy_state.failed_copy_outcome(settings, source, "us-west-2", settings.copy_max_attempts)

    assert first.failed
    assert "copied again by the next copy-waiting or reconcile run (2 of copy_max_attempts=3 left)" in first.reason
    assert last.failed
    assert "copy_max_attempts=3 reached" in last.reason


def test_copying_stops_after_a_refusal_for_the_copy_limit_only():
    refused = model.Outcome("a", "instance", "copy", "deferred")
    assert not copy_plan.may_copy_more(refused)
    assert copy_plan.may_copy_more(model.Outcome("a", "instance", "copy", "failed"))
    assert copy_plan.may_copy_more(model.Outcome("a", "instance", "copy", "started"))


def test_a_quota_prune_freed_room_only_when_something_was_deleted():
    assert copy_plan.freed_room([model.Outcome("a", "instance", "delete", "deleted")])
    assert not copy_plan.freed_room([model.Outcome("a", "instance", "delete", "failed")])
    assert not copy_plan.freed_room([])


def test_sorting_never_compares_naive_and_aware_times():
    naive = datetime(2026, 11, 25, 14, 0)
    keys = sorted([naming.sort_time(None), naming.sort_time(naive), naming.sort_time(NOW)])
    assert keys[0].tzinfo is not None
    assert keys[-1] == NOW


def test_cluster_copies_count_against_their_own_limit_of_five(settings):
    cluster_tags = {**OURS, "rds-snapshot-dr:source": "payments"}
    others = [
        snap(f"other-{i}", 0, tags={}, status="copying", copied_from="eu-west-1", kind=Kind.CLUSTER) for i in range(4)
    ]
    clusters = [snap(name(d, "payments"), d, tags=cluster_tags, kind=Kind.CLUSTER) for d in (1, 2)]
    instances = [snap(name(d), d) for d in (1, 2)]

    plan = copy_plan.plan_copies(settings, clusters + instances, others)

    # each database's newest snapshot first (in an order hashed from the names), then the older one
    assert {s.identifier for s in plan.start[:2]} == {name(1, "payments"), name(1)}
    assert plan.start[2].identifier == name(2)
    assert [s.identifier for s in plan.defer] == [name(2, "payments")]


def test_the_recovery_point_copy_waiting_knows_is_the_previous_snapshot_when_its_copy_is_ours(settings):
    def ours(db: str) -> dict[str, str]:
        return {**OURS, "rds-snapshot-dr:source": db}

    source = [snap(name(d, db), d, tags=ours(db)) for db in ("a", "b", "c", "d") for d in (0, 1, 2)]
    candidates = [s for s in source if s.identifier.endswith(name(0)[-13:])]
    previous = copy_plan.previous_snapshots(settings, source, candidates)
    assert {key: s.identifier for key, s in previous.items()} == {
        (Kind.INSTANCE, db): name(1, db) for db in ("a", "b", "c", "d")
    }
    found = [
        snap(name(1, "a"), 1, tags=ours("a"), region="us-west-2"),
        snap(name(1, "b"), 1, tags=ours("b"), region="us-west-2", status="copying"),
        snap(name(1, "c"), 1, tags=ours("c"), region="us-west-2", status="failed"),
    ]
    points = copy_plan.recovery_points_from_previous(settings, previous, found)
    # a and b: the previous round (copied, or on its way); c (its copy failed) and d (none): older, so first
    assert points == {
        (Kind.INSTANCE, "a"): NOW - timedelta(days=1),
        (Kind.INSTANCE, "b"): NOW - timedelta(days=1),
        (Kind.INSTANCE, "c"): None,
        (Kind.INSTANCE, "d"): None,
    }
    plan = copy_plan.plan_waiting_copies(settings, candidates, [], points)
    assert {s.target for s in plan.queue[:2]} == {"c", "d"}
    # a previous snapshot already known to be copied needs no lookup
    known = copy_plan.recovery_points_from_previous(settings, previous, [], {(Kind.INSTANCE, name(1, "d"))})
    assert known[(Kind.INSTANCE, "d")] == NOW - timedelta(days=1)
    assert known[(Kind.INSTANCE, "a")] is None


# --- the backup round the schedule says was due ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "before", "expected"),
    [
        ("cron(0 3 * * ? *)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), datetime(2026, 11, 26, 3, 0, tzinfo=UTC)),
        ("cron(0 3 * * ? *)", datetime(2026, 11, 26, 2, 59, tzinfo=UTC), datetime(2026, 11, 25, 3, 0, tzinfo=UTC)),
        ("cron(0 3 * * ? *)", datetime(2026, 11, 26, 3, 0, tzinfo=UTC), datetime(2026, 11, 26, 3, 0, tzinfo=UTC)),
        ("cron(30 1,13 * * ? *)", datetime(2026, 11, 26, 12, 0, tzinfo=UTC), datetime(2026, 11, 26, 1, 30, tzinfo=UTC)),
        ("cron(0 */6 * * ? *)", datetime(2026, 11, 26, 17, 59, tzinfo=UTC), datetime(2026, 11, 26, 12, 0, tzinfo=UTC)),
        # 2026-11-26 is a Thursday: MON (2) is three days back, and 1 = SUN
        ("cron(0 3 ? * MON *)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
        ("cron(0 3 ? * 1 *)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), datetime(2026, 11, 22, 3, 0, tzinfo=UTC)),
        ("cron(0 3 ? * MON-FRI *)", datetime(2026, 11, 29, 4, 0, tzinfo=UTC), datetime(2026, 11, 27, 3, 0, tzinfo=UTC)),
        ("cron(0 3 1 * ? *)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 3, 0, tzinfo=UTC)),
        ("cron(0 3 1 JAN ? *)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), None),  # beyond the horizon
        ("cron(0 3 * * ? 2025)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), None),
        ("at(2026-11-20T03:00:00)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), datetime(2026, 11, 20, 3, 0, tzinfo=UTC)),
        ("at(2026-11-27T03:00:00)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), None),
        # not knowable: a rate's phase, and fields this reader does not evaluate
        ("rate(1 day)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), None),
        ("cron(0 3 L * ? *)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), None),
        ("cron(0 3 ? * 6#3 *)", datetime(2026, 11, 26, 4, 0, tzinfo=UTC), None),
    ],
)
def test_the_latest_scheduled_time_is_read_from_the_backup_schedule(expression, before, expected):
    assert schedule.latest_scheduled_time(expression, UTC, before, timedelta(days=35)) == expected


def test_the_latest_scheduled_time_is_read_in_the_schedules_zone_across_a_clock_change():
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    # 03:00 in Berlin: 01:00 UTC in summer (CEST), 02:00 UTC in winter (CET); DST ended on 25 October 2026
    summer = schedule.latest_scheduled_time(
        "cron(0 3 * * ? *)", berlin, datetime(2026, 10, 24, 12, tzinfo=UTC), timedelta(days=7)
    )
    winter = schedule.latest_scheduled_time(
        "cron(0 3 * * ? *)", berlin, datetime(2026, 10, 26, 12, tzinfo=UTC), timedelta(days=7)
    )

    assert summer == datetime(2026, 10, 24, 1, 0, tzinfo=UTC)
    assert winter == datetime(2026, 10, 26, 2, 0, tzinfo=UTC)
    assert schedule.latest_scheduled_time("cron(0 3 * * ? *)", None, winter, timedelta(days=7)) is None


def test_a_renamed_database_keeps_the_recovery_point_of_its_copies_under_the_old_name(settings):
    """ModifyDBInstance with a new identifier keeps the resource id, and its copies keep the name they were
    taken under: those copies are still its recovery point (not its creation time, a false alarm)."""
    old_name_copy = snap(name(1), 1, region="us-west-2", resource_id="db-SAME")  # target orders-db
    created = NOW - timedelta(days=300)
    renamed = model.Database(Kind.INSTANCE, "orders-db-v2", "available", created=created, resource_id="db-SAME")
    other = model.Database(Kind.INSTANCE, "orders-db-v3", "available", created=created, resource_id="db-OTHER")

    ages = recovery_point.recovery_point_age(settings, [renamed, other], [old_name_copy], NOW)

    assert ages == {"orders-db-v2": 86400.0, "orders-db-v3": 300 * 86400.0}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("NoCredentialsError", "sign in first"),
        ("ExpiredToken", "sign in first"),
        ("EndpointConnectionError", "network path"),
        ("ThrottlingException", "aws_api_max_attempts"),
        ("SomethingNew", "See the message"),
    ],
)
def test_each_error_class_gets_its_own_fix(code, expected):
    from rds_snapshot_dr.rules.errors import AwsError, classify

    fix = classify(AwsError(code, "m", "rds:DescribeDBInstances", "eu-west-1"), "describe").fix
    assert expected in fix


def test_ownership_is_remembered_per_settings_not_across_them(settings):
    """is_owned keeps its answer on the snapshot for the settings it was asked with; other settings (another
    module instance's) are asked afresh."""
    mine = snap(name(1), 1)
    other = load_settings({**BASE_ENV, "OWNER_TAG_VALUE": "billing"})
    assert naming.is_owned(settings, mine)
    assert not naming.is_owned(other, mine)
    assert naming.is_owned(settings, mine)
    assert mine == snap(name(1), 1)  # the remembered answer is no part of the snapshot's value


@pytest.mark.parametrize(
    ("code", "message", "path", "verdict"),
    [
        ("DBSnapshotAlreadyExists", "exists", CopyPath.EVENT, AfterCopyError.DUPLICATE),
        ("DBClusterSnapshotAlreadyExistsFault", "exists", CopyPath.SWEEP, AfterCopyError.CHECK_EXISTING),
        ("SnapshotQuotaExceeded", "quota exceeded", CopyPath.EVENT, AfterCopyError.DEFER_TO_RECONCILE),
        ("SnapshotQuotaExceeded", "quota exceeded", CopyPath.SWEEP, AfterCopyError.PRUNE_AND_RETRY),
        # the copy limit comes as the quota code too: no pruning helps, the copy waits for a slot
        (
            "SnapshotQuotaExceeded",
            "Cannot copy more than 20 snapshots across regions",
            CopyPath.SWEEP,
            AfterCopyError.FAIL,
        ),
        ("KMSKeyNotAccessibleFault", "disabled", CopyPath.SWEEP, AfterCopyError.FAIL),
        ("Throttling", "slow down", CopyPath.EVENT, AfterCopyError.FAIL),
    ],
)
def test_what_a_refused_copy_leads_to(code: str, message: str, path: CopyPath, verdict: AfterCopyError) -> None:
    error = AwsError(code, message, "rds:CopyDBSnapshot", "eu-central-1")
    assert copy_state.after_copy_error(error, path) is verdict


def test_after_starting_keeps_copies_refused_at_the_limit_as_candidates() -> None:
    def copy(name: str, result: model.Result, reason: str = "") -> model.Outcome:
        return model.Outcome(name, Kind.INSTANCE, model.Operation.COPY, result, f"dr-{name}", reason)

    after = copy_plan.after_starting(
        [
            copy("a", model.Result.STARTED),
            copy("b", model.Result.EXISTS),
            copy("c", model.Result.DEFERRED, "copy concurrency limit 5 reached"),  # waits for a slot
            copy("d", model.Result.FAILED, "AccessDenied"),
            copy("e", model.Result.SKIPPED, "the snapshot no longer exists"),
            model.Outcome("*", Kind.INSTANCE, model.Operation.DELETE, model.Result.DELETED, "dr-old"),
        ]
    )

    assert after.holding == {("instance", "dr-a"), ("instance", "dr-b")}
    assert after.dropped == {("instance", "dr-d"), ("instance", "dr-e")}


def test_deferred_by_kind_counts_only_deferred_copies() -> None:
    def outcome(kind: Kind, operation: model.Operation, result: model.Result) -> model.Outcome:
        return model.Outcome("db", kind, operation, result, "dr-db-20261125-0300")

    counts = copy_plan.deferred_by_kind(
        [
            outcome(Kind.CLUSTER, model.Operation.COPY, model.Result.DEFERRED),
            outcome(Kind.CLUSTER, model.Operation.COPY, model.Result.DEFERRED),
            outcome(Kind.INSTANCE, model.Operation.COPY, model.Result.DEFERRED),
            outcome(Kind.INSTANCE, model.Operation.COPY, model.Result.STARTED),
            outcome(Kind.INSTANCE, model.Operation.DELETE, model.Result.DEFERRED),  # a prune left for later
        ]
    )

    assert counts == {Kind.CLUSTER: 2, Kind.INSTANCE: 1}
