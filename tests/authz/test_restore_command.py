"""The restore command, as an on-call engineer runs it on DR day, judged against the policy the module
renders for that person (output restore_operator_policy_json).

After the recorded cycle of examples/complete (its copies exist in the DR region), the command restores
an instance and an Aurora cluster (and its writer) from their newest DR copies; every request it makes is
recorded and judged by the evaluator with an operator role holding only that policy, and the destination
key's own key policy.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from authorizations import authorizations, existing_resources, tag_context
from deployment import RecordedRun, lookup
from judge import Policies, Verdict, judge, write_report
from recorder import Call, Recorder
from stand_in import REPO, _forget_modules

pytestmark = pytest.mark.authz

EXAMPLE = "complete"
# (database, identifier of the restored database): an instance, and a cluster whose writer follows it
RESTORES = {"ledger-db": "ledger-restored", "settlement-aurora": "settlement-restored"}


@contextlib.contextmanager
def _command_line(endpoint: str, region: str) -> Iterator[Any]:
    """The command line (`rds-snapshot-dr`) from the source tree, in this process so the
    recorder sees its requests, against the stand-in."""
    saved_env, saved_path = dict(os.environ), list(sys.path)
    try:
        _forget_modules("rds_snapshot_dr")
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[key]
        os.environ.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_DEFAULT_REGION=region,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
        )
        sys.path.insert(0, str(REPO / "lambda_src"))
        yield importlib.import_module("rds_snapshot_dr.cli.main")
    finally:
        _forget_modules("rds_snapshot_dr")
        sys.path[:] = saved_path
        os.environ.clear()
        os.environ.update(saved_env)


def operator_policies(run: RecordedRun, document: dict[str, Any]) -> Policies:
    """An on-call role holding only `document`; the destination key's policy as the stand-in holds it."""
    return Policies(
        principal=f"arn:aws:iam::{run.where.account}:role/dr-on-call",
        identity=[{"name": "restore-operator", "policy": document}],
        key_policies=dict(run.policies.key_policies),
        grants=dict(run.policies.grants),
    )


@pytest.fixture(scope="module")
def restored(recorded: dict[str, list[RecordedRun]]) -> tuple[RecordedRun, list[Call], dict[str, str], dict]:
    run = recorded[EXAMPLE][0]
    deployed = run.deployed
    document = json.loads(deployed.terraform.outputs()["restore_operator_policy_json"])
    recorder = Recorder(lookup(deployed.aws), existing_resources(run.where))
    # Emulator gap: moto's list of orderable instance options stops at aurora-postgresql 11.x, so it
    # offers no class for the estate's 12.7 cluster. The request is still recorded and judged; the answer
    # is AWS's for a class the region offers.
    recorder.responders["rds:DescribeOrderableDBInstanceOptions"] = lambda params: {
        "OrderableDBInstanceOptions": [
            {key: params[key] for key in ("Engine", "EngineVersion", "DBInstanceClass") if key in params}
        ]
    }
    printed = {}
    with _command_line(deployed.aws.endpoint, run.function.region) as cli:
        for database, identifier in RESTORES.items():
            out = io.StringIO()
            argv = ["restore", "--function-name", run.function.name, "--database", database]
            argv += ["--identifier", identifier, "--wait", "--poll-seconds", "1"]
            with recorder.recording(f"restore command {database}"), contextlib.redirect_stderr(out):
                code = cli.main(argv, pause=lambda _seconds: None, out=out)
            printed[database] = f"exit {code}\n{out.getvalue()}"
            assert code == 0, printed[database]
    return run, recorder.calls, printed, document


@pytest.fixture(scope="module")
def restore_verdicts(restored) -> list[Verdict]:
    run, calls, _printed, document = restored
    auths = [auth for call in calls for auth in authorizations(call, run.where)]
    return judge(auths, operator_policies(run, document), run.where.account)


def test_the_command_restored_an_instance_and_a_cluster_with_its_writer(restored):
    run, calls, printed, _document = restored
    operations = collections.Counter(call.operation for call in calls if call.error is None)
    assert operations["RestoreDBInstanceFromDBSnapshot"] == 1, printed
    assert operations["RestoreDBClusterFromSnapshot"] == 1, printed
    assert operations["CreateDBInstance"] == 1, printed  # the Aurora writer
    rds = run.deployed.aws.client("rds", run.function.environment["DESTINATION_REGION"])
    assert rds.describe_db_instances(DBInstanceIdentifier="ledger-restored")["DBInstances"]
    assert rds.describe_db_clusters(DBClusterIdentifier="settlement-restored")["DBClusters"]


def test_every_request_of_the_restore_command_is_allowed_by_the_operator_policy(restore_verdicts):
    denied = [verdict.describe() for verdict in restore_verdicts if not verdict.allowed]
    assert denied == [], "denied to a role holding restore_operator_policy_json:\n" + "\n".join(denied)
    judged = collections.Counter((v.auth.request, v.auth.action) for v in restore_verdicts)
    assert judged[("rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBClusterFromSnapshot")] >= 4  # each type
    assert judged[("rds:RestoreDBInstanceFromDBSnapshot", "kms:CreateGrant")] == 1
    write_report(
        "authz-judged-restore.txt",
        f"restore command (an instance, an Aurora cluster and its writer; examples/{EXAMPLE}) against "
        "restore_operator_policy_json",
        judged,
    )


def test_the_operator_policy_restores_only_this_instances_copies(restored):
    """A person's snapshot in the DR region, or another instance's copy, is not restorable with it."""
    run, calls, _printed, document = restored
    [restore] = [call for call in calls if call.operation == "RestoreDBInstanceFromDBSnapshot" and not call.error]
    [auth] = [
        a
        for a in authorizations(restore, run.where)
        if a.action == "rds:RestoreDBInstanceFromDBSnapshot" and ":snapshot:" in a.resource
    ]
    region = run.function.environment["DESTINATION_REGION"]
    prefix = run.function.environment["SNAPSHOT_PREFIX"]
    owner = run.function.environment["OWNER_TAG_VALUE"]
    foreign = []
    for name, tags in (
        (f"{prefix}-ledger-db-20261125-1400", {"team": "dba"}),  # a person's copy, our naming, no ownership tag
        (f"{prefix}-ledger-db-20261125-1500", {"rds-snapshot-dr:owner": f"{owner}-other"}),  # another instance's
        ("ledger-db-before-migration", {"rds-snapshot-dr:owner": owner}),  # a manual snapshot, another name
    ):
        arn = f"arn:aws:rds:{region}:{run.where.account}:snapshot:{name}"
        foreign.append(replace(auth, resource=arn, context=tag_context(arn, tags)))
    verdicts = judge(foreign, operator_policies(run, document), run.where.account)
    assert [v.result for v in verdicts] == ["ImplicitlyDenied"] * 3


def test_without_the_tag_statement_the_restore_is_denied(restored):
    """The judgement can fail: the restored database's tags are authorized on their own."""
    run, calls, _printed, document = restored
    trimmed = {**document, "Statement": [s for s in document["Statement"] if s.get("Sid") != "TagRestoredDatabases"]}
    auths = [a for call in calls for a in authorizations(call, run.where) if a.action == "rds:AddTagsToResource"]
    assert auths
    assert {v.result for v in judge(auths, operator_policies(run, trimmed), run.where.account)} == {"ImplicitlyDenied"}
