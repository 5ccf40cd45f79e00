"""The README stays a front door, and every link in the docs leads somewhere.

The README is for deciding and adopting; reference material lives in docs/. A README that grows back
past its budget, or a link left pointing at a section that moved to another file, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 600
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code, where a link is a link."""
    kept, in_fence = [], False
    for line in text.splitlines():
        if _FENCE.match(line.lstrip()):
            in_fence = not in_fence
            continue
        if not in_fence:
            kept.append(re.sub(r"`[^`\n]*`", "", line))
    return "\n".join(kept)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a Markdown file offers: its headings (with GitHub's -1, -2 for repeats) and its
    `<a name="...">` tags (the generated inputs and outputs tables)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line.lstrip()):
            in_fence = not in_fence
            continue
        heading = None if in_fence else re.match(r"^#{1,6} (.+?)\s*#*$", line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            found.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    found.update(re.findall(r'<a name="([^"]+)"></a>', text))
    return found


def broken_links(doc: Path) -> list[str]:
    """Relative links of `doc` whose file, or whose anchor in that file, does not exist."""
    wrong = []
    for target in _LINK.findall(_prose(doc.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            wrong.append(f"{target}: no such file")
            continue
        anchor = anchor.replace("\\", "")
        if anchor and file.is_file() and file.suffix == ".md" and anchor not in anchors(file.read_text()):
            wrong.append(f"{target}: no such anchor in {path or doc.name}")
    return wrong


def test_the_readme_stays_under_its_line_budget():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines < README_MAX_LINES, (
        f"README.md has {lines} lines (budget {README_MAX_LINES}): move reference material to docs/ and link it"
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_anchor(doc):
    assert broken_links(doc) == []


def test_the_readme_links_its_reference_docs():
    readme = (ROOT / "README.md").read_text()
    linked = {Path(target.partition("#")[0]).name for target in _LINK.findall(_prose(readme))}
    for doc in ("how-it-works.md", "iam.md", "operations.md", "restore.md", "sizing.md", "reliability.md"):
        assert doc in linked, f"README.md does not link docs/{doc}"


def test_the_link_check_finds_a_broken_file_and_a_broken_anchor(tmp_path):
    """The check itself must fail on a bad link (guards against a check that cannot fail)."""
    (tmp_path / "other.md").write_text("# Other\n\n## A section\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# Doc\n\n[ok](other.md#a-section) [ok too](#doc) [gone](missing.md) [moved](other.md#old-section)\n"
        "```\n[in code](nowhere.md)\n```\n`[inline](nowhere.md)` [web](https://example.com/x#y)\n"
    )
    assert broken_links(doc) == ["missing.md: no such file", "other.md#old-section: no such anchor in other.md"]
