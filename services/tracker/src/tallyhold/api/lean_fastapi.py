"""FastAPI without pydantic v1: 1.5 MiB less in every idle instance.

FastAPI imports `pydantic.v1` (22 modules) only to ask whether a route's model, or a value it encodes, is a
pydantic v1 model; when that import fails its check answers "no" (`fastapi._compat.shared`, the fallback for a
pydantic without v1). No model of an instance is a v1 model and nothing an instance runs uses pydantic v1, so
the instance marks it absent before the first route is made. Anything that later imported it would fail loudly
(ImportError), never silently. The egress worker, a process of its own, is not concerned.
"""

from __future__ import annotations

import sys

PYDANTIC_V1 = "pydantic.v1"


def refuse_pydantic_v1() -> None:
    """Does nothing when pydantic v1 is already loaded (another user in the process then keeps it)."""
    if PYDANTIC_V1 not in sys.modules:
        sys.modules[PYDANTIC_V1] = None  # type: ignore[assignment]  # None in sys.modules makes the import fail
