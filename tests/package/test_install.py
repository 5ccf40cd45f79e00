"""`pip install .` from a checkout gives the `rds-snapshot-dr` command, with no PYTHONPATH.

Built from a copy of what the project's metadata names (pyproject.toml, README.md, LICENSE, lambda_src/),
so the build writes nothing into the checkout; installed into a fresh virtual environment that sees
only boto3's installation besides it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pip_install_puts_the_command_on_the_path(tmp_path):
    source = tmp_path / "checkout"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "lambda_src", source / "lambda_src", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", wheels, source, cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("rds_snapshot_dr-*.whl")
    assert wheel.name.startswith(f"rds_snapshot_dr-{VERSION}-")

    environment = tmp_path / "env"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel,
        cwd=tmp_path)  # fmt: skip
    # boto3 (a dependency pip would fetch) from the test environment, through a .pth file: nothing of this
    # checkout is on the new environment's path
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path).strip())
    (purelib / "boto3-from-tests.pth").write_text(str(Path(boto3.__file__).parents[1]) + "\n")
    assert Path(boto3.__file__).parents[1] == Path(sysconfig.get_path("purelib"))

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PATH": f"{environment / 'bin'}:/usr/bin:/bin"}
    assert run("rds-snapshot-dr", "--version", cwd=tmp_path, env=env).strip() == f"rds-snapshot-dr {VERSION}"
    usage = run("rds-snapshot-dr", "--help", cwd=tmp_path, env=env)
    for command in ("backup", "copy", "reconcile", "preflight", "restore"):
        assert command in usage
    where = run(python, "-c", "import rds_snapshot_dr.rules.model as m; print(m.__file__)", cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(environment)
