"""The simulated AWS behaves as the AWS pages it cites say, seen through a real boto3 client."""

from __future__ import annotations

import random
import re

import boto3
import pytest
from botocore.exceptions import ClientError

from simulation.kernel import Kernel
from simulation.rds import BUCKET_BURST, COPIES_IN_FLIGHT, INSTANCE, Bucket, Database, Rds, Snap, Timing
from simulation.wire import ApiError, Wire


class _Factory:
    """The part of rds_snapshot_dr.gateway.aws.ClientFactory the wire uses."""

    def __init__(self) -> None:
        self.session = boto3.session.Session(region_name="us-east-1")

    def clear(self) -> None:
        pass


@pytest.fixture
def rds() -> Rds:
    return Rds(
        Kernel(),
        random.Random(1),
        "us-east-1",
        "us-west-2",
        timing=Timing(),
        quota={"instance": 100, "cluster": 100},
        background_rate=0.0,
        copy_failure_rate=0.0,
        emit=lambda *args: None,
    )


def _client_through(backend, sleeps):
    factory = _Factory()
    wire = Wire(backend, sleeps.append)
    wire.install(factory)
    client = factory.session.client(
        "rds",
        region_name="us-east-1",
        config=boto3.session.Config(retries={"mode": "standard", "total_max_attempts": 5}),
    )
    return wire, factory, client


def test_throttled_calls_go_through_botocores_retry_handler_on_simulated_sleeps():
    answers = [ApiError("ThrottlingException", "Rate exceeded"), ApiError("ThrottlingException", "Rate exceeded")]

    def backend(region, operation, params):
        if answers:
            raise answers.pop(0)
        return {"AccountQuotas": [{"AccountQuotaName": "ManualSnapshots", "Used": 3, "Max": 100}]}

    sleeps: list[float] = []
    wire, factory, client = _client_through(backend, sleeps)
    try:
        response = client.describe_account_attributes()
    finally:
        wire.uninstall(factory)
    assert response["AccountQuotas"] == [{"AccountQuotaName": "ManualSnapshots", "Used": 3, "Max": 100}]
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(sleeps) == 2  # botocore's backoff, on the simulated clock


def test_errors_reach_the_caller_as_botocore_client_errors():
    def backend(region, operation, params):
        raise ApiError("SnapshotQuotaExceeded", "too many")

    wire, factory, client = _client_through(backend, [])
    try:
        with pytest.raises(ClientError) as raised:
            client.create_db_snapshot(DBInstanceIdentifier="a", DBSnapshotIdentifier="b")
    finally:
        wire.uninstall(factory)
    assert raised.value.response["Error"]["Code"] == "SnapshotQuotaExceeded"


def test_a_service_the_simulation_does_not_model_is_refused_never_sent(monkeypatch):
    """A request to another service (the drill's SSM parameter, when a scenario's settings turn the drill
    on) once left the process, each attempt of each run waiting on the network; it is refused inside the
    process now, as an unreachable endpoint is, and RDS is still answered."""
    from botocore.exceptions import EndpointConnectionError
    from botocore.httpsession import URLLib3Session

    sent = []
    monkeypatch.setattr(URLLib3Session, "send", lambda self, request: sent.append(request.url))

    def backend(region, operation, params):
        return {"AccountQuotas": []}

    wire, factory, rds = _client_through(backend, [])
    ssm = factory.session.client(
        "ssm", region_name="us-west-2", config=boto3.session.Config(retries={"max_attempts": 0})
    )
    try:
        with pytest.raises(EndpointConnectionError):
            ssm.get_parameter(Name="/rds-snapshot-dr/x/drill")
        assert rds.describe_account_attributes()["AccountQuotas"] == []
    finally:
        wire.uninstall(factory)
    assert sent == []


def _seed(rds: Rds, count: int) -> None:
    region = rds.regions["us-east-1"]
    for i in range(count):
        rds.add(
            region,
            Snap(INSTANCE, f"s-{i:04d}", "us-east-1", "db", "available", "manual", {}, 0.0, "module", 1.0, created=0.0),
        )


def test_listings_page_at_max_records_with_a_marker(rds):
    _seed(rds, 250)
    seen, marker, pages = [], None, 0
    while True:
        params = {"SnapshotType": "manual", **({"Marker": marker} if marker else {})}
        result, _latency = rds.call("us-east-1", "DescribeDBSnapshots", params)
        pages += 1
        seen += [item["DBSnapshotIdentifier"] for item in result["DBSnapshots"]]
        marker = result.get("Marker")
        if not marker:
            break
    assert pages == 3
    assert seen == sorted(f"s-{i:04d}" for i in range(250))


def test_max_records_over_100_is_refused(rds):
    with pytest.raises(ApiError) as raised:
        rds.call("us-east-1", "DescribeDBSnapshots", {"MaxRecords": 500})
    assert raised.value.code == "InvalidParameterValue"


def test_the_token_bucket_empties_after_the_burst_and_refills_at_the_sustained_rate():
    bucket = Bucket(background_rate=2.0)
    taken = sum(bucket.take(0.0) for _ in range(400))
    assert taken == BUCKET_BURST
    assert not bucket.take(0.0)
    assert bucket.take(0.1)  # 10 tokens a second net of the other tools' 2


def test_cross_region_copies_over_the_limit_are_refused(rds):
    source = rds.regions["us-east-1"]
    source.databases[INSTANCE]["db"] = Database(INSTANCE, "db", 10.0, 0.0, {})
    _seed(rds, COPIES_IN_FLIGHT[INSTANCE] + 1)
    arns = [s.arn for s in source.snapshots[INSTANCE].values()]
    for arn in arns[:-1]:
        rds.call(
            "us-west-2",
            "CopyDBSnapshot",
            {"SourceDBSnapshotIdentifier": arn, "TargetDBSnapshotIdentifier": arn.rsplit(":", 1)[-1]},
        )
    with pytest.raises(ApiError) as raised:
        rds.call(
            "us-west-2",
            "CopyDBSnapshot",
            {"SourceDBSnapshotIdentifier": arns[-1], "TargetDBSnapshotIdentifier": "last"},
        )
    assert raised.value.code == "SnapshotQuotaExceeded"
    assert "20 snapshots across regions" in raised.value.message


def test_a_snapshot_has_no_create_time_until_it_is_available(rds):
    source = rds.regions["us-east-1"]
    source.databases[INSTANCE]["db"] = Database(INSTANCE, "db", 10.0, 0.0, {})
    result, _ = rds.call("us-east-1", "CreateDBSnapshot", {"DBInstanceIdentifier": "db", "DBSnapshotIdentifier": "s1"})
    assert result["DBSnapshot"]["SnapshotCreateTime"] is None
    rds.kernel.run(until=3600)
    listed, _ = rds.call("us-east-1", "DescribeDBSnapshots", {"DBSnapshotIdentifier": "s1"})
    assert listed["DBSnapshots"][0]["Status"] == "available"
    assert listed["DBSnapshots"][0]["SnapshotCreateTime"] is not None


def test_a_copy_during_an_outage_makes_no_progress(rds):
    rds.outages = [(100.0, 1100.0)]
    assert rds._progress_until(0.0, 300.0) == 1300.0
    assert rds._progress_until(2000.0, 300.0) == 2300.0


def test_the_simulated_function_gets_every_setting_the_module_sets():
    from pathlib import Path

    from simulation.fleet import BASE_ENVIRONMENT

    main_tf = (Path(__file__).resolve().parents[2] / "main.tf").read_text()
    block = main_tf[main_tf.index("lambda_settings_known_at_plan = {") : main_tf.index("lambda_environment = merge")]
    names = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", block, re.MULTILINE)) | {"DESTINATION_KMS_KEY_ARN"}
    assert names == set(BASE_ENVIRONMENT)
