"""The package's layering contract (.importlinter) is enforced: imports across it break the check.

`scripts/test types` runs import-linter over the package as it is; these tests break each rule on
purpose in a copy of the package and watch the same configuration fail, naming the import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (module that gains the import, the import line, what import-linter must report)
BREAKAGES = [
    ("rules/model.py", "import boto3", "rds_snapshot_dr.rules.model -> boto3"),
    ("jobs/engine.py", "import botocore.exceptions", "rds_snapshot_dr.jobs.engine -> botocore"),
    (
        "rules/retention.py",
        "from rds_snapshot_dr.jobs import engine",
        "rds_snapshot_dr.rules.retention -> rds_snapshot_dr.jobs.engine",
    ),
    (
        "gateway/aws.py",
        "from rds_snapshot_dr.jobs import worker",
        "rds_snapshot_dr.gateway.aws -> rds_snapshot_dr.jobs.worker",
    ),
    (
        "core/settings.py",
        "from rds_snapshot_dr.rules import model",
        "rds_snapshot_dr.core.settings -> rds_snapshot_dr.rules.model",
    ),
    (
        "jobs/drill.py",
        "from rds_snapshot_dr.cli import restore",
        "rds_snapshot_dr.jobs.drill -> rds_snapshot_dr.cli.restore",
    ),
]


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(  # noqa: S603 - fixed arguments
        [str(LINT_IMPORTS), str(ROOT / ".importlinter"), "--no-cache"],
        cwd=source_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_each_import_across_the_layers_breaks_the_contract(tmp_path):
    shutil.copytree(
        ROOT / "lambda_src" / "rds_snapshot_dr",
        tmp_path / "rds_snapshot_dr",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for module, line, _ in BREAKAGES:
        path = tmp_path / "rds_snapshot_dr" / module
        path.write_text(path.read_text() + f"\n{line}  # breaks the layering on purpose\n")

    result = lint_imports(tmp_path)

    report = result.stdout + result.stderr
    assert result.returncode != 0, report
    assert "Contracts: 0 kept, 2 broken." in report, report
    missing = [expected for _, _, expected in BREAKAGES if expected not in report]
    assert missing == [], report
