"""Control clients: the same operations in-process (`VenueControl`, direct and thread-safe) and over HTTP
(`RemoteControl`, for a sandbox running as its own process). Both speak the JSON shapes of the control API
(README "Sandbox venues")."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

from tallyhold_sandbox.iplimit import IpWeightLimit
from tallyhold_sandbox.state import VenueState

CONTROL_PREFIX = "/__sandbox"


def key_spec(
    api_key: str,
    secret: str,
    *,
    passphrase: str | None = None,
    permissions: Iterable[str] = ("read",),
    native_permissions: Mapping[str, Any] | None = None,
    ip_allowlist: Iterable[str] = (),
    expires_at: datetime | str | None = None,
    label: str | None = None,
    balances: Mapping[str, Mapping[str, Any]] | None = None,
    ledger: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "api_key": api_key,
        "secret": secret,
        "permissions": list(permissions),
        "native_permissions": dict(native_permissions or {}),
        "ip_allowlist": list(ip_allowlist),
        "expires_at": expires_at.isoformat() if isinstance(expires_at, datetime) else expires_at,
        "balances": {w: dict(a) for w, a in (balances or {}).items()},
    }
    if passphrase is not None:
        spec["passphrase"] = passphrase
    if label is not None:
        spec["label"] = label
    if ledger is not None:
        spec["ledger"] = ledger
    return spec


class VenueControl:
    """In-process control of one venue (same process as the server, any thread)."""

    def __init__(self, state: VenueState, url: str) -> None:
        self.state = state
        self.url = url

    @property
    def venue(self) -> str:
        return self.state.name

    def add_key(self, api_key: str, secret: str, **options: Any) -> None:
        self.state.put_key(key_spec(api_key, secret, **options))

    def update_key(self, api_key: str, **changes: Any) -> None:
        if isinstance(changes.get("expires_at"), datetime):
            changes["expires_at"] = changes["expires_at"].isoformat()
        if "permissions" in changes:
            changes["permissions"] = list(changes["permissions"])
        self.state.patch_key(api_key, changes)

    def set_permissions(
        self, api_key: str, permissions: Iterable[str], native: Mapping[str, Any] | None = None
    ) -> None:
        self.update_key(api_key, permissions=list(permissions), native_permissions=dict(native or {}))

    def remove_key(self, api_key: str) -> None:
        self.state.remove_key(api_key)

    def set_balances(self, api_key: str, wallets: Mapping[str, Mapping[str, Any]], *, replace: bool = True) -> None:
        self.state.set_balances(api_key, wallets, replace=replace)

    def set_tickers(self, tickers: Mapping[str, Any], *, replace: bool = False) -> None:
        self.state.set_tickers(tickers, replace=replace)

    def add_fault(self, kind: str, **spec: Any) -> int:
        return self.state.add_fault({"kind": kind, **spec}).id

    def clear_faults(self, fault_id: int | None = None) -> None:
        self.state.remove_fault(fault_id)

    @contextmanager
    def fault(self, kind: str, **spec: Any) -> Iterator[int]:
        """A fault for the duration of a `with` block."""
        fault_id = self.add_fault(kind, **spec)
        try:
            yield fault_id
        finally:
            self.clear_faults(fault_id)

    def held(self, fault_id: int) -> int:
        """How many requests reached the `hold` fault (waiting, or answered after the release)."""
        return self.state.hold(fault_id).held

    def release(self, fault_id: int) -> None:
        self.state.release(fault_id)

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return [e.as_json() for e in self.state.requests(since)]

    def last_seq(self) -> int:
        entries = self.state.requests()
        return entries[-1].seq if entries else 0

    def clear_requests(self) -> None:
        self.state.clear_requests()

    def limit_ip_weight(self, limit: int | None, *, window_seconds: float = 60.0, ban_seconds: int = 120) -> None:
        """Enforce a per-IP request-weight limit (iplimit.py) from now on, with fresh counters; None lifts it."""
        self.state.ip_limit = None if limit is None else IpWeightLimit(limit, window_seconds, ban_seconds)

    def ip_weight_stats(self) -> dict[str, int]:
        """What the per-IP limit saw: its limit, the highest weight one IP used in a window, 429s and 418s."""
        limit = self.state.ip_limit
        if limit is None:
            raise RuntimeError(f"{self.venue} has no per-IP weight limit")
        return limit.stats()

    def reset(self) -> None:
        self.state.reset()

    def view(self) -> dict[str, Any]:
        return self.state.view()


class RemoteControlError(RuntimeError):
    """The control API refused a request (the message is the sandbox's own explanation)."""


class RemoteControl:
    """Control of one venue over HTTP (`<venue url>/__sandbox/...`), blocking; for other processes."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is the sandbox's own http base URL
            self.url + CONTROL_PREFIX + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - same URL
                payload = response.read()
        except urllib.error.HTTPError as error:
            raise RemoteControlError(error.read().decode(errors="replace")) from None
        return json.loads(payload) if payload else None

    def add_key(self, api_key: str, secret: str, **options: Any) -> None:
        self._call("PUT", f"/keys/{quote(api_key, safe='')}", key_spec(api_key, secret, **options))

    def update_key(self, api_key: str, **changes: Any) -> None:
        if isinstance(changes.get("expires_at"), datetime):
            changes["expires_at"] = changes["expires_at"].isoformat()
        if "permissions" in changes:
            changes["permissions"] = list(changes["permissions"])
        self._call("PATCH", f"/keys/{quote(api_key, safe='')}", changes)

    def set_permissions(
        self, api_key: str, permissions: Iterable[str], native: Mapping[str, Any] | None = None
    ) -> None:
        self.update_key(api_key, permissions=list(permissions), native_permissions=dict(native or {}))

    def remove_key(self, api_key: str) -> None:
        self._call("DELETE", f"/keys/{quote(api_key, safe='')}")

    def set_balances(self, api_key: str, wallets: Mapping[str, Mapping[str, Any]], *, replace: bool = True) -> None:
        self._call("PUT" if replace else "PATCH", f"/keys/{quote(api_key, safe='')}/balances", wallets)

    def set_tickers(self, tickers: Mapping[str, Any], *, replace: bool = False) -> None:
        self._call("PUT" if replace else "PATCH", "/tickers", tickers)

    def add_fault(self, kind: str, **spec: Any) -> int:
        return int(self._call("POST", "/faults", {"kind": kind, **spec})["id"])

    def clear_faults(self, fault_id: int | None = None) -> None:
        self._call("DELETE", "/faults" if fault_id is None else f"/faults/{fault_id}")

    @contextmanager
    def fault(self, kind: str, **spec: Any) -> Iterator[int]:
        fault_id = self.add_fault(kind, **spec)
        try:
            yield fault_id
        finally:
            self.clear_faults(fault_id)

    def held(self, fault_id: int) -> int:
        return int(self._call("GET", f"/faults/{fault_id}")["held"])

    def release(self, fault_id: int) -> None:
        self._call("POST", f"/faults/{fault_id}/release")

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/requests?since={since}")["requests"])

    def last_seq(self) -> int:
        entries = self.requests()
        return int(entries[-1]["seq"]) if entries else 0

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def view(self) -> dict[str, Any]:
        return dict(self._call("GET", ""))
