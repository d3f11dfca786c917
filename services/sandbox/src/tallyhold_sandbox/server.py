"""Running venues: one aiohttp server per venue on 127.0.0.1 and a port the OS picks (or a given one).

- `Sandbox`: some or all venues inside the running event loop (`async with Sandbox(...) as sandbox`).
- `SandboxThread`: the same in a background thread with its own loop, for synchronous callers.
Each venue has a base URL (what `TALLYHOLD_EXCHANGE_API_OVERRIDES` maps its ccxt id to) and a control client."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tallyhold_sandbox.control import CONTROL_PREFIX, VenueControl
from tallyhold_sandbox.control_api import add_control_routes
from tallyhold_sandbox.faults import BODY_KINDS, Fault, encode_answer
from tallyhold_sandbox.iplimit import USED_WEIGHT_HEADER, Verdict
from tallyhold_sandbox.state import VenueState
from tallyhold_sandbox.venues import VENUES
from tallyhold_sandbox.venues.base import Reject, Venue

TRUNCATED_JSON = '{"code":0,"data":[{"asset":"BTC","free":"1.0'
HTML_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    "<hr><center>cloudflare</center></body></html>"
)
CLIENT_GONE = 499  # logged when the client hung up before an answer (e.g. during a `hang` fault)


def _with_retry_after(response: web.Response, retry_after: int | None) -> web.Response:
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _fault_response(venue: Venue, fault: Fault) -> web.Response | None:
    """The answer a fault gives instead of the handler's, or None when the handler should answer (after a
    `hang`, which only delays)."""
    retry_after = fault.retry_after
    if fault.kind == "rate_limit":
        return _with_retry_after(venue.rate_limited(retry_after or 1), retry_after or 1)
    if fault.kind == "ban":
        return _with_retry_after(venue.banned(retry_after or 60), retry_after or 60)
    if fault.kind == "server_error":
        return _with_retry_after(venue.server_error(fault.status or 500), retry_after)
    if fault.kind == "unavailable":
        return _with_retry_after(venue.server_error(503), retry_after)
    if fault.kind == "http":
        status = fault.status or 500
        if fault.body is not None:
            response = web.Response(text=fault.body, status=status, content_type="application/json")
        elif status == 429:
            response = venue.rate_limited(retry_after or 1)
            response.set_status(status)
        elif status >= 500:
            response = venue.server_error(status)
        else:
            response = venue.auth_error("no_permission")
            response.set_status(status)
        return _with_retry_after(response, retry_after)
    if fault.kind == "malformed_json":
        return web.Response(text=TRUNCATED_JSON, status=200, content_type="application/json")
    if fault.kind == "html":
        return web.Response(text=HTML_PAGE, status=fault.status or 502, content_type="text/html")
    if fault.kind == "hang":
        await asyncio.sleep(fault.seconds)
        return None
    if fault.kind == "hold":
        await fault.wait_release()
        return None
    raise AssertionError(f"unhandled fault kind {fault.kind}")


def _mutated(response: web.Response, fault: Fault) -> web.Response:
    if response.content_type != "application/json" or response.text is None:
        return response
    document = json.loads(response.text)
    return web.Response(
        text=encode_answer(fault.mutate(document)),
        status=response.status,
        content_type="application/json",
        headers={k: v for k, v in response.headers.items() if k.lower() not in {"content-type", "content-length"}},
    )


def _weigh(venue: Venue, request: web.Request) -> Verdict | None:
    """The per-IP weight limit's verdict on this request (None when the venue has no limit on)."""
    limit = venue.state.ip_limit
    if limit is None:
        return None
    return limit.admit(request.remote or "", venue.request_weight(request.method, request.path))


def build_app(venue: Venue) -> web.Application:
    state = venue.state

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            response: web.StreamResponse = await handler(request)
            return response
        api_key = venue.api_key_of(request)
        fault = state.take_fault(request.method, request.path, api_key)
        status = CLIENT_GONE
        verdict = _weigh(venue, request)
        try:
            answer = None
            if verdict is not None and verdict.status != 200:
                refusal = venue.rate_limited if verdict.status == 429 else venue.banned
                answer = _with_retry_after(refusal(verdict.retry_after), verdict.retry_after)
            elif fault is not None and fault.kind not in BODY_KINDS:
                answer = await _fault_response(venue, fault)
            if answer is None:
                try:
                    answer = await handler(request)
                except Reject as reject:
                    answer = reject.response
                except web.HTTPException as error:
                    if error.status not in {404, 405}:
                        raise
                    answer = venue.not_found(request)
                if fault is not None and fault.kind in BODY_KINDS and isinstance(answer, web.Response):
                    answer = _mutated(answer, fault)
            status = answer.status
            if verdict is not None:
                answer.headers[USED_WEIGHT_HEADER] = str(verdict.used)
            return answer
        finally:
            state.record(
                request.method,
                request.path,
                sorted(set(request.query.keys())),
                api_key[-4:] if api_key else None,
                status,
                fault.kind if fault else None,
            )

    app = web.Application(middlewares=[middleware])
    add_control_routes(app.router, state)
    venue.add_routes(app.router)
    return app


class VenueServer:
    """One venue's HTTP server."""

    def __init__(self, name: str, *, state: VenueState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        if name not in VENUES:
            raise ValueError(f"unknown venue {name!r}; venues: {sorted(VENUES)}")
        venue_class = VENUES[name]
        self.name = name
        self.state = state or venue_class.new_state()
        self.venue = venue_class(self.state)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError(f"{self.name} is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def control(self) -> VenueControl:
        return VenueControl(self.state, self.url)

    async def start(self) -> str:
        # handler_cancellation: a handler stuck in a `hang` fault ends when the client gives up.
        runner = web.AppRunner(build_app(self.venue), access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()


class Sandbox:
    """Several venues in the current event loop. `seed` is the content of a seed file (`{"venues": {...}}`)."""

    def __init__(
        self,
        venues: Iterable[str] | None = None,
        *,
        host: str = "127.0.0.1",
        ports: Mapping[str, int] | None = None,
        seed: Mapping[str, Any] | None = None,
    ) -> None:
        names = list(venues) if venues is not None else sorted(VENUES)
        seed_venues = dict((seed or {}).get("venues", {}))
        unknown = (set(names) | set(seed_venues)) - set(VENUES)
        if unknown:
            raise ValueError(f"unknown venues {sorted(unknown)}; venues: {sorted(VENUES)}")
        self.servers = {n: VenueServer(n, host=host, port=(ports or {}).get(n, 0)) for n in names}
        for name, venue_seed in seed_venues.items():
            if name in self.servers:
                self.servers[name].state.load(venue_seed)

    async def start(self) -> Self:
        try:
            for server in self.servers.values():
                await server.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        for server in self.servers.values():
            await server.stop()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    def url(self, venue: str) -> str:
        return self.servers[venue].url

    def control(self, venue: str) -> VenueControl:
        return self.servers[venue].control

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    def overrides_json(self) -> str:
        """The value for TALLYHOLD_EXCHANGE_API_OVERRIDES: `{"<ccxt id>": "<base url>"}`."""
        return json.dumps(self.urls, sort_keys=True)


class SandboxThread:
    """A `Sandbox` in a background thread with its own event loop; `start()` returns once every venue listens."""

    def __init__(self, venues: Iterable[str] | None = None, **options: Any) -> None:
        self._venues = list(venues) if venues is not None else None
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tallyhold-sandbox", daemon=True)
        self.sandbox: Sandbox | None = None

    def start(self) -> Self:
        self._thread.start()
        sandbox = Sandbox(self._venues, **self._options)
        asyncio.run_coroutine_threadsafe(sandbox.start(), self._loop).result(timeout=30)
        self.sandbox = sandbox
        return self

    def stop(self) -> None:
        if self.sandbox is not None:
            sandbox, self.sandbox = self.sandbox, None
            asyncio.run_coroutine_threadsafe(sandbox.stop(), self._loop).result(timeout=30)
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _running(self) -> Sandbox:
        if self.sandbox is None:
            raise RuntimeError("the sandbox thread is not running")
        return self.sandbox

    def url(self, venue: str) -> str:
        return self._running().url(venue)

    def control(self, venue: str) -> VenueControl:
        return self._running().control(venue)

    @property
    def urls(self) -> dict[str, str]:
        return self._running().urls

    def overrides_json(self) -> str:
        return self._running().overrides_json()
