"""The README is the module's front door: its tables must say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import readme_tables

ROOT = Path(__file__).resolve().parents[2]


def test_inputs_and_outputs_tables_match_variables_and_outputs():
    readme = (ROOT / "README.md").read_text()
    assert readme_tables.splice(readme, readme_tables.render(ROOT)) == readme, (
        "README inputs/outputs tables are out of date: run python3 scripts/readme_tables.py --write"
    )


def test_every_variable_and_output_has_a_description():
    for kind, file in (("variable", "variables.tf"), ("output", "outputs.tf")):
        for name, body in readme_tables.blocks(ROOT / file, kind):
            assert body.get("description", "").strip(), f"{kind} {name} in {file} has no description"


def test_the_tables_have_terraform_docs_markdown_table_layout():
    """The layout terraform-docs' `markdown table` formatter writes with its defaults (CONTRIBUTING.md says
    why the script writes it instead): `## Inputs` / `## Outputs`, rows sorted by name, escaped anchors."""
    tables = readme_tables.render(ROOT)
    assert tables.startswith("## Inputs\n\n| Name | Description | Type | Default | Required |\n")
    assert "\n## Outputs\n\n| Name | Description |\n|------|-------------|\n" in tables
    names = re.findall(r'<a name="input_([^"]+)"></a>', tables)
    assert names == sorted(names)
    assert len(names) == len(readme_tables.blocks(ROOT / "variables.tf", "variable"))
    assert '<a name="input_create_kms_key"></a> [create\\_kms\\_key](#input\\_create\\_kms\\_key)' in tables


def test_every_variable_type_is_shown_as_written():
    types = readme_tables._raw_types(ROOT / "variables.tf")
    assert set(types) == {name for name, _ in readme_tables.blocks(ROOT / "variables.tf", "variable")}
    assert types["retention"].startswith("object({\n")
    assert types["retention"].endswith("\n  })")
