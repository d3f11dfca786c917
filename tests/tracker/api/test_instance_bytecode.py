"""The venv holds the bytecode an instance reads, fresh and readable by all: instances run with `python -OO`
(`PYTHONOPTIMIZE=2`, set by the local launcher), which reads `.opt-2.pyc` files, not the plain `.pyc` ones.

On the local backend the instance runs as the customer's own OS user, who cannot write `__pycache__` into the
venv: without them (`make install` compiles them) every instance start compiles its ~1,100 modules from source
again. The check runs in a fresh interpreter with the instance's flags that writes no bytecode (as that user
cannot) and imports what `python -m tallyhold.serve` imports before it serves; every module it loaded from the
venv's site-packages must have had a valid `.opt-2.pyc` to load instead of its source.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.fixtures.bytecode import BYTECODE_CHECK

CODE = (
    """
import importlib, importlib.machinery, importlib.util, json, os, stat, sys, sysconfig
import tallyhold.serve, tallyhold.app, tallyhold.api.server, tallyhold.runtime
import sqlalchemy.dialects.postgresql.psycopg, uvicorn.loops.uvloop, uvicorn.protocols.http.h11_impl
"""
    + BYTECODE_CHECK
)


def test_every_library_module_an_instance_imports_has_fresh_optimised_bytecode_readable_by_all() -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONOPTIMIZE": "2", "PYTHONNODEBUGRANGES": "1"}
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, env=env)
    found = json.loads(done.stdout)
    assert found["loaded"] > 500  # SQLAlchemy, psycopg, FastAPI, pydantic, hvac, ...: the check saw the imports
    problems = found["problems"]
    assert problems == {}, f"{len(problems)} modules without usable bytecode (run `make install`): {problems}"
