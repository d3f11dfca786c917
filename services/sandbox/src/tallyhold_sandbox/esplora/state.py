"""The sandbox chain: outputs per address, confirmed or in the mempool, spent or not, and a request log."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bip_utils import Base58ChecksumError, Base58Decoder, Bech32ChecksumError, SegwitBech32Decoder


class AddressError(ValueError):
    """`message` is the text electrs answers with (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_address(address: str) -> None:
    """Raises AddressError the way electrs does: unparsable, or not a mainnet address."""
    lowered = address.lower()
    for hrp, mainnet in (("bc", True), ("tb", False), ("bcrt", False)):
        if lowered.startswith(hrp + "1"):
            try:
                SegwitBech32Decoder.Decode(hrp, address)
            except (ValueError, TypeError, Bech32ChecksumError):
                raise AddressError("Invalid Bitcoin address") from None
            if not mainnet:
                raise AddressError("Address on invalid network")
            return
    try:
        payload = Base58Decoder.CheckDecode(address)
    except (ValueError, TypeError, Base58ChecksumError):
        raise AddressError("Invalid Bitcoin address") from None
    if len(payload) != 21:
        raise AddressError("Invalid Bitcoin address")
    if payload[0] in (0x6F, 0xC4):
        raise AddressError("Address on invalid network")
    if payload[0] not in (0x00, 0x05):
        raise AddressError("Invalid Bitcoin address")


@dataclass
class Output:
    txid: str
    vout: int
    value: int
    confirmed: bool
    height: int | None
    spent_by: str | None = None
    spent_confirmed: bool = False


@dataclass
class EsploraState:
    tip_height: int = 840_000
    outputs: dict[str, list[Output]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)  # "429", "500", "malformed", "timeout"
    requests: list[str] = field(default_factory=list)  # every path served, in order
    lock: threading.Lock = field(default_factory=threading.Lock)
    _txids: itertools.count[int] = field(default_factory=itertools.count)

    def _txid(self) -> str:
        return hashlib.sha256(f"tallyhold-sandbox-{next(self._txids)}".encode()).hexdigest()

    def fund(self, address: str, sats: int, *, confirmed: bool = True) -> str:
        """A transaction paying `sats` to `address`, mined (confirmed) or waiting in the mempool."""
        check_address(address)
        if sats <= 0:
            raise ValueError("sats must be positive")
        with self.lock:
            txid = self._txid()
            height = self.tip_height if confirmed else None
            self.outputs.setdefault(address, []).append(Output(txid, 0, sats, confirmed, height))
            return txid

    def spend(self, address: str, sats: int, *, confirmed: bool = True) -> str:
        """A transaction spending exactly `sats` of `address`'s unspent outputs (largest first, exact amounts
        only: the sandbox does not model change). A confirmed spend may only use confirmed outputs."""
        with self.lock:
            unspent = sorted(
                (o for o in self.outputs.get(address, []) if o.spent_by is None and (o.confirmed or not confirmed)),
                key=lambda o: -o.value,
            )
            chosen: list[Output] = []
            total = 0
            for output in unspent:
                if total + output.value <= sats:
                    chosen.append(output)
                    total += output.value
            if total != sats:
                raise ValueError("no set of unspent outputs adds up to exactly that amount")
            txid = self._txid()
            for output in chosen:
                output.spent_by = txid
                output.spent_confirmed = confirmed
            return txid

    def stats(self, address: str) -> dict[str, Any]:
        with self.lock:
            outputs = list(self.outputs.get(address, []))
        chain_txs = {o.txid for o in outputs if o.confirmed} | {o.spent_by for o in outputs if o.spent_confirmed}
        mempool_txs = {o.txid for o in outputs if not o.confirmed} | {
            o.spent_by for o in outputs if o.spent_by and not o.spent_confirmed
        }
        return {
            "address": address,
            "chain_stats": {
                "funded_txo_count": sum(1 for o in outputs if o.confirmed),
                "funded_txo_sum": sum(o.value for o in outputs if o.confirmed),
                "spent_txo_count": sum(1 for o in outputs if o.spent_confirmed),
                "spent_txo_sum": sum(o.value for o in outputs if o.spent_confirmed),
                "tx_count": len(chain_txs),
            },
            "mempool_stats": {
                "funded_txo_count": sum(1 for o in outputs if not o.confirmed),
                "funded_txo_sum": sum(o.value for o in outputs if not o.confirmed),
                "spent_txo_count": sum(1 for o in outputs if o.spent_by and not o.spent_confirmed),
                "spent_txo_sum": sum(o.value for o in outputs if o.spent_by and not o.spent_confirmed),
                "tx_count": len(mempool_txs),
            },
        }

    def utxos(self, address: str) -> list[dict[str, Any]]:
        with self.lock:
            outputs = [o for o in self.outputs.get(address, []) if o.spent_by is None]
        return [
            {
                "txid": o.txid,
                "vout": o.vout,
                "status": {
                    "confirmed": True,
                    "block_height": o.height,
                    "block_hash": self.block_hash(o.height or 0),
                    "block_time": 1_700_000_000 + (o.height or 0) * 600,
                }
                if o.confirmed
                else {"confirmed": False},
                "value": o.value,
            }
            for o in outputs
        ]

    @staticmethod
    def block_hash(height: int) -> str:
        return hashlib.sha256(f"block-{height}".encode()).hexdigest()

    def queried(self) -> Counter[str]:
        """How many times each address was asked for (`/address/:address`)."""
        with self.lock:
            return Counter(p.split("/")[2] for p in self.requests if p.count("/") == 2 and p.startswith("/address/"))

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()

    def next_fault(self) -> str | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None
