#!/usr/bin/env python3
"""Keep the README's inputs and outputs tables in step with variables.tf and outputs.tf.

The tables sit between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` in the layout of
terraform-docs' ``markdown table`` formatter with its defaults (``## Inputs`` and ``## Outputs``, rows
sorted by name, anchors, names and descriptions escaped, multi-line types and non-empty defaults as
``<pre>`` with ``<br>``), limited to the inputs and outputs sections as ``.terraform-docs.yml``
configures it, so running terraform-docs on the module gives the same section.

    python3 scripts/readme_tables.py            # print the tables
    python3 scripts/readme_tables.py --write    # rewrite the README section
    python3 scripts/readme_tables.py --check    # exit 1 when the README is out of date
"""

from __future__ import annotations

import argparse
import json
import re
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


def _raw_types(path: Path) -> dict[str, str]:
    """The `type` expression of each variable as written in the file (terraform-docs shows it verbatim)."""
    text = path.read_text()
    types: dict[str, str] = {}
    for match in re.finditer(r'^variable "([^"]+)" \{\n', text, flags=re.M):
        start = re.compile(r"^  type\s*=\s*", flags=re.M).search(text, match.end())
        if start is None:
            continue
        depth, end = 0, start.end()
        while end < len(text) and not (depth == 0 and text[end] == "\n"):
            depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(text[end], 0)
            end += 1
        types.setdefault(match.group(1), text[start.end() : end].rstrip())
    return types


def _pre(text: str) -> str:
    """A value in a table cell: one line in backticks, several as <pre> with <br> (terraform-docs, html on)."""
    if "\n" not in text:
        return "`" + text + "`"
    return "<pre>" + text.replace("\n", "<br>") + "</pre>"


def _default(value: object) -> str:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return _pre(value[2:-1])
    if isinstance(value, (list, dict)) and value:
        return _pre(json.dumps(value, indent=2, sort_keys=True))
    return _pre(json.dumps(value))


def _escape(text: str) -> str:
    """A description in a table cell: line breaks as <br>, `|` escaped, and `_` escaped outside code spans."""
    parts = re.split(r"(`[^`]*`)", text.strip())
    escaped = "".join(part if part.startswith("`") else part.replace("_", "\\_") for part in parts)
    return escaped.replace("|", "\\|").replace("\n", "<br>")


def _anchor(kind: str, name: str) -> str:
    escaped = name.replace("_", "\\_")
    return f'<a name="{kind}_{name}"></a> [{escaped}](#{kind}\\_{escaped})'


def render(module_dir: Path) -> str:
    lines = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    types = _raw_types(module_dir / "variables.tf")
    for name, body in sorted(blocks(module_dir / "variables.tf", "variable")):
        required = "default" not in body
        default = "n/a" if required else _default(body["default"])
        type_ = _pre(types.get(name, "any"))
        description = _escape(body.get("description", "")) or "n/a"
        lines.append(
            f"| {_anchor('input', name)} | {description} | {type_} | {default} | {'yes' if required else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for name, body in sorted(blocks(module_dir / "outputs.tf", "output")):
        lines.append(f"| {_anchor('output', name)} | {_escape(body.get('description', '')) or 'n/a'} |")
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
