"""Judge authorizations with the IAM policy evaluator (evaluator/judge.mjs), against rendered policies.

The policies are the ones Terraform rendered and the stand-in holds after `terraform apply`, read back
with the AWS APIs (never re-derived from the .tf files): the role's inline and attached policies, its
permissions boundary, and the destination key's key policy and grants.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authorizations import Authorization

EVALUATOR = Path(__file__).resolve().parent / "evaluator"


class EvaluatorMissing(RuntimeError):
    pass


def evaluator_command() -> list[str]:
    node = shutil.which("node")
    if node is None:
        raise EvaluatorMissing("node is not on PATH: the authorization stage needs Node.js >= 18")
    if not (EVALUATOR / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        raise EvaluatorMissing(
            f"the IAM policy evaluator is not installed: run `npm ci --prefix {EVALUATOR}` (scripts/test does)"
        )
    return [node, str(EVALUATOR / "judge.mjs")]


def run_evaluator(batch: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - node and our script
        evaluator_command(), input=json.dumps(batch), capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"the evaluator failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


@dataclass
class Policies:
    """Everything that decides what one principal may do."""

    principal: str
    identity: list[dict[str, Any]]  # [{"name", "policy"}]
    boundary: dict[str, Any] | None = None
    # key ARN -> key policy; key ARN -> grants as KMS lists them
    key_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def grant_statements(grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """KMS grants as the policy statements they are equivalent to (KMS Developer Guide, "Grants in AWS
    KMS"): the grantee may perform the grant's operations on the key, and a CreateGrant through a grant
    may only pass on operations the grant itself allows (kms:GrantOperations). Encryption-context
    constraints become kms:EncryptionContext conditions."""
    statements = []
    for grant in grants:
        operations = list(grant.get("Operations", []))
        condition: dict[str, Any] = {}
        constraints = grant.get("Constraints") or {}
        for key, value in (constraints.get("EncryptionContextEquals") or {}).items():
            condition.setdefault("StringEquals", {})[f"kms:EncryptionContext:{key}"] = value
        for key, value in (constraints.get("EncryptionContextSubset") or {}).items():
            condition.setdefault("StringEquals", {})[f"kms:EncryptionContext:{key}"] = value
        plain = [op for op in operations if op != "CreateGrant"]
        sid = f"Grant{(grant.get('Name') or grant.get('GrantId', ''))[:40]}".replace("-", "")
        if plain:
            statements.append(
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Principal": {"AWS": grant["GranteePrincipal"]},
                    "Action": [f"kms:{op}" for op in plain],
                    "Resource": "*",
                    **({"Condition": condition} if condition else {}),
                }
            )
        if "CreateGrant" in operations:
            create_condition = {**condition, "ForAllValues:StringEquals": {"kms:GrantOperations": operations}}
            statements.append(
                {
                    "Sid": f"{sid}CreateGrant",
                    "Effect": "Allow",
                    "Principal": {"AWS": grant["GranteePrincipal"]},
                    "Action": "kms:CreateGrant",
                    "Resource": "*",
                    "Condition": create_condition,
                }
            )
    return statements


def simulation(auth: Authorization, policies: Policies, account: str) -> dict[str, Any]:
    """iam-simulate's input for one authorization."""
    context: dict[str, Any] = {
        "aws:PrincipalArn": policies.principal,
        "aws:PrincipalAccount": account,
        "aws:SecureTransport": "true",
    }
    # The region of the endpoint the request went to (a KMS request through RDS: the key's region).
    region = auth.resource.split(":")[3] if auth.key_arn else auth.call.region
    context["aws:RequestedRegion"] = region or "us-east-1"
    context.update(auth.context)
    sim: dict[str, Any] = {
        "request": {
            "principal": policies.principal,
            "action": auth.action,
            "resource": {"resource": auth.resource, "accountId": account},
            "contextVariables": context,
        },
        "identityPolicies": policies.identity,
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
    }
    if policies.boundary is not None:
        sim["permissionBoundaryPolicies"] = [{"name": "boundary", "policy": policies.boundary}]
    if auth.key_arn:
        key_policy = policies.key_policies.get(auth.key_arn)
        if key_policy is None:
            raise KeyError(f"no key policy read for {auth.key_arn}")
        statements = list(key_policy.get("Statement", []))
        statements += grant_statements(policies.grants.get(auth.key_arn, []))
        sim["resourcePolicy"] = {"Version": "2012-10-17", "Statement": statements}
    return sim


@dataclass
class Verdict:
    auth: Authorization
    result: str
    allowed_by: list[str]
    denied_by: list[str]
    errors: Any = None

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"

    def describe(self) -> str:
        context = ", ".join(f"{k}={v}" for k, v in sorted(self.auth.context.items()))
        return (
            f"{self.auth.call.label}: {self.auth.request} -> {self.auth.action} on {self.auth.resource}"
            f" [{context}] => {self.result}"
            + (f" (errors: {json.dumps(self.errors)[:300]})" if self.errors else "")
            + (f" ({self.auth.why})" if self.auth.why else "")
        )


def judge(auths: list[Authorization], policies: Policies, account: str) -> list[Verdict]:
    batch = {
        "simulations": [{"id": str(i), "simulation": simulation(a, policies, account)} for i, a in enumerate(auths)]
    }
    out = run_evaluator(batch)
    verdicts = []
    for item in out["simulations"]:
        auth = auths[int(item["id"])]
        verdicts.append(
            Verdict(auth, item["result"], item.get("allowedBy", []), item.get("deniedBy", []), item.get("errors"))
        )
    return verdicts


def lint(policies: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Statements with a condition key their action or resource type does not have."""
    out = run_evaluator({"lint": [{"id": name, "policy": policy} for name, policy in policies.items()]})
    return list(out["lint"])


# --- a request by any principal, against the resource's own policy ---------------------------------
#
# The function's role is not the only principal the module authorizes. AWS services act for it too:
# EventBridge Scheduler assumes the scheduler role (its trust policy) and invokes the function with it;
# an EventBridge rule invokes the function through the function's resource policy and writes dead letters
# through the queue's policy; CloudWatch publishes to the alarm topic through the topic policy and uses
# the topic's key through the key policy. Each such call is one Access: the principal (a service
# principal such as "scheduler.amazonaws.com", or a role), what decides it on the principal's side
# (identity policies and boundary; nothing for a service principal) and the resource's policy (a trust
# policy for sts:AssumeRole). iam-simulate allows a service principal only where the resource policy
# does, and a role of the resource's account where its identity policies (within the boundary) or the
# resource policy do, as AWS evaluates them.


def is_service_principal(principal: str) -> bool:
    return not principal.startswith("arn:") and principal.endswith((".amazonaws.com", ".amazonaws.com.cn"))


@dataclass
class Access:
    """May `principal` do `action` on `resource` (in `account`) with this context?"""

    kind: str  # what is judged, for the report: "Scheduler assumes the schedule role"
    principal: str
    action: str
    resource: str
    account: str  # the resource's account
    context: dict[str, str | list[str]] = field(default_factory=dict)
    identity: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "policy"}] of a role principal
    boundary: dict[str, Any] | None = None
    resource_policy: dict[str, Any] | None = None  # a trust, function, topic, queue, bus or key policy
    where: str = ""  # which deployed resource the call belongs to, for a failure message

    def simulation(self) -> dict[str, Any]:
        parts = self.resource.split(":")
        region = parts[3] if len(parts) > 3 and parts[3] else "us-east-1"  # IAM and STS: global
        context: dict[str, Any] = {"aws:SecureTransport": "true", "aws:RequestedRegion": region}
        if is_service_principal(self.principal):
            # What AWS puts in the context of a call a service makes with its own service principal.
            context["aws:PrincipalIsAWSService"] = "true"
            context["aws:PrincipalServiceName"] = self.principal
        else:
            context["aws:PrincipalArn"] = self.principal
            context["aws:PrincipalAccount"] = self.principal.split(":")[4]
            context["aws:PrincipalIsAWSService"] = "false"
        context.update(self.context)
        sim: dict[str, Any] = {
            "request": {
                "principal": self.principal,
                "action": self.action,
                "resource": {"resource": self.resource, "accountId": self.account},
                "contextVariables": context,
            },
            "identityPolicies": [] if is_service_principal(self.principal) else self.identity,
            "serviceControlPolicies": [],
            "resourceControlPolicies": [],
        }
        if self.boundary is not None and not is_service_principal(self.principal):
            sim["permissionBoundaryPolicies"] = [{"name": "boundary", "policy": self.boundary}]
        if self.resource_policy is not None:
            sim["resourcePolicy"] = self.resource_policy
        return sim


@dataclass
class AccessVerdict:
    access: Access
    result: str
    allowed_by: list[str]
    denied_by: list[str]
    errors: Any = None

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"

    @property
    def denied(self) -> bool:
        return self.result in ("ImplicitlyDenied", "ExplicitlyDenied")

    def describe(self) -> str:
        a = self.access
        context = ", ".join(f"{k}={v}" for k, v in sorted(a.context.items()))
        return (
            f"{a.kind} ({a.where}): {a.principal} -> {a.action} on {a.resource} [{context}] => {self.result}"
            + (f" by {', '.join(self.allowed_by)}" if self.allowed and self.allowed_by else "")
            + (
                f" (allowing statements, not enough: {', '.join(self.allowed_by)})"
                if not self.allowed and self.allowed_by
                else ""
            )
            + (f" (denied by {', '.join(self.denied_by)})" if self.denied_by else "")
            + (f" (errors: {json.dumps(self.errors)[:300]})" if self.errors else "")
        )


def judge_access(accesses: list[Access]) -> list[AccessVerdict]:
    """Judge each access with the evaluator: one batch, one verdict per access, in order."""
    if not accesses:
        return []
    out = run_evaluator({"simulations": [{"id": str(i), "simulation": a.simulation()} for i, a in enumerate(accesses)]})
    return [
        AccessVerdict(
            accesses[int(item["id"])],
            item["result"],
            item.get("allowedBy", []),
            item.get("deniedBy", []),
            item.get("errors"),
        )
        for item in out["simulations"]
    ]


REPORTS = Path(__file__).resolve().parents[2] / ".cache" / "logs"


def write_report(name: str, heading: str, judged: Counter[tuple[str, str]]) -> None:
    """What a test judged, by request -> action, for the stage's output: scripts/test prints
    .cache/logs/<name> after the tests (one file per test module, so no report depends on test order)."""
    lines = [f"{count:5d}  {request} -> {action}" for (request, action), count in sorted(judged.items())]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / name).write_text(
        f"{heading}: {sum(judged.values())} authorizations judged ({len(judged)} kinds), by request -> action:\n"
        + "\n".join(lines)
        + "\n"
    )
