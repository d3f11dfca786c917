"""The HTTP control API of a venue, under `/__sandbox/` on the venue's own port. Only the sandbox's own
tests and tools call it; ccxt never does. Answers are JSON; a refused change is a 400 `{"error": ...}`."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tallyhold_sandbox.control import CONTROL_PREFIX
from tallyhold_sandbox.state import VenueState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ok(data: Any = None, status: int = 200) -> web.Response:
    return web.json_response({"ok": True} if data is None else data, status=status)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        return {}
    try:
        # The stdlib parser accepts NaN/Infinity tokens: planted values may be non-finite numbers.
        return json.loads(raw)
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}', content_type="application/json") from None


def _guard(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ValueError, TypeError, AttributeError) as error:
            # ControlError and FaultError are ValueErrors; type errors come from wrongly shaped JSON.
            return web.json_response({"error": str(error)}, status=400)

    return guarded


def add_control_routes(router: web.UrlDispatcher, state: VenueState) -> None:
    async def view(_: web.Request) -> web.StreamResponse:
        return web.json_response(json.loads(json.dumps(state.view(), default=str)))

    async def put_key(request: web.Request) -> web.StreamResponse:
        spec = await _body(request)
        spec["api_key"] = request.match_info["api_key"]
        return _ok(state.put_key(spec).view(), status=201)

    async def patch_key(request: web.Request) -> web.StreamResponse:
        return _ok(state.patch_key(request.match_info["api_key"], await _body(request)).view())

    async def delete_key(request: web.Request) -> web.StreamResponse:
        state.remove_key(request.match_info["api_key"])
        return _ok()

    async def put_balances(request: web.Request) -> web.StreamResponse:
        state.set_balances(request.match_info["api_key"], await _body(request), replace=request.method == "PUT")
        return _ok()

    async def put_tickers(request: web.Request) -> web.StreamResponse:
        state.set_tickers(await _body(request), replace=request.method == "PUT")
        return _ok()

    async def add_fault(request: web.Request) -> web.StreamResponse:
        return _ok(state.add_fault(await _body(request)).as_json(), status=201)

    async def delete_faults(request: web.Request) -> web.StreamResponse:
        fault_id = request.match_info.get("fault_id")
        state.remove_fault(None if fault_id is None else int(fault_id))
        return _ok()

    async def get_hold(request: web.Request) -> web.StreamResponse:
        return _ok(state.hold(int(request.match_info["fault_id"])).as_json())

    async def release_hold(request: web.Request) -> web.StreamResponse:
        return _ok(state.release(int(request.match_info["fault_id"])).as_json())

    async def requests(request: web.Request) -> web.StreamResponse:
        since = int(request.query.get("since", "0"))
        return web.json_response({"requests": [e.as_json() for e in state.requests(since)]})

    async def clear_requests(_: web.Request) -> web.StreamResponse:
        state.clear_requests()
        return _ok()

    async def reset(_: web.Request) -> web.StreamResponse:
        state.reset()
        return _ok()

    p = CONTROL_PREFIX
    router.add_get(p, _guard(view))
    # Keys may contain "/" (Coinbase CDP key names): the balances route must be registered first.
    router.add_put(p + "/keys/{api_key:.+}/balances", _guard(put_balances))
    router.add_patch(p + "/keys/{api_key:.+}/balances", _guard(put_balances))
    router.add_put(p + "/keys/{api_key:.+}", _guard(put_key))
    router.add_patch(p + "/keys/{api_key:.+}", _guard(patch_key))
    router.add_delete(p + "/keys/{api_key:.+}", _guard(delete_key))
    router.add_put(p + "/tickers", _guard(put_tickers))
    router.add_patch(p + "/tickers", _guard(put_tickers))
    router.add_post(p + "/faults", _guard(add_fault))
    router.add_delete(p + "/faults", _guard(delete_faults))
    router.add_delete(p + "/faults/{fault_id}", _guard(delete_faults))
    router.add_get(p + "/faults/{fault_id}", _guard(get_hold))
    router.add_post(p + "/faults/{fault_id}/release", _guard(release_hold))
    router.add_get(p + "/requests", _guard(requests))
    router.add_delete(p + "/requests", _guard(clear_requests))
    router.add_post(p + "/reset", _guard(reset))
