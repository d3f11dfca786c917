"""Binance SIGNED endpoints: `X-MBX-APIKEY` header, HMAC-SHA256 (hex) of totalParams = query string
concatenated with the request body, with the `signature` parameter taken out of whichever holds it;
`timestamp` must satisfy `timestamp < serverTime + 1000` and `serverTime - timestamp <= recvWindow`
(default 5000, at most 60000). developers.binance.com "Request security" / "Timing security"."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl

from aiohttp import web

from tallyhold_sandbox.state import ApiKey
from tallyhold_sandbox.venues.base import Reject, Venue, json_response, now_ms, same

MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = 5_000


def _split_signature(raw: str) -> tuple[str, str | None]:
    """(raw without its `signature=` parameter, the signature) — the rest is kept byte for byte."""
    if not raw:
        return raw, None
    kept, signature = [], None
    for part in raw.split("&"):
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def mandatory(name: str) -> web.Response:
    return json_response(
        {"code": -1102, "msg": f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."},
        status=400,
    )


async def signed(venue: Venue, request: web.Request, *, need: str | None = "read") -> tuple[ApiKey, dict[str, str]]:
    """Verify a SIGNED request the way Binance does; returns the key and the request's parameters."""
    api_key = request.headers.get("X-MBX-APIKEY")
    if not api_key:
        raise Reject(venue.auth_error("missing_key"))
    key = venue.state.find_key(api_key)
    if key is None:
        raise Reject(venue.auth_error("unknown_key"))
    body = (await request.read()).decode() if request.can_read_body else ""
    query, query_signature = _split_signature(request.rel_url.raw_query_string)
    body, body_signature = _split_signature(body)
    signature = query_signature or body_signature
    params = dict(parse_qsl(query, keep_blank_values=True)) | dict(parse_qsl(body, keep_blank_values=True))
    if "timestamp" not in params:
        raise Reject(mandatory("timestamp"))
    if signature is None:
        raise Reject(mandatory("signature"))
    expected = hmac.new(key.secret.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    if not same(signature.lower(), expected):
        raise Reject(venue.auth_error("bad_signature"))
    try:
        timestamp = int(params["timestamp"])
        recv_window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW))
    except ValueError:
        raise Reject(mandatory("timestamp")) from None
    if recv_window > MAX_RECV_WINDOW:
        raise Reject(json_response({"code": -1131, "msg": "recvWindow must be less than 60000"}, status=400))
    server_time = now_ms()
    if not (timestamp < server_time + 1000 and server_time - timestamp <= recv_window):
        raise Reject(venue.auth_error("bad_timestamp"))
    return venue.admit(key, request, need=need), params


def api_key_only(venue: Venue, request: web.Request) -> None:
    """MARKET_DATA endpoints (e.g. margin/allPairs) need a known key but no signature."""
    api_key = request.headers.get("X-MBX-APIKEY")
    if not api_key:
        raise Reject(venue.auth_error("missing_key"))
    if venue.state.find_key(api_key) is None:
        raise Reject(venue.auth_error("unknown_key"))
