"""The README is the module's front door: its tables must say what the code does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_tables():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "scripts" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inputs_and_outputs_tables_match_variables_and_outputs():
    tables = _readme_tables()
    readme = (ROOT / "README.md").read_text()
    assert tables.splice(readme, tables.render(ROOT)) == readme, (
        "README inputs/outputs tables are out of date: run python3 scripts/readme_tables.py --write"
    )


def test_every_variable_and_output_has_a_description():
    tables = _readme_tables()
    for kind, file in (("variable", "variables.tf"), ("output", "outputs.tf")):
        for name, body in tables._blocks(ROOT / file, kind):
            assert body.get("description", "").strip(), f"{kind} {name} in {file} has no description"
