"""The docs stay navigable: every relative link in `docs/*.md` and `README.md` reaches a file
and, with `#anchor`, a heading there; every section the code and README cite
(`docs/ingestion.md section 9`, `architecture section 16`) is in the file they name; and the
overview (`docs/architecture.md`) stays short and maps every numbered section to its file.

The design was one 2,265-line file whose section numbers the code cites; it is now split by
area with the numbers kept, so a citation or link left pointing at the old place must fail
here, not mislead a reader."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
OVERVIEW = DOCS / "architecture.md"
OVERVIEW_MAX_LINES = 400
MARKDOWN = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]
# Not the project's sources: installed packages, built assets (build/: the Lambda code, tens of
# thousands of files), the emulator's venv, caches.
SKIPPED_DIRS = {".venv", "node_modules", ".git", ".hypothesis", ".fleetwatch", "build", ".emulator"}

LINK = re.compile(r"\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`]*`")
SECTION_HEADING = re.compile(r"#{2,3} (\d{1,2})(?:\.|(\.\d))? ")
# `docs/ingestion.md section 9`, `docs/operations.md §16`, `architecture section 7.2`,
# `architecture 7.2`: the file (or the overview, for "architecture") and the section number.
CITATION = re.compile(
    r"(?:docs/)?(?P<file>[a-z][a-z-]*)(?:\.md)?,? (?:section |§ ?)?(?P<num>\d{1,2}(?:\.\d)?)\b"
)


def _prose(path: Path) -> list[str]:
    """The lines of a markdown file outside code fences."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _prose(path):
        if match := re.match(r"#{1,6} (.*)", line):
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _sections(path: Path) -> dict[str, str]:
    """Section number -> anchor of its heading, for the numbered headings of a docs file."""
    found = {}
    for line in _prose(path):
        if match := SECTION_HEADING.match(line):
            found[match.group(1) + (match.group(2) or "")] = _slug(line.lstrip("#"))
    return found


def _links(path: Path) -> list[tuple[int, str]]:
    return [
        (number, target)
        for number, line in enumerate(_prose(path), start=1)
        for target in LINK.findall(INLINE_CODE.sub("", line))
        if not re.match(r"[a-z]+:", target)  # http:, https:, mailto:
    ]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda path: path.name)
def test_every_relative_link_reaches_a_file_and_a_heading(path: Path) -> None:
    broken = []
    for number, target in _links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_file():
            broken.append(f"line {number}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"line {number}: {target} (no such heading)")
    assert not broken, f"{path.name}: " + "; ".join(broken)


def _citing_files() -> list[Path]:
    sources = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]  # not walked at all
        sources += [Path(folder) / name for name in files if name.endswith(".py")]
    this = Path(__file__).resolve()  # its examples are not citations
    return [*sorted(p for p in sources if p != this), ROOT / "README.md"]


def test_cited_sections_are_in_the_file_the_citation_names() -> None:
    sections = {path.stem: _sections(path) for path in DOCS.glob("*.md")}
    wrong = []
    for path in _citing_files():
        text = path.read_text(encoding="utf-8")
        for match in CITATION.finditer(text):
            name, number = match.group("file"), match.group("num")
            if name not in sections or not re.search(r"section|§|architecture", match.group(0)):
                continue  # not a citation of the docs (`bench/ingest.py 2`, ...)
            if number not in sections[name]:
                where = [stem for stem, numbers in sections.items() if number in numbers]
                wrong.append(
                    f"{path.relative_to(ROOT)}: {match.group(0)!r} (section {number} is in "
                    f"docs/{where[0] + '.md' if where else '(nowhere)'})"
                )
    assert not wrong, "; ".join(wrong)


def test_the_overview_is_short_and_maps_every_section_to_its_file() -> None:
    lines = OVERVIEW.read_text(encoding="utf-8").count("\n")
    assert lines <= OVERVIEW_MAX_LINES, f"docs/architecture.md has {lines} lines"
    linked = {target for _, target in _links(OVERVIEW)}
    unmapped = [
        f"{number} ({path.name})"
        for path in DOCS.glob("*.md")
        if path != OVERVIEW
        for number, anchor in _sections(path).items()
        if f"{path.name}#{anchor}" not in linked
    ]
    assert not unmapped, "sections missing from the overview's map: " + ", ".join(unmapped)


WALKTHROUGH = DOCS / "adding-a-capability.md"
# A file the walkthrough names: `write_side/users.py`, `pyproject.toml`; then its "(new)" mark.
NAMED_FILE = re.compile(
    r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|md|graphql|toml)|pyproject\.toml)`(\s+\*\*\(new\)\*\*)?"
)


def test_the_walkthrough_names_files_that_exist_or_are_marked_new() -> None:
    """The page tells a newcomer which files to copy and which to create: a path it names
    exists, or is marked **(new)** and does not exist yet (once built, the mark must go)."""
    wrong = []
    for path, new in NAMED_FILE.findall("\n".join(_prose(WALKTHROUGH))):
        exists = (ROOT / path).is_file()
        if exists == bool(new):
            wrong.append(f"{path} ({'exists, marked' if exists else 'missing, not marked'} new)")
    assert not wrong, "; ".join(wrong)


BARE_REFERENCE = re.compile(r"(?:\bsections? |§ ?)(\d{1,2}(?:\.\d)?)\b")
LINK_TEXT = re.compile(r"\[[^\]]*\]\([^)]*\)")


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda path: path.name)
def test_a_reference_to_a_section_in_another_file_is_a_link(path: Path) -> None:
    """A "section 7.2" in the file that holds 7.2 is found by scrolling; anywhere else it must
    be a link to that file, or a reader looks for it in the wrong place."""
    own = _sections(path)
    bare = [
        f"line {number}: section {section}"
        for number, line in enumerate(_prose(path), start=1)
        for section in BARE_REFERENCE.findall(LINK_TEXT.sub("", INLINE_CODE.sub("", line)))
        if section not in own
    ]
    assert not bare, f"{path.name}: " + "; ".join(bare)
