"""Lint the IAM policies the module really renders with parliament, against a committed allowlist.

    .venv/bin/python scripts/iam_lint.py            apply examples/complete on the local stand-in, lint
    .venv/bin/python scripts/iam_lint.py --policies DIR   lint the *.json policy documents in DIR

The policies are the ones Terraform renders and AWS would store: examples/complete (instances, a
cluster, tag selection, an existing key and topic) is applied against the moto stand-in
(tests/integration/stand_in.py), and every inline and attached permission policy of the roles the
module created is read back from IAM (trust policies are not permission policies: parliament
lints identity policies). The moto server, and the state with it, is thrown away afterwards.
Nothing talks to AWS.

parliament (https://github.com/duo-labs/parliament) knows each action's resource types and condition
keys from the Service Authorization Reference. A finding fails the run unless an entry of
tests/iam-lint-allowlist.json explains it (issue, policy, match, reason); an entry that no longer
matches anything fails the run too, so the allowlist cannot outlive what it excuses.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[1]
ALLOWLIST = REPO / "tests" / "iam-lint-allowlist.json"
# examples/complete exercises every statement the role policy can have (listed instances and a
# cluster, tag selection, an existing key with its grant, an existing topic); one apply keeps the
# stage to a few minutes.
EXAMPLES = ("complete",)
ROLE_MARKER = "-rds-snapshot-dr"  # every role the module creates: "<name>-rds-snapshot-dr[-suffix]"


@dataclass(frozen=True)
class Finding:
    policy: str  # e.g. "complete/payments-rds-snapshot-dr/inline:payments-rds-snapshot-dr"
    issue: str  # parliament's issue code, e.g. RESOURCE_MISMATCH
    detail: str  # parliament's detail, as JSON text

    def __str__(self) -> str:
        return f"{self.issue} in {self.policy}: {self.detail}"


def lint(policies: Mapping[str, str]) -> list[Finding]:
    """parliament's findings for each policy document (name -> JSON text)."""
    from parliament import analyze_policy_string  # imported here: only this stage needs parliament

    found: list[Finding] = []
    for name, document in sorted(policies.items()):
        analysed = analyze_policy_string(document, include_community_auditors=False)
        for finding in analysed.findings:
            found.append(Finding(name, finding.issue, json.dumps(finding.detail, sort_keys=True, default=str)))
    return found


def load_allowlist(path: Path = ALLOWLIST) -> list[dict[str, str]]:
    entries = json.loads(path.read_text())
    for index, entry in enumerate(entries):
        missing = {"issue", "policy", "match", "reason"} - set(entry)
        if missing:
            raise ValueError(f"{path.name} entry {index} lacks {', '.join(sorted(missing))}")
        if len(entry["reason"].strip()) < 20:
            raise ValueError(f"{path.name} entry {index} ({entry['issue']}) needs a reason a reviewer can check")
    return entries


def _explains(entry: Mapping[str, str], finding: Finding) -> bool:
    return entry["issue"] == finding.issue and entry["policy"] in finding.policy and entry["match"] in finding.detail


def judge(found: Iterable[Finding], allowlist: list[dict[str, str]]) -> tuple[list[Finding], list[dict[str, str]]]:
    """(findings no entry explains, entries that explain no finding)."""
    found = list(found)
    unexplained = [f for f in found if not any(_explains(entry, f) for entry in allowlist)]
    stale = [entry for entry in allowlist if not any(_explains(entry, f) for f in found)]
    return unexplained, stale


def _document(value: Any) -> str:
    """IAM returns policy documents URL-encoded (boto3 decodes some, moto may not)."""
    if isinstance(value, str):
        return json.dumps(json.loads(unquote(value)), sort_keys=True)
    return json.dumps(value, sort_keys=True)


def rendered_policies(example: str, workdir: Path, server: Any) -> dict[str, str]:
    """Apply one example on the stand-in and read back its roles' permission policies."""
    from stand_in import Aws, Estate, Terraform

    estate = Estate()
    terraform = Terraform(REPO / "examples" / example, workdir, server.endpoint, estate.variables(), workdir / "tf.log")
    terraform.init()
    terraform.apply()
    iam = Aws(server.endpoint).client("iam", estate.source_region)
    policies: dict[str, str] = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            if ROLE_MARKER not in name:
                continue
            for label, document in role_policy_documents(iam, name).items():
                policies[f"{example}/{name}/{label}"] = document
    return policies


def managed_policy_document(iam: Any, arn: str) -> str:
    """The default version of a managed policy, as JSON text."""
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    return _document(version["PolicyVersion"]["Document"])


def role_policy_documents(iam: Any, role_name: str) -> dict[str, str]:
    """A role's permission policies as JSON text: "inline:<name>" and "attached:<name>" -> document."""
    documents = {}
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        documents[f"inline:{policy_name}"] = _document(document)
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        documents[f"attached:{attached['PolicyName']}"] = managed_policy_document(iam, attached["PolicyArn"])
    return documents


def render_all(keep: Path | None) -> dict[str, str]:
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from stand_in import MotoServer

    with tempfile.TemporaryDirectory(prefix="iam-lint-") as scratch:
        base = Path(scratch)
        policies: dict[str, str] = {}
        with MotoServer(base / "moto-server.log") as server:
            for example in EXAMPLES:
                policies.update(rendered_policies(example, base / example, server))
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for name, document in policies.items():
            (keep / (name.replace("/", "__").replace(":", "_") + ".json")).write_text(document + "\n")
    return policies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policies", type=Path, help="lint the *.json documents in this directory instead")
    parser.add_argument("--keep", type=Path, help="also write the rendered policies to this directory")
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    args = parser.parse_args(argv)

    if args.policies:
        policies = {path.stem: path.read_text() for path in sorted(args.policies.glob("*.json"))}
    else:
        policies = render_all(args.keep)
    if not policies:
        print("iam-lint: no policies to lint", file=sys.stderr)
        return 1
    unexplained, stale = judge(lint(policies), load_allowlist(args.allowlist))
    print(f"iam-lint: {len(policies)} policies linted with parliament")
    for finding in unexplained:
        print(f"  FINDING {finding}")
    for entry in stale:
        print(f"  STALE allowlist entry {entry['issue']} / {entry['policy']} / {entry['match']}: matches no finding")
    if unexplained or stale:
        print(f"iam-lint: {len(unexplained)} unexplained finding(s), {len(stale)} stale allowlist entr(y/ies)")
        return 1
    print("iam-lint: no findings outside the allowlist")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
