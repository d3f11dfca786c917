"""How `tallyhold serve` runs uvicorn: TLS, the refusal of plain HTTP off loopback, and the slow-client limits.

uvicorn's h11 protocol arms its keep-alive timer only after an answer and cancels it on any byte received, and
has no timer at all before the first request: a client that connects and sends nothing, or sends its headers a
byte at a time, holds its connection for ever (an outside review held 1,500 such connections). `limit_concurrency`
does not help: it answers 503 only once a request's head is complete. `GuardedH11Protocol` adds the two missing
limits and keeps everything else of uvicorn (lifespan, TLS, graceful shutdown), which is why it is a small
subclass rather than another server:

- a deadline for a request's head (request line and headers), armed when the connection is made and again when
  an answer is complete, disarmed once the head is in; a connection still without a head then is closed;
- a cap on open connections: one more is answered 503 `server_busy` and closed at once.

An idle keep-alive connection is closed by uvicorn's own `timeout_keep_alive`, and a body that does not arrive in
time is answered 408 by `BodySizeLimit` (api/middleware.py). TLS handshakes are bounded by asyncio's own 60 s
handshake timeout; until a handshake completes the connection is not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from ipaddress import ip_address
from types import FrameType
from typing import Any, ClassVar

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import Server as UvicornServer

from tallyhold.api.middleware import DEFAULT_CSP
from tallyhold.metrics import count_api_error
from tallyhold.settings import Settings

_BUSY_BODY = json.dumps(
    {"error": {"code": "server_busy", "message": "The instance has too many open connections; try again shortly."}}
).encode()
# Written raw, before any request is read (h11 cannot answer before a request); with the security headers every
# answer carries (api/middleware.py).
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b"x-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\ncache-control: no-store\r\n"
    b"content-security-policy: " + DEFAULT_CSP.encode() + b"\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a head deadline and a connection cap (set by `guarded_protocol`)."""

    head_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn's own signature
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            count_api_error("server_busy")
            transport.write(BUSY_ANSWER)
            transport.close()
            return
        self._arm_head_deadline()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a head is in (or the connection is ending)
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        # Armed before uvicorn starts the next cycle: a pipelined head already received disarms it at once.
        if not self.transport.is_closing():
            self._arm_head_deadline()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class Server(UvicornServer):
    """uvicorn's server, woken once a second rather than ten times while nothing happens.

    uvicorn's main loop sleeps 0.1 s at a time only to see whether it was asked to stop and, every tenth time, to
    refresh the `Date` header: ten wake-ups a second of an idle instance, each a fraction of a millisecond of CPU,
    on a host of hundreds of instances. Here the loop does that work once a second, and a signal asking it to
    stop wakes it at once (`handle_exit`), so a stop is not delayed by the longer sleep."""

    tick_seconds: ClassVar[float] = 1.0

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._stop_asked = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        ticks = 0
        should_exit = await self.on_tick(0)
        while not should_exit:
            ticks = (ticks + 1) % 86400
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_asked.wait(), self.tick_seconds)
            # on_tick counts tenths of a second and does its once-a-second work at multiples of ten.
            should_exit = await self.on_tick(ticks * 10)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # A signal handler runs between two bytecodes of the loop's thread: only the loop's own thread-safe
            # wake-up may touch it from here.
            loop.call_soon_threadsafe(self._stop_asked.set)


# TLS 1.2's forward-secret AEAD suites (TLS 1.3 suites are not set by cipher strings and are all good), pinned
# rather than left to the OpenSSL build's defaults, which here still offer CBC suites (ECDHE-*-AES*-SHA256/384;
# older uvicorn versions even set "TLSv1", which lets CBC-SHA1, anonymous and NULL suites in).
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)


def guarded_protocol(settings: Settings) -> type[GuardedH11Protocol]:
    """The protocol class with this instance's limits (uvicorn instantiates the class it is given)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"head_timeout": settings.http.header_timeout_seconds, "max_connections": settings.http.max_connections},
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost, or "" (every interface): not known to stay local


def plaintext_refusal(settings: Settings) -> str | None:
    """Why `serve` must not start with these settings, or None. A bearer token must never cross a network in
    clear text by default: plain HTTP is served on loopback, or when the operator declares a TLS front."""
    if settings.http.tls_cert_file is not None or settings.http.tls_upstream or is_loopback(settings.http.host):
        return None
    return (
        f"refusing to serve plain HTTP on {settings.http.host!r}, which is not loopback: access tokens would cross "
        "the network in clear text. Set TALLYHOLD_TLS_CERT_FILE and TALLYHOLD_TLS_KEY_FILE to serve HTTPS, or "
        "TALLYHOLD_TLS_UPSTREAM=true when an ingress, a reverse proxy or a loopback-only published port "
        "terminates TLS in front of the instance"
    )


def tls_problem(settings: Settings) -> str | None:
    """A certificate or key that cannot be loaded, said before uvicorn would fail with a traceback."""
    if settings.http.tls_cert_file is None or settings.http.tls_key_file is None:
        return None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            settings.http.tls_cert_file, settings.http.tls_key_file
        )
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return f"TALLYHOLD_TLS_CERT_FILE / TALLYHOLD_TLS_KEY_FILE cannot be loaded ({reason})"
    return None


def uvicorn_config(app: Any, settings: Settings) -> Config:
    return Config(
        app,
        host=settings.http.host,
        port=settings.http.port,
        http=guarded_protocol(settings),
        ws="none",  # no WebSocket route: uvicorn's default would import the websockets package for nothing
        timeout_keep_alive=int(settings.http.keepalive_seconds),
        ssl_certfile=settings.http.tls_cert_file,
        ssl_keyfile=settings.http.tls_key_file,
        ssl_ciphers=TLS12_CIPHERS,  # and Python's floor: TLS 1.2 at least
        access_log=False,
        log_config=None,
        server_header=False,
        # Forwarded headers are believed from the declared fronts only (uvicorn rewrites the client address and
        # scheme before the app sees them); from anyone else they are ignored, so a client cannot pick its own
        # throttle key.
        proxy_headers=bool(settings.http.trusted_proxies),
        forwarded_allow_ips=[str(network) for network in settings.http.trusted_proxies],
    )
