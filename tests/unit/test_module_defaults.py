"""module_defaults.MODULE_DEFAULTS is what main.tf writes from variables.tf's defaults: evaluated here from
the Terraform itself, so a default changed on one side only fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rds_snapshot_dr.core.module_defaults import MODULE_DEFAULTS
from readme_tables import blocks

ROOT = Path(__file__).resolve().parents[2]


def _variables() -> dict[str, dict]:
    return dict(blocks(ROOT / "variables.tf", "variable"))


def _settings_expressions() -> dict[str, str]:
    return dict(blocks(ROOT / "main.tf", "locals"))["lambda_settings_known_at_plan"]


def _default(variables: dict[str, dict], path: str) -> object:
    """var.<name> or var.<name>.<attribute> (an attribute's optional(type, default) in the object type)."""
    name, _, attribute = path.partition(".")
    body = variables[name]
    if not attribute:
        return body["default"]
    match = re.search(rf"\b{attribute}\s*=\s*optional\(\w+,\s*([^)]+)\)", str(body["type"]))
    assert match is not None, f"var.{path} has no optional default in its type"
    return json.loads(match.group(1))


def _string(value: object) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def evaluate(expression: str, variables: dict[str, dict]) -> str | None:
    """The value of one of main.tf's settings when every input keeps its default; None when it depends on
    the module instance (a local, or an input without a default such as var.name)."""
    inner = expression.removeprefix("${").removesuffix("}")
    if "local." in inner or any("default" not in variables[name] for name in re.findall(r"var\.(\w+)", inner)):
        return None
    patterns = {
        r"var\.([\w.]+)": lambda v: _string(v),
        r"tostring\(var\.([\w.]+)\)": lambda v: _string(v),
        r'join\(",", var\.([\w.]+)\)': lambda v: ",".join(v),
        r"jsonencode\(var\.([\w.]+)\)": lambda v: json.dumps(v, separators=(",", ":")),
        r"tostring\(max\(1, var\.([\w.]+)\)\)": lambda v: _string(max(1, v)),
    }
    for pattern, convert in patterns.items():
        match = re.fullmatch(pattern, inner)
        if match:
            return convert(_default(variables, match.group(1)))
    raise AssertionError(f"no evaluation for {expression}: teach this test the expression")


def module_defaults() -> dict[str, str]:
    variables = _variables()
    values = {name: evaluate(expression, variables) for name, expression in _settings_expressions().items()}
    return {name: value for name, value in values.items() if value is not None}


def test_the_table_is_what_the_module_sets_with_every_default():
    assert module_defaults() == MODULE_DEFAULTS


def test_a_default_changed_in_variables_tf_alone_is_caught():
    variables = _variables()
    variables["copy_concurrency_limit"] = {**variables["copy_concurrency_limit"], "default": 20}
    expressions = _settings_expressions()
    values = {name: evaluate(expression, variables) for name, expression in expressions.items()}
    assert values["COPY_CONCURRENCY_LIMIT"] == "20" != MODULE_DEFAULTS["COPY_CONCURRENCY_LIMIT"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${tostring(var.retention.destination_days)}", "14"),
        ("${jsonencode(var.selection_tags)}", "{}"),
        ('${join(",", var.db_instance_identifiers)}', ""),
        ("${tostring(max(1, var.lambda_reserved_concurrent_executions))}", "2"),
        ("${local.source_region}", None),
        ("${var.name}", None),
    ],
)
def test_each_expression_form(expression, expected):
    assert evaluate(expression, _variables()) == expected


def _environment_names() -> set[str]:
    """Every variable the module can put in the function's environment: main.tf's settings known at plan, the
    key's ARN, and drill.tf's restore and drill settings."""
    names = set(_settings_expressions())
    main = (ROOT / "main.tf").read_text()
    merged = main[main.index("lambda_environment = merge(") :]
    names |= set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s*=", merged[: merged.index("})")], re.MULTILINE))
    drill = (ROOT / "drill.tf").read_text()
    restore = drill[drill.index("restore_environment = merge(") :]
    names |= set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", restore[: restore.index("\n  )\n")]))
    return names


def test_the_command_line_takes_every_setting_the_module_gives_the_function():
    """The command line rebuilds the function's settings from the deployed function's environment (and flags of
    the same names): a variable the module adds must be one it reads."""
    from rds_snapshot_dr.cli.main import FUNCTION_ONLY_SETTINGS, SETTING_NAMES

    names = _environment_names()
    assert {"DESTINATION_KMS_KEY_ARN", "RESTORE_SETTINGS", "DRILL_SETTINGS", "COPY_MAX_ATTEMPTS"} <= names
    assert sorted([*SETTING_NAMES, *FUNCTION_ONLY_SETTINGS]) == sorted(names)
