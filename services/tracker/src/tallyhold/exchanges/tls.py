"""One TLS context for every ccxt exchange object of a process (the egress worker's).

A ccxt async exchange makes its own context when it first opens its HTTP session, unless `ssl_context` is set:
`ssl.create_default_context(cafile=<certifi's bundle>)`, verification on. Loading the bundle costs about 20 ms of
CPU each time, and a worker's sync makes one exchange object per exchange account and per price venue asked, at
every worker start. The contexts would all be the same (same CA file, ccxt's defaults), and an `SSLContext` is
made to be shared by many connections, so the process makes it once per CA file. An exchange whose configuration
departs from ccxt's default (verification off, or the system's CAs added by ccxt's `include_OS_certificates`
option) is left to make its own, as ccxt would.
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any


def share_tls_context(exchange: Any) -> None:
    """Before the exchange's first request: gives it the process's context for its CA file."""
    if exchange.ssl_context is not None or exchange.verify is not True:
        return
    if exchange.safe_bool(exchange.options, "include_OS_certificates", False):
        return
    exchange.ssl_context = verified_context(exchange.cafile)


@cache
def verified_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)
