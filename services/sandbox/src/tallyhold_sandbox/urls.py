"""The rewrite TALLYHOLD_EXCHANGE_API_OVERRIDES describes, for callers that build ccxt clients themselves
(tests, benches): every `urls['api']` entry keeps its path and gets the sandbox's scheme and host."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def override_api_urls(api: Any, base_url: str) -> Any:
    """`api` is a ccxt exchange's `urls['api']` (a string or nested dicts of strings); returns the rewritten copy.
    Query strings and fragments of the originals are kept too (none of the sandbox venues' URLs have any)."""
    if isinstance(api, str):
        parts = urlsplit(api)
        rest = parts.path + (f"?{parts.query}" if parts.query else "")
        return base_url.rstrip("/") + rest
    if isinstance(api, dict):
        return {name: override_api_urls(value, base_url) for name, value in api.items()}
    return api
