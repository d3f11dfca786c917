"""The switchable state of one sandbox venue: API keys (each key is its own account, with balances per
wallet), public tickers, fault rules and the request log.

Handlers read it and the control API (HTTP or in-process) writes it, possibly from another thread when
the venues run in a background thread, so every access goes through one re-entrant lock. Amounts are
kept exactly as given ("raw" JSON values): a decimal string is served as that string, while a JSON
number, NaN, 1e308 or a non-numeric string is served verbatim so tests can feed malformed data."""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tallyhold_sandbox.faults import Fault
from tallyhold_sandbox.iplimit import IpWeightLimit

# The venue-neutral permission vocabulary; each venue maps it onto its own field names (README table).
PERMISSIONS = frozenset({"read", "trade", "margin", "futures", "options", "withdraw", "transfer", "unknown"})
LOG_LIMIT = 10_000
_PLAIN = re.compile(r"-?\d+(\.\d+)?")


class ControlError(ValueError):
    """A control request that cannot be applied (unknown key, wallet or permission name)."""


@dataclass
class Holding:
    """One asset in one wallet: `free` and `locked` as raw JSON values (normally decimal strings), and in a
    wallet that can borrow (cross margin, a unified or trading account) the `borrowed` principal and the
    accrued `interest`, which the venues report as a debt and subtract from the asset's equity."""

    free: Any
    locked: Any = "0"
    borrowed: Any = "0"
    interest: Any = "0"

    @classmethod
    def parse(cls, value: Any, *, can_borrow: bool = False) -> Holding:
        if isinstance(value, Mapping):
            allowed = {"free", "locked", "borrowed", "interest"} if can_borrow else {"free", "locked"}
            unknown = set(value) - allowed
            if unknown:
                raise ControlError(f"unknown holding fields: {sorted(unknown)} (allowed here: {sorted(allowed)})")
            return cls(
                free=value.get("free", "0"),
                locked=value.get("locked", "0"),
                borrowed=value.get("borrowed", "0"),
                interest=value.get("interest", "0"),
            )
        return cls(free=value)

    @property
    def total(self) -> Any:
        return add(self.free, self.locked)

    @property
    def debt(self) -> Any:
        """borrowed + interest: what the venues call the liability (Binance borrowed+interest, OKX `liab`)."""
        return add(self.borrowed, self.interest)

    @property
    def equity(self) -> Any:
        """total − debt (Binance `netAsset`, OKX `eq`/`cashBal`, Bybit `equity`/`walletBalance`); without a
        debt the total exactly as planted."""
        return subtract(self.total, self.debt)

    def as_json(self) -> dict[str, Any]:
        shown = {"free": self.free, "locked": self.locked}
        if as_decimal(self.debt) != 0:
            shown |= {"borrowed": self.borrowed, "interest": self.interest}
        return shown


def as_decimal(value: Any) -> Decimal | None:
    """The value as a finite Decimal, or None when it is not one (NaN, garbage, bool, None)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def add(*values: Any) -> Any:
    """Sum of raw amounts as a plain decimal string. A value that is not a finite number is returned unchanged
    (the first such one), and so is the only non-zero value of the sum, so a planted value ("NaN", "1e308",
    1e308, "-5") reaches the wire as planted instead of being repaired or reformatted."""
    total = Decimal(0)
    nonzero = []
    for value in values:
        number = as_decimal(value)
        if number is None:
            return value
        if number != 0:
            nonzero.append(value)
        total += number
    if len(nonzero) == 1:
        return nonzero[0]
    return plain(total)


def subtract(value: Any, debt: Any) -> Any:
    """`value` minus `debt` as a plain decimal string; `value` unchanged when there is no debt (planted values
    pass through), and a debt that is not a finite number is returned as planted."""
    owed = as_decimal(debt)
    if owed is None:
        return debt
    if owed == 0:
        return value
    number = as_decimal(value)
    return value if number is None else plain(number - owed)


def plain(number: Decimal) -> str:
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def fixed(value: Any, places: int = 8) -> Any:
    """A raw amount in a venue's fixed-point style ("0.50000000"). Only plain decimal strings are reformatted:
    numbers, exponents, NaN and garbage pass through as planted."""
    if not isinstance(value, str) or not _PLAIN.fullmatch(value):
        return value
    return f"{Decimal(value):.{places}f}"


@dataclass
class ApiKey:
    """One API key and the account behind it. `secret` and `passphrase` never appear in reprs or views."""

    api_key: str
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)
    permissions: set[str] = field(default_factory=lambda: {"read"})
    native_permissions: dict[str, Any] = field(default_factory=dict)
    ip_allowlist: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    label: str = "tallyhold-sandbox"
    wallets: dict[str, dict[str, Holding]] = field(default_factory=dict)
    ledger: list[dict[str, Any]] | None = None
    last_nonce: int = 0

    @property
    def hint(self) -> str:
        return self.api_key[-4:]

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def ip_allowed(self, remote: str | None) -> bool:
        if not self.ip_allowlist:
            return True
        if remote is None:
            return False
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(entry, strict=False) for entry in self.ip_allowlist)

    def wallet(self, name: str) -> dict[str, Holding]:
        return self.wallets.get(name, {})

    def view(self) -> dict[str, Any]:
        """What the control API shows: everything except the secret and the passphrase."""
        return {
            "api_key": self.api_key,
            "permissions": sorted(self.permissions),
            "native_permissions": self.native_permissions,
            "ip_allowlist": list(self.ip_allowlist),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "created_at": self.created_at.isoformat(),
            "label": self.label,
            "balances": {w: {a: h.as_json() for a, h in assets.items()} for w, assets in self.wallets.items()},
            "ledger": self.ledger,
        }


@dataclass
class LogEntry:
    """One API request as the venue saw it: never a header, a query value or a body (those carry secrets
    and signatures), only the method, the path, the query parameter names and the key's last 4 characters."""

    seq: int
    at: datetime
    method: str
    path: str
    query_keys: list[str]
    key_hint: str | None
    status: int
    fault: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "method": self.method,
            "path": self.path,
            "query_keys": self.query_keys,
            "key_hint": self.key_hint,
            "status": self.status,
            "fault": self.fault,
        }


def parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise ControlError("times are ISO 8601 strings")
    if moment.tzinfo is None:
        raise ControlError("times must carry a timezone")
    return moment.astimezone(UTC)


def parse_permissions(values: Iterable[str]) -> set[str]:
    granted = set(values)
    unknown = granted - PERMISSIONS
    if unknown:
        raise ControlError(f"unknown permissions {sorted(unknown)}; known: {sorted(PERMISSIONS)}")
    return granted


class VenueState:
    """Everything switchable about one venue. Methods are the control operations."""

    def __init__(
        self,
        name: str,
        wallets: Iterable[str],
        default_tickers: Mapping[str, Mapping[str, Any]],
        borrowing_wallets: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.wallet_names = tuple(wallets)
        # Wallets whose venue answer carries a debt per asset; elsewhere `borrowed` is refused, not ignored.
        self.borrowing_wallets = frozenset(borrowing_wallets)
        self.default_tickers = {s: dict(t) for s, t in default_tickers.items()}
        self.lock = threading.RLock()
        self.keys: dict[str, ApiKey] = {}
        self.tickers: dict[str, dict[str, Any]] = {s: dict(t) for s, t in self.default_tickers.items()}
        self.faults: list[Fault] = []
        self.holds: dict[int, Fault] = {}  # `hold` faults by id, until removed (see `release`)
        self.log: list[LogEntry] = []
        # A per-IP request-weight limit (iplimit.py), off until a test or the demo sets one.
        self.ip_limit: IpWeightLimit | None = None
        self._seq = 0
        self._fault_seq = 0
        self.seed: Mapping[str, Any] = {}

    # keys -------------------------------------------------------------------------------------------
    def put_key(self, spec: Mapping[str, Any]) -> ApiKey:
        """Create or replace a key from a control spec (see README "Sandbox venues")."""
        known = {
            "api_key",
            "secret",
            "passphrase",
            "permissions",
            "native_permissions",
            "ip_allowlist",
            "expires_at",
            "created_at",
            "label",
            "balances",
            "ledger",
        }
        unknown = set(spec) - known
        if unknown:
            raise ControlError(f"unknown key fields: {sorted(unknown)}")
        if not spec.get("api_key") or not spec.get("secret"):
            raise ControlError("api_key and secret are required")
        key = ApiKey(api_key=str(spec["api_key"]), secret=str(spec["secret"]))
        if spec.get("passphrase") is not None:
            key.passphrase = str(spec["passphrase"])
        if spec.get("created_at") is not None:
            key.created_at = parse_time(spec["created_at"]) or key.created_at
        with self.lock:
            self._apply(key, spec)
            self.keys[key.api_key] = key
        return key

    def patch_key(self, api_key: str, changes: Mapping[str, Any]) -> ApiKey:
        allowed = {"permissions", "native_permissions", "ip_allowlist", "expires_at", "label", "ledger", "passphrase"}
        unknown = set(changes) - allowed
        if unknown:
            raise ControlError(f"fields that cannot be patched: {sorted(unknown)}")
        with self.lock:
            key = self.key(api_key)
            self._apply(key, changes)
            if "passphrase" in changes:
                key.passphrase = None if changes["passphrase"] is None else str(changes["passphrase"])
            return key

    def _apply(self, key: ApiKey, spec: Mapping[str, Any]) -> None:
        if "permissions" in spec:
            key.permissions = parse_permissions(spec["permissions"])
        if "native_permissions" in spec:
            key.native_permissions = dict(spec["native_permissions"] or {})
        if "ip_allowlist" in spec:
            entries = [str(e) for e in spec["ip_allowlist"] or []]
            for entry in entries:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError as error:
                    raise ControlError(f"not an IP address or network: {entry!r}") from error
            key.ip_allowlist = entries
        if "expires_at" in spec:
            key.expires_at = parse_time(spec["expires_at"])
        if "label" in spec:
            key.label = str(spec["label"])
        if "ledger" in spec:
            key.ledger = None if spec["ledger"] is None else [dict(e) for e in spec["ledger"]]
        if "balances" in spec:
            key.wallets = self._parse_wallets(spec["balances"] or {})

    def remove_key(self, api_key: str) -> None:
        with self.lock:
            self.key(api_key)
            del self.keys[api_key]

    def key(self, api_key: str) -> ApiKey:
        with self.lock:
            try:
                return self.keys[api_key]
            except KeyError:
                raise ControlError(f"no key ending in {api_key[-4:]!r}") from None

    def find_key(self, api_key: str | None) -> ApiKey | None:
        if api_key is None:
            return None
        with self.lock:
            return self.keys.get(api_key)

    # balances -----------------------------------------------------------------------------------------
    def _parse_wallets(self, wallets: Mapping[str, Any]) -> dict[str, dict[str, Holding]]:
        parsed: dict[str, dict[str, Holding]] = {}
        for wallet, assets in wallets.items():
            if wallet not in self.wallet_names:
                raise ControlError(f"{self.name} has no wallet {wallet!r}; wallets: {list(self.wallet_names)}")
            if not isinstance(assets, Mapping):
                raise ControlError(f"wallet {wallet!r} must map asset codes to amounts")
            can_borrow = wallet in self.borrowing_wallets
            parsed[wallet] = {
                str(asset): Holding.parse(value, can_borrow=can_borrow) for asset, value in assets.items()
            }
        return parsed

    def set_balances(self, api_key: str, wallets: Mapping[str, Any], *, replace: bool = True) -> None:
        """Replace every wallet of the key (replace=True) or only the wallets named (replace=False)."""
        parsed = self._parse_wallets(wallets)
        with self.lock:
            key = self.key(api_key)
            # A new dict, never an in-place update: a handler in another thread may be iterating the old one.
            key.wallets = parsed if replace else {**key.wallets, **parsed}

    # tickers ------------------------------------------------------------------------------------------
    def set_tickers(self, tickers: Mapping[str, Any], *, replace: bool = False) -> None:
        """Tickers by unified symbol ("BTC/USDT"): a price string (the last price) or an object with
        `last`, `bid`, `ask`, `open`, `high`, `low`, `volume`, `quote_volume`. A `null` removes the market."""
        parsed: dict[str, dict[str, Any] | None] = {}
        for symbol, value in tickers.items():
            if symbol.count("/") != 1:
                raise ControlError(f"symbols look like BASE/QUOTE, not {symbol!r}")
            if value is None:
                parsed[symbol] = None
            elif isinstance(value, Mapping):
                unknown = set(value) - {"last", "bid", "ask", "open", "high", "low", "volume", "quote_volume"}
                if unknown:
                    raise ControlError(f"unknown ticker fields: {sorted(unknown)}")
                parsed[symbol] = dict(value)
            else:
                parsed[symbol] = {"last": value}
        with self.lock:
            if replace:
                self.tickers = {}
            for symbol, ticker in parsed.items():
                if ticker is None:
                    self.tickers.pop(symbol, None)
                else:
                    self.tickers[symbol] = ticker

    def ticker_items(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return sorted((s, dict(t)) for s, t in self.tickers.items())

    # faults -------------------------------------------------------------------------------------------
    def add_fault(self, spec: Mapping[str, Any]) -> Fault:
        with self.lock:
            self._fault_seq += 1
            fault = Fault.parse(self._fault_seq, spec)
            self.faults.append(fault)
            if fault.kind == "hold":
                self.holds[fault.id] = fault
            return fault

    def remove_fault(self, fault_id: int | None = None) -> None:
        with self.lock:
            self.faults = [] if fault_id is None else [f for f in self.faults if f.id != fault_id]
            # A removed hold lets its waiting requests go: nothing stays stuck after a test's clean-up.
            for held_id in list(self.holds) if fault_id is None else [fault_id]:
                removed = self.holds.pop(held_id, None)
                if removed is not None:
                    removed.release()

    def take_fault(self, method: str, path: str, api_key: str | None) -> Fault | None:
        """The first matching fault, consuming one of its `times`."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path, api_key):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    if fault.kind == "hold":
                        fault.held += 1
                    return fault
            return None

    def hold(self, fault_id: int) -> Fault:
        """A `hold` fault, also once its `times` are used up (its held requests may still be waiting)."""
        with self.lock:
            if fault_id not in self.holds:
                raise ControlError(f"no hold fault {fault_id}")
            return self.holds[fault_id]

    def release(self, fault_id: int) -> Fault:
        """Lets the requests waiting on a `hold` fault (and any later ones it catches) answer."""
        fault = self.hold(fault_id)
        fault.release()
        return fault

    # request log --------------------------------------------------------------------------------------
    def record(
        self, method: str, path: str, query_keys: list[str], key_hint: str | None, status: int, fault: str | None
    ) -> None:
        with self.lock:
            self._seq += 1
            entry = LogEntry(self._seq, datetime.now(UTC), method, path, query_keys, key_hint, status, fault)
            self.log.append(entry)
            del self.log[:-LOG_LIMIT]

    def requests(self, since: int = 0) -> list[LogEntry]:
        with self.lock:
            return [e for e in self.log if e.seq > since]

    def clear_requests(self) -> None:
        with self.lock:
            self.log = []

    # whole state --------------------------------------------------------------------------------------
    def load(self, seed: Mapping[str, Any]) -> None:
        """Apply a venue's part of a seed file: `keys` (key specs), `tickers` (with `replace_tickers`), `faults`.
        The seed is kept: `reset` comes back to it."""
        unknown = set(seed) - {"keys", "tickers", "replace_tickers", "faults"}
        if unknown:
            raise ControlError(f"unknown seed fields for {self.name}: {sorted(unknown)}")
        with self.lock:
            if "tickers" in seed:
                self.set_tickers(seed["tickers"], replace=bool(seed.get("replace_tickers", False)))
            for spec in seed.get("keys", []):
                self.put_key(spec)
            for spec in seed.get("faults", []):
                self.add_fault(spec)
            self.seed = seed

    def reset(self) -> None:
        """Back to the venue's defaults plus its seed: keys, tickers, faults and the request log."""
        with self.lock:
            self.keys = {}
            self.tickers = {s: dict(t) for s, t in self.default_tickers.items()}
            self.remove_fault()
            self.log = []
            self.ip_limit = None
            self.load(self.seed)

    def view(self) -> dict[str, Any]:
        with self.lock:
            return {
                "venue": self.name,
                "wallets": list(self.wallet_names),
                "keys": [k.view() for k in self.keys.values()],
                "tickers": dict(self.tickers),
                "faults": [f.as_json() for f in self.faults],
                "requests": len(self.log),
            }
