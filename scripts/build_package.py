#!/usr/bin/env python3
"""Build the Lambda package dist/rds_snapshot_dr.zip from lambda_src/ reproducibly.

The same sources give the same bytes on every machine, so `terraform plan` never shows a change
that no one made:

- only ``*.py`` files and the ``*.json`` data files the package reads (tag_keys.json) under
  ``lambda_src/rds_snapshot_dr`` (no ``__pycache__``), stored at the archive root as ``rds_snapshot_dr/...``;
- entries sorted by path, every timestamp 1980-01-01 00:00:00, permissions 0644;
- ZIP_STORED (no compression), so the bytes do not depend on the machine's zlib.

    python3 scripts/build_package.py                    # write dist/rds_snapshot_dr.zip
    python3 scripts/build_package.py --output out.zip   # write somewhere else
    python3 scripts/build_package.py --check            # exit 1 when the committed zip is stale
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOT = ROOT / "lambda_src"
PACKAGE = "rds_snapshot_dr"
DEFAULT_OUTPUT = ROOT / "dist" / "rds_snapshot_dr.zip"
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
PACKAGED_SUFFIXES = (".py", ".json")  # modules, and the data they read (tag_keys.json)


def package_files(source_root: Path = SOURCE_ROOT) -> list[tuple[str, Path]]:
    """The (archive name, path) of every module of the package, sorted by archive name."""
    package_dir = source_root / PACKAGE
    if not package_dir.is_dir():
        raise SystemExit(f"package directory {package_dir.relative_to(ROOT)} does not exist")
    files = [
        (path.relative_to(source_root).as_posix(), path)
        for path in package_dir.rglob("*")
        if path.suffix in PACKAGED_SUFFIXES
        and "__pycache__" not in path.relative_to(source_root).parts
        and path.is_file()
    ]
    return sorted(files)


def build(source_root: Path = SOURCE_ROOT) -> bytes:
    """The package's zip archive as bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in package_files(source_root):
            info = zipfile.ZipInfo(filename=name, date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # Unix, so external_attr carries the permissions
            info.external_attr = FILE_MODE << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write (or, with --check, which file to compare); default dist/rds_snapshot_dr.zip",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild in memory and exit 1 if it differs from the file at --output",
    )
    args = parser.parse_args(argv)
    content = build()
    output: Path = args.output

    if args.check:
        if not output.is_file():
            print(f"{output} is missing: run python3 scripts/build_package.py", file=sys.stderr)
            return 1
        if output.read_bytes() != content:
            print(
                f"{output} differs from a fresh build of lambda_src/: run python3 scripts/build_package.py",
                file=sys.stderr,
            )
            return 1
        print(f"{output} is up to date")
        return 0

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(content)
    print(f"wrote {output} ({len(content)} bytes, {len(package_files())} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
