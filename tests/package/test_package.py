"""The Lambda package the module deploys is exactly what a fresh build of lambda_src/ gives."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import build_package

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED = ROOT / "dist" / "rds_snapshot_dr.zip"


def test_module_deploys_the_committed_package():
    lambda_tf = (ROOT / "lambda.tf").read_text()
    assert re.search(r'package_path\s*=\s*"\$\{path\.module\}/dist/rds_snapshot_dr\.zip"', lambda_tf)
    assert "filename         = local.package_path" in lambda_tf
    assert "source_code_hash = filebase64sha256(local.package_path)" in lambda_tf


def test_fresh_build_is_byte_for_byte_the_deployed_package():
    assert build_package.build() == DEPLOYED.read_bytes(), (
        "dist/rds_snapshot_dr.zip is stale: run python3 scripts/build_package.py and commit it"
    )


def test_build_does_not_depend_on_file_times_or_stray_caches(tmp_path):
    source = tmp_path / "lambda_src"
    shutil.copytree(ROOT / "lambda_src", source, ignore=shutil.ignore_patterns("__pycache__"))
    for path in source.rglob("*.*"):
        path.touch()  # other timestamps, as a fresh clone on another machine has
    (source / "rds_snapshot_dr" / "__pycache__").mkdir(exist_ok=True)
    (source / "rds_snapshot_dr" / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"\0")

    assert build_package.build(source) == DEPLOYED.read_bytes()


def test_package_holds_only_the_handler_package_at_its_root():
    with zipfile.ZipFile(DEPLOYED) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    assert "rds_snapshot_dr/handler.py" in names
    assert "rds_snapshot_dr/rules/tag_keys.json" in names  # read at import by rules/model.py
    assert "rds_snapshot_dr/core/quotas.json" in names  # read at import by core/quotas.py
    assert all(name.startswith("rds_snapshot_dr/") and name.endswith((".py", ".json")) for name in names)
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
