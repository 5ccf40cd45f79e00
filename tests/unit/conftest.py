"""Unit test fixtures: settings in the environment, moto in-process, quotas moto does not implement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from dr_testing import BASE_ENV, DESTINATION_REGION, FIXED_NOW, SOURCE_REGION, engine_client
from moto import mock_aws

from rds_snapshot_dr import clock, handler
from rds_snapshot_dr.clock import FixedClock
from tests.integration.moto_server import add_snapshot_option_groups, add_snapshot_sources

# moto does not say where a copy came from, nor give each database its own resource id, nor a snapshot's
# option group: the stand-in's additions, so a copy of ours is told from a look-alike here as on RDS, and a
# copy that needs an option group in the destination region fails without one as on RDS.
add_snapshot_sources()
add_snapshot_option_groups()


@pytest.fixture(autouse=True)
def fixed_clock() -> Iterator[FixedClock]:
    """Every unit test runs at FIXED_NOW, so a snapshot stamp a test names ages the same next month."""
    pinned = FixedClock(FIXED_NOW)
    previous = clock.set_clock(pinned)
    yield pinned
    clock.set_clock(previous)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the function's environment; call again with overrides (None removes a variable)."""

    current = dict(BASE_ENV)

    def apply(**overrides: str | None) -> None:
        current.update(overrides)
        for name, value in current.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        handler.current_settings.cache_clear()

    apply()
    return apply


@pytest.fixture
def aws(env: Callable[..., None]) -> Iterator[str]:
    """moto in-process for every AWS call, with fresh settings and clients per test.

    Yields the ARN of the destination key (moto checks that the copy's key exists).
    """
    with mock_aws():
        handler.reset()
        key = boto3.client("kms", region_name=DESTINATION_REGION).create_key(Description="rds-snapshot-dr test")
        env(DESTINATION_KMS_KEY_ARN=key["KeyMetadata"]["Arn"])
        yield key["KeyMetadata"]["Arn"]
    handler.reset()


@pytest.fixture
def key_arn(aws: str) -> str:
    return aws


@pytest.fixture
def quotas() -> Callable[..., None]:
    """DescribeAccountAttributes (not implemented by moto): answer with the given manual snapshot use."""
    answers: dict[str, tuple[int, int, int]] = {}

    def answer(region: str, used: int = 10, maximum: int = 100, cluster_used: int = 5) -> None:
        first = region not in answers
        answers[region] = (used, maximum, cluster_used)

        def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            used_, maximum_, cluster_used_ = answers[region]
            parsed = {
                "AccountQuotas": [
                    {"AccountQuotaName": "DBInstances", "Used": 3, "Max": 40},
                    {"AccountQuotaName": "ManualSnapshots", "Used": used_, "Max": maximum_},
                    {"AccountQuotaName": "ManualClusterSnapshots", "Used": cluster_used_, "Max": maximum_},
                ],
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }
            return AWSResponse("https://rds.amazonaws.com", 200, {}, None), parsed

        if first:
            engine_client(region).meta.events.register("before-call.rds.DescribeAccountAttributes", respond)

    return answer


@pytest.fixture
def default_quotas(aws: None, quotas: Callable[..., None]) -> None:
    quotas(SOURCE_REGION)
    quotas(DESTINATION_REGION)


@pytest.fixture
def source(aws: str) -> Any:
    return boto3.client("rds", region_name=SOURCE_REGION)


@pytest.fixture
def destination(aws: str) -> Any:
    return boto3.client("rds", region_name=DESTINATION_REGION)
