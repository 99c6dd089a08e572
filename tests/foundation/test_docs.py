"""The README stays a front door and every link in the documentation leads somewhere.

Links are checked as GitHub renders them: a relative path must name a file of the checkout, and a
``#anchor`` must match a heading of the target Markdown file (GitHub's slugs). Links inside code blocks
and code spans are not links. Web addresses are not followed (the tests never use the network).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.export.records import RESEARCH_USE_STATEMENT

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_MAX_LINES = 250

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documentation_files() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with code spans blanked out."""
    lines, in_fence = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append(_CODE_SPAN.sub("", line))
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces become hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor GitHub makes for the headings of a Markdown file (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    lines, in_fence = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            lines.append(line)
    for line in lines:
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path) -> list[str]:
    """The targets of the inline links, images and reference definitions of a Markdown file."""
    targets = []
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        targets.extend(match.group(1) for match in _INLINE_LINK.finditer(line))
        reference = _REFERENCE_DEF.match(line)
        if reference:
            targets.append(reference.group(1))
    return targets


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of ``path`` whose file or heading does not exist, with the reason."""
    problems = []
    root = root.resolve()
    for target in links(path):
        if not target or _EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if root not in destination.parents and destination != root:
            problems.append(f"{target}: outside the repository")
        elif not destination.exists():
            problems.append(f"{target}: no such file")
        elif anchor:
            if destination.suffix.lower() != ".md":
                problems.append(f"{target}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(destination):
                problems.append(f"{target}: no heading with this anchor in {destination.name}")
    return problems


def test_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_readme_states_the_intended_use() -> None:
    assert RESEARCH_USE_STATEMENT in README.read_text(encoding="utf-8")


@pytest.mark.parametrize("target", ["run", "test"])
def test_readme_gives_the_two_commands_and_the_makefile_has_them(target: str) -> None:
    readme = README.read_text(encoding="utf-8")
    assert re.search(rf"^make {target}\b", readme, re.MULTILINE), f"README.md does not show `make {target}`"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"the Makefile has no `{target}` target"


@pytest.mark.parametrize("path", documentation_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_link_check_finds_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text("# Guide\n\n## Opening images: `DICOMDIR`\n\n## Setup\n## Setup\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](guide.md#opening-images-dicomdir) [ok](guide.md#setup-1) [ok](#page) [web](https://example.org)\n"
        "[missing](gone.md) [bad anchor](guide.md#nowhere) ![missing image](shot.png)\n"
        "`[in code](nothing.md)`\n```\n[in a block](nothing.md)\n```\n# Page\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "gone.md: no such file",
        "guide.md#nowhere: no heading with this anchor in guide.md",
        "shot.png: no such file",
    ]
