"""Every `module` block the README shows is one an example really contains, so what a user copies plans.

The examples are planned by tests/examples.tftest.hcl and validated by `scripts/test validate`; this
test ties the README's snippets to them. A snippet differs from its example only in `source`: the
README pins the released repository (`git::https://github.com/<org>/rds-snapshot-dr.git?ref=vX.Y.Z`,
optionally `//modules/<name>`), the example points at the checkout (`../../`, `../../modules/<name>`).
Comments and layout may differ; every argument and value must be the same.
"""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
README_SOURCE = re.compile(
    r"^git::https://github\.com/<org>/rds-snapshot-dr\.git(?://(?P<sub>modules/[a-z0-9-]+))?\?ref=v(?P<version>\d+\.\d+\.\d+)$"
)
EXAMPLE_SOURCE = re.compile(r"^\.\./\.\./(?P<sub>modules/[a-z0-9-]+)?/?$")
_OPTIONS = SerializationOptions(
    with_comments=False, explicit_blocks=False, preserve_heredocs=False, strip_string_quotes=True
)


def _modules(text: str) -> dict[str, dict]:
    parsed = hcl2.loads(text, serialization_options=_OPTIONS)
    return {name: body for block in parsed.get("module", []) for name, body in block.items()}


def _readme_hcl_blocks(readme: str) -> list[str]:
    return re.findall(r"^```hcl\n(.*?)^```", readme, flags=re.S | re.M)


def readme_module_blocks(readme: str) -> list[tuple[str, dict]]:
    """(name, body) of every `module` block in the README's ```hcl blocks, in order."""
    return [item for block in _readme_hcl_blocks(readme) for item in _modules(block).items()]


def canonical_source(source: str) -> str:
    """'' for the root module, 'modules/<name>' for a submodule, from either form of source."""
    for pattern in (README_SOURCE, EXAMPLE_SOURCE):
        match = pattern.match(source)
        if match:
            return match.group("sub") or ""
    raise AssertionError(f"unexpected module source {source!r}")


def canonical(body: dict) -> dict:
    return {**body, "source": canonical_source(body["source"])}


def example_modules() -> dict[str, list[tuple[str, dict]]]:
    """Every module block of every example, by example directory name."""
    found: dict[str, list[tuple[str, dict]]] = {}
    for main in sorted(ROOT.glob("examples/*/*.tf")):
        for name, body in _modules(main.read_text()).items():
            found.setdefault(main.parent.name, []).append((name, body))
    return found


def matching_examples(name: str, body: dict, examples: dict[str, list[tuple[str, dict]]]) -> list[str]:
    wanted = canonical(body)
    return [
        example
        for example, blocks in examples.items()
        for block_name, block_body in blocks
        if block_name == name and canonical(block_body) == wanted
    ]


README = (ROOT / "README.md").read_text()
BLOCKS = readme_module_blocks(README)


def test_the_readme_shows_module_blocks():
    names = [name for name, _ in BLOCKS]
    assert len(BLOCKS) >= 3, names
    assert "destination_key" in names, names


@pytest.mark.parametrize(("name", "body"), BLOCKS, ids=[f"{i}-{name}" for i, (name, _) in enumerate(BLOCKS)])
def test_every_readme_module_block_is_in_an_example(name, body):
    examples = example_modules()
    assert matching_examples(name, body, examples), (
        f'README module "{name}" matches no module block of examples/*/ (same name, same arguments, '
        f"source aside): copy the example's block into the README, or change the example too.\n"
        f"README block: {canonical(body)}\n"
        f"examples with a module {name!r}: "
        f"{ {ex: canonical(b) for ex, blocks in examples.items() for n, b in blocks if n == name} }"
    )


def test_readme_pins_one_release_everywhere():
    sources = [body["source"] for _, body in BLOCKS]
    versions = {README_SOURCE.match(source).group("version") for source in sources if README_SOURCE.match(source)}
    assert all(README_SOURCE.match(s) for s in sources), sources
    assert len(versions) == 1, sources


def test_every_example_is_shown_or_linked_in_the_readme():
    for example in sorted(path.name for path in (ROOT / "examples").iterdir() if path.is_dir()):
        assert f"examples/{example}" in README, f"examples/{example} is not mentioned in README.md"


def test_a_changed_snippet_is_caught():
    """The comparison itself must fail on a difference (guards against a check that cannot fail)."""
    name, body = next((n, b) for n, b in BLOCKS if n == "rds_snapshot_dr")
    changed = {**body, "name": "not-in-any-example"}
    assert not matching_examples(name, changed, example_modules())
