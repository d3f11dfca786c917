"""What the egress worker process loads: its operations' modules, never the database layer (it has no database;
SQLAlchemy would cost every worker start about 20 MiB and a second of CPU, on every sync interval)."""

from __future__ import annotations

import subprocess
import sys

from tallyhold.egress.operations import OPERATIONS

HEAVY_AND_UNUSED = ("sqlalchemy", "psycopg", "fastapi", "hvac", "tallyhold.settings")


def test_the_operations_modules_do_not_import_the_database_layer() -> None:
    modules = sorted(
        {path.partition(":")[0] for op in OPERATIONS.values() for path in (op.request, op.reply, op.handler)}
    )
    code = (
        "import importlib, sys\n"
        "import tallyhold.egress.worker\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(' '.join(m for m in {HEAVY_AND_UNUSED!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == []
