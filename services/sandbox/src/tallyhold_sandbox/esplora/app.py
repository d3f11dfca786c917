"""The HTTP side of the Esplora sandbox (aiohttp)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tallyhold_sandbox.esplora.state import AddressError, EsploraState, check_address

STATE_KEY: web.AppKey[EsploraState] = web.AppKey("esplora_state", EsploraState)
TTL_SHORT = 10  # electrs' Cache-Control max-age for volatile answers


def _json(value: Any) -> web.Response:
    return web.Response(
        text=json.dumps(value, separators=(",", ":")),
        content_type="application/json",
        headers={"Cache-Control": f"public, max-age={TTL_SHORT}"},
    )


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


@web.middleware
async def faults_and_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    if request.path.startswith("/_sandbox/"):
        return await handler(request)
    with state.lock:
        state.requests.append(request.path)
    fault = state.next_fault()
    if fault == "429":
        return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "0"})
    if fault == "500":
        return _text(500, "internal error")
    if fault == "malformed":
        return web.Response(text='{"address": "', content_type="application/json")
    if fault == "timeout":
        await asyncio.sleep(30)
    return await handler(request)


async def address(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    value = request.match_info["address"]
    try:
        check_address(value)
    except AddressError as exc:
        return _text(400, exc.message)
    return _json(state.stats(value))


async def address_utxo(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    value = request.match_info["address"]
    try:
        check_address(value)
    except AddressError as exc:
        return _text(400, exc.message)
    return _json(state.utxos(value))


async def tip_height(request: web.Request) -> web.Response:
    return _text(200, str(request.app[STATE_KEY].tip_height))


async def tip_hash(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    return _text(200, state.block_hash(state.tip_height))


async def not_found(request: web.Request) -> web.Response:
    return _text(404, f"endpoint does not exist {request.path!r}")


# -- sandbox control (not part of Esplora) ----------------------------------------------------------------------


async def control_fund(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE_KEY]
    try:
        txid = state.fund(str(body["address"]), int(body["sats"]), confirmed=bool(body.get("confirmed", True)))
    except (KeyError, ValueError, TypeError) as exc:
        return web.json_response({"error": type(exc).__name__}, status=400)
    return web.json_response({"txid": txid})


async def control_spend(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE_KEY]
    try:
        txid = state.spend(str(body["address"]), int(body["sats"]), confirmed=bool(body.get("confirmed", True)))
    except (KeyError, ValueError, TypeError) as exc:
        return web.json_response({"error": type(exc).__name__}, status=400)
    return web.json_response({"txid": txid})


async def control_faults(request: web.Request) -> web.Response:
    body = await request.json()
    state = request.app[STATE_KEY]
    with state.lock:
        state.faults[:] = [str(item) for item in body.get("faults", [])]
    return web.json_response({"faults": state.faults})


async def control_requests(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    with state.lock:
        return web.json_response({"requests": list(state.requests)})


def create_app(state: EsploraState | None = None) -> web.Application:
    app = web.Application(middlewares=[faults_and_log])
    app[STATE_KEY] = state or EsploraState()
    app.router.add_get("/address/{address}", address)
    app.router.add_get("/address/{address}/utxo", address_utxo)
    app.router.add_get("/blocks/tip/height", tip_height)
    app.router.add_get("/blocks/tip/hash", tip_hash)
    app.router.add_post("/_sandbox/fund", control_fund)
    app.router.add_post("/_sandbox/spend", control_spend)
    app.router.add_post("/_sandbox/faults", control_faults)
    app.router.add_get("/_sandbox/requests", control_requests)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
