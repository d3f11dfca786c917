"""Instances run with `python -OO` (no docstrings, 6 MiB less each): the OpenAPI document they serve is the same,
descriptions and all, as the one served with docstrings (tallyhold/api/docstrings.py). Each document is fetched
from `/openapi.json` of an app built as `serve` builds it, in a fresh interpreter of each kind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CODE = """
import json, sys
from starlette.testclient import TestClient
from tallyhold.app import create_app
from tallyhold.settings import Settings

settings = Settings(
    ENV="development", DATABASE_URL="postgresql+psycopg://u:p@127.0.0.1:9/x", DB_SCHEMA="t_00ff", CUSTOMER_ID="t_00ff"
)
answer = TestClient(create_app(settings)).get("/openapi.json")  # no lifespan: the document needs no runtime
print(json.dumps({"optimize": sys.flags.optimize, "status": answer.status_code, "document": answer.json()}))
"""


def _served_document(*flags: str) -> dict[str, object]:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONOPTIMIZE"}  # the flags alone decide
    done = subprocess.run([sys.executable, *flags, "-c", CODE], capture_output=True, text=True, check=True, env=env)
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_the_document_served_without_docstrings_equals_the_one_with_them() -> None:
    with_docstrings = _served_document()
    without = _served_document("-OO")
    assert (with_docstrings["optimize"], without["optimize"]) == (0, 2)
    assert with_docstrings["status"] == without["status"] == 200
    assert without["document"] == with_docstrings["document"]
    text = json.dumps(without["document"])
    # Descriptions from both sources are there: an endpoint's docstring and a model's.
    assert "Anything that looks like a private key, WIF, xprv or" in text
    assert "The error body of every non-2xx answer" in text
    assert text.count('"description"') > 100
