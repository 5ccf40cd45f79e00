"""The RDS rate budget: a token bucket per region on every attempt botocore sends, on the package clock."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from dr_testing import DESTINATION_REGION, SOURCE_REGION, engine_client, load_event, make_cluster, make_instance

from rds_snapshot_dr import clock
from rds_snapshot_dr.gateway.aws import CLIENTS, RateBudget, RdsGateway
from rds_snapshot_dr.handler import current_settings, lambda_handler
from rds_snapshot_dr.rules.model import Kind


class FakeClock:
    """Time passes only when the code pauses (or the test says so)."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self.pauses: list[float] = []

    def now(self) -> datetime:
        return datetime(2026, 11, 25, 15, 0, tzinfo=UTC) + timedelta(seconds=self.seconds - 1000.0)

    def monotonic(self) -> float:
        return self.seconds

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.seconds += seconds


@pytest.fixture
def fake_clock() -> Iterator[FakeClock]:
    fake = FakeClock()
    previous = clock.set_clock(fake)
    yield fake
    clock.set_clock(previous)


def sent_at(fake: FakeClock, budget: RateBudget, calls: int, work: list[float] | None = None) -> list[float]:
    """Acquire `calls` tokens, with `work` seconds of other work before each; the times they were granted."""
    times = []
    for i in range(calls):
        fake.seconds += work[i] if work else 0.0
        budget.acquire()
        times.append(fake.seconds)
    return times


def test_n_requests_take_at_least_n_over_rate_minus_the_burst(fake_clock):
    budget = RateBudget(rate=2.0, burst=2.0)
    start = fake_clock.seconds

    sent_at(fake_clock, budget, 100)

    assert fake_clock.seconds - start == pytest.approx((100 - 2) / 2.0)
    assert budget.requests == 100
    assert budget.paused_seconds == pytest.approx(49.0)


def test_a_full_bucket_sends_its_burst_without_pausing(fake_clock):
    budget = RateBudget(rate=3.0, burst=3.0)
    sent_at(fake_clock, budget, 3)
    assert fake_clock.pauses == []
    budget.acquire()
    assert fake_clock.pauses == [pytest.approx(1 / 3.0)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_window_ever_holds_more_than_the_burst_plus_rate_times_its_length(fake_clock, seed):
    rate, burst = 1.5, 2.0
    budget = RateBudget(rate=rate, burst=burst)
    generator = random.Random(seed)  # noqa: S311 - a seeded pattern of work, not a secret
    work = [generator.choice([0.0, 0.0, 0.1, 0.5, 3.0]) for _ in range(300)]

    times = sent_at(fake_clock, budget, 300, work)

    for first in range(len(times)):
        for last in range(first, len(times)):
            assert last - first + 1 <= burst + rate * (times[last] - times[first]) + 1e-9


def test_one_request_never_pauses_longer_than_one_token_takes(fake_clock):
    budget = RateBudget(rate=0.5, burst=1.0)
    sent_at(fake_clock, budget, 20, [0.3] * 20)
    assert max(fake_clock.pauses) <= 1 / 0.5 + 1e-9


def test_idle_time_refills_the_bucket_only_up_to_the_burst(fake_clock):
    budget = RateBudget(rate=2.0, burst=2.0)
    sent_at(fake_clock, budget, 2)
    fake_clock.seconds += 3600
    sent_at(fake_clock, budget, 2)
    assert fake_clock.pauses == []
    budget.acquire()
    assert fake_clock.pauses == [pytest.approx(0.5)]


def test_a_budget_needs_a_rate_and_room_for_one_request():
    with pytest.raises(ValueError, match="rate > 0"):
        RateBudget(rate=0.0, burst=1.0)
    with pytest.raises(ValueError, match="burst >= 1"):
        RateBudget(rate=1.0, burst=0.5)


# --- on the clients: every attempt, retries included ----------------------------------------------------


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>1</RequestId></ErrorResponse>"
)


def throttle(region: str, times: int) -> None:
    """The next `times` attempts on the engine's client in `region` are throttled by "RDS"."""
    left = {"n": times}

    def respond(**_: Any) -> AWSResponse | None:
        if left["n"] == 0:
            return None
        left["n"] -= 1
        return AWSResponse("https://rds.amazonaws.com", 400, {}, _Body(THROTTLED))

    engine_client(region).meta.events.register_first("before-send.rds", respond)


def test_retries_take_tokens_too(aws, env, fake_clock, monkeypatch):
    backoffs: list[float] = []
    monkeypatch.setattr("time.sleep", backoffs.append)  # botocore's own backoff between retries
    env(RDS_API_REQUESTS_PER_SECOND="1", RDS_API_CONCURRENT_INVOCATIONS="1", BOTO_MAX_ATTEMPTS="3")
    gateway = RdsGateway.from_settings(current_settings())
    throttle(SOURCE_REGION, times=2)

    assert gateway.list_instances() == []

    budget = CLIENTS.rds_budgets()[SOURCE_REGION]
    assert budget.requests == 3  # the first attempt and two retries, each paced
    assert len(backoffs) == 2  # botocore's retries are still in place
    assert fake_clock.pauses == [pytest.approx(1.0), pytest.approx(1.0)]


def test_each_region_has_its_own_budget(aws, env, fake_clock):
    env(RDS_API_REQUESTS_PER_SECOND="2", RDS_API_CONCURRENT_INVOCATIONS="2")
    gateway = RdsGateway.from_settings(current_settings())

    gateway.list_manual_snapshots(SOURCE_REGION, Kind.INSTANCE)
    gateway.list_manual_snapshots(DESTINATION_REGION, Kind.INSTANCE)

    budgets = CLIENTS.rds_budgets()
    assert (budgets[SOURCE_REGION].rate, budgets[SOURCE_REGION].burst) == (1.0, 1.0)
    assert budgets[SOURCE_REGION].requests == 1
    assert budgets[DESTINATION_REGION].requests == 1
    assert fake_clock.pauses == []  # one request in each region: each bucket had its token


@pytest.mark.usefixtures("default_quotas")
def test_backup_events_and_reconcile_keep_to_the_budget(env, source, lambda_context, fake_clock):
    env(RDS_API_REQUESTS_PER_SECOND="4", RDS_API_CONCURRENT_INVOCATIONS="2")  # 2 requests/s, burst 2
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    start = fake_clock.seconds

    lambda_handler(load_event("scheduled-backup.json"), lambda_context)
    lambda_handler(load_event("manual-snapshot-created.json"), lambda_context)
    lambda_handler({"action": "reconcile"}, lambda_context)

    budgets = CLIENTS.rds_budgets()
    elapsed = fake_clock.seconds - start
    for budget in budgets.values():
        assert budget.requests > 2
        # the region's calls could not have gone faster than its share of the budget allows
        assert elapsed >= (budget.requests - 2) / 2.0 - 1e-9
    assert sum(fake_clock.pauses) == pytest.approx(elapsed)
