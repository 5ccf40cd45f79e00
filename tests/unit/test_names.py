"""Names the docs and the function's messages give a reader are names the code has.

A fix that says "raise boto_max_attempts" sends a platform engineer looking for an input that does not
exist; a doc that lists four subcommands hides the fifth. Each check reads the code (variables.tf,
outputs.tf, the Terraform that sets the function's environment, the command line's parser, the IAM
statement ids) and the text (README.md, docs/*.md, the string literals of lambda_src), and fails on a
name the code does not have.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from rds_snapshot_dr.cli import main as cli
from rds_snapshot_dr.core import settings
from readme_tables import blocks

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambda_src" / "rds_snapshot_dr"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


VARIABLES = dict(blocks(ROOT / "variables.tf", "variable"))
OUTPUTS = dict(blocks(ROOT / "outputs.tf", "output"))
# the outputs of the module's own submodules (modules/destination-kms-key: key_arn, ...)
SUBMODULE_OUTPUTS = {name for path in ROOT.glob("modules/*/outputs.tf") for name, _ in blocks(path, "output")}


def _object_attributes() -> set[str]:
    """The attribute names of the object-typed inputs (retention.keep_last, restore_drill.overdue_days, ...)."""
    names: set[str] = set()
    for body in VARIABLES.values():
        names.update(re.findall(r"\b([a-z][a-z0-9_]*)\s*(?==|:)", str(body.get("type", ""))))
    return names


def _settings_fields() -> set[str]:
    return {
        field.name
        for value in vars(settings).values()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
        for field in dataclasses.fields(value)
    }


def _terraform_keys() -> set[str]:
    """Every lower-case name assigned in the module's Terraform (the keys of the JSON settings it writes, such
    as the drill's state_parameter, among them)."""
    return {
        name
        for path in [*ROOT.glob("*.tf"), *ROOT.glob("modules/*/*.tf")]
        for name in re.findall(r"\b([a-z][a-z0-9_]*)\s*=", path.read_text())
    }


# The engine's own names for settings that users set through differently named inputs (or that come from
# the providers): a message or a doc that names one of these names nothing a user can change.
ENGINE_ONLY = _settings_fields() - set(VARIABLES) - set(OUTPUTS) - _object_attributes() - _terraform_keys()


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def engine_only_names_in_messages(package: Path) -> list[str]:
    """Every string literal (docstrings aside) of the package that names an ENGINE_ONLY setting."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                for word in _SNAKE.findall(node.value):
                    if word in ENGINE_ONLY:
                        found.append(f"{path.relative_to(package)}:{node.lineno}: {word}")
    return found


def test_the_engine_only_names_are_what_this_check_looks_for():
    # the names a newcomer found in the function's fixes; they must stay findable by this check
    assert {"destination_kms_key_arn", "boto_max_attempts", "destination_retention_days"} <= ENGINE_ONLY
    assert "copy_max_attempts" not in ENGINE_ONLY  # an input of the same name
    assert "keep_last" not in ENGINE_ONLY  # retention.keep_last


def test_the_functions_messages_name_only_inputs_that_exist():
    assert engine_only_names_in_messages(PACKAGE) == []


def test_the_message_check_finds_a_wrong_name(tmp_path):
    (tmp_path / "bad.py").write_text(
        '"""Docstrings may say destination_kms_key_arn."""\nFIX = "raise boto_max_attempts"\n'
    )
    (tmp_path / "good.py").write_text('FIX = "raise aws_api_max_attempts"\n')
    found = engine_only_names_in_messages(tmp_path)
    assert len(found) == 1
    assert found[0].endswith("bad.py:2: boto_max_attempts")


# --- the docs ------------------------------------------------------------------------------------------


def _backticked(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_docs_name_no_engine_only_setting_as_if_it_were_an_input(doc):
    words = {word for code in _backticked(doc.read_text()) for word in _SNAKE.findall(code)}
    assert sorted(words & ENGINE_ONLY) == []


def _environment_names() -> set[str]:
    """The environment variables the module sets on the function (every UPPER_CASE key of a map in *.tf)."""
    names: set[str] = set()
    for path in ROOT.glob("*.tf"):
        names.update(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", path.read_text()))
    return names


def _python_constants() -> set[str]:
    """UPPER_CASE names the project's Python defines (a doc naming KNOWN_ENGINE_DEFECTS names a constant)."""
    names: set[str] = set()
    for folder in ("lambda_src", "simulation", "tests", "benchmarks", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*[:=]", path.read_text(), re.MULTILINE))
    return names


# Environment variables of other tools the docs tell a reader to set (AWS_* are the AWS SDKs' and CLI's).
OTHER_TOOLS = {"CI", "PYTHONPATH", "CHECKPOINT_DISABLE", "BC_SKIP_MAPPING", "TF_CLI_CONFIG_FILE", "TF_LOG", "PATH"}
# RDS's own names the docs quote (option names of option groups), not environment variables.
RDS_NAMES = {"TRANSPARENT_DATA_ENCRYPTION"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_environment_variables_the_docs_name_exist(doc):
    known = _environment_names() | OTHER_TOOLS | RDS_NAMES | _python_constants()
    named = {
        word
        for code in _backticked(doc.read_text())
        for word in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", code)
        if not word.startswith(("AWS_", "TF_VAR_", "RSD_"))
    }
    assert sorted(named - known) == []


def _subcommands() -> list[str]:
    parser = cli.build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]  # argparse keeps the subcommands there
    return list(action.choices)


@pytest.mark.parametrize("doc", ["README.md", "docs/operations.md"])
def test_the_docs_list_every_subcommand_and_no_other(doc):
    text = (ROOT / doc).read_text()
    (line,) = re.findall(r"^Subcommands: (.+)$", text, re.MULTILINE)
    assert _backticked(line) == _subcommands()


def test_the_command_line_table_has_a_row_per_subcommand():
    operations = (ROOT / "docs" / "operations.md").read_text()
    table = re.search(r"\| subcommand \| does \|\n\|---\|---\|\n((?:\|.*\n)+)", operations)
    assert table is not None, "docs/operations.md has no `| subcommand | does |` table"
    assert [_backticked(row.split("|")[1])[0] for row in table.group(1).splitlines()] == _subcommands()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_module_outputs_the_docs_name_exist(doc):
    named = set(re.findall(r"\bmodule\.[a-z0-9_]+(?:\[[^\]]*\])?\.([a-z0-9_]+)", doc.read_text()))
    assert sorted(named - set(OUTPUTS) - SUBMODULE_OUTPUTS) == []


def _statement_ids() -> set[str]:
    ids: set[str] = set()
    for path in [*ROOT.glob("*.tf"), *ROOT.glob("modules/*/*.tf")]:
        ids.update(re.findall(r'\bsid\s*=\s*"([A-Za-z0-9]+)"', path.read_text()))
    return ids


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_statement_id_in_a_sid_table_exists_once(doc):
    ids, seen, wrong = _statement_ids(), [], []
    in_table = False
    for line in doc.read_text().splitlines():
        if re.match(r"\|\s*sid\s*\|", line):
            in_table, seen = True, []
            continue
        if in_table and not line.startswith("|"):
            in_table = False
        if in_table and not line.startswith("|-"):
            for sid in _backticked(line.split("|")[1])[:1]:
                wrong += [f"{sid}: no such statement"] if sid not in ids else []
                wrong += [f"{sid}: twice in one table"] if sid in seen else []
                seen.append(sid)
    assert wrong == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_docs_pin_the_current_release(doc):
    import rds_snapshot_dr

    pinned = set(re.findall(r"\?ref=v(\d+\.\d+\.\d+)", doc.read_text()))
    assert pinned <= {rds_snapshot_dr.__version__}
