"""The transport guard: the last check before a request leaves the worker.

Built from the ccxt endpoint declarations (`Entry`: HTTP method + path template) of the methods a venue's
adapter declares, it allows a request only when its HTTP method matches and its URL path ends with one of
those templates, and never when it matches a denylisted endpoint. So neither a unified ccxt method, nor an
internal ccxt call, nor a mistake in an adapter can reach an endpoint nobody reviewed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class ForbiddenRequest(Exception):
    """A request the guard refused. Our own bug, never the exchange's: it is reported as such."""

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        super().__init__(f"{method} {path} is not an endpoint this venue's adapter may call")


@dataclass(frozen=True)
class Endpoint:
    method: str  # GET, POST, ...
    template: str  # ccxt path, e.g. "account/apiRestrictions", "v1/account/accounts/{account-id}/balance"

    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]+\})", self.template.lstrip("/"))
        body = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
        return re.compile(r"(?:^|/)" + body + "$")


class TransportGuard:
    def __init__(self, allowed: Iterable[Endpoint], denied: Iterable[Endpoint]) -> None:
        self._allowed = [(e.method.upper(), e.pattern()) for e in allowed]
        self._denied = [(e.method.upper(), e.pattern()) for e in denied]

    def check(self, method: str, url: str) -> None:
        verb = method.upper()
        path = urlsplit(url).path
        if any(m == verb and p.search(path) for m, p in self._denied):
            raise ForbiddenRequest(verb, path)
        if not any(m == verb and p.search(path) for m, p in self._allowed):
            raise ForbiddenRequest(verb, path)


def endpoints_of(exchange_class: type[Any], names: Iterable[str]) -> list[Endpoint]:
    """The ccxt declarations behind implicit method names (camelCase or snake_case) of a venue class."""
    return [Endpoint(str(entry.method), str(entry.path)) for entry in _entries(exchange_class, names)]


def request_cost(exchange_class: type[Any], names: Iterable[str]) -> float:
    """What calling each named method once costs in ccxt's throttle units (its declared `cost`, default 1)."""
    total = 0.0
    for entry in _entries(exchange_class, names):
        config = entry.config if isinstance(entry.config, dict) else {}
        cost = config.get("cost", 1)
        total += float(cost) if isinstance(cost, int | float) else 1.0
    return total


def _entries(exchange_class: type[Any], names: Iterable[str]) -> list[Any]:
    from ccxt.base.types import Entry  # the worker only: this module is imported lazily there

    found = []
    for name in names:
        # The declaration lives on the venue's generated ImplicitAPI base; ccxt's constructor later shadows it
        # with a plain function on the venue class, so look past that.
        entry = next(
            (vars(k)[name] for k in exchange_class.__mro__ if isinstance(vars(k).get(name), Entry)),
            None,
        )
        if entry is None:
            raise LookupError(f"{exchange_class.__name__} has no implicit method {name}")
        found.append(entry)
    return found
