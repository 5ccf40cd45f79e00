"""No IAM role of the module forgets the permissions boundary or the path its users set.

Organisations that require a boundary on every role cannot deploy a module where one role lacks it,
so every `aws_iam_role` in the module's Terraform (root and submodules) must take both inputs.
"""

from __future__ import annotations

from pathlib import Path

import hcl2
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, preserve_heredocs=False, strip_string_quotes=True
)


def module_roles() -> dict[str, dict]:
    roles: dict[str, dict] = {}
    for path in [*ROOT.glob("*.tf"), *ROOT.glob("modules/*/*.tf")]:
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        for block in parsed.get("resource", []):
            for name, body in block.get("aws_iam_role", {}).items():
                roles[f"{path.relative_to(ROOT)}: aws_iam_role.{name}"] = body
    return roles


def test_the_module_creates_roles():
    assert len(module_roles()) >= 2


def test_every_role_takes_the_boundary_and_the_path():
    for where, body in module_roles().items():
        assert body.get("permissions_boundary") == "${var.iam_role_permissions_boundary}", where
        assert body.get("path") == "${var.iam_role_path}", where
