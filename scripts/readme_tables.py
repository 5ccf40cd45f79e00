#!/usr/bin/env python3
"""Keep the README's inputs and outputs tables in step with variables.tf and outputs.tf.

The tables sit between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` in the layout that
terraform-docs uses, so contributors who run terraform-docs get the same shape.

    python3 scripts/readme_tables.py            # print the tables
    python3 scripts/readme_tables.py --write    # rewrite the README section
    python3 scripts/readme_tables.py --check    # exit 1 when the README is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import hcl2
from hcl2.utils import SerializationOptions

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
_OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, preserve_heredocs=False, strip_string_quotes=True
)


def blocks(path: Path, kind: str) -> list[tuple[str, dict]]:
    """(name, body) of every `kind` block of a Terraform file (variable, output, locals: each local)."""
    with path.open() as handle:
        parsed = hcl2.load(handle, serialization_options=_OPTIONS)
    return [(name, body) for block in parsed.get(kind, []) for name, body in block.items()]


def _expression(value: object) -> str:
    """An HCL expression as the user would write it."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    if isinstance(value, str):
        return json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_expression(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{key} = {_expression(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot render {value!r}")


def _cell(text: str) -> str:
    return " ".join(text.split("\n")).replace("|", "\\|").strip()


def _code(text: str) -> str:
    return "`" + _cell(text) + "`"


def _anchor(kind: str, name: str) -> str:
    escaped = name.replace("_", "\\_")
    return f'<a name="{kind}_{name}"></a> [{name}](#{kind}\\_{escaped})'


def render(module_dir: Path) -> str:
    lines = [
        "### Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    for name, body in blocks(module_dir / "variables.tf", "variable"):
        required = "default" not in body
        default = "n/a" if required else _code(_expression(body["default"]))
        type_ = _code(_expression(body.get("type", "any")).strip('"'))
        description = _cell(body.get("description", ""))
        lines.append(
            f"| {_anchor('input', name)} | {description} | {type_} | {default} | {'yes' if required else 'no'} |"
        )
    lines += ["", "### Outputs", "", "| Name | Description |", "|------|-------------|"]
    for name, body in blocks(module_dir / "outputs.tf", "output"):
        lines.append(f"| {_anchor('output', name)} | {_cell(body.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def splice(readme: str, tables: str) -> str:
    if BEGIN not in readme or END not in readme:
        raise SystemExit(f"README has no {BEGIN} … {END} section")
    head, rest = readme.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{tables}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", type=Path, default=Path(__file__).resolve().parent.parent)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the README section")
    mode.add_argument("--check", action="store_true", help="exit 1 when the README is out of date")
    args = parser.parse_args(argv)

    tables = render(args.module)
    readme_path = args.module / "README.md"
    if not (args.write or args.check):
        sys.stdout.write(tables)
        return 0
    readme = readme_path.read_text()
    wanted = splice(readme, tables)
    if args.write:
        readme_path.write_text(wanted)
        return 0
    if wanted != readme:
        print(f"{readme_path.name}: inputs/outputs tables are out of date; run scripts/readme_tables.py --write")
        return 1
    print(f"{readme_path.name}: inputs/outputs tables match variables.tf and outputs.tf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
