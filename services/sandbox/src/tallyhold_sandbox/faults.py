"""Fault rules: what a venue does instead of (or to) its normal answer.

A rule matches requests by path prefix, method and API key, and can be limited to a number of uses.
Kinds (the venue decides the wire form of the first four, see each venue's `responses`):

- `rate_limit`  the venue's own "too many requests" answer, with `Retry-After: <retry_after>` seconds
- `ban`         the venue's own ban answer (Binance: HTTP 418), with `Retry-After`
- `server_error` HTTP `status` (default 500) with the venue's error body
- `unavailable` HTTP 503 (maintenance) with the venue's error body
- `http`        any `status`, optional `retry_after`, optional raw `body` (default: the venue's error body)
- `hang`        the answer is delayed `seconds` (default 3600): the client's timeout fires first
- `hold`        the answer waits until the test releases the fault (at most `seconds`), then is the normal
                one, computed at release time; `held` counts the requests that reached it. Tests use it to
                order a request against something else deterministically, instead of sleeping
- `malformed_json` HTTP 200, `Content-Type: application/json`, a truncated JSON body
- `html`        HTTP `status` (default 502) with an HTML error page, as a CDN in front of a venue sends
- `drop_fields` the normal answer with every object key named in `fields` removed, at any depth
- `set_fields`  the normal answer with every object key named in `fields` (a mapping) set to that raw
                value (e.g. "NaN", 1e308, "-5", "lots") wherever it occurs; `{"json_number": "<text>"}` sends
                <text> as a bare JSON number, digit for digit (more digits than a float keeps)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = frozenset(
    {
        "rate_limit",
        "ban",
        "server_error",
        "unavailable",
        "http",
        "hang",
        "hold",
        "malformed_json",
        "html",
        "drop_fields",
        "set_fields",
    }
)
BODY_KINDS = frozenset({"drop_fields", "set_fields"})


class FaultError(ValueError):
    """A fault spec that cannot be used."""


@dataclass
class Fault:
    id: int
    kind: str
    path: str | None = None
    method: str | None = None
    api_key: str | None = field(default=None, repr=False)
    times: int | None = None
    retry_after: int | None = None
    seconds: float = 3600.0
    status: int | None = None
    body: str | None = None
    fields: Any = None
    held: int = 0  # `hold`: requests that reached it (read from any thread, written under the venue's lock)
    released: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(
        default_factory=list, repr=False, compare=False
    )
    _hold_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def parse(cls, fault_id: int, spec: Mapping[str, Any]) -> Fault:
        known = {"kind", "path", "method", "api_key", "times", "retry_after", "seconds", "status", "body", "fields"}
        unknown = set(spec) - known
        if unknown:
            raise FaultError(f"unknown fault fields: {sorted(unknown)}")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise FaultError(f"fault kind must be one of {sorted(KINDS)}")
        fault = cls(
            id=fault_id,
            kind=str(kind),
            path=_optional_str(spec.get("path")),
            method=_optional_str(spec.get("method")),
            api_key=_optional_str(spec.get("api_key")),
            times=_optional_int(spec.get("times")),
            retry_after=_optional_int(spec.get("retry_after")),
            seconds=float(spec.get("seconds", 3600.0)),
            status=_optional_int(spec.get("status")),
            body=_optional_str(spec.get("body")),
            fields=spec.get("fields"),
        )
        if fault.method is not None:
            fault.method = fault.method.upper()
        if fault.times is not None and fault.times < 1:
            raise FaultError("times must be at least 1 (omit it for a fault that stays)")
        if fault.kind == "drop_fields" and not (
            isinstance(fault.fields, list) and all(isinstance(f, str) for f in fault.fields)
        ):
            raise FaultError("drop_fields needs `fields`: a list of key names")
        if fault.kind == "set_fields" and not isinstance(fault.fields, Mapping):
            raise FaultError("set_fields needs `fields`: an object of key name to raw value")
        if fault.kind == "http" and fault.status is None:
            raise FaultError("http needs a `status`")
        return fault

    def matches(self, method: str, path: str, api_key: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.path is not None and not _path_matches(self.path, path):
            return False
        return self.api_key is None or self.api_key == api_key

    def release(self) -> None:
        """`hold`: lets every waiting request (and every later one) answer; callable from any thread."""
        with self._hold_lock:
            self.released.set()
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that server's loop has already closed
                loop.call_soon_threadsafe(event.set)

    async def wait_release(self) -> None:
        """`hold`: returns once released, or after `seconds`."""
        event = asyncio.Event()
        with self._hold_lock:
            if self.released.is_set():
                return
            self._waiters.append((asyncio.get_running_loop(), event))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), self.seconds)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "path": self.path,
            "method": self.method,
            "key_hint": self.api_key[-4:] if self.api_key else None,
            "times": self.times,
            "retry_after": self.retry_after,
            "seconds": self.seconds,
            "status": self.status,
            "fields": self.fields,
            **({"held": self.held, "released": self.released.is_set()} if self.kind == "hold" else {}),
        }

    def mutate(self, document: Any) -> Any:
        """Apply a body fault (drop_fields / set_fields) to a decoded JSON document."""
        if isinstance(document, dict):
            result: dict[str, Any] = {}
            for key, value in document.items():
                if self.kind == "drop_fields" and key in self.fields:
                    continue
                if self.kind == "set_fields" and key in self.fields:
                    result[key] = self.fields[key]
                else:
                    result[key] = self.mutate(value)
            return result
        if isinstance(document, list):
            return [self.mutate(item) for item in document]
        return document


JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def encode_answer(document: Any) -> str:
    """The JSON text of a (mutated) answer; a `{"json_number": text}` value is written as the bare number `text`,
    which json.dumps cannot do for a number a float would round."""
    numbers: list[str] = []

    def placeholder(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"json_number"} and JSON_NUMBER.fullmatch(str(value["json_number"])):
                numbers.append(str(value["json_number"]))
                return f"\x00number{len(numbers) - 1}\x00"
            return {key: placeholder(item) for key, item in value.items()}
        if isinstance(value, list):
            return [placeholder(item) for item in value]
        return value

    text = json.dumps(placeholder(document), allow_nan=True, separators=(",", ":"))
    for index, number in enumerate(numbers):
        text = text.replace(json.dumps(f"\x00number{index}\x00"), number)
    return text


def _path_matches(pattern: str, path: str) -> bool:
    """A prefix ("/api/v3/account" also matches "/api/v3/account/x"), or a regular expression when the
    pattern starts with "^"."""
    if pattern.startswith("^"):
        return re.search(pattern, path) is not None
    return path == pattern or path.startswith(pattern.rstrip("/") + "/")


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FaultError("expected an integer")
    return int(value)
