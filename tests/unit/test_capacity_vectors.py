"""The plan-time capacity arithmetic (capacity.tf) and the function's (rules.capacity) share their test
vectors: every run of tests/capacity.tftest.hcl that asserts a count of `named_snapshot_capacity` (per
database, total, quota to request) is evaluated here through the function's rules with the same inputs,
and must give the numbers the run asserts of the HCL. A change to either side alone fails one of the two.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rds_snapshot_dr.core.module_defaults import MODULE_DEFAULTS
from rds_snapshot_dr.core.settings import load_settings
from rds_snapshot_dr.rules import capacity, schedule
from rds_snapshot_dr.rules.model import Database, Kind
from readme_tables import blocks

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "tests" / "capacity.tftest.hcl"
# local.named_snapshot_capacity["destination instance"].per_each == 2 * 14 + 1
ASSERTION = re.compile(
    r'local\.named_snapshot_capacity\["(?P<role>source|destination) (?P<kind>instance|cluster)"\]'
    r"\.(?P<field>per_each|total|request) == (?P<value>[0-9][0-9 *+]*[0-9]|[0-9])"
)
ENVIRONMENT = {
    **MODULE_DEFAULTS,
    "SOURCE_REGION": "eu-west-1",
    "DESTINATION_REGION": "eu-central-1",
    "DESTINATION_KMS_KEY_ARN": "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    "SNAPSHOT_PREFIX": "dr6-orders",
    "OWNER_TAG_KEY": "rds-snapshot-dr:owner",
    "OWNER_TAG_VALUE": "orders",
}


def _text(value: Any) -> Any:
    return value.strip('"') if isinstance(value, str) else value


def _merged(*blocks_: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in blocks_:
        for item in block if isinstance(block, list) else [block]:
            merged |= {k: v for k, v in item.items() if k != "__is_block__"}
    return merged


def _vectors() -> list[tuple[str, dict[str, Any], list[tuple[str, str, str, int]]]]:
    import hcl2

    with RUNS.open() as handle:
        file_variables = _merged(hcl2.load(handle).get("variables", []))
    vectors = []
    for name, body in blocks(RUNS, "run"):
        expected = [
            (m["role"], m["kind"], m["field"], eval(m["value"], {"__builtins__": {}}))  # noqa: S307 - digits, + and *
            for check in body.get("assert", [])
            for m in ASSERTION.finditer(check["condition"])
        ]
        if expected:
            vectors.append((name, file_variables | _merged(body.get("variables", [])), expected))
    return vectors


VECTORS = _vectors()


def test_the_runs_assert_enough_counts_to_share():
    assert len(VECTORS) >= 8, [name for name, _, _ in VECTORS]


@pytest.mark.parametrize(("variables", "expected"), [(v, e) for _, v, e in VECTORS], ids=[n for n, _, _ in VECTORS])
def test_the_functions_rules_give_what_the_plan_asserts(variables, expected):
    retention = _merged(variables.get("retention", {}))
    environment = ENVIRONMENT | {
        "BACKUP_SCHEDULE_EXPRESSION": _text(
            variables.get("schedule_expression", MODULE_DEFAULTS["BACKUP_SCHEDULE_EXPRESSION"])
        ),
        "SOURCE_RETENTION_DAYS": str(retention.get("source_days", MODULE_DEFAULTS["SOURCE_RETENTION_DAYS"])),
        "DESTINATION_RETENTION_DAYS": str(
            retention.get("destination_days", MODULE_DEFAULTS["DESTINATION_RETENTION_DAYS"])
        ),
        "KEEP_LAST": str(retention.get("keep_last", MODULE_DEFAULTS["KEEP_LAST"])),
        "COPY_CONCURRENCY_LIMIT": str(
            variables.get("copy_concurrency_limit", MODULE_DEFAULTS["COPY_CONCURRENCY_LIMIT"])
        ),
        "SNAPSHOT_QUOTA_ALARM_THRESHOLD": str(
            variables.get("snapshot_quota_alarm_threshold", MODULE_DEFAULTS["SNAPSHOT_QUOTA_ALARM_THRESHOLD"])
        ),
    }
    instances = [_text(i) for i in variables.get("db_instance_identifiers", [])]
    clusters = [_text(c) for c in variables.get("db_cluster_identifiers", [])]
    environment |= {"DB_INSTANCE_IDENTIFIERS": ",".join(instances), "DB_CLUSTER_IDENTIFIERS": ",".join(clusters)}
    settings = load_settings(environment)
    targets = [Database(Kind.INSTANCE, i, "available") for i in instances]
    targets += [Database(Kind.CLUSTER, c, "available") for c in clusters]
    per_day = schedule.snapshots_per_day(settings.backup_schedule_expression)
    counts = {(c.role, str(c.kind)): c for c in capacity.snapshot_capacity(settings, targets, per_day)}

    for role, kind, field, value in expected:
        count = counts[role, kind]
        got = {
            "per_each": count.per_target,
            "total": count.total,
            "request": capacity.quota_to_request(count.total, settings.snapshot_quota_alarm_percent),
        }[field]
        assert (role, kind, field, got) == (role, kind, field, value)
