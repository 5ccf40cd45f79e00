"""The preflight action: one pass/warn/fail line per check, a fix for each problem, never an exception."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from dr_testing import BASE_ENV, DESTINATION_REGION, SOURCE_REGION, alter_response, make_cluster, make_instance

from rds_snapshot_dr.gateway.aws import CLIENTS, AccountGateway, RdsGateway
from rds_snapshot_dr.handler import current_settings, lambda_handler
from rds_snapshot_dr.jobs.preflight import preflight

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rds-snapshot-dr-orders"
ASSUMED = f"arn:aws:sts::{ACCOUNT}:assumed-role/rds-snapshot-dr-orders/rds-snapshot-dr-orders"


def client(service: str, region: str) -> Any:
    """The very client preflight uses (the factory caches it)."""
    return CLIENTS.client(service, region, BASE_ENV["BOTO_RETRY_MODE"], int(BASE_ENV["BOTO_MAX_ATTEMPTS"]))


def answer(service: str, region: str, operation: str, parsed: dict[str, Any], status: int = 200) -> None:
    def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return AWSResponse("https://aws.example", status, {}, None), {
            **parsed,
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    client(service, region).meta.events.register_first(f"before-call.{service}.{operation}", respond)


def deny(service: str, region: str, operation: str, code: str = "AccessDenied") -> None:
    answer(service, region, operation, {"Error": {"Code": code, "Message": "injected"}}, status=400)


def as_function_role() -> None:
    answer("sts", SOURCE_REGION, "GetCallerIdentity", {"Arn": ASSUMED, "Account": ACCOUNT, "UserId": "AROA:fn"})


def simulate(denied: set[str] | None = None) -> list[dict[str, Any]]:
    """Answer SimulatePrincipalPolicy: every action allowed except `denied`. Returns the requests seen."""
    seen: list[dict[str, Any]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        seen.append(dict(params))

    def respond(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        params = seen[-1]
        action = params["ActionNames"][0]
        decision = "implicitDeny" if action in (denied or set()) else "allowed"
        results = [
            {"EvalActionName": action, "EvalResourceName": r, "EvalDecision": decision} for r in params["ResourceArns"]
        ]
        return AWSResponse("https://iam.example", 200, {}, None), {
            "EvaluationResults": results,
            "IsTruncated": False,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    events = client("iam", SOURCE_REGION).meta.events
    events.register("before-parameter-build.iam.SimulatePrincipalPolicy", remember)
    events.register_first("before-call.iam.SimulatePrincipalPolicy", respond)
    return seen


def run(lambda_context: Any, **event: Any) -> dict[str, Any]:
    return lambda_handler({"action": "preflight", **event}, lambda_context)


def lines(result: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {line["check"]: line for line in result["checks"]}


@pytest.fixture
def healthy(source: Any, default_quotas: None) -> None:
    """Both targets available, quotas low, running as the function's role, every permission allowed."""
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    as_function_role()
    simulate()


# --- the report ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("healthy")
def test_a_healthy_setup_passes_every_check(lambda_context):
    result = run(lambda_context)

    assert result["action"] == "preflight"
    assert result["status"] == "pass", [c for c in result["checks"] if c["status"] != "pass"]
    assert {
        "identity",
        "regions",
        "target orders-db",
        "target payments",
        "destination key",
        "destination key use",
    } <= set(lines(result))
    assert f"quota {SOURCE_REGION}" in lines(result)
    assert f"quota {DESTINATION_REGION}" in lines(result)
    assert "permission rds:CreateDBSnapshot" in lines(result)
    assert "permission rds:CreateDBClusterSnapshot" in lines(result)
    assert all(set(c) == {"check", "status", "detail", "fix"} for c in result["checks"])
    json.dumps(result)


@pytest.mark.usefixtures("aws")
def test_failed_checks_are_reported_not_raised(lambda_context):
    result = run(lambda_context)  # no database exists, quotas unknown: must still return

    assert result["status"] == "fail"
    assert lines(result)["target orders-db"]["status"] == "fail"
    assert "not found" in lines(result)["target orders-db"]["detail"]
    assert lines(result)["target orders-db"]["fix"]


@pytest.mark.usefixtures("healthy")
def test_every_check_is_logged_as_one_line(lambda_context, caplog):
    caplog.set_level(logging.INFO, logger="rds_snapshot_dr")
    result = run(lambda_context)

    logged = [r for r in caplog.records if getattr(r, "action", "") == "preflight"]
    assert [r.target for r in logged] == [c["check"] for c in result["checks"]]
    assert all(r.outcome in {"pass", "warn", "fail"} for r in logged)


@pytest.mark.usefixtures("healthy")
def test_targets_in_the_event_narrow_the_target_checks(lambda_context):
    result = run(lambda_context, targets=["orders-db"])

    assert "target orders-db" in lines(result)
    assert "target payments" not in lines(result)


# --- regions --------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("healthy")
def test_regions_pass_when_configured_and_different(lambda_context):
    line = lines(run(lambda_context))["regions"]
    assert line["status"] == "pass"
    assert SOURCE_REGION in line["detail"]
    assert DESTINATION_REGION in line["detail"]


def _direct(**changes: Any) -> dict[str, dict[str, str]]:
    settings = dataclasses.replace(current_settings(), **changes)
    report = preflight(
        settings,
        RdsGateway.from_settings(settings),
        AccountGateway.from_settings(settings),
        now=datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
    )
    return {c.check: dataclasses.asdict(c) for c in report.checks}


@pytest.mark.usefixtures("healthy")
def test_regions_fail_when_source_equals_destination():
    line = _direct(destination_region=SOURCE_REGION)["regions"]
    assert line["status"] == "fail"
    assert "aws.destination" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_regions_fail_when_the_key_is_in_another_region(key_arn):
    line = _direct(destination_kms_key_arn=key_arn.replace(DESTINATION_REGION, "eu-west-3"))["regions"]
    assert line["status"] == "fail"
    assert "eu-west-3" in line["detail"]


# --- targets ----------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("healthy")
def test_target_that_is_available_passes(lambda_context):
    assert lines(run(lambda_context))["target orders-db"]["status"] == "pass"


@pytest.mark.usefixtures("default_quotas")
def test_missing_target_fails(lambda_context, source):
    make_cluster(source, "payments")
    line = lines(run(lambda_context))["target orders-db"]
    assert line["status"] == "fail"
    assert "db_instance_identifiers" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_stopped_target_fails(lambda_context, source):
    source.stop_db_instance(DBInstanceIdentifier="orders-db")
    line = lines(run(lambda_context))["target orders-db"]
    assert line["status"] == "fail"
    assert "stopped" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_target_in_a_transient_state_warns(lambda_context):
    def modifying(parsed: dict[str, Any]) -> None:
        for item in parsed.get("DBInstances", []):
            item["DBInstanceStatus"] = "modifying"

    alter_response(SOURCE_REGION, "DescribeDBInstances", modifying)
    line = lines(run(lambda_context))["target orders-db"]
    assert line["status"] == "warn"
    assert "modifying" in line["detail"]


@pytest.mark.usefixtures("default_quotas")
def test_selection_tags_matching_nothing_fail(lambda_context, env):
    env(DB_INSTANCE_IDENTIFIERS="", DB_CLUSTER_IDENTIFIERS="", SELECTION_TAGS='{"backup": "dr"}')
    line = lines(run(lambda_context))["targets"]
    assert line["status"] == "fail"
    assert "selection tags" in line["detail"]


@pytest.mark.usefixtures("default_quotas")
def test_listing_databases_denied_fails_the_target_check(lambda_context):
    deny("rds", SOURCE_REGION, "DescribeDBInstances")
    line = lines(run(lambda_context))["targets"]
    assert line["status"] == "fail"
    assert "rds:DescribeDBInstances" in line["fix"]


# --- destination key ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("healthy")
def test_key_that_exists_and_is_enabled_passes(lambda_context, key_arn):
    result = lines(run(lambda_context))
    assert result["destination key"]["status"] == "pass"
    assert key_arn in result["destination key"]["detail"]


@pytest.mark.usefixtures("healthy")
def test_missing_key_fails(lambda_context, env):
    env(DESTINATION_KMS_KEY_ARN=f"arn:aws:kms:{DESTINATION_REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000")
    line = lines(run(lambda_context))["destination key"]
    assert line["status"] == "fail"
    assert "does not exist" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_disabled_key_fails(lambda_context, key_arn):
    boto3.client("kms", region_name=DESTINATION_REGION).disable_key(KeyId=key_arn.split("/")[-1])
    line = lines(run(lambda_context))["destination key"]
    assert line["status"] == "fail"
    assert "Disabled" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_key_pending_deletion_fails(lambda_context, key_arn):
    boto3.client("kms", region_name=DESTINATION_REGION).schedule_key_deletion(
        KeyId=key_arn.split("/")[-1], PendingWindowInDays=7
    )
    line = lines(run(lambda_context))["destination key"]
    assert line["status"] == "fail"
    assert "PendingDeletion" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_describe_key_denied_fails(lambda_context):
    deny("kms", DESTINATION_REGION, "DescribeKey", "AccessDeniedException")
    line = lines(run(lambda_context))["destination key"]
    assert line["status"] == "fail"
    assert "denied" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_key_policy_delegating_to_the_account_lets_the_role_use_the_key(lambda_context):
    line = lines(run(lambda_context))["destination key use"]
    assert line["status"] == "pass"
    assert "delegates to IAM" in line["detail"]


def _existing_key(env: Any, *statements: dict[str, Any]) -> str:
    """An existing destination key with this key policy, set as the function's key."""
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    key = boto3.client("kms", region_name=DESTINATION_REGION).create_key(Policy=json.dumps(policy))
    arn = key["KeyMetadata"]["Arn"]
    env(DESTINATION_KMS_KEY_ARN=arn)
    return arn


SOMEONE_ELSE_ADMINISTERS = {
    "Sid": "KeyAdministrators",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"},
    "Action": "kms:*",
    "Resource": "*",
}


@pytest.mark.usefixtures("healthy")
def test_key_policy_naming_the_role_lets_it_use_the_key(lambda_context, env):
    """The statements of the module's kms_key_policy_statements output, on a key that does not delegate to IAM."""
    via_rds = {"StringEquals": {"kms:ViaService": f"rds.{DESTINATION_REGION}.amazonaws.com"}}
    _existing_key(
        env,
        SOMEONE_ELSE_ADMINISTERS,
        {
            "Sid": "AllowFunctionRolesReadKey",
            "Effect": "Allow",
            "Principal": {"AWS": [ROLE]},
            "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants"],
            "Resource": "*",
        },
        {
            "Sid": "AllowFunctionRolesGrantsForRds",
            "Effect": "Allow",
            "Principal": {"AWS": [ROLE]},
            "Action": ["kms:CreateGrant"],
            "Resource": "*",
            "Condition": {**via_rds, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    )
    line = lines(run(lambda_context))["destination key use"]
    assert line["status"] == "pass", line
    assert f"the key policy allows {ROLE}" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_a_grant_to_the_role_does_not_stand_in_for_the_key_policy(lambda_context, env):
    """Issue 19, finding 4: the grant 1.x created on an existing key (CreateGrant, DescribeKey) passes on
    only its own operations, so RDS never gets Encrypt or Decrypt through it. Preflight judges the key
    policy, and says what to add."""
    arn = _existing_key(env, SOMEONE_ELSE_ADMINISTERS)
    boto3.client("kms", region_name=DESTINATION_REGION).create_grant(
        KeyId=arn, GranteePrincipal=ROLE, Operations=["CreateGrant", "DescribeKey"]
    )
    line = lines(run(lambda_context))["destination key use"]
    assert line["status"] == "fail", line
    assert "1 grant(s) to" in line["detail"]
    assert "not counted" in line["detail"]
    assert "kms_key_policy_statements" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_key_neither_delegating_nor_naming_the_role_fails_and_says_what_to_add(lambda_context, env):
    _existing_key(env, SOMEONE_ELSE_ADMINISTERS)
    line = lines(run(lambda_context))["destination key use"]
    assert line["status"] == "fail"
    assert "neither delegates to IAM" in line["detail"]
    assert ROLE in line["detail"]
    # The two ways out, plainly: name the role (the module's output), or delegate to IAM.
    assert "kms_key_policy_statements" in line["fix"]
    assert f"arn:aws:iam::{ACCOUNT}:root" in line["fix"]
    assert "kms:CreateGrant" in line["fix"]
    assert "kms:DescribeKey" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_a_key_policy_that_lets_the_account_only_decrypt_does_not_pass(lambda_context, env):
    """RDS needs kms:CreateGrant and kms:DescribeKey from the caller (RDS User Guide, "AWS KMS key
    management"): a statement for the account that allows only Decrypt delegates neither."""
    _existing_key(
        env,
        SOMEONE_ELSE_ADMINISTERS,
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["kms:Decrypt"],
            "Resource": "*",
        },
    )
    line = lines(run(lambda_context))["destination key use"]
    assert line["status"] == "fail", line
    assert "kms:CreateGrant" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_unreadable_key_policy_and_grants_warn_and_say_what_was_checked(lambda_context):
    deny("kms", DESTINATION_REGION, "GetKeyPolicy", "AccessDeniedException")
    deny("kms", DESTINATION_REGION, "ListGrants", "AccessDeniedException")
    line = lines(run(lambda_context))["destination key use"]
    assert line["status"] == "warn"
    assert "kms:DescribeKey succeeded" in line["detail"]
    assert "kms:GetKeyPolicy" in line["detail"]
    assert "kms:ListGrants" in line["detail"]


# --- quotas ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("healthy")
def test_quota_headroom_passes(lambda_context):
    line = lines(run(lambda_context))[f"quota {SOURCE_REGION}"]
    assert line["status"] == "pass"
    assert "ManualSnapshots 10/100" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_quota_nearly_used_warns(lambda_context, quotas):
    quotas(DESTINATION_REGION, used=85)
    line = lines(run(lambda_context))[f"quota {DESTINATION_REGION}"]
    assert line["status"] == "warn"
    assert "Service Quotas" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_quota_without_room_for_one_backup_fails(lambda_context, quotas):
    quotas(SOURCE_REGION, used=100)
    line = lines(run(lambda_context))[f"quota {SOURCE_REGION}"]
    assert line["status"] == "fail"
    assert "0 free" in line["detail"]


def test_quota_that_cannot_be_read_warns_quota_unknown(lambda_context, source):
    # moto does not implement DescribeAccountAttributes: the call fails, the check must not.
    make_instance(source, "orders-db")
    make_cluster(source, "payments")
    result = lines(run(lambda_context))
    assert result[f"quota {SOURCE_REGION}"]["status"] == "warn"
    assert result[f"quota {SOURCE_REGION}"]["detail"].startswith("quota unknown")


@pytest.mark.usefixtures("default_quotas")
def test_quota_denied_warns_quota_unknown(lambda_context):
    deny("rds", DESTINATION_REGION, "DescribeAccountAttributes")
    client("rds", DESTINATION_REGION).meta.events.unregister("before-call.rds.DescribeAccountAttributes")
    line = lines(run(lambda_context))[f"quota {DESTINATION_REGION}"]
    assert line["status"] == "warn"
    assert "rds:DescribeAccountAttributes" in line["fix"]


# --- capacity: the steady state against the quota ------------------------------------------------------
# BASE_ENV: daily backups, 7 days in the source, 14 in the destination, keep_last 1, 20 copies in flight:
# one instance holds 7 + 1 (+ 1 in flight) = 9 snapshots in the source and 14 + 1 (+ 1) = 16 in the destination.


@pytest.mark.usefixtures("healthy")
def test_capacity_that_fits_passes(lambda_context):
    line = lines(run(lambda_context))[f"capacity {DESTINATION_REGION} instance"]
    assert line["status"] == "pass"
    assert "holds up to 16" in line["detail"]
    assert "others use 10" in line["detail"]


@pytest.mark.usefixtures("healthy")
def test_capacity_that_does_not_fit_fails_with_the_quota_request(lambda_context, quotas):
    quotas(DESTINATION_REGION, used=10, maximum=20)
    result = lines(run(lambda_context))
    line = result[f"capacity {DESTINATION_REGION} instance"]

    assert (
        result[f"quota {DESTINATION_REGION}"]["status"] == "pass"
    )  # room for today's backup, not for the steady state
    assert line["status"] == "fail"
    assert "26 does not fit" in line["detail"]
    assert '"Manual DB instance snapshots"' in line["fix"]
    # (10 others + 16) / 80 % = 32.5, rounded up to tens
    assert (
        "aws service-quotas request-service-quota-increase --service-code rds --quota-code L-272F1212 "
        f"--desired-value 40 --region {DESTINATION_REGION}"
    ) in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_cluster_capacity_is_checked_against_the_cluster_quota(lambda_context, quotas):
    quotas(SOURCE_REGION, used=0, maximum=100, cluster_used=95)
    line = lines(run(lambda_context))[f"capacity {SOURCE_REGION} cluster"]
    assert line["status"] == "fail"
    assert "--quota-code L-9B510759" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_capacity_near_the_quota_alarm_warns(lambda_context, quotas):
    quotas(DESTINATION_REGION, used=10, maximum=30)  # 26 of 30: fits, above 80 %
    line = lines(run(lambda_context))[f"capacity {DESTINATION_REGION} instance"]
    assert line["status"] == "warn"
    assert "--desired-value 40" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_the_quota_checks_warn_at_the_quota_alarms_threshold(lambda_context, quotas, env):
    """Preflight warns, and sizes the quota it suggests, at snapshot_quota_alarm_threshold, not at a fixed 80 %."""
    env(SNAPSHOT_QUOTA_ALARM_THRESHOLD="90")
    quotas(DESTINATION_REGION, used=10, maximum=30)  # 26 of 30: above 80 %, below 90 %
    result = lines(run(lambda_context))
    assert result[f"capacity {DESTINATION_REGION} instance"]["status"] == "pass"

    quotas(DESTINATION_REGION, used=85)  # 85 of 100 used: a warning at 80 %, none at 90 %
    assert lines(run(lambda_context))[f"quota {DESTINATION_REGION}"]["status"] == "pass"

    env(SNAPSHOT_QUOTA_ALARM_THRESHOLD="50")
    quotas(DESTINATION_REGION, used=10, maximum=100)  # 26 of 100 fits under 50 %: 26 / 50 % = 52 -> 60
    assert lines(run(lambda_context))[f"capacity {DESTINATION_REGION} instance"]["status"] == "pass"
    quotas(DESTINATION_REGION, used=10, maximum=40)  # 26 of 40: above 50 %
    line = lines(run(lambda_context))[f"capacity {DESTINATION_REGION} instance"]
    assert line["status"] == "warn"
    assert "above 50% (the quota alarm)" in line["detail"]
    assert "--desired-value 60" in line["fix"]


@pytest.mark.usefixtures("healthy")
def test_capacity_does_not_count_this_instances_own_snapshots_as_used_by_others(lambda_context, quotas, source):
    for day in range(1, 6):
        source.create_db_snapshot(
            DBInstanceIdentifier="orders-db",
            DBSnapshotIdentifier=f"dr-orders-db-202611{day:02d}-0300",
            Tags=[{"Key": "rds-snapshot-dr:owner", "Value": "orders"}],
        )
    # ours by name only: counts as someone else's
    source.create_db_snapshot(DBInstanceIdentifier="orders-db", DBSnapshotIdentifier="dr-orders-db-20261106-0300")
    quotas(SOURCE_REGION, used=12, maximum=25)  # 5 ours + 7 others; 7 + 9 = 16 of 25 (64 %)

    line = lines(run(lambda_context))[f"capacity {SOURCE_REGION} instance"]

    assert line["status"] == "pass"  # counting ours as others would make 21 of 25 (84 %): a warning
    assert "others use 7" in line["detail"]


# --- permissions ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("source", "default_quotas")
def test_permissions_are_simulated_on_the_functions_own_role(lambda_context, key_arn):
    as_function_role()
    seen = simulate()
    result = lines(run(lambda_context))

    assert {r["PolicySourceArn"] for r in seen} == {ROLE}
    assert result["permission rds:CopyDBSnapshot"]["status"] == "pass"
    assert "simulated for" in result["permission rds:CopyDBSnapshot"]["detail"]
    grant = next(r for r in seen if r["ActionNames"] == ["kms:CreateGrant"])
    assert grant["ResourceArns"] == [key_arn]
    assert {e["ContextKeyName"] for e in grant["ContextEntries"]} == {"kms:ViaService", "kms:GrantIsForAWSResource"}
    delete = next(r for r in seen if r["ActionNames"] == ["rds:DeleteDBSnapshot"])
    assert delete["ContextEntries"][0]["ContextKeyName"] == "aws:ResourceTag/rds-snapshot-dr:owner"


@pytest.mark.usefixtures("source", "default_quotas")
def test_a_role_under_an_iam_path_is_simulated_by_its_full_arn(lambda_context):
    """iam_role_path puts the role under a path that the assumed-role ARN does not show."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    created = client("iam", SOURCE_REGION).create_role(
        RoleName="rds-snapshot-dr-orders", Path="/platform/dr/", AssumeRolePolicyDocument=trust
    )["Role"]["Arn"]
    as_function_role()
    seen = simulate()

    result = lines(run(lambda_context))

    assert created == f"arn:aws:iam::{ACCOUNT}:role/platform/dr/rds-snapshot-dr-orders"
    assert {r["PolicySourceArn"] for r in seen} == {created}
    assert created in result["identity"]["detail"]


@pytest.mark.usefixtures("source", "default_quotas")
def test_a_permission_the_role_lacks_fails_with_the_action_named(lambda_context):
    as_function_role()
    simulate(denied={"rds:CopyDBClusterSnapshot"})
    result = lines(run(lambda_context))

    assert result["permission rds:CopyDBClusterSnapshot"]["status"] == "fail"
    assert "Allow rds:CopyDBClusterSnapshot" in result["permission rds:CopyDBClusterSnapshot"]["fix"]
    assert result["permission rds:CopyDBSnapshot"]["status"] == "pass"


@pytest.mark.usefixtures("source", "default_quotas")
def test_simulation_denied_falls_back_to_read_calls_and_says_so(lambda_context):
    as_function_role()
    deny("iam", SOURCE_REGION, "SimulatePrincipalPolicy")
    result = lines(run(lambda_context))

    line = result["permission rds:DescribeDBSnapshots"]
    assert line["status"] == "pass"
    assert "iam:SimulatePrincipalPolicy" in line["detail"]
    assert "read call" in line["detail"]
    writes = result["permissions for writes"]
    assert writes["status"] == "warn"
    assert "rds:CreateDBSnapshot" in writes["detail"]
    assert "not verified" in writes["detail"]


@pytest.mark.usefixtures("source", "default_quotas")
def test_fallback_read_call_denied_fails(lambda_context):
    as_function_role()
    deny("iam", SOURCE_REGION, "SimulatePrincipalPolicy")
    deny("rds", DESTINATION_REGION, "DescribeDBClusterSnapshots")
    line = lines(run(lambda_context))["permission rds:DescribeDBClusterSnapshots"]
    assert line["status"] == "fail"
    assert DESTINATION_REGION in line["detail"]


@pytest.mark.usefixtures("source", "default_quotas")
def test_caller_that_is_not_a_role_is_checked_by_read_calls(lambda_context):
    # moto's default identity is an IAM user: the function's role cannot be derived from it.
    result = lines(run(lambda_context))
    assert result["identity"]["status"] == "warn"
    assert "not an assumed role" in result["identity"]["detail"]
    assert "permissions for writes" in result
    assert result["permission kms:DescribeKey"]["status"] == "pass"


def _context(request: dict[str, Any]) -> dict[str, list[str]]:
    return {e["ContextKeyName"]: e["ContextKeyValues"] for e in request["ContextEntries"]}


@pytest.mark.usefixtures("default_quotas")
def test_backup_permissions_are_simulated_per_resource_with_the_context_of_a_real_backup(lambda_context, source, env):
    """A ForAllValues condition on aws:TagKeys passes when the key is absent, and a db-tag key matches no
    snapshot: simulated without the request's tags, or with both resources at once, a backup that AWS
    denies (issue 19, findings 1 and 2) would pass preflight."""
    env(DB_CLUSTER_IDENTIFIERS="", DB_INSTANCE_IDENTIFIERS="", SELECTION_TAGS='{"dr-protect": "daily"}')
    source.create_db_instance(
        DBInstanceIdentifier="cards-db",
        DBInstanceClass="db.t4g.medium",
        Engine="mysql",
        Tags=[{"Key": "dr-protect", "Value": "daily"}, {"Key": "team", "Value": "cards"}],
    )
    as_function_role()
    seen = simulate()

    run(lambda_context)

    creates = [r for r in seen if r["ActionNames"] == ["rds:CreateDBSnapshot"]]
    assert sorted(len(r["ResourceArns"]) for r in creates) == [1, 1]  # the database and the snapshot apart
    [on_db] = [r for r in creates if ":db:" in r["ResourceArns"][0]]
    [on_snapshot] = [r for r in creates if ":snapshot:" in r["ResourceArns"][0]]
    assert on_db["ResourceArns"] == [f"arn:aws:rds:{SOURCE_REGION}:{ACCOUNT}:db:cards-db"]
    assert _context(on_db)["rds:db-tag/dr-protect"] == ["daily"]  # the real database's tags
    assert _context(on_db)["rds:db-tag/team"] == ["cards"]
    assert not [key for key in _context(on_snapshot) if key.startswith("rds:db-tag/")]
    written = {
        "rds-snapshot-dr:owner",
        "rds-snapshot-dr:source",
        "rds-snapshot-dr:source-type",
        "rds-snapshot-dr:backup-round",
        "rds-snapshot-dr:portable",
        "rds-snapshot-dr:copy-slot",
        "team",  # BASE_ENV's snapshot_tags
    }
    tagging = [r for r in seen if r["ActionNames"] == ["rds:AddTagsToResource"]]
    for request in [on_snapshot, *tagging[:2]]:
        assert set(_context(request)["aws:TagKeys"]) == written
        assert _context(request)["aws:RequestTag/rds-snapshot-dr:owner"] == [BASE_ENV["OWNER_TAG_VALUE"]]
        assert {e["ContextKeyType"] for e in request["ContextEntries"] if e["ContextKeyName"] == "aws:TagKeys"} == {
            "stringList"
        }
    counting = [r for r in tagging if _context(r).get("aws:TagKeys") == ["rds-snapshot-dr:copy-failures"]]
    assert len(counting) == 1
    assert _context(counting[0])["aws:ResourceTag/rds-snapshot-dr:owner"] == [BASE_ENV["OWNER_TAG_VALUE"]]
