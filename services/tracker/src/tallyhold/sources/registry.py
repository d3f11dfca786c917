from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import cast

from tallyhold.models import Connection
from tallyhold.sources.models import EgressCall, SourceContext

RequestBuilder = Callable[[Connection, SourceContext], Awaitable[EgressCall]]

# kind → "module:function". Filled in as the connectors land: exchanges/sync.py, chains/sync.py.
BUILDERS: dict[str, str] = {
    "exchange": "tallyhold.exchanges.sync:build_request",
    "wallet": "tallyhold.chains.sync:build_wallet_request",
}


def builder_for(kind: str) -> RequestBuilder | None:
    path = BUILDERS.get(kind)
    if path is None:
        return None
    module, _, name = path.partition(":")
    return cast(RequestBuilder, getattr(importlib.import_module(module), name))
