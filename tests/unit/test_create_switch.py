"""`create = false` must remove everything: every resource and module call of the root module is counted
by the create switch, so a resource added later cannot forget it (tests/create.tftest.hcl proves the plan
is empty of them)."""

from __future__ import annotations

from pathlib import Path

import hcl2
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, preserve_heredocs=False, strip_string_quotes=True
)
# Reads of the account and regions that cost nothing and that locals need even when nothing is created.
ALWAYS_READ = {"data.aws_region", "data.aws_caller_identity", "data.aws_partition"}


def root_blocks() -> dict[str, dict]:
    """Every resource, data source and module call of the root module, by address."""
    blocks: dict[str, dict] = {}
    for path in sorted(ROOT.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=OPTIONS)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    blocks[f"{kind}.{name}"] = body
        for block in parsed.get("data", []):
            for kind, named in block.items():
                if f"data.{kind}" in ALWAYS_READ:
                    continue
                for name, body in named.items():
                    blocks[f"data.{kind}.{name}"] = body
        for block in parsed.get("module", []):
            for name, body in block.items():
                blocks[f"module.{name}"] = body
    return blocks


def test_the_root_module_has_resources_to_switch():
    assert len(root_blocks()) > 20


def test_every_resource_module_and_data_source_follows_the_create_switch():
    forgotten = [
        address
        for address, body in root_blocks().items()
        if "local.create" not in str(body.get("count", "")) and "local.create" not in str(body.get("for_each", ""))
    ]
    assert forgotten == []
