"""Bring your own role: the policy docs/bring-your-own-role.md tells a platform team to write, judged.

With `create_role = false` a person writes the function's role from the page, not from the module. So
the page's own text is what must work: its fenced ```json blocks are parsed, the placeholders filled in
with a deployment's account, regions, names and key, and every request the deployed function made in
its recorded cycle (and in preflight) is judged by the real IAM evaluator against that policy instead of
the one Terraform rendered. The same policy with one action dropped must deny a request, so the check
can fail; and the page's policy must be the rendered one, statement by statement, so it cannot drift
(actions the cycle never exercises, such as the logs, X-Ray and dead-letter permissions Lambda uses on
the function's behalf, are held by that comparison).
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
from typing import Any

import pytest
from authorizations import Authorization
from deployment import RecordedRun, run_preflight
from judge import Policies, judge, run_evaluator, simulation, write_report
from stand_in import REPO

pytestmark = pytest.mark.authz

DOC = REPO / "docs" / "bring-your-own-role.md"
# The page writes its policy for a default configuration with instance targets listed by name:
# examples/basic is exactly that.
EXAMPLE = "basic"


def _json_blocks() -> list[dict[str, Any]]:
    blocks = re.findall(r"^```json\n(.*?)^```$", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)
    return [json.loads(block) for block in blocks]


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy["Statement"]
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def doc_policies() -> tuple[dict[str, Any], dict[str, Any]]:
    """(trust policy, permissions policy) as the page writes them, placeholders and all."""
    trust, permissions = [], []
    for block in _json_blocks():
        assumes = any("sts:AssumeRole" in _as_list(s.get("Action", [])) for s in _statements(block))
        (trust if assumes else permissions).append(block)
    assert len(trust) == 1, "the page has one trust policy (a ```json block allowing sts:AssumeRole)"
    assert len(permissions) == 1, "the page has one permissions policy (the other ```json block)"
    return trust[0], permissions[0]


def placeholders(run: RecordedRun) -> dict[str, list[str]]:
    """What each placeholder of the page stands for in this deployment (a list: one Resource entry each)."""
    env = run.function.environment
    return {
        "<account-id>": [run.where.account],
        "<source-region>": [env["SOURCE_REGION"]],
        "<destination-region>": [env["DESTINATION_REGION"]],
        "<snapshot-prefix>": [env["SNAPSHOT_PREFIX"]],
        "<name>": [env["OWNER_TAG_VALUE"]],
        "<db-instance-id>": [i.lower() for i in env["DB_INSTANCE_IDENTIFIERS"].split(",") if i],
        "<destination-key-arn>": [env["DESTINATION_KMS_KEY_ARN"]],
        "<role-arn>": [run.where.role_arn],
    }


def fill(value: Any, values: dict[str, list[str]]) -> Any:
    """The page's policy with its placeholders replaced; a string with a many-valued placeholder becomes
    one string per value (a Resource list)."""
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        filled = []
        for item in value:
            result = fill(item, values)
            filled.extend(result if isinstance(item, str) and isinstance(result, list) else [result])
        return filled
    if not isinstance(value, str):
        return value
    found = re.findall(r"<[a-z-]+>", value)
    unknown = sorted(set(found) - set(values))
    assert not unknown, f"placeholders the page uses but does not explain to this test: {unknown}"
    results = [value]
    for placeholder in dict.fromkeys(found):
        results = [r.replace(placeholder, v) for r in results for v in values[placeholder]]
    return results[0] if len(results) == 1 else results


def doc_permissions(run: RecordedRun) -> dict[str, Any]:
    return fill(doc_policies()[1], placeholders(run))


def with_identity(run: RecordedRun, policy: dict[str, Any]) -> Policies:
    """The deployment's principal, key policies and grants, with `policy` as its only identity policy."""
    return Policies(
        run.policies.principal,
        [{"name": "docs/bring-your-own-role.md", "policy": policy}],
        None,
        run.policies.key_policies,
        run.policies.grants,
    )


def without_action(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """`policy` with `action` taken out of every statement (a statement left with none is dropped)."""
    statements = []
    for statement in _statements(policy):
        actions = [a for a in _as_list(statement["Action"]) if a != action]
        if actions:
            statements.append({**statement, "Action": actions})
    return {**policy, "Statement": statements}


def _matches(pattern: str, action: str) -> bool:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.match(regex, action, re.IGNORECASE) is not None


@pytest.fixture(scope="module")
def run(recorded) -> RecordedRun:
    runs = recorded[EXAMPLE]
    assert len(runs) == 1
    return runs[0]


@pytest.fixture(scope="module")
def auths(run) -> list[Authorization]:
    found = run.authorizations()
    assert run.unknown == [], "authorizations.py does not know these requests: map them"
    return found


def test_the_trust_policy_lets_lambda_assume_the_role():
    trust, _permissions = doc_policies()
    (statement,) = _statements(trust)
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert _as_list(statement["Action"]) == ["sts:AssumeRole"]


def test_the_doc_policy_allows_every_request_the_function_makes(run, auths):
    verdicts = judge(auths, with_identity(run, doc_permissions(run)), run.where.account)
    denied = [v.describe() for v in verdicts if not v.allowed]
    assert denied == [], "denied with the policy docs/bring-your-own-role.md writes:\n" + "\n".join(denied)
    judged = collections.Counter((v.auth.request, v.auth.action) for v in verdicts)
    # the cycle's requests, KMS through RDS and the copy-waiting switch among them
    assert judged[("rds:CreateDBSnapshot", "rds:CreateDBSnapshot")] > 0
    assert judged[("rds:CopyDBSnapshot", "kms:CreateGrant")] > 0
    assert judged[("rds:DeleteDBSnapshot", "rds:DeleteDBSnapshot")] > 0
    assert judged[("scheduler:UpdateSchedule", "iam:PassRole")] > 0
    write_report("authz-judged-byo-role.txt", f"{EXAMPLE}'s cycle against docs/bring-your-own-role.md", judged)


def test_preflight_passes_with_the_doc_policy(run):
    """preflight simulates every permission the function needs against the role: with the page's policy
    as the role's only policy, every check passes and preflight's own requests are allowed."""
    from authorizations import authorizations

    policies = with_identity(run, doc_permissions(run))
    result, calls = run_preflight(run.deployed, run, policies)
    checks = [c for c in result["checks"] if c["check"].startswith("permission ")]
    assert len(checks) > 10
    assert [f"{c['check']}: {c['detail']}" for c in checks if c["status"] != "pass"] == []
    judged = judge([a for call in calls for a in authorizations(call, run.where)], policies, run.where.account)
    assert {v.auth.request for v in judged} >= {"iam:GetRole", "iam:SimulatePrincipalPolicy"}
    assert [v.describe() for v in judged if not v.allowed] == []


def test_the_doc_policy_without_one_action_denies_a_request(run, auths):
    """The check can fail: each action the cycle exercises, taken out of the page's policy, denies at least
    one of the function's requests. One evaluator run judges every variant. The destination key's own
    policy names the role (the key the module creates), so its KMS requests are allowed without the
    identity policy: KMS actions are judged on the source database's key, whose policy leaves it to IAM."""
    policy = doc_permissions(run)
    actions = sorted({a for s in _statements(policy) for a in _as_list(s["Action"])})
    exercised = [a for a in actions if any(_matches(a, auth.action) for auth in auths)]
    assert {"rds:CopyDBSnapshot", "rds:DeleteDBSnapshot", "kms:CreateGrant", "iam:PassRole"} <= set(exercised)

    batch, owner = [], []
    for action in exercised:
        variant = with_identity(run, without_action(policy, action))
        for auth in auths:
            if _matches(action, auth.action):
                owner.append(action)
                batch.append({"id": str(len(batch)), "simulation": simulation(auth, variant, run.where.account)})
    out = run_evaluator({"simulations": batch})
    denied = collections.Counter(owner[int(item["id"])] for item in out["simulations"] if item["result"] != "Allowed")

    still_allowed = [a for a in exercised if denied[a] == 0]
    assert still_allowed == [], "taken out of the page's policy, these actions denied none of the requests"


def test_dropping_copy_db_snapshot_names_the_copy_as_denied(run, auths):
    """The denial a reader would see: without rds:CopyDBSnapshot the cycle's copies are denied."""
    policy = without_action(doc_permissions(run), "rds:CopyDBSnapshot")
    verdicts = judge(auths, with_identity(run, policy), run.where.account)
    denied = {(v.auth.request, v.auth.action) for v in verdicts if not v.allowed}
    assert denied == {("rds:CopyDBSnapshot", "rds:CopyDBSnapshot")}


def _normalized(policy: dict[str, Any]) -> dict[str, Any]:
    """Statements by Sid, every list sorted and every single value a list (how IAM reads them)."""
    out = {}
    for statement in _statements(policy):
        out[statement["Sid"]] = {
            "Effect": statement["Effect"],
            "Action": sorted(_as_list(statement["Action"])),
            "Resource": sorted(_as_list(statement["Resource"])),
            "Condition": {
                test: {key: sorted(_as_list(values)) for key, values in keys.items()}
                for test, keys in statement.get("Condition", {}).items()
            },
        }
    return out


def test_the_doc_policy_is_the_rendered_policy(run):
    """The page cannot drift from the module: filled in for examples/basic, its policy is the rendered
    one statement by statement (actions, resources, conditions), including what the cycle never asks."""
    (rendered,) = run.policies.identity
    documented, module = _normalized(doc_permissions(run)), _normalized(rendered["policy"])
    assert sorted(set(module) - set(documented)) == [], "rendered, but not in docs/bring-your-own-role.md"
    assert sorted(set(documented) - set(module)) == [], "in docs/bring-your-own-role.md, but not rendered"
    differing = {
        sid: {"doc": documented[sid], "module": module[sid]} for sid in module if documented[sid] != module[sid]
    }
    assert differing == {}


def _module_output(run: RecordedRun, name: str) -> Any:
    """An output of the root module's `rds_snapshot_dr` block, read from the applied state."""
    terraform = run.deployed.terraform
    shown = subprocess.run(  # noqa: S603 - terraform, with our arguments
        [terraform.binary, "console", "-no-color"],
        input=f"jsonencode(module.rds_snapshot_dr.{name})\n",
        cwd=terraform.workdir,
        env=terraform.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(json.loads(shown.stdout.strip()))


@pytest.mark.parametrize("example", ["basic", "complete"])
def test_function_policy_json_is_what_the_module_role_carries(recorded, example):
    """The output a platform team builds its role from holds every statement of the module's own role:
    its inline policy and, with the drill (examples/complete), the drill's policy, in one document."""
    if example not in recorded:
        pytest.skip(f"{example} not deployed (AUTHZ_ROOT_MODULES)")
    (run,) = recorded[example]
    output = json.loads(_module_output(run, "function_policy_json"))
    carried = {
        "Version": "2012-10-17",
        "Statement": [s for p in run.policies.identity for s in _statements(p["policy"])],
    }
    assert _normalized(output) == _normalized(carried)
    assert json.loads(_module_output(run, "function_trust_policy_json"))["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }
