"""FastAPI without pydantic v1 (1.5 MiB less in every idle instance) and with its OpenAPI models built at their
first use (1.2 MiB).

FastAPI imports `pydantic.v1` (22 modules) only to ask whether a route's model, or a value it encodes, is a
pydantic v1 model; when that import fails its check answers "no" (`fastapi._compat.shared`, the fallback for a
pydantic without v1). No model of an instance is a v1 model and nothing an instance runs uses pydantic v1, so
the instance marks it absent before the first route is made. Anything that later imported it would fail loudly
(ImportError), never silently. The egress worker, a process of its own, is not concerned.

FastAPI's package imports `fastapi.openapi.models`, the ~36 pydantic models of an OpenAPI document (OpenAPI,
Schema, Operation, ...), and pydantic builds each one's validator and serializer as the class is made. An
instance needs them only to write `/openapi.json`, which an idle instance is never asked for. Imported with
pydantic's `defer_build` (pydantic's documented setting: a model so configured is built at its first
validation, serialization or schema, transparently), they cost nothing until then. FastAPI's models set no
`defer_build` of their own and offer no way to, so the default every model starts from is switched on for
that import only (pydantic's `config_defaults`, the one place that default lives) and restored after it. The
models FastAPI's import makes in passing (its HTTP credentials and error models) are deferred as well, and
built likewise at first use.
"""

from __future__ import annotations

import importlib
import sys

from pydantic._internal import _config

PYDANTIC_V1 = "pydantic.v1"
FASTAPI = "fastapi"


def refuse_pydantic_v1() -> None:
    """Does nothing when pydantic v1 is already loaded (another user in the process then keeps it)."""
    if PYDANTIC_V1 not in sys.modules:
        sys.modules[PYDANTIC_V1] = None  # type: ignore[assignment]  # None in sys.modules makes the import fail


def import_fastapi_with_deferred_models() -> None:
    """Imports FastAPI with the models it defines built at their first use; does nothing when FastAPI is already
    loaded (its models are then built already)."""
    if FASTAPI in sys.modules:
        return
    defaults = _config.config_defaults
    previous = defaults["defer_build"]  # a KeyError here means pydantic moved the default: look again
    defaults["defer_build"] = True
    try:
        importlib.import_module(FASTAPI)
    finally:
        defaults["defer_build"] = previous
