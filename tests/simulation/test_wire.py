"""The wire's shortcut: a successful RDS answer reaches the function as what botocore's query parser makes
of AWS's XML, without the XML. Checked against botocore itself, answer by answer, and by the figures of
whole runs made both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import boto3
import pytest

from simulation import fleet, invariants, wire
from simulation.figures import figures
from simulation.scenarios import SCENARIOS

# Scenarios whose answers between them hold every snapshot and database shape the model sends: instances and
# clusters, copies with their source fields, failed and deleted snapshots, look-alikes, a renamed database and
# KMS refusals (errors travel as XML either way).
CHECKED = ("databases-change", "snapshots-fail", "kms-key-pending-deletion", "two-module-instances")


def _run(name: str, check: bool, days: int = 7) -> fleet.Run:
    return fleet.run(SCENARIOS[name].sized(10, days, None, None), check_wire=check)


@pytest.mark.parametrize("name", CHECKED)
def test_every_answer_equals_botocores_parse_of_its_xml_and_the_figures_are_identical(name):
    checked = _run(name, check=True)
    assert checked.wire_mismatches == []
    assert checked.wire_compared > 300  # the check saw the run's answers, not a handful
    fast = _run(name, check=False)
    assert fast.wire_compared == 0
    assert figures(fast) == figures(checked)
    assert invariants.check(fast) == invariants.check(checked)


def test_the_check_sees_a_wrong_type_in_the_direct_form(monkeypatch):
    """The check can fail: a direct form that sends a snapshot's progress as a string (what the XML
    carries, before botocore reads it as an integer) is caught on every answer that lists one."""
    real = wire.parsed

    def wrong(shape, value):
        if shape.type_name == "integer":
            return str(value)
        return real(shape, value)

    monkeypatch.setattr(wire, "parsed", wrong)
    checked = _run("steady-state", check=True, days=2)
    assert checked.wire_mismatches
    assert "PercentProgress" in checked.wire_mismatches[0] or "AllocatedStorage" in checked.wire_mismatches[0]


def test_direct_form_of_each_member_type_matches_botocore():
    model = boto3.session.Session()._session.get_service_model("rds")
    operation = model.operation_model("DescribeDBSnapshots")
    snapshot = {
        "DBSnapshotIdentifier": "db-1-20260105",
        "SnapshotCreateTime": datetime(2026, 1, 5, 3, 0, 1, 250000, tzinfo=UTC),
        # another zone's time: the XML carries it as UTC
        "OriginalSnapshotCreateTime": datetime(2026, 1, 5, 4, 0, tzinfo=timezone(timedelta(hours=1))),
        "AllocatedStorage": 20,
        "PercentProgress": 100,
        "Encrypted": True,
        "IAMDatabaseAuthenticationEnabled": False,
        "TagList": [{"Key": "a&b", "Value": "<x>"}, {"Key": "empty", "Value": ""}],
        "ProcessorFeatures": [],
        "Status": None,  # absent from the answer
    }
    result = {"DBSnapshots": [wire._Raw(snapshot), snapshot], "Marker": "m"}
    parser = _query_parser()
    body = wire.response_xml(operation, result)
    from_xml = parser.parse({"status_code": 200, "headers": {}, "body": body}, operation.output_shape)
    direct = wire.response_parsed(operation, result)
    from_xml.pop("ResponseMetadata")
    metadata = direct.pop("ResponseMetadata")
    assert metadata == {"RequestId": "sim"}
    assert wire.same(direct, from_xml)
    assert direct["DBSnapshots"][0]["OriginalSnapshotCreateTime"] == datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def test_same_tells_types_apart():
    assert wire.same({"a": [1, "x"]}, {"a": [1, "x"]})
    assert not wire.same({"a": 1}, {"a": True})
    assert not wire.same({"a": 1}, {"a": 1.0})
    assert not wire.same({"a": 1}, {"a": 1, "b": 2})
    assert not wire.same([1], [1, 1])


def _query_parser():
    import botocore.parsers

    return botocore.parsers.QueryParser(timestamp_parser=wire._fast_timestamp)
