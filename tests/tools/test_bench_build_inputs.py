"""bench_containers builds the image from a copy of the checkout holding only BUILD_INPUTS (so that it can make a
code-only change without touching the checkout): every file the Containerfile copies from the build context must
be in that list, or the bench fails at `podman build` (it did once, when the image started copying slim_venv.py)."""

from __future__ import annotations

import shlex
from pathlib import Path

from bench.bench_containers import BUILD_INPUTS

ROOT = Path(__file__).resolve().parents[2]


def context_sources() -> list[str]:
    sources = []
    for line in (ROOT / "Containerfile").read_text().splitlines():
        words = shlex.split(line) if line.startswith("COPY ") else []
        if words and not any(word.startswith("--from") for word in words):
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def test_every_file_the_containerfile_copies_is_in_the_bench_build_inputs() -> None:
    sources = context_sources()
    assert "tools/image/slim_venv.py" in sources  # the parse above reads the Containerfile as it is
    missing = [s for s in sources if not any(s == i or s.startswith(f"{i}/") for i in BUILD_INPUTS)]
    assert missing == []
