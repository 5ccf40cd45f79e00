"""An example applied on the local stand-in, its function driven through a recorded cycle, and the
policies Terraform rendered read back from the stand-in."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from authorizations import Authorization, Where, authorizations, existing_resources
from judge import Policies, judge
from recorder import Call, Recorder
from stand_in import (
    ACCOUNT_ID,
    REPO,
    Aws,
    Cycle,
    DeployedFunction,
    Estate,
    MotoServer,
    Terraform,
    run_cycle,
    seed_estate,
    seed_history,
)

import iam_lint

# The round the cycle runs: this hour, as in the integration stage. The function and the stand-in both
# run on the machine's clock (moto dates what it creates by it), so a fixed past round would age into
# the retention as the calendar moves.
SCHEDULED = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
ROOT_MODULES = {
    "basic": REPO / "examples" / "basic",
    "by-tag": REPO / "examples" / "by-tag",
    "for-each": REPO / "examples" / "for-each",
    "complete": REPO / "examples" / "complete",
    "boundary": Path(__file__).resolve().parent / "boundary",
}


def authz_estate() -> Estate:
    """The integration estate, with the databases every example selects: by name (basic, complete,
    for-each) and by the tag dr-protect = daily (by-tag), instances and clusters alike."""
    return Estate(
        instances={
            "orders-db": ("postgres", {}),
            "payments-db": ("postgres", {}),
            "ledger-db": ("mysql", {}),
            "billing-db": ("postgres", {"dr-protect": "weekly"}),
            "cards-db": ("mysql", {"dr-tier": "gold", "dr-protect": "daily"}),
            "analytics-scratch": ("mysql", {"dr-tier": "silver"}),
        },
        clusters={"settlement-aurora": "aurora-postgresql", "inventory-aurora": "aurora-mysql"},
    )


# Clusters the estate tags after creation (seed_estate tags clusters with team only).
CLUSTER_TAGS = {"settlement-aurora": {"dr-protect": "daily"}}


def seed(aws: Aws, estate: Estate) -> None:
    seed_estate(aws, estate)
    rds = aws.client("rds", estate.source_region)
    for cluster, tags in CLUSTER_TAGS.items():
        arn = f"arn:aws:rds:{estate.source_region}:{ACCOUNT_ID}:cluster:{cluster}"
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def read_policies(aws: Aws, function: DeployedFunction, role_arn: str, key_arns: list[str]) -> Policies:
    """What decides the function's requests, as the stand-in holds it after apply."""
    iam = aws.client("iam", function.region)
    role_name = role_arn.rsplit("/", 1)[-1]
    identity = [
        {"name": label.split(":", 1)[1], "policy": json.loads(document)}
        for label, document in iam_lint.role_policy_documents(iam, role_name).items()
    ]
    boundary = None
    boundary_arn = iam.get_role(RoleName=role_name)["Role"].get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    if boundary_arn:
        boundary = json.loads(iam_lint.managed_policy_document(iam, boundary_arn))
    policies = Policies(principal=role_arn, identity=identity, boundary=boundary)
    for key_arn in key_arns:
        kms = aws.client("kms", key_arn.split(":")[3])
        policies.key_policies[key_arn] = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
        policies.grants[key_arn] = kms.list_grants(KeyId=key_arn).get("Grants", [])
    return policies


# resource type -> describe method, its identifier parameter, list key and key field
DESCRIBE = {
    "snapshot": ("describe_db_snapshots", "DBSnapshotIdentifier", "DBSnapshots", "KmsKeyId"),
    "cluster-snapshot": (
        "describe_db_cluster_snapshots",
        "DBClusterSnapshotIdentifier",
        "DBClusterSnapshots",
        "KmsKeyId",
    ),
    "db": ("describe_db_instances", "DBInstanceIdentifier", "DBInstances", "KmsKeyId"),
    "cluster": ("describe_db_clusters", "DBClusterIdentifier", "DBClusters", "KmsKeyId"),
}


def lookup(aws: Aws) -> Any:
    """For the recorder: a resource's tags and key before a request, read from the stand-in."""

    def state(region: str, arn: str) -> dict[str, Any]:
        rds = aws.client("rds", region)
        try:
            tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
        except Exception:  # a resource that does not exist (yet, or any more) has no tags
            return {"exists": False, "tags": {}}
        found: dict[str, Any] = {"exists": True, "tags": tags}
        kind, identifier = arn.split(":")[5], arn.split(":", 6)[6]
        if kind in DESCRIBE:
            method, param, key, field_name = DESCRIBE[kind]
            items = getattr(rds, method)(**{param: identifier})[key]
            item = items[0] if items else {}
            found["kms_key_id"] = item.get(field_name)
            found["engine"] = item.get("Engine")
            found["engine_version"] = item.get("EngineVersion")
        return found

    return state


@dataclass
class RecordedRun:
    """One deployed function's recorded cycle."""

    example: str
    function: DeployedFunction
    cycle: Cycle
    calls: list[Call]
    where: Where
    policies: Policies
    deployed: Deployed
    unknown: list[str] = field(default_factory=list)

    def authorizations(self) -> list[Authorization]:
        found: list[Authorization] = []
        for call in self.calls:
            try:
                found.extend(authorizations(call, self.where))
            except KeyError:
                self.unknown.append(f"{call.label}: {call.service}:{call.operation}")
        return found


def function_names(aws: Aws, region: str) -> list[str]:
    return sorted(f["FunctionName"] for f in aws.client("lambda", region).list_functions()["Functions"])


@dataclass
class Deployed:
    """A root module applied on its own stand-in (one moto server each, so deployments run side by side)."""

    name: str
    server: MotoServer
    aws: Aws
    estate: Estate
    terraform: Terraform


# What a provider says when it retried a create the stand-in had already done but answered too late: moto
# under the load of several applies side by side, not the module (the create succeeded the first time).
_STAND_IN_TOO_SLOW = "already exists"


def deploy(name: str, root_module: Path, workdir: Path, variables: dict[str, Any] | None = None) -> Deployed:
    """Start a stand-in, seed the estate and `terraform apply` the root module (its own moto server).

    An apply that failed only because the provider retried a create into "already exists" is made once
    more on a fresh stand-in (said on stderr); any other failure, or a second one, is raised."""
    try:
        return _deploy(name, root_module, workdir / "first", variables)
    except RuntimeError as error:
        if _STAND_IN_TOO_SLOW not in str(error):
            raise
        print(
            f"{name}: the stand-in answered a create too late (the provider's retry hit 'already exists'); "
            "applying once more on a fresh stand-in",
            file=sys.stderr,
        )
        return _deploy(name, root_module, workdir / "again", variables)


def _deploy(name: str, root_module: Path, workdir: Path, variables: dict[str, Any] | None) -> Deployed:
    workdir.mkdir(parents=True, exist_ok=True)
    server = MotoServer(workdir / "moto-server.log").start()
    try:
        aws = Aws(server.endpoint)
        estate = authz_estate()
        seed(aws, estate)
        terraform = Terraform(
            root_module,
            workdir / "root",
            server.endpoint,
            {**estate.variables(), **(variables or {})},
            workdir / "terraform.log",
        )
        terraform.init()
        terraform.apply()
    except BaseException:
        server.stop()
        raise
    return Deployed(name, server, aws, estate, terraform)


def record(deployed: Deployed, scheduled: datetime) -> list[RecordedRun]:
    """Run every deployed function through a recorded cycle (in this process: one at a time)."""
    aws, estate = deployed.aws, deployed.estate
    runs = []
    for name in function_names(aws, estate.source_region):
        function = DeployedFunction.read(aws, estate.source_region, name)
        role_arn = aws.client("lambda", estate.source_region).get_function_configuration(FunctionName=name)["Role"]
        if function.environment.get("DB_INSTANCE_IDENTIFIERS"):
            seed_history(aws, estate, function)
        where = Where(account=ACCOUNT_ID, partition="aws", role_arn=role_arn)
        recorder = Recorder(lookup(aws), existing_resources(where))
        # Unpaced: the function's rate budget counts its pauses without sleeping them (what is sent is
        # judged here, not when; the integration stage keeps the pacing real).
        cycle = run_cycle(aws, function, scheduled, progress=lambda _text: None, record=recorder.recording, paced=False)
        keys = [function.environment["DESTINATION_KMS_KEY_ARN"], estate.storage_key_arn]
        policies = read_policies(aws, function, role_arn, keys)
        runs.append(RecordedRun(deployed.name, function, cycle, recorder.calls, where, policies, deployed))
    return runs


def simulator(run: RecordedRun, policies: Policies) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """iam:SimulatePrincipalPolicy answered by the real evaluator over `policies` (moto has no simulator):
    one decision per resource, with the context entries the caller passed."""

    def answer(params: dict[str, Any]) -> dict[str, Any]:
        context: dict[str, str | list[str]] = {}
        for entry in params.get("ContextEntries", []):
            values = list(entry["ContextKeyValues"])
            context[entry["ContextKeyName"]] = values if entry["ContextKeyType"].endswith("List") else values[0]
        results = []
        for action in params["ActionNames"]:
            call = Call("preflight simulation", action.split(":")[0], action.split(":")[1], run.function.region, {})
            auths = [Authorization(action, arn, dict(context), call) for arn in params.get("ResourceArns") or ["*"]]
            # AWS's simulator judges the identity policies and the boundary, and a resource policy only
            # when one is passed (preflight passes none). iam-simulate judges a KMS request against the
            # key policy too, so give it one that leaves the decision to IAM.
            simulated = Policies(policies.principal, policies.identity, policies.boundary)
            for auth in auths:
                if auth.action.startswith("kms:"):
                    auth.key_arn = auth.resource
                    simulated.key_policies[auth.resource] = delegating_key_policy(run.where.account)
            verdicts = judge(auths, simulated, run.where.account)
            decisions = [
                {
                    "EvalResourceName": v.auth.resource,
                    "EvalResourceDecision": "allowed" if v.allowed else DECISION.get(v.result, "implicitDeny"),
                }
                for v in verdicts
            ]
            overall = "allowed" if all(d["EvalResourceDecision"] == "allowed" for d in decisions) else "implicitDeny"
            results.append({"EvalActionName": action, "EvalDecision": overall, "ResourceSpecificResults": decisions})
        return {"EvaluationResults": results, "IsTruncated": False}

    return answer


DECISION = {"ExplicitlyDenied": "explicitDeny", "ImplicitlyDenied": "implicitDeny"}


def delegating_key_policy(account: str) -> dict[str, Any]:
    """A key policy that lets the account's IAM policies decide (KMS's default key policy)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableIAMPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def run_preflight(deployed: Deployed, run: RecordedRun, policies: Policies) -> tuple[dict[str, Any], list[Call]]:
    """The function's preflight action, its permission checks judged by the evaluator over `policies`."""
    recorder = Recorder(lookup(deployed.aws), existing_resources(run.where))
    recorder.responders["iam:SimulatePrincipalPolicy"] = simulator(run, policies)
    # In Lambda the function runs as its role: the identity preflight derives the role from.
    role = run.where.role_arn.rsplit("/", 1)[-1]
    recorder.responders["sts:GetCallerIdentity"] = lambda _params: {
        "Arn": f"arn:aws:sts::{run.where.account}:assumed-role/{role}/{run.function.name}",
        "Account": run.where.account,
        "UserId": f"AROAEXAMPLE:{run.function.name}",
    }
    with run.function.loaded(deployed.aws.endpoint, paced=False) as invoke, recorder.recording("preflight"):
        invocation = invoke({"action": "preflight"})
    if invocation.error:
        raise AssertionError(f"preflight failed: {invocation.error}\n{invocation.output[-2000:]}")
    return invocation.result or {}, recorder.calls
