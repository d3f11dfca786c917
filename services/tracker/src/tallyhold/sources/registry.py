"""The request builders' type. Which builder serves which connection kind is decided once, by the runtime
(`tallyhold.runtime.request_builders`), which gives the sync engine a map from kind to builder: a builder may need
a service of its domain (the exchange one decrypts keys), and only the runtime may import every domain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tallyhold.models import Connection
from tallyhold.sources.models import EgressCall, SourceContext

RequestBuilder = Callable[[Connection, SourceContext], Awaitable[EgressCall]]
