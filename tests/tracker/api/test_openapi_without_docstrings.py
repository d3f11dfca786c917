"""Instances run with `python -OO` (no docstrings, 6 MiB less each): the OpenAPI document they serve is the same,
descriptions and all, as the one served with docstrings (tallyhold/api/docstrings.py). Each document is fetched
from `/openapi.json` of an app built as `serve` builds it, in a fresh interpreter of each kind
(`tests/fixtures/openapi.py`)."""

from __future__ import annotations

import json

from tests.fixtures.openapi import served_document


def test_the_document_served_without_docstrings_equals_the_one_with_them() -> None:
    with_docstrings = served_document()
    without = served_document("-OO")
    assert (with_docstrings["optimize"], without["optimize"]) == (0, 2)
    assert with_docstrings["status"] == without["status"] == 200
    assert without["document"] == with_docstrings["document"]
    text = json.dumps(without["document"])
    # Descriptions from both sources are there: an endpoint's docstring and a model's.
    assert "Anything that looks like a private key, WIF, xprv or" in text
    assert "The error body of every non-2xx answer" in text
    assert text.count('"description"') > 100
