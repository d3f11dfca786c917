"""The chart library the pages serve is exactly npm's uplot from package-lock.json (copied into the package so an
installed instance, or its container image, needs no node_modules): `make web-assets` copies it again."""

from __future__ import annotations

import json

from tallyhold.web.rendering import STATIC_DIR
from tests.tracker.web.conftest import ROOT

NPM = ROOT / "node_modules" / "uplot"


def test_vendored_uplot_is_the_locked_npm_release() -> None:
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/uplot"]["version"]
    assert json.loads((NPM / "package.json").read_text())["version"] == locked
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        assert (STATIC_DIR / "vendor" / name).read_bytes() == (NPM / "dist" / name).read_bytes(), name
    assert (STATIC_DIR / "vendor" / "uPlot.LICENSE").read_bytes() == (NPM / "LICENSE").read_bytes()
