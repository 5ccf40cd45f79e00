"""What a rollout costs in Terraform resources, as the docs state it, counted in an applied example.

examples/for-each applies one module instance per database; `terraform state list` after the apply
holds each instance's managed resources under module.rds_snapshot_dr["<database>"].
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.authz

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def managed_per_instance(addresses: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for address in addresses:
        match = re.match(r'module\.rds_snapshot_dr\["([^"]+)"\]\.(.+)$', address)
        if match and not re.search(r"(^|\.)data\.", match.group(2)):
            counts[match.group(1)] += 1
    return counts


def test_the_count_reads_managed_resources_only():
    addresses = [
        'module.rds_snapshot_dr["a"].aws_lambda_function.this',
        'module.rds_snapshot_dr["a"].data.aws_iam_policy_document.function',
        'module.rds_snapshot_dr["a"].module.destination_kms_key[0].aws_kms_key.this',
        'module.rds_snapshot_dr["a"].module.destination_kms_key[0].data.aws_caller_identity.current',
        "module.destination_key.aws_kms_key.this",
    ]
    assert managed_per_instance(addresses) == {"a": 2}


def test_the_docs_state_the_resources_each_database_costs(deployments):
    listed = deployments["for-each"].terraform.run("state", "list").stdout.split()
    per_instance = managed_per_instance(listed)
    assert len(per_instance) == 3, per_instance
    assert len(set(per_instance.values())) == 1, per_instance
    (count,) = set(per_instance.values())
    claims = {
        f"{doc.name}: {match.group(0)}": int(match.group(1))
        for doc in DOCS
        for match in re.finditer(
            r"\b(\d+) (?:new )?(?:resources (?:per|for each|to review)|per database)", doc.read_text()
        )
    }
    assert claims, "the docs no longer state what a database costs in resources"
    assert {claim: value for claim, value in claims.items() if value != count} == {}
