"""What the docs name in the code exists: file paths under lambda_src/, dotted names of the package, and
`module.name` references to the rules (e.g. `copy_plan.copy_priority`)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import rds_snapshot_dr.rules

ROOT = Path(__file__).resolve().parents[2]
# The changelog is history: it names modules as they were when it was written.
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
TERRAFORM = sorted(ROOT.glob("*.tf"))
RULES = sorted(p.stem for p in Path(rds_snapshot_dr.rules.__file__).parent.glob("*.py") if p.stem != "__init__")

PATH = re.compile(r"lambda_src/rds_snapshot_dr/[\w/.]*\w")
# `module.rds_snapshot_dr.<output>` is Terraform's, not the package's
DOTTED = re.compile(r"(?<!module\.)\brds_snapshot_dr(?:\.\w+)+")
# `retention.source_days` is an attribute of the module's `retention` input, `events.tf` a file
VARIABLES = set(re.findall(r'^variable "(\w+)"', (ROOT / "variables.tf").read_text(), re.MULTILINE))
RULE_REF = re.compile(rf"`({'|'.join(m for m in RULES if m not in VARIABLES)})\.(?!tf`)(\w+)`")


def texts() -> list[tuple[str, str]]:
    found = []
    for path in DOCS + TERRAFORM:
        found.append((path.relative_to(ROOT).as_posix(), path.read_text()))
    return found


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_paths_into_the_package_exist():
    missing = [(doc, p) for doc, text in texts() for p in PATH.findall(text) if not (ROOT / p).exists()]
    assert missing == []


def test_dotted_names_of_the_package_resolve():
    # a file name written as a dotted path (rds_snapshot_dr.zip) is a file, not a module
    names = {(doc, d) for doc, text in texts() for d in DOTTED.findall(text) if not d.endswith(".zip")}
    assert len(names) > 5  # the pattern finds what the docs name, or this check proves nothing
    assert sorted((doc, d) for doc, d in names if not resolves(d)) == []


def test_rule_references_name_a_rule_of_that_module():
    refs = {(doc, m, n) for doc, text in texts() for m, n in RULE_REF.findall(text)}
    assert len(refs) >= 3  # the pattern finds what the docs name, or this check proves nothing
    wrong = [
        (doc, f"{m}.{n}")
        for doc, m, n in sorted(refs)
        if not hasattr(importlib.import_module(f"rds_snapshot_dr.rules.{m}"), n)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        ("rds_snapshot_dr.gateway.aws.CLIENTS", True),
        ("rds_snapshot_dr.aws.CLIENTS", False),  # the module before the package was layered
        ("rds_snapshot_dr.rules.copy_plan.no_such_rule", False),
    ],
)
def test_the_resolver_tells_a_stale_name(dotted, expected):
    assert resolves(dotted) is expected
