"""The documentation the code and the pages cite exists: every ``docs/<page>.md`` named in
physgen/, every ``docs/theory.md §N`` section, and every relative link (file and #anchor) of the
README and the docs pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
SOURCES = sorted((ROOT / "physgen").rglob("*.py"))

CITED_PAGE = re.compile(r"docs/([\w./-]+?\.md)")
# "docs/theory.md §4.2, §4.8" or "docs/theory.md §3 and §6": every § after the page name
THEORY_CITATION = re.compile(r"docs/theory\.md((?:[\s,;]*(?:and\s+)?§\s?\d+(?:\.\d+)?)+)")
SECTION = re.compile(r"§\s?(\d+(?:\.\d+)?)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces → '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # no headings in code blocks
    return {slug(m) for m in re.findall(r"^#+\s+(.*)$", text, flags=re.M)}


def theory_sections() -> set[str]:
    text = (ROOT / "docs" / "theory.md").read_text()
    return set(re.findall(r"^#+\s+§(\d+(?:\.\d+)?)\s", text, flags=re.M))


def test_every_page_cited_in_the_code_exists() -> None:
    cited = {
        (src.relative_to(ROOT).as_posix(), page)
        for src in SOURCES
        for page in CITED_PAGE.findall(src.read_text())
    }
    assert cited, "the code cites no docs page: the pattern is wrong"
    missing = sorted(
        f"{src}: docs/{page}" for src, page in cited if not (ROOT / "docs" / page).is_file()
    )
    assert missing == []


def test_every_theory_section_cited_exists() -> None:
    sections = theory_sections()
    assert {"1", "2", "3", "4", *(f"4.{i}" for i in range(1, 10)), "5", "6"} <= sections
    cited = {
        (src.relative_to(ROOT).as_posix(), number)
        for src in [*SOURCES, *PAGES]
        for refs in THEORY_CITATION.findall(src.read_text())
        for number in SECTION.findall(refs)
    }
    assert len(cited) > 10
    assert sorted(f"{src}: §{n}" for src, n in cited if n not in sections) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(target)
    assert broken == []


def test_slug() -> None:
    assert slug("Figures (`physgen.plots`)") == "figures-physgenplots"
    assert (
        slug("§4.3 Sample-split divergence S and τ_bias")
        == "43-sample-split-divergence-s-and-τ_bias"
    )
