"""The README is the module's front door: its tables must say what the code does."""

from __future__ import annotations

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
