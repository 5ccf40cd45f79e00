"""One release number for the module and its function, and the documents that name it agree."""

from __future__ import annotations

import re
from pathlib import Path

import rds_snapshot_dr

ROOT = Path(__file__).resolve().parents[2]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
VERSION = (ROOT / "VERSION").read_text().strip()


def test_version_file_is_a_semantic_version():
    assert SEMVER.match(VERSION), f"VERSION holds {VERSION!r}, not MAJOR.MINOR.PATCH"


def test_function_package_has_the_module_version():
    assert rds_snapshot_dr.__version__ == VERSION, (
        f"lambda_src/rds_snapshot_dr/__init__.py says {rds_snapshot_dr.__version__}, VERSION says {VERSION}: "
        "bump both together"
    )


def test_terraform_reads_the_version_file():
    main_tf = (ROOT / "main.tf").read_text()
    outputs_tf = (ROOT / "outputs.tf").read_text()
    assert 'module_version = trimspace(file("${path.module}/VERSION"))' in main_tf
    assert re.search(r'output "module_version" \{[^}]*value\s*=\s*local\.module_version', outputs_tf)


def test_changelog_latest_release_is_the_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d[^\]]*)\] - \d{4}-\d{2}-\d{2}$", changelog, flags=re.M)
    assert releases, "CHANGELOG.md has no release heading '## [X.Y.Z] - YYYY-MM-DD'"
    assert releases[0] == VERSION, f"CHANGELOG.md's latest release is {releases[0]}, VERSION says {VERSION}"
    assert re.search(rf"^\[{re.escape(VERSION)}\]: \S+v{re.escape(VERSION)}$", changelog, flags=re.M), (
        f"CHANGELOG.md has no link reference for [{VERSION}]"
    )


def test_readme_pins_the_current_release():
    readme = (ROOT / "README.md").read_text()
    refs = set(re.findall(r"\?ref=v([0-9A-Za-z.-]+)", readme))
    assert refs == {VERSION}, f"README pins {sorted(refs)}; the release is {VERSION}"
