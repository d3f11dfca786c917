"""Wire-faithful sandbox exchange venues for Tallyhold's tests and demo: local HTTP servers that speak each
venue's real paths, JSON shapes and signature schemes, so unmodified ccxt runs against them once every
`urls['api']` entry's scheme and host are replaced by the venue's base URL. README "Sandbox venues"."""

from __future__ import annotations

from tallyhold_sandbox.control import RemoteControl, RemoteControlError, VenueControl, key_spec
from tallyhold_sandbox.server import Sandbox, SandboxThread, VenueServer
from tallyhold_sandbox.urls import override_api_urls
from tallyhold_sandbox.venues import VENUES

__all__ = [
    "VENUES",
    "RemoteControl",
    "RemoteControlError",
    "Sandbox",
    "SandboxThread",
    "VenueControl",
    "VenueServer",
    "key_spec",
    "override_api_urls",
]
