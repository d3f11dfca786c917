"""Code, tests, comments and docs cite only what a reader of this repository can open: a pointer to a design note,
a research file or a numbered checklist that lives elsewhere explains nothing to them, so the fact or the reason
is written out instead. Every tracked text file is scanned; a `NAME.md` it mentions must be a file of the
repository (README.md, CONTRIBUTING.md, deploy/helm/README.md...)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.secretscan import scan

# Pointers into documents kept outside the repository, in the ways they were written before.
OUTSIDE = [
    re.compile(r"§"),  # a numbered section of some document
    re.compile(r"\bresearch\s*(?:/|:|§|\))|\(research\b", re.IGNORECASE),
    re.compile(r"\bDESIGN\b"),
    re.compile(r"\bbattery\b", re.IGNORECASE),
    re.compile(r"\bdecision \d+", re.IGNORECASE),
]
MARKDOWN = re.compile(r"\b([\w.-]+\.md)\b")
BINARY_SUFFIXES = {".png", ".ico", ".woff", ".woff2", ".gz", ".sqlite"}
LOCK_FILES = {"uv.lock", "package-lock.json"}


def citations(text: str, known_markdown: set[str]) -> list[str]:
    """The outside citations in `text`, as the matched words."""
    found = [match.group(0) for pattern in OUTSIDE for match in pattern.finditer(text)]
    found += [name for name in MARKDOWN.findall(text) if name not in known_markdown]
    return found


def text_files() -> list[Path]:
    this = Path(__file__).resolve()
    return [
        path
        for path in scan.tracked_files()
        if path.resolve() != this and path.suffix not in BINARY_SUFFIXES and path.name not in LOCK_FILES
    ]


def markdown_names() -> set[str]:
    return {path.name for path in scan.tracked_files() if path.suffix == ".md"}


def test_no_file_cites_a_document_outside_the_repository() -> None:
    known = markdown_names()
    offenders = []
    for path in text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not a text file
        for number, line in enumerate(text.splitlines(), start=1):
            if found := citations(line, known):
                offenders.append(f"{path.relative_to(scan.ROOT)}:{number}: {', '.join(found)}")
    assert not offenders, "write out the fact instead of citing:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "line",
    [
        "# A refused decrypt may be tampering (security.md §1.2).",
        "probed at most daily (research §3 rule 5)",
        '"""Methods no adapter may ever call (DESIGN.md decision 3)."""',
        "the secret-paste guard (DESIGN decision 5)",
        "No Grafana server runs here (research: tooling.md)",
        "(security battery item 21, end to end)",
        "the error body (CONTRACT.md)",
        "shapes quoted in research/exchange-permissions.md",
    ],
)
def test_each_way_of_citing_is_caught(line: str) -> None:
    assert citations(line, {"README.md", "CONTRIBUTING.md"})


@pytest.mark.parametrize(
    "line",
    [
        "details in `deploy/helm/README.md` and CONTRIBUTING.md",
        "Why this design rather than a separate head request",
        "We researched the venue's documentation",
    ],
)
def test_citations_of_the_repository_and_plain_words_pass(line: str) -> None:
    assert not citations(line, {"README.md", "CONTRIBUTING.md"})
