"""The stand-in itself: what the cycle test relies on, checked on its own and in seconds."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from stand_in import (
    AGE_TAG,
    KNOWN_EMULATOR_GAPS,
    Aws,
    _module_sources,
    _provider_aliases,
    deleted_already,
    delivered,
    provider_override,
    scheduler_event,
    snapshot_created_event,
    unexpected_plan_changes,
)

pytestmark = pytest.mark.integration

RULE_PATTERN = json.dumps(
    {
        "source": ["aws.rds"],
        "detail-type": ["RDS DB Snapshot Event", "RDS DB Cluster Snapshot Event"],
        "detail": {"EventID": ["RDS-EVENT-0042", "RDS-EVENT-0075"], "SourceIdentifier": [{"prefix": "dr-orders-"}]},
    }
)
NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def _instance(aws: Aws, identifier: str, region: str = "eu-west-3") -> None:
    aws.client("rds", region).create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-secret-1",
    )


def test_server_answers_describe_account_attributes_per_region(aws: Aws) -> None:
    _instance(aws, "quota-db")
    aws.client("rds", "eu-west-3").create_db_snapshot(DBSnapshotIdentifier="quota-1", DBInstanceIdentifier="quota-db")

    quotas = {
        q["AccountQuotaName"]: (q["Used"], q["Max"])
        for q in aws.client("rds", "eu-west-3").describe_account_attributes()["AccountQuotas"]
    }

    assert quotas["ManualSnapshots"] == (1, 100)
    assert quotas["ManualClusterSnapshots"] == (0, 100)


def test_snapshot_seeded_with_age_tag_is_dated_back(aws: Aws) -> None:
    _instance(aws, "aged-db")
    rds = aws.client("rds", "eu-west-3")

    rds.create_db_snapshot(
        DBSnapshotIdentifier="aged-1", DBInstanceIdentifier="aged-db", Tags=[{"Key": AGE_TAG, "Value": "40"}]
    )

    created = rds.describe_db_snapshots(DBSnapshotIdentifier="aged-1")["DBSnapshots"][0]["SnapshotCreateTime"]
    assert datetime.now(UTC) - created > timedelta(days=39)


def test_deployed_rule_pattern_delivers_own_snapshots_only() -> None:
    ours = snapshot_created_event("instance", "dr-orders-orders-db-20261125-1400", "us-east-1", NOW)
    ours_cluster = snapshot_created_event("cluster", "dr-orders-ledger-20261125-1400", "us-east-1", NOW)
    foreign = snapshot_created_event("instance", "nightly-export-orders-db", "us-east-1", NOW)
    automated = snapshot_created_event("instance", "rds:orders-db-2026-11-25-14-00", "us-east-1", NOW)

    assert delivered([RULE_PATTERN], ours)
    assert delivered([RULE_PATTERN], ours_cluster)
    assert not delivered([RULE_PATTERN], foreign)
    assert not delivered([RULE_PATTERN], automated)


def test_scheduler_event_fills_in_the_scheduled_time() -> None:
    raw = '{"action":"backup","scheduled_time":"<aws.scheduler.scheduled-time>"}'

    assert scheduler_event(raw, NOW) == {"action": "backup", "scheduled_time": "2026-11-25T14:00:00Z"}


def test_scheduler_event_leaves_an_escaped_placeholder_alone_as_aws_does() -> None:
    # jsonencode() writes "<" as \u003c; Scheduler only replaces the literal placeholder.
    raw = '{"action":"backup","scheduled_time":"\\u003caws.scheduler.scheduled-time\\u003e"}'

    assert scheduler_event(raw, NOW)["scheduled_time"] == "<aws.scheduler.scheduled-time>"


def test_copied_root_module_still_finds_the_module(tmp_path: Path) -> None:
    origin = tmp_path / "examples" / "basic"
    text = 'module "x" {\n  source = "../../"\n}\nmodule "k" {\n  source = "../../modules/destination-kms-key"\n}\n'

    copy = tmp_path / "work" / "root"

    rewritten = _module_sources(text, origin, copy)

    # relative to the copy, so a module there may call its sibling ("../function-key-statements")
    assert 'source = "../.."' in rewritten
    assert 'source = "../../modules/destination-kms-key"' in rewritten


def test_provider_override_covers_every_provider_configuration() -> None:
    text = 'provider "aws" {\n  region = var.a\n}\n\nprovider "aws" {\n  alias  = "destination"\n  region = var.b\n}\n'

    aliases = _provider_aliases([text])
    override = provider_override("http://127.0.0.1:1234", aliases)

    assert aliases == [None, "destination"]
    assert override.count('provider "aws"') == 2
    assert 'alias = "destination"' in override
    assert 'lambda           = "http://127.0.0.1:1234"' in override


def _plan(*changes: tuple) -> dict:
    return {
        "resource_changes": [
            {
                "address": address,
                "type": kind,
                "change": {
                    "actions": actions,
                    "before": before,
                    "after": after,
                    "after_unknown": rest[0] if rest else {},
                },
            }
            for address, kind, actions, before, after, *rest in changes
        ]
    }


def test_plan_check_allows_only_the_named_emulator_gaps() -> None:
    (kind, attribute), _reason = next(iter(KNOWN_EMULATOR_GAPS.items()))
    allowed = _plan(("module.m.aws_lambda_function.this", kind, ["update"], {attribute: []}, {attribute: [1]}))
    drifted = _plan(("module.m.aws_lambda_function.this", kind, ["update"], {"timeout": 3}, {"timeout": 300}))
    replaced = _plan(("module.m.aws_sqs_queue.dlq", "aws_sqs_queue", ["delete", "create"], {}, {}))

    assert unexpected_plan_changes(allowed) == []
    assert unexpected_plan_changes(drifted) == ["module.m.aws_lambda_function.this: timeout would change"]
    assert unexpected_plan_changes(replaced) == ["module.m.aws_sqs_queue.dlq: delete/create"]


def test_plan_check_counts_a_value_only_known_after_apply_as_a_change() -> None:
    (kind, attribute), _reason = next(iter(KNOWN_EMULATOR_GAPS.items()))
    gap = ("module.m.aws_lambda_function.this", kind, ["update"], {attribute: []}, {attribute: [1]})
    deferred = (
        "module.m.aws_iam_role_policy.p",
        "aws_iam_role_policy",
        ["update"],
        {"policy": "{}"},
        {},
        {"policy": True},
    )

    assert unexpected_plan_changes(_plan(gap, deferred)) == ["module.m.aws_iam_role_policy.p: policy would change"]


def test_a_functions_dead_letter_config_reads_back_as_lambda_returns_it(aws: Aws) -> None:
    # The stand-in keeps DeadLetterConfig (moto 5.2 accepts it and drops it); Lambda returns it.
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = aws.client("iam", "eu-west-3").create_role(RoleName="dlq-fn", AssumeRolePolicyDocument=json.dumps(trust))
    lam = aws.client("lambda", "eu-west-3")
    first, second = (f"arn:aws:sqs:eu-west-3:123456789012:{name}" for name in ("stand-in-dlq-1", "stand-in-dlq-2"))
    lam.create_function(
        FunctionName="dlq-fn",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": code.getvalue()},
        DeadLetterConfig={"TargetArn": first},
    )
    assert lam.get_function_configuration(FunctionName="dlq-fn")["DeadLetterConfig"] == {"TargetArn": first}
    lam.update_function_configuration(FunctionName="dlq-fn", DeadLetterConfig={"TargetArn": second})
    assert lam.get_function(FunctionName="dlq-fn")["Configuration"]["DeadLetterConfig"] == {"TargetArn": second}


VAULT_ACCOUNT = "210987654321"


@pytest.mark.parametrize("kind", ["instance", "cluster"])
def test_another_account_copies_a_snapshot_only_once_it_is_shared_and_under_its_own_key(aws: Aws, kind: str) -> None:
    """RDS copies a snapshot of another account by its ARN once it is shared with the copying account, and
    needs that account's KmsKeyId for an encrypted one; moto alone looks the ARN up in the caller's account."""
    region = "ap-southeast-2"
    vault = Aws(aws.endpoint, account=VAULT_ACCOUNT)
    source_rds, vault_rds = aws.client("rds", region), vault.client("rds", region)
    source_key = aws.client("kms", region).create_key()["KeyMetadata"]["Arn"]
    vault_key = vault.client("kms", region).create_key()["KeyMetadata"]["Arn"]
    name = f"shared-{kind}-snapshot"
    if kind == "instance":
        source_rds.create_db_instance(
            DBInstanceIdentifier="shared-db",
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-secret-1",
            StorageEncrypted=True,
            KmsKeyId=source_key,
        )
        arn = source_rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier="shared-db")["DBSnapshot"][
            "DBSnapshotArn"
        ]

        def share(**values: list[str]) -> Any:
            return source_rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=name, AttributeName="restore", **values)

        def copy(target: str = f"vault-{name}", **key: str) -> dict[str, Any]:
            return vault_rds.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=target, **key)[
                "DBSnapshot"
            ]

        not_found = "DBSnapshotNotFound"
    else:
        source_rds.create_db_cluster(
            DBClusterIdentifier="shared-aurora",
            Engine="aurora-postgresql",
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-secret-1",
            StorageEncrypted=True,
            KmsKeyId=source_key,
        )
        arn = source_rds.create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=name, DBClusterIdentifier="shared-aurora"
        )["DBClusterSnapshot"]["DBClusterSnapshotArn"]

        def share(**values: list[str]) -> Any:
            return source_rds.modify_db_cluster_snapshot_attribute(
                DBClusterSnapshotIdentifier=name, AttributeName="restore", **values
            )

        def copy(target: str = f"vault-{name}", **key: str) -> dict[str, Any]:
            return vault_rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier=arn, TargetDBClusterSnapshotIdentifier=target, **key
            )["DBClusterSnapshot"]

        not_found = "DBClusterSnapshotNotFoundFault"

    with pytest.raises(source_rds.exceptions.ClientError, match=not_found):
        copy(KmsKeyId=vault_key)  # not shared yet
    with pytest.raises(source_rds.exceptions.ClientError, match="InvalidParameterValue"):
        share(ValuesToAdd=["all"])  # an encrypted snapshot goes to named accounts only
    share(ValuesToAdd=[VAULT_ACCOUNT])
    with pytest.raises(source_rds.exceptions.ClientError, match="KmsKeyId is required"):
        copy()
    copied = copy(KmsKeyId=vault_key)

    assert copied["KmsKeyId"] == vault_key
    assert VAULT_ACCOUNT in copied.get("DBSnapshotArn", copied.get("DBClusterSnapshotArn", ""))
    if kind == "instance":
        assert copied["SourceDBSnapshotIdentifier"] == arn
    else:
        assert copied["SourceDBClusterSnapshotArn"] == arn
    share(ValuesToRemove=[VAULT_ACCOUNT])
    with pytest.raises(source_rds.exceptions.ClientError, match=not_found):
        copy(f"vault-{name}-again", KmsKeyId=vault_key)  # un-shared: gone from the vault's view again


def test_a_destroy_is_run_again_only_when_it_met_its_own_deletes_404() -> None:
    late = (
        "terraform destroy failed (exit 1):\nError: deleting CloudWatch Dashboard (payments-rds-snapshot-dr): "
        "operation error CloudWatch: DeleteDashboards, https response error StatusCode: 404, RequestID: x, "
        "ResourceNotFound: The specified dashboard does not exist."
    )
    denied = "terraform destroy failed (exit 1):\nError: deleting SQS Queue (q): StatusCode: 403, AccessDenied"
    other = "terraform destroy failed (exit 1):\nError: reading KMS Key (k): StatusCode: 404"

    assert deleted_already(late)
    assert not deleted_already(late + "\n" + denied)
    assert not deleted_already(denied)
    assert not deleted_already(other)
    assert not deleted_already("terraform destroy failed (exit 1):\nsomething else")
